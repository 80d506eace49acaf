"""The crash campaign: two nodes killed with ``kill -9`` again and again while staff work, then
checked, Jepsen total-queue style, for anything lost, duplicated or unexpected.

What runs (``bench.campaign``): a host mission and a reception partner, set up with ``avrr``
commands, each with its API (``avrr serve``) and its worker (``avrr worker``) in processes of
their own, on SQLite files or PostgreSQL databases.

What happens, for ``--kills`` kill points:

- client threads act as a caseworker and a partner officer over HTTP: record a case, its consent
  and a referral (each with an ``Idempotency-Key``); withdraw consent (everything, or the medical
  section) of a referral still queued or already delivered (with a key); correct the arrival
  section of a referral; report the person's arrival (an event, which moves retention dates and
  sends a status update); open a received referral on the partner (which sends an access notice
  back). A request refused by the connection (nothing sent) or answered 503 (nothing changed,
  by contract) is sent again; one whose answer was lost (connection cut, a 5xx other than 503)
  is sent again only if that is safe (a key, or an event, which is idempotent by its time);
  otherwise its outcome stays unknown;
- a killer picks a random member that is up (host API, host worker, partner API, partner
  worker), kills it with SIGKILL at a random moment (every 0.5 to 2 s by default) and starts it
  again at once or after up to a second;
- then the killing stops, every member runs, the clients finish, both outboxes drain, every
  member is stopped, both access logs are checkpointed and verified (``avrr audit verify``),
  and both databases are read.

What is checked, request by request and row by row (``check``):

- *lost*: an accepted request whose effect is missing: a case, consent, referral or withdrawal
  without its row; a referral not delivered, not receipted or not stored on the partner
  (unless a withdrawal stopped it); a withdrawal whose sections the partner still holds, or
  whose deletion request is not confirmed; a correction or status update not delivered,
  receipted and applied; an opening missing from either log; an envelope dead-lettered or still
  waiting;
- *duplicated*: an effect present more than once: two rows for one request, a correction applied
  twice, an access-log entry written twice where it may be written once;
- *unexpected*: what no request asked for: a row without the request that makes it, a packet on
  the partner the host never sent, a refused request whose effect is there anyway, an answer 500,
  a member that stopped by itself.

Each request whose answer was lost is classified from the databases as applied once or not at
all (never twice: that is a duplicate).

"Once" in the access logs: on the host, ``case_created``, ``consent_recorded``,
``consent_withdrawn``/``consent_narrowed`` and ``event_recorded`` (per event) once per case;
``referral_sealed``, ``sent``, ``delivered``, ``referral_cancelled``, ``referral_corrected`` and
``deadline_moved`` (per event) once per referral packet; ``revocation_queued`` and
``deletion_confirmed`` once per deletion request. On the partner, ``received``, ``deleted``,
``corrected`` and ``deadline_moved`` (per event) once per referral packet. Openings
(``opened``) may be many: the partner logs one per opening it answered (at least those accepted,
at most those plus the unknown ones), and the host one per opening the partner logged, from its
access notices. Every entry has one place in its Merkle log.

    python -m bench.chaos --kills 1000 --database postgresql --seed 7
    python -m bench.chaos --kills 20 --database sqlite
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bench.campaign import (
    CASEWORKER,
    PARTNER,
    Cluster,
    Member,
    case_body,
    consent_body,
    correction_body,
    database_kind,
    referral_body,
)
from bench.harness import emit, machine, merge_results, source, stop_cleanly_on_sigterm, table
from gateway.exchange.inbox.models import ReceivedPacketRow, ReceivedSectionRow
from gateway.exchange.outbox.models import DeliveryReceiptRow, OutboxRow
from gateway.exchange.referrals.models import ReferralRow
from gateway.exchange.revocations.models import RevocationRow
from gateway.kit.idempotency import IdempotencyRow
from gateway.records.accesslog.models import AccessEventRow
from gateway.records.cases.models import CaseEventRow, CaseRow
from gateway.records.consents.models import WithdrawalRow

M = TypeVar("M")

NAME = "crash_campaign"
#: Relative chance of each member being the next victim.
VICTIMS = {"host-api": 3, "host-worker": 3, "partner-api": 3, "partner-worker": 1}
#: Seconds between two kill points (uniform), and the longest wait before a restart.
KILL_GAP = (0.5, 2.0)
RESTART_DELAY = 1.0
CLIENTS = 3
#: How long one request is tried before its outcome is left as it stands.
REQUEST_SECONDS = 120.0
#: Relative chance of each action a client takes next.
ACTIONS = {"refer": 3.0, "withdraw": 1.0, "correct": 1.5, "event": 1.5, "open": 2.0}
#: A referral is corrected or opened only once it is this old (it has had time to arrive), and
#: shown delivered by the host, except one time in ``BLIND``.
SETTLE_SECONDS = 2.0
BLIND = 0.2
OPENS_PER_REFERRAL = 3
#: How often a referral is withdrawn right after it is accepted (while it is likely queued).
QUICK_WITHDRAWAL = 0.15
DRAIN_SECONDS = 600.0
EVENT = "arrival"
#: The sections a partial withdrawal takes back; the others stay with the partner.
PARTIAL = ["medical"]
CORRECTED_SECTION = "arrival"

#: Access-log actions written at most once per packet, on each node (see the module docstring).
ONCE_PER_PACKET = {
    "host": (
        "referral_sealed",
        "sent",
        "delivered",
        "referral_cancelled",
        "referral_corrected",
        "revocation_queued",
        "deletion_confirmed",
        "dead_lettered",
    ),
    "partner": ("received", "deleted", "corrected"),
}
#: Written at most once per case (the host); the event's entry once per case and event.
ONCE_PER_CASE = ("case_created", "consent_recorded", "consent_withdrawn", "consent_narrowed")


# -- what the clients did ---------------------------------------------------------------------


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    REFUSED = "refused"
    #: The answer was lost (connection cut, a 5xx other than 503) and the request not retried,
    #: or retried until its time ran out.
    UNKNOWN = "unknown"


@dataclass
class Request:
    """One request as the client saw it, over all its tries."""

    op: str
    story: int
    key: str | None = None
    outcome: Outcome = Outcome.UNKNOWN
    status: int | None = None
    error: str | None = None
    attempts: int = 0
    #: Tries whose answer was lost: the server may or may not have acted on them.
    ambiguous: int = 0
    answer: dict[str, Any] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return self.outcome is Outcome.ACCEPTED


@dataclass
class Story:
    """One person's case through the campaign: at most one of each request, opens aside."""

    number: int
    case: Request | None = None
    consent: Request | None = None
    referral: Request | None = None
    withdrawal: Request | None = None
    #: The sections the withdrawal takes back; None for everything.
    withdrawn: list[str] | None = None
    correction: Request | None = None
    event: Request | None = None
    opens: list[Request] = field(default_factory=list)
    referred_at: float = 0.0
    #: One-per-story actions a client has taken on (so that no other client takes them too).
    taken: set[str] = field(default_factory=set)

    @property
    def case_id(self) -> str | None:
        return _id(self.case)

    @property
    def referral_id(self) -> str | None:
        return _id(self.referral)

    @property
    def packet_id(self) -> str | None:
        if self.referral is None or not self.referral.accepted:
            return None
        value = self.referral.answer.get("packet_id")
        return str(value) if value else None


def _id(request: Request | None) -> str | None:
    if request is None or not request.accepted:
        return None
    value = request.answer.get("id")
    return str(value) if value else None


@dataclass
class Ledger:
    """Everything the clients did, shared by their threads."""

    stories: list[Story] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    server_errors: Counter[str] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def story(self) -> Story:
        with self.lock:
            story = Story(number=len(self.stories))
            self.stories.append(story)
            return story

    def add(self, request: Request) -> None:
        with self.lock:
            self.requests.append(request)


# -- the clients ------------------------------------------------------------------------------


class Client:
    """A caseworker and a partner officer at work: one action after another until ``stop``."""

    def __init__(
        self, cluster: Cluster, ledger: Ledger, rng: random.Random, stop: threading.Event
    ) -> None:
        self._cluster = cluster
        self._ledger = ledger
        self._rng = rng
        self._stop = stop
        # A fresh connection per request: a refused connection then proves nothing was sent.
        self._http = httpx.Client(
            timeout=httpx.Timeout(60.0, connect=5.0),
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    def run(self) -> None:
        actions: dict[str, Callable[[], bool]] = {
            "refer": self.refer,
            "withdraw": self.withdraw,
            "correct": self.correct,
            "event": self.event,
            "open": self.open,
        }
        names, weights = list(ACTIONS), list(ACTIONS.values())
        try:
            while not self._stop.is_set():
                if not actions[self._rng.choices(names, weights)[0]]():
                    self.refer()
        finally:
            self._http.close()

    # -- actions (each returns False if no story could take it) ------------------------------

    def refer(self) -> bool:
        story = self._ledger.story()
        base = self._cluster.host_url
        story.case = self._send("case", story, "POST", f"{base}/api/v1/cases", case_body())
        if story.case_id is None:
            return True
        path = f"{base}/api/v1/cases/{story.case_id}/consents"
        story.consent = self._send("consent", story, "POST", path, consent_body())
        if not story.consent.accepted:
            return True
        body = referral_body(story.case_id)
        referral = self._send("referral", story, "POST", f"{base}/api/v1/referrals", body)
        story.referred_at = time.monotonic()
        story.referral = referral
        if referral.accepted and self._rng.random() < QUICK_WITHDRAWAL:
            # The person changes their mind at once: the referral is most likely still queued.
            with self._ledger.lock:
                story.taken.add("withdraw")
            self._withdraw(story)
        return True

    def withdraw(self) -> bool:
        story = self._pick(lambda s: s.withdrawal is None, newest=0.5, settle=0.0, slot="withdraw")
        if story is None:
            return False
        self._withdraw(story)
        return True

    def _withdraw(self, story: Story) -> None:
        story.withdrawn = None if self._rng.random() < 0.5 else list(PARTIAL)
        body = {} if story.withdrawn is None else {"sections": story.withdrawn}
        path = f"{self._cluster.host_url}/api/v1/cases/{story.case_id}/withdrawals"
        story.withdrawal = self._send("withdrawal", story, "POST", path, body)

    def correct(self) -> bool:
        story = self._pick(lambda s: s.correction is None, slot="correct")
        if story is None:
            return False
        if not self._delivered(story):
            with self._ledger.lock:
                story.taken.discard("correct")
            return False
        path = f"{self._cluster.host_url}/api/v1/referrals/{story.referral_id}/corrections"
        # No Idempotency-Key on this route: a lost answer is not retried, it stays unknown.
        story.correction = self._send(
            "correction", story, "POST", path, correction_body(), key=False
        )
        return True

    def event(self) -> bool:
        story = self._pick(lambda s: s.event is None, slot="event")
        if story is None:
            return False
        occurred = (datetime.now(UTC) - timedelta(minutes=1)).replace(microsecond=0)
        body = {"event": EVENT, "occurred_at": occurred.isoformat()}
        path = f"{self._cluster.host_url}/api/v1/cases/{story.case_id}/events"
        # No key either, but the same event at the same time changes nothing the second time
        # (processes/status.py), so a lost answer may be retried.
        story.event = self._send("event", story, "POST", path, body, key=False, retry=True)
        return True

    def open(self) -> bool:
        story = self._pick(lambda s: len(s.opens) < OPENS_PER_REFERRAL, slot="open")
        if story is None or not self._delivered(story):
            return False
        path = f"{self._cluster.partner_url}/api/v1/received/{story.packet_id}"
        # Reading is logged and noticed to the host: each try is an opening, so not retried.
        request = self._send("open", story, "GET", path, None, key=False, officer=True)
        with self._ledger.lock:
            story.opens.append(request)
        return True

    # -- helpers -------------------------------------------------------------------------------

    def _delivered(self, story: Story) -> bool:
        """Whether the host shows the referral delivered, as a caseworker would look before
        correcting it; not asked one time in ``BLIND`` (then a refusal is likely, and checked
        too). A read that fails counts as not delivered."""
        if self._rng.random() < BLIND:
            return True
        url = f"{self._cluster.host_url}/api/v1/referrals/{story.referral_id}"
        try:
            response = self._http.get(url, headers=self._cluster.caseworker())
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and response.json().get("status") == "delivered"

    def _pick(
        self,
        wanted: Callable[[Story], bool],
        *,
        slot: str,
        newest: float = 0.0,
        settle: float = SETTLE_SECONDS,
    ) -> Story | None:
        """A story with an accepted referral, old enough, that ``wanted`` accepts: the newest
        with probability ``newest``, else any. ``slot`` is reserved under the lock, so two
        clients never take the same one-per-story action on the same story."""
        now = time.monotonic()
        with self._ledger.lock:
            ready = [
                s
                for s in self._ledger.stories
                if s.packet_id is not None
                and now - s.referred_at >= settle
                and wanted(s)
                and slot not in s.taken
            ]
            if not ready:
                return None
            story = ready[-1] if self._rng.random() < newest else self._rng.choice(ready)
            if slot != "open":
                story.taken.add(slot)
            return story

    def _send(
        self,
        op: str,
        story: Story,
        method: str,
        url: str,
        body: dict[str, Any] | None,
        *,
        key: bool = True,
        retry: bool = False,
        officer: bool = False,
    ) -> Request:
        """Send until the answer is known (or its time runs out): again after a refused
        connection or a 503; after a lost answer only with a key or when ``retry`` says the
        request is idempotent of itself."""
        request = Request(op=op, story=story.number, key=uuid.uuid4().hex if key else None)
        self._ledger.add(request)
        headers = self._cluster.officer() if officer else self._cluster.caseworker()
        if request.key is not None:
            headers["Idempotency-Key"] = request.key
        deadline = time.monotonic() + REQUEST_SECONDS
        while time.monotonic() < deadline:
            request.attempts += 1
            try:
                response = self._http.request(method, url, json=body, headers=headers)
            except (httpx.ConnectError, httpx.ConnectTimeout):
                time.sleep(0.2)  # nothing was sent: the API is down
                continue
            except httpx.TransportError as exc:
                request.ambiguous += 1
                request.error = type(exc).__name__
                if request.key is None and not retry:
                    return request
                time.sleep(0.2)
                continue
            if response.status_code == 503:
                time.sleep(min(float(response.headers.get("Retry-After", "1")), 1.0))
                continue
            request.status = response.status_code
            if response.status_code >= 500:
                request.ambiguous += 1
                with self._ledger.lock:
                    self._ledger.server_errors[f"{op} {response.status_code}"] += 1
                if request.key is None and not retry:
                    return request
                time.sleep(0.2)
                continue
            return self._answered(request, response)
        if request.ambiguous == 0:
            # Never reached a server that acted: it did not happen.
            request.outcome, request.error = Outcome.REFUSED, "never_reached"
        return request

    def _answered(self, request: Request, response: httpx.Response) -> Request:
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if response.is_success:
            request.outcome = Outcome.ACCEPTED
            request.answer = answer if isinstance(answer, dict) else {}
            return request
        request.outcome = Outcome.REFUSED
        request.error = str(answer.get("error", "")) if isinstance(answer, dict) else ""
        with self._ledger.lock:
            self._ledger.refusals[f"{request.op} {response.status_code} {request.error}"] += 1
        return request


# -- the killer -------------------------------------------------------------------------------


@dataclass(frozen=True)
class KillPoint:
    at: float
    victim: str
    uptime: float
    restart_after: float


@dataclass
class Killer:
    """Kills a random member that is up, at random moments, and starts it again."""

    cluster: Cluster
    rng: random.Random
    kills: int
    stop: threading.Event
    gap: tuple[float, float] = KILL_GAP
    points: list[KillPoint] = field(default_factory=list)
    #: Members found stopped without having been killed: they died by themselves.
    crashes: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def run(self) -> None:
        members = self.cluster.members
        while len(self.points) < self.kills and not self.stop.wait(self.rng.uniform(*self.gap)):
            self._revive(members.values())
            up = [m for m in members.values() if m.ready()]
            if not up:
                continue
            victim = self.rng.choices(up, [VICTIMS[m.name] for m in up])[0]
            uptime = victim.kill()
            delay = 0.0 if self.rng.random() < 0.5 else self.rng.uniform(0.0, RESTART_DELAY)
            self.points.append(
                KillPoint(
                    at=round(time.monotonic() - self.started, 3),
                    victim=victim.name,
                    uptime=round(uptime, 3),
                    restart_after=round(delay, 3),
                )
            )
            if delay:
                time.sleep(delay)
            victim.start()
        self._revive(members.values())

    def _revive(self, members: Iterable[Member]) -> None:
        for member in members:
            if not member.alive():
                code = member.popen.returncode if member.popen is not None else None
                self.crashes.append(f"{member.name} exited by itself (code {code})")
                member.start()


# -- running a campaign -----------------------------------------------------------------------


@dataclass
class Campaign:
    """What a campaign did and found; ``ok`` if nothing was lost, duplicated or unexpected."""

    database: str
    seed: int
    kills: list[KillPoint]
    ledger: Ledger
    findings: Findings
    seconds: dict[str, float]
    audits: dict[str, str]
    #: Per member, its log lines at warning level and above, counted by level and message.
    logged: dict[str, Counter[str]]

    @property
    def ok(self) -> bool:
        return self.findings.clean


def run_campaign(
    database: str,
    *,
    kills: int,
    seed: int,
    keep: Path | None = None,
    clients: int = CLIENTS,
    gap: tuple[float, float] = KILL_GAP,
    log: Callable[[str], None] = emit,
) -> Campaign:
    """Set the nodes up, run the campaign to ``kills`` kill points, drain, check."""
    started = time.monotonic()
    rng = random.Random(seed)  # noqa: S311  (reproducible choices, not secrets)
    with (
        _scratch(keep) as scratch,
        Cluster.running(scratch, database) as cluster,
    ):
        ready = time.monotonic()
        log(f"nodes up in {ready - started:.0f} s; killing {kills} times")
        ledger, stop = Ledger(), threading.Event()
        killer = Killer(cluster, _child(rng), kills, threading.Event(), gap)
        threads = [
            threading.Thread(
                target=Client(cluster, ledger, _child(rng), stop).run, name=f"client-{number}"
            )
            for number in range(clients)
        ]
        killing = threading.Thread(target=killer.run, name="killer")
        try:
            for thread in [*threads, killing]:
                thread.start()
            _watch(killing, killer, ledger, log)
        finally:
            killer.stop.set()
            killing.join()
            stop.set()
            cluster.wait_ready()
            for thread in threads:
                thread.join()
        killed = time.monotonic()
        log(f"{len(killer.points)} kill points in {killed - ready:.0f} s; draining")
        drained = drain(cluster)
        cluster.stop()
        logged = {name: problems_logged(member) for name, member in cluster.members.items()}
        with ThreadPoolExecutor(2) as pool:
            checked = dict(
                zip(("host", "partner"), pool.map(cluster.audit, cluster.nodes), strict=True)
            )
        findings = check(cluster, ledger, checked, killer.crashes)
        done = time.monotonic()
    seconds = {
        "setup": ready - started,
        "campaign": killed - ready,
        "drain": drained,
        "checks": done - killed - drained,
        "total": done - started,
    }
    return Campaign(
        database=database_kind(database),
        seed=seed,
        kills=killer.points,
        ledger=ledger,
        findings=findings,
        seconds={name: round(value, 1) for name, value in seconds.items()},
        audits={name: said for name, (_, said) in checked.items()},
        logged=logged,
    )


@contextmanager
def _scratch(keep: Path | None) -> Iterator[Path]:
    """A temporary folder for the federation, removed afterwards; or, given ``keep``, a new
    folder in it that is kept (with the members' logs) for a look afterwards."""
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield Path(tempfile.mkdtemp(prefix="avrr-chaos-", dir=keep))
        return
    with tempfile.TemporaryDirectory(prefix="avrr-chaos-") as scratch:
        yield Path(scratch)


def _child(rng: random.Random) -> random.Random:
    """A generator of its own for one thread, drawn from the campaign's seed."""
    return random.Random(rng.random())  # noqa: S311


def _watch(
    killing: threading.Thread, killer: Killer, ledger: Ledger, log: Callable[[str], None]
) -> None:
    """Wait for the killer, saying how far it got every minute."""
    last = time.monotonic()
    while killing.is_alive():
        killing.join(timeout=5.0)
        if time.monotonic() - last >= 60.0:
            last = time.monotonic()
            with ledger.lock:
                outcomes = Counter(r.outcome.value for r in ledger.requests)
            log(f"  {len(killer.points)} kill points; requests {dict(outcomes)}")


def problems_logged(member: Member) -> Counter[str]:
    """The member's log lines at warning level or above (over all its starts), counted by level
    and message; a traceback printed outside the JSON log counts as one."""
    counts: Counter[str] = Counter()
    for line in member.log().splitlines():
        if not line.startswith("{"):
            if line.startswith("Traceback"):
                counts["traceback outside the log"] += 1
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line cut short by the kill
        level = str(entry.get("level", ""))
        if level in ("warning", "error", "critical"):
            counts[f"{level}: {str(entry.get('event', ''))[:120]}"] += 1
    return counts


def drain(cluster: Cluster, timeout: float = DRAIN_SECONDS) -> float:
    """Wait until both outboxes are empty (every envelope delivered, or given up); seconds."""
    start = time.monotonic()
    empty = 0
    while empty < 3:
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"the outboxes did not drain in {timeout:.0f} s")
        waiting = cluster.outbox_depth(cluster.host) + cluster.outbox_depth(cluster.partner)
        empty = empty + 1 if waiting == 0 else 0
        time.sleep(1.0)
    return time.monotonic() - start


# -- the checks -------------------------------------------------------------------------------


@dataclass
class Findings:
    """What the checks found, and how the requests whose answer was lost came out."""

    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    #: Requests with a lost answer, per operation: applied once, or not at all.
    applied: Counter[str] = field(default_factory=Counter)
    not_applied: Counter[str] = field(default_factory=Counter)
    #: Figures of the final state, for the report.
    state: dict[str, int] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicated or self.unexpected)

    def classify(self, request: Request, applied: int, what: str) -> None:
        """Hold ``request`` against how many times its effect is there (``applied``)."""
        if applied > 1:
            self.duplicated.append(f"{what}: applied {applied} times")
        elif request.outcome is Outcome.ACCEPTED and applied == 0:
            self.lost.append(f"{what}: accepted, not applied")
        elif request.outcome is Outcome.REFUSED and applied:
            self.unexpected.append(f"{what}: refused ({request.status}), applied all the same")
        elif request.outcome is Outcome.UNKNOWN:
            (self.applied if applied else self.not_applied)[request.op] += 1


@dataclass
class Snapshot:
    """Both databases after the drain, read directly (as an operator would)."""

    keys: dict[tuple[str, str], str]
    cases: set[str]
    events: set[tuple[str, str]]
    withdrawals: dict[str, list[str]]
    referrals: dict[str, ReferralRow]
    outbox: dict[str, list[OutboxRow]]
    receipts: dict[str, dict[str, str]]
    revocations: list[RevocationRow]
    received: dict[str, dict[str, ReceivedPacketRow]]
    sections: dict[str, set[str]]
    log: dict[str, list[AccessEventRow]]
    #: The same rows found by what the checks look them up by.
    by_packet: dict[str, OutboxRow] = field(init=False)
    by_case: dict[tuple[str | None, str], list[OutboxRow]] = field(init=False)
    referrals_of: dict[str, list[ReferralRow]] = field(init=False)
    revocations_of: dict[str, list[RevocationRow]] = field(init=False)

    def __post_init__(self) -> None:
        self.by_packet = {row.packet_id: row for row in self.outbox["host"]}
        self.by_case, self.referrals_of, self.revocations_of = {}, {}, {}
        for row in self.outbox["host"]:
            self.by_case.setdefault((row.subject_ref, row.kind), []).append(row)
        for referral in self.referrals.values():
            self.referrals_of.setdefault(referral.case_id, []).append(referral)
        for revocation in self.revocations:
            self.revocations_of.setdefault(revocation.case_id, []).append(revocation)

    @classmethod
    def read(cls, cluster: Cluster) -> Snapshot:
        host, partner = cluster.engine(cluster.host), cluster.engine(cluster.partner)
        keys = {
            (row.route, row.key): row.resource_id
            for row in _all(host, IdempotencyRow)
            if row.user == CASEWORKER["user"]
        }
        withdrawals: dict[str, list[str]] = {}
        for withdrawal in _all(host, WithdrawalRow):
            withdrawals.setdefault(withdrawal.case_id, []).append(withdrawal.id)
        sections: dict[str, set[str]] = {}
        for section in _all(partner, ReceivedSectionRow):
            sections.setdefault(section.packet_id, set()).add(section.section)
        return cls(
            keys=keys,
            cases={row.id for row in _all(host, CaseRow)},
            events={(row.case_id, row.event) for row in _all(host, CaseEventRow)},
            withdrawals=withdrawals,
            referrals={row.id: row for row in _all(host, ReferralRow)},
            outbox={"host": _all(host, OutboxRow), "partner": _all(partner, OutboxRow)},
            receipts={
                "host": {r.packet_id: r.envelope_sha256 for r in _all(host, DeliveryReceiptRow)},
                "partner": {
                    r.packet_id: r.envelope_sha256 for r in _all(partner, DeliveryReceiptRow)
                },
            },
            revocations=_all(host, RevocationRow),
            received={
                "host": {r.packet_id: r for r in _all(host, ReceivedPacketRow)},
                "partner": {r.packet_id: r for r in _all(partner, ReceivedPacketRow)},
            },
            sections=sections,
            log={"host": _all(host, AccessEventRow), "partner": _all(partner, AccessEventRow)},
        )


def _all(engine: Engine, model: type[M]) -> list[M]:
    """Every row of a table, as its model, detached (only columns are read afterwards)."""
    with Session(engine) as session:
        rows = list(session.scalars(select(model)))
        session.expunge_all()
        return rows


def check(
    cluster: Cluster,
    ledger: Ledger,
    audits: dict[str, tuple[bool, str]],
    crashes: Sequence[str],
) -> Findings:
    """Every check of the module docstring, from both databases and the clients' ledger."""
    snapshot = Snapshot.read(cluster)
    findings = Findings()
    logs = _Counts(snapshot)
    for story in ledger.stories:
        _check_story(story, snapshot, logs, findings)
    _check_outboxes(snapshot, findings)
    _check_unasked(snapshot, findings)
    _check_logs(snapshot, logs, audits, findings)
    for what, count in sorted(ledger.server_errors.items()):
        findings.unexpected.append(f"answered {count} time(s): {what}")
    findings.unexpected.extend(crashes)
    findings.state = {
        "cases": len(snapshot.cases),
        "referrals": len(snapshot.referrals),
        "referrals_delivered": sum(r.status == "delivered" for r in snapshot.referrals.values()),
        "referrals_cancelled": sum(r.status == "cancelled" for r in snapshot.referrals.values()),
        # Withdrawn after an attempt that may have reached the partner: revoked, not cancelled.
        "referrals_revoked_in_flight": sum(
            r.status == "queued"
            and getattr(snapshot.by_packet.get(r.packet_id), "status", "") == "cancelled"
            for r in snapshot.referrals.values()
        ),
        "revocations": len(snapshot.revocations),
        "host_outbox": len(snapshot.outbox["host"]),
        "partner_outbox": len(snapshot.outbox["partner"]),
        "partner_packets": len(snapshot.received["partner"]),
        "host_log_entries": len(snapshot.log["host"]),
        "partner_log_entries": len(snapshot.log["partner"]),
    }
    return findings


class _Counts:
    """Access-log entries counted by what identifies them."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.packet: dict[str, Counter[tuple[str, str | None]]] = {}
        self.case: Counter[tuple[str, str | None]] = Counter()
        self.case_outcome: Counter[tuple[str, str | None, str]] = Counter()
        self.packet_outcome: dict[str, Counter[tuple[str, str | None, str]]] = {}
        self.opened_by_partner: Counter[str | None] = Counter()
        for node, entries in snapshot.log.items():
            per_packet: Counter[tuple[str, str | None]] = Counter()
            per_outcome: Counter[tuple[str, str | None, str]] = Counter()
            for entry in entries:
                per_packet[(entry.action, entry.packet_id)] += 1
                per_outcome[(entry.action, entry.packet_id, entry.outcome)] += 1
                if node == "host":
                    self.case[(entry.action, entry.subject)] += 1
                    self.case_outcome[(entry.action, entry.subject, entry.outcome)] += 1
                    if entry.action == "opened" and entry.actor_org == PARTNER:
                        self.opened_by_partner[entry.packet_id] += 1
            self.packet[node], self.packet_outcome[node] = per_packet, per_outcome


def _applied_key(snapshot: Snapshot, route: str, request: Request | None) -> str | None:
    """The id of what ``request`` created, from the node's idempotency record of its key."""
    if request is None or request.key is None:
        return None
    return snapshot.keys.get((route, request.key))


def _check_story(story: Story, snapshot: Snapshot, logs: _Counts, findings: Findings) -> None:
    name = f"story {story.number}"
    case_id = _check_created(story.case, "create_case", snapshot, findings, f"{name} case")
    if case_id is None:
        return
    if case_id not in snapshot.cases:
        findings.lost.append(f"{name}: case {case_id} answered but not stored")
        return
    _expect_once(findings, logs.case[("case_created", case_id)], f"{name}: case_created")
    consent = _check_created(
        story.consent, f"record_consent:{case_id}", snapshot, findings, f"{name} consent"
    )
    if consent is None:
        return
    _expect_once(findings, logs.case[("consent_recorded", case_id)], f"{name}: consent_recorded")
    referral_id = _check_created(
        story.referral, "create_referral", snapshot, findings, f"{name} referral"
    )
    if referral_id is None:
        return
    referral = snapshot.referrals.get(referral_id)
    if referral is None:
        findings.lost.append(f"{name}: referral {referral_id} answered but not stored")
        return
    mine = snapshot.referrals_of.get(case_id, [])
    if len(mine) > 1:
        findings.duplicated.append(f"{name}: {len(mine)} referrals for one request")
    withdrawn = _check_withdrawal(story, case_id, referral, snapshot, logs, findings)
    _check_delivery(name, referral, withdrawn, snapshot, logs, findings)
    _check_correction(story, case_id, referral, snapshot, logs, findings)
    _check_event(story, case_id, referral, snapshot, logs, findings)
    _check_opens(story, referral, logs, findings)


def _check_created(
    request: Request | None, route: str, snapshot: Snapshot, findings: Findings, what: str
) -> str | None:
    """The id of what a keyed create made, held against what the client was told."""
    if request is None:
        return None
    stored = _applied_key(snapshot, route, request)
    findings.classify(request, 1 if stored else 0, what)
    if request.accepted and stored is not None and stored != request.answer.get("id"):
        findings.duplicated.append(
            f"{what}: answered {request.answer.get('id')}, key holds {stored}"
        )
    return stored


def _expect_once(findings: Findings, count: int, what: str) -> None:
    if count == 0:
        findings.lost.append(f"{what}: no access-log entry")
    elif count > 1:
        findings.duplicated.append(f"{what}: {count} access-log entries")


def _check_withdrawal(
    story: Story,
    case_id: str,
    referral: ReferralRow,
    snapshot: Snapshot,
    logs: _Counts,
    findings: Findings,
) -> set[str] | None:
    """Whether the withdrawal converged; the sections it took back if it was applied."""
    name = f"story {story.number}"
    rows = snapshot.withdrawals.get(case_id, [])
    if len(rows) > 1:
        findings.duplicated.append(f"{name}: {len(rows)} withdrawals")
    if story.withdrawal is None:
        if rows:
            findings.unexpected.append(f"{name}: a withdrawal nobody asked for")
        return None
    applied = _check_created(
        story.withdrawal, f"withdraw:{case_id}", snapshot, findings, f"{name} withdrawal"
    )
    if applied is None:
        return None
    entries = logs.case[("consent_withdrawn", case_id)] + logs.case[("consent_narrowed", case_id)]
    _expect_once(findings, entries, f"{name}: consent_withdrawn")
    carried = set(referral.sent_sections) | set(referral.withdrawn_sections)
    gone = carried if story.withdrawn is None else set(story.withdrawn) & carried
    held = snapshot.sections.get(referral.packet_id, set())
    if held & gone:
        findings.lost.append(
            f"{name}: withdrawal lost: the partner still holds {sorted(held & gone)} of "
            f"{referral.packet_id} (host status {referral.status})"
        )
    if referral.status == "cancelled":
        return gone
    requests = [
        r
        for r in snapshot.revocations_of.get(case_id, [])
        if any(p.get("packet_id") == referral.packet_id for p in r.packets)
    ]
    if not requests:
        findings.lost.append(f"{name}: withdrawal of a sent referral without a deletion request")
    for request in requests:
        if request.status != "confirmed":
            findings.lost.append(f"{name}: deletion request {request.id} is {request.status}")
        _expect_once(
            findings,
            logs.packet["host"][("deletion_confirmed", request.id)],
            f"{name}: deletion_confirmed",
        )
    return gone


def _check_delivery(
    name: str,
    referral: ReferralRow,
    withdrawn: set[str] | None,
    snapshot: Snapshot,
    logs: _Counts,
    findings: Findings,
) -> None:
    """Delivered once and receipted, or stopped by the withdrawal before it was sent."""
    packet = referral.packet_id
    host, partner = logs.packet["host"], logs.packet["partner"]
    _expect_once(findings, host[("referral_sealed", packet)], f"{name}: referral_sealed")
    stored = snapshot.received["partner"].get(packet)
    row = snapshot.by_packet.get(packet)
    if referral.status == "cancelled":
        if withdrawn is None:
            findings.unexpected.append(f"{name}: cancelled ({referral.status_reason}) unasked")
        if stored is not None:
            findings.lost.append(
                f"{name}: withdrawal lost: {packet} cancelled on the host as never sent, "
                f"stored on the partner"
            )
        return
    if referral.status == "delivered":
        if row is None or row.status != "delivered" or packet not in snapshot.receipts["host"]:
            findings.lost.append(f"{name}: delivered without a delivered outbox row and receipt")
        elif snapshot.receipts["host"][packet] != row.envelope_sha256:
            findings.unexpected.append(f"{name}: the receipt names another envelope")
        if stored is None:
            findings.lost.append(f"{name}: receipted, not stored on the partner")
        _expect_once(findings, host[("delivered", packet)], f"{name}: delivered")
        _expect_once(findings, host[("sent", packet)], f"{name}: sent")
        _expect_once(findings, partner[("received", packet)], f"{name}: received")
        return
    in_flight = row is not None and row.status == "cancelled" and withdrawn is not None
    if not in_flight:
        findings.lost.append(f"{name}: {packet} is {referral.status}, never delivered")
    elif stored is not None:
        _expect_once(findings, partner[("received", packet)], f"{name}: received")


def _case_rows(snapshot: Snapshot, case_id: str, kind: str) -> list[OutboxRow]:
    return snapshot.by_case.get((case_id, kind), [])


def _check_sent(name: str, rows: list[OutboxRow], snapshot: Snapshot, findings: Findings) -> None:
    """Each envelope delivered, receipted and stored on the partner, once."""
    for row in rows:
        if row.status != "delivered" or row.packet_id not in snapshot.receipts["host"]:
            findings.lost.append(f"{name}: {row.kind} {row.packet_id} is {row.status}")
        elif row.packet_id not in snapshot.received["partner"]:
            findings.lost.append(f"{name}: {row.kind} {row.packet_id} receipted, not stored")


def _check_correction(
    story: Story,
    case_id: str,
    referral: ReferralRow,
    snapshot: Snapshot,
    logs: _Counts,
    findings: Findings,
) -> None:
    name = f"story {story.number}"
    packet = referral.packet_id
    applied = logs.packet["host"][("referral_corrected", packet)]
    rows = _case_rows(snapshot, case_id, "correction")
    if story.correction is None:
        if applied or rows:
            findings.unexpected.append(f"{name}: a correction nobody asked for")
        return
    findings.classify(story.correction, applied, f"{name} correction")
    if len(rows) != applied:
        findings.unexpected.append(f"{name}: {len(rows)} corrections queued, {applied} logged")
    _check_sent(name, rows, snapshot, findings)
    on_partner = logs.packet["partner"][("corrected", packet)]
    still_held = CORRECTED_SECTION in snapshot.sections.get(packet, set())
    if on_partner > applied:
        findings.duplicated.append(f"{name}: corrected {on_partner} times on the partner")
    elif applied and still_held and not on_partner:
        findings.lost.append(f"{name}: correction receipted, not applied on the partner")


def _check_event(
    story: Story,
    case_id: str,
    referral: ReferralRow,
    snapshot: Snapshot,
    logs: _Counts,
    findings: Findings,
) -> None:
    name = f"story {story.number}"
    packet = referral.packet_id
    recorded = logs.case_outcome[("event_recorded", case_id, EVENT)]
    if story.event is None:
        if recorded:
            findings.unexpected.append(f"{name}: an event nobody reported")
        return
    findings.classify(story.event, recorded, f"{name} event")
    if recorded and (case_id, EVENT) not in snapshot.events:
        findings.lost.append(f"{name}: event logged, not recorded on the case")
    moved = logs.packet_outcome["host"][("deadline_moved", packet, EVENT)]
    moved_there = logs.packet_outcome["partner"][("deadline_moved", packet, EVENT)]
    rows = _case_rows(snapshot, case_id, "status_update")
    # One update when the dates move; a second, with the same dates, when the referral was
    # still on its way then (its receipt sends them again: docs/protocol.md, section 4).
    if moved > 1 or moved_there > 1 or len(rows) > 2:
        findings.duplicated.append(
            f"{name}: dates moved {moved} times here, {moved_there} there, {len(rows)} updates"
        )
    if recorded and referral.status == "delivered" and not moved:
        findings.lost.append(f"{name}: event recorded, dates of the delivered referral not moved")
    if bool(rows) != bool(moved):
        findings.unexpected.append(f"{name}: {len(rows)} status updates for {moved} moves")
    _check_sent(name, rows, snapshot, findings)
    if moved and snapshot.sections.get(packet) and not moved_there:
        findings.lost.append(
            f"{name}: dates moved here, but the partner still holds "
            f"{sorted(snapshot.sections[packet])} of {packet} with the referral's own dates"
        )


def _check_opens(story: Story, referral: ReferralRow, logs: _Counts, findings: Findings) -> None:
    name = f"story {story.number}"
    packet = referral.packet_id
    opened = logs.packet["partner"][("opened", packet)]
    accepted = sum(r.accepted for r in story.opens)
    unknown = [r for r in story.opens if r.outcome is Outcome.UNKNOWN]
    if opened < accepted:
        findings.lost.append(f"{name}: {accepted} openings answered, {opened} logged")
    elif opened > accepted + len(unknown):
        findings.duplicated.append(
            f"{name}: {opened} openings logged for {accepted} answered, {len(unknown)} unknown"
        )
    extra = max(0, min(opened - accepted, len(unknown)))
    findings.applied["open"] += extra
    findings.not_applied["open"] += len(unknown) - extra
    noticed = logs.opened_by_partner[packet]
    if noticed < opened:
        findings.lost.append(f"{name}: {opened} openings on the partner, {noticed} noticed")
    elif noticed > opened:
        findings.duplicated.append(f"{name}: {opened} openings on the partner, {noticed} noticed")


def _check_outboxes(snapshot: Snapshot, findings: Findings) -> None:
    """Every envelope of both nodes delivered and receipted, stored once by its recipient; and
    nothing stored by a recipient that its sender did not send."""
    peer = {"host": "partner", "partner": "host"}
    for node, rows in snapshot.outbox.items():
        sent = {row.packet_id: row for row in rows}
        for row in rows:
            if row.status in ("pending", "dead_lettered"):
                findings.lost.append(f"{node} outbox: {row.kind} {row.packet_id} is {row.status}")
            elif (
                row.status == "delivered"
                and row.kind != "revocation"
                and snapshot.receipts[node].get(row.packet_id) != row.envelope_sha256
            ):
                findings.lost.append(f"{node} outbox: {row.kind} {row.packet_id} unreceipted")
            if row.status == "delivered" and row.packet_id not in snapshot.received[peer[node]]:
                findings.lost.append(f"{node} outbox: {row.kind} {row.packet_id} not stored")
        for packet, stored in snapshot.received[peer[node]].items():
            origin = sent.get(packet)
            if origin is None:
                findings.unexpected.append(f"{peer[node]} holds {packet}, never sent by {node}")
            elif origin.status == "cancelled" and origin.kind != "referral":
                findings.unexpected.append(f"{peer[node]} holds cancelled {stored.kind} {packet}")


def _check_unasked(snapshot: Snapshot, findings: Findings) -> None:
    """Rows that no request of the clients made."""
    made = set(snapshot.keys.values())
    for case_id in snapshot.cases - made:
        findings.unexpected.append(f"case {case_id} made by no request")
    for referral_id in set(snapshot.referrals) - made:
        findings.unexpected.append(f"referral {referral_id} made by no request")
    for case_id, ids in snapshot.withdrawals.items():
        for withdrawal_id in set(ids) - made:
            findings.unexpected.append(f"withdrawal {withdrawal_id} of {case_id} by no request")


def _check_logs(
    snapshot: Snapshot,
    logs: _Counts,
    audits: dict[str, tuple[bool, str]],
    findings: Findings,
) -> None:
    """Both logs verify; each entry has one place; "once" actions are written once."""
    for node, (ok, said) in audits.items():
        if not ok:
            findings.unexpected.append(f"{node} access log does not verify: {said}")
        entries = snapshot.log[node]
        places = [e.leaf_index for e in entries]
        if None in places or sorted(p for p in places if p is not None) != list(
            range(len(entries))
        ):
            findings.unexpected.append(f"{node} access log: entries without one place each")
        for (action, packet), count in logs.packet[node].items():
            if action in ONCE_PER_PACKET[node] and packet is not None and count > 1:
                findings.duplicated.append(f"{node} log: {action} of {packet} {count} times")
        for (action, packet, outcome), count in logs.packet_outcome[node].items():
            if action == "deadline_moved" and count > 1:
                findings.duplicated.append(f"{node} log: {action} ({outcome}) of {packet} x{count}")
    for (action, case_id), count in logs.case.items():
        if action in ONCE_PER_CASE and count > 1:
            findings.duplicated.append(f"host log: {action} of case {case_id} {count} times")
    for (action, case_id, outcome), count in logs.case_outcome.items():
        if action == "event_recorded" and count > 1:
            findings.duplicated.append(f"host log: {action} ({outcome}) of {case_id} x{count}")


# -- the report -------------------------------------------------------------------------------


def report(campaign: Campaign) -> str:
    """The summary: kill points, requests, lost, duplicated, unexpected, run time."""
    requests = campaign.ledger.requests
    victims = Counter(point.victim for point in campaign.kills)
    ops = sorted({r.op for r in requests})
    rows = []
    for op in ops:
        mine = [r for r in requests if r.op == op]
        outcomes = Counter(r.outcome for r in mine)
        rows.append(
            [
                op,
                str(len(mine)),
                str(outcomes[Outcome.ACCEPTED]),
                str(outcomes[Outcome.REFUSED]),
                str(outcomes[Outcome.UNKNOWN]),
                str(campaign.findings.applied[op]),
                str(campaign.findings.not_applied[op]),
                str(sum(r.ambiguous > 0 for r in mine)),
            ]
        )
    findings = campaign.findings
    lines = [
        f"crash campaign on {campaign.database}, seed {campaign.seed}: "
        f"{len(campaign.kills)} kill points ("
        + ", ".join(f"{name} {count}" for name, count in sorted(victims.items()))
        + ")",
        "",
        table(
            [
                "request",
                "sent",
                "accepted",
                "refused",
                "unknown",
                "applied",
                "not applied",
                "answer lost once+",
            ],
            rows,
        ),
        "",
        f"refusals: {dict(campaign.ledger.refusals) or 'none'}",
        f"state: {findings.state}",
        f"access logs: host {campaign.audits['host']}; partner {campaign.audits['partner']}",
        f"run time: {campaign.seconds}",
        "logged at warning level and above (all starts of each member):",
        *_logged_lines(campaign.logged),
        "",
        f"lost {len(findings.lost)}, duplicated {len(findings.duplicated)}, "
        f"unexpected {len(findings.unexpected)}",
    ]
    for kind in ("lost", "duplicated", "unexpected"):
        for line in getattr(findings, kind)[:20]:
            lines.append(f"  {kind}: {line}")
    lines.append("chaos: OK" if campaign.ok else "chaos: FAILED")
    return "\n".join(lines)


def _logged_lines(logged: dict[str, Counter[str]], top: int = 6) -> list[str]:
    lines = []
    for name, counts in sorted(logged.items()):
        if not counts:
            lines.append(f"  {name}: nothing")
        for message, count in counts.most_common(top):
            lines.append(f"  {name}: {count} x {message}")
    return lines


def as_record(campaign: Campaign) -> dict[str, Any]:
    requests = campaign.ledger.requests
    return {
        "seed": campaign.seed,
        "kill_points": len(campaign.kills),
        "victims": dict(Counter(p.victim for p in campaign.kills)),
        "requests": dict(Counter(r.outcome.value for r in requests)),
        "by_operation": {
            op: dict(Counter(r.outcome.value for r in requests if r.op == op))
            for op in sorted({r.op for r in requests})
        },
        "unknown_applied": dict(campaign.findings.applied),
        "unknown_not_applied": dict(campaign.findings.not_applied),
        "refusals": dict(campaign.ledger.refusals),
        "lost": campaign.findings.lost,
        "duplicated": campaign.findings.duplicated,
        "unexpected": campaign.findings.unexpected,
        "state": campaign.findings.state,
        "audits": campaign.audits,
        "logged": {name: dict(counts) for name, counts in campaign.logged.items()},
        "seconds": campaign.seconds,
        "kills": [asdict(p) for p in campaign.kills],
        "machine": machine(),
        "source": source(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.chaos", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--kills", type=int, default=1000, help="kill points (default 1000)")
    parser.add_argument("--database", default="sqlite", help="sqlite, postgresql or an admin URL")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument("--json", type=Path, default=None, help="also write the full record here")
    parser.add_argument(
        "--keep", type=Path, default=None, help="keep the federation (homes, logs) in this folder"
    )
    args = parser.parse_args(argv)
    stop_cleanly_on_sigterm()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1_000_000)
    emit(f"crash campaign: {args.kills} kill points on {args.database}, seed {seed}")
    campaign = run_campaign(
        args.database, kills=args.kills, seed=seed, clients=args.clients, keep=args.keep
    )
    emit(report(campaign))
    record = as_record(campaign)
    merge_results(NAME, database_kind(args.database), record)
    if args.json is not None:
        args.json.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return 0 if campaign.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
