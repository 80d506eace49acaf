"""Benchmark: purging expired sections while referrals keep arriving.

The requirement (docs/retention.md, ``gateway.retention.service``): the purge works in bounded
batches, each its own short transaction, so that it "does not block a concurrent referral for more
than a second". This benchmark measures that, on the production code paths, and never asserts it.

Setup, per run, on a fresh database:

- a federation of two real nodes (homes with keys, a signed directory), built with
  ``tests.support.federation``; the host node is the one measured;
- ``--sections`` expired received sections (10,000; ``--full``: the goal's 100,000) inserted
  in bulk into the host's database: 4 sections per ``received_packets`` row, one subject pseudonym per 5 packets, every
  packet older than the acceptance window and every section past its ``delete_by``; each subject
  has a real data-key file, so the purge destroys real keys;
- the host's HTTP API in its own process (uvicorn on 127.0.0.1, as ``avrr serve``); a few cases
  with consent, and warm-up referrals that are not measured.

Then the load: one client in this process posting referrals (``POST /api/v1/referrals``:
validation, consent decision, minimisation, sealing, signing, outbox write, access-log entry;
no delivery) one at a time, back to back, timing each, in three stretches:

1. before the purge: unmeasured warm-up, then referrals whose last ``n // 2`` are baseline;
2. during the purge: ``Purger.run_once`` (the worker's defaults) runs in its own process, as in the
   worker, with the same home and database; referrals are posted until it finishes (``n``);
3. after the purge: ``n - n // 2`` more referrals, the rest of the baseline.

So the baseline has as many referrals as the purge phase, taken on either side of it: the
intake reads the outbox, which grows by one row per referral, so a baseline taken only before
(or only after) would be measured on a smaller (or bigger) outbox than the purge phase.

Reported per run and as median (lowest-highest) over ``--runs``: intake latency p50, p99 and max
in both phases; R = p99 without / p99 during (the goal is R >= 0.5); the purge's throughput
(sections/s), wall time and batches; the purge's transactions (median and longest: on SQLite
a referral waits for the one holding the writer lock); and the slowest referral of the purge
phase with how many purge transactions it overlapped (more than one: it lost the lock to the
next batch). A smaller ``--sections`` is stored apart (``sqlite-quick``...), never over the
full-size result.

Run it::

    python -m bench.purge --database sqlite            # 10,000 sections, 2 runs
    python -m bench.purge --database sqlite --full     # 100,000 sections, 3 runs
    python -m bench.purge --database postgresql --quick    # 4,000 sections, a smoke run
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import statistics
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from typing import Any

import httpx
from pydantic import AnyHttpUrl
from sqlalchemy import event, insert, text
from sqlalchemy.orm import Session, SessionTransaction

from bench.harness import (
    SPAWN,
    ApiServer,
    LatencySummary,
    ScratchDatabases,
    Spread,
    emit,
    machine,
    merge_results,
    source,
    stop,
    stop_cleanly_on_sigterm,
    table,
    timed,
)
from crypto.storage import VERSION
from gateway.exchange.inbox.models import ReceivedPacketRow, ReceivedSectionRow
from gateway.kit.auth import StaffTokenIssuer
from gateway.kit.clock import SystemClock
from gateway.kit.config import Settings
from gateway.kit.db import make_engine, make_sessionmaker
from gateway.kit.node import Node
from gateway.processes.retention import Purger
from schemas.common import PartnerRole, ReceivedStatus, StaffRole

with warnings.catch_warnings():
    # The test federation imports Starlette's test client, which warns about httpx; unused here.
    warnings.simplefilter("ignore")
    from tests.support import flows
    from tests.support.clock import FakeClock
    from tests.support.federation import TestFederation

NAME = "purge_expired_sections"
HOST, SENDER = "host-mission", "origin-reception"
SECTIONS = ("arrival", "medical", "reintegration", "travel")
#: The goal's size (``--full``, ``make bench-full``), what ``make bench`` loads to stay within
#: its time budget (on SQLite a 100,000-section purge alone takes minutes), and a smoke run.
FULL_SIZE, DEFAULT_SIZE, QUICK_SIZE = 100_000, 10_000, 4_000
#: ``bench.run --full`` passes ``--full`` to this benchmark.
HAS_FULL = True
PACKETS_PER_SUBJECT = 5
#: Rows per bulk-insert transaction while loading.
LOAD_CHUNK = 5_000
#: Cases the referrals are posted for, round robin; and unmeasured referrals before phase 1.
CASES, WARMUP = 20, 30
#: A purge phase that takes longer than this is a failure, not a figure.
PURGE_TIMEOUT = 600.0
GOAL_R = 0.5
DESCRIPTION = "Benchmark: purging expired sections while referrals keep arriving."
BLOCK_LIMIT_MS = 1000.0


@dataclass(frozen=True)
class Config:
    database: str
    sections: int
    runs: int
    seed: int = 20261122

    @property
    def packets(self) -> int:
        return self.sections // len(SECTIONS)

    @property
    def subjects(self) -> int:
        return -(-self.packets // PACKETS_PER_SUBJECT)


# -- setup -------------------------------------------------------------------------------------


def build_federation(
    databases: ScratchDatabases, label: str, inboxes: Mapping[str, int] | None = None
) -> TestFederation:
    """A host and a recipient with real homes and a signed directory, valid from now.

    ``label`` names their folders and databases. With ``inboxes`` (node id to a port on
    127.0.0.1), the directory lists those real inboxes, so nodes served there reach each other.
    """
    federation = TestFederation(
        root=databases.folder / label,
        clock=FakeClock(datetime.now(UTC)),
        database_url=lambda node_id: databases.url(f"{label}_{node_id.replace('-', '_')}"),
    )
    federation.add_node(HOST, [PartnerRole.HOST_MISSION], "DE")
    federation.add_node(SENDER, [PartnerRole.RECEPTION_PARTNER], "SN")
    directory = federation.directory()
    if inboxes:
        listed = [
            node.model_copy(
                update={"inbox_url": AnyHttpUrl(f"http://127.0.0.1:{inboxes[node.node_id]}")}
            )
            for node in directory.nodes
        ]
        directory = directory.model_copy(update={"nodes": listed})
    federation.publish(directory)
    return federation


def _hex(rng: random.Random, bits: int) -> str:
    return f"{rng.getrandbits(bits):0{bits // 4}x}"


def _b64(rng: random.Random, size: int) -> str:
    return base64.urlsafe_b64encode(rng.randbytes(size)).decode().rstrip("=")


def _subject_packets(
    rng: random.Random, subject: str, count: int, now: datetime
) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """One person's received packets with their sections, dated by the default retention rules.

    The person returned 900 to 1,600 days ago, so every section is past its date: travel and
    medical 30 days after arrival, arrival 90 days after, reintegration 730 days after
    assistance started (0 to 60 days after arrival). Each packet came a few days before arrival.
    """
    first = now - timedelta(days=rng.uniform(900, 1600))
    arrived = first + timedelta(days=rng.uniform(20, 60))
    assisted = arrived + timedelta(days=rng.uniform(0, 60))
    dates = {
        "travel": arrived + timedelta(days=30),
        "medical": arrived + timedelta(days=30),
        "arrival": arrived + timedelta(days=90),
        "reintegration": assisted + timedelta(days=730),
    }
    packets = []
    for _ in range(count):
        created = first + timedelta(days=rng.uniform(0, 20))
        packet_id = _hex(rng, 128)
        packet = {
            "packet_id": packet_id,
            "kind": "referral",
            "sender": SENDER,
            "purpose": "arrival_reception",
            "subject": subject,
            "consent_ref": _hex(rng, 128),
            "sections": list(SECTIONS),
            "created_at": created,
            "delete_by": max(dates.values()),
            "received_at": created + timedelta(seconds=rng.uniform(1, 600)),
            "envelope_sha256": _hex(rng, 256),
            "status": ReceivedStatus.ACTIVE,
            "withdrawn_sections": [],
            "expired_sections": [],
            "opened_count": rng.randint(0, 3),
            "receipt": {
                "payload": _b64(rng, 260),
                "key_id": _hex(rng, 64),
                "signature": _b64(rng, 64),
            },
        }
        sections = [
            {
                "packet_id": packet_id,
                "section": name,
                "sealed": VERSION + rng.randbytes(rng.randint(120, 400)),
                "delete_by": dates[name],
            }
            for name in SECTIONS
        ]
        packets.append((packet, sections))
    return packets


def load_expired(settings: Settings, config: Config) -> None:
    """Insert ``config.sections`` expired received sections, shaped like real ones.

    Sizes follow what the inbox stores for a referral: sealed sections of 120 to 400 bytes, a
    signed receipt of about 500 bytes of JSON. Each subject has ``PACKETS_PER_SUBJECT`` packets
    of 4 sections and a data-key file; dates follow ``_subject_packets``, so a batch of the
    purge (ordered by date) takes the sections of a few dozen people, as it would in life.
    Every packet is older than the acceptance window, so the purge also forgets the emptied ones.
    """
    # Synthetic layout, seeded so every run purges the same shape of data; not for secrets.
    rng = random.Random(config.seed)  # noqa: S311
    now = datetime.now(UTC)
    node = Node(settings=settings, clock=SystemClock())
    engine = make_engine(settings.database_url)
    try:
        packets: list[dict[str, Any]] = []
        sections: list[dict[str, Any]] = []
        for index in range(config.subjects):
            subject = _hex(rng, 256)
            node.keys.data_key(subject)
            count = min(PACKETS_PER_SUBJECT, config.packets - index * PACKETS_PER_SUBJECT)
            for packet, its_sections in _subject_packets(rng, subject, count, now):
                packets.append(packet)
                sections.extend(its_sections)
            if len(packets) >= LOAD_CHUNK or index == config.subjects - 1:
                with Session(engine) as session, session.begin():
                    session.execute(insert(ReceivedPacketRow), packets)
                    session.execute(insert(ReceivedSectionRow), sections)
                packets, sections = [], []
        if engine.dialect.name == "postgresql":
            # In production these rows arrive over months and autovacuum keeps the planner's
            # statistics current; a bulk load an instant before the purge would not.
            with engine.connect() as connection:
                connection.execute(text("ANALYZE"))
                connection.commit()
    finally:
        engine.dispose()


def staff_headers(
    federation: TestFederation, role: StaffRole = StaffRole.CASEWORKER
) -> dict[str, str]:
    """A bearer token of the host's staff, for a caseworker (or ``role``) of one office."""
    host = federation.nodes[HOST]
    issuer = StaffTokenIssuer(key=host.home.staff_issuer(), node_id=HOST)
    token = issuer.issue(
        user=f"bench-{role.value}",
        role=role,
        office="bench-office",
        now=datetime.now(UTC),
        lifetime=timedelta(hours=2),
    )
    return {"Authorization": f"Bearer {token}"}


def prepare_cases(http: httpx.Client, count: int) -> list[str]:
    """Cases with consent to refer to the recipient, through the API as a caseworker would."""
    cases = []
    for _ in range(count):
        response = http.post("/api/v1/cases", json=flows.CASE)
        response.raise_for_status()
        case_id = str(response.json()["id"])
        consent = {
            "purpose": "arrival_reception",
            "recipient": SENDER,
            "sections": flows.ALL_SECTIONS,
            "method": "signed_form",
            "language": "fr",
            "informed_of_risks": True,
        }
        http.post(f"/api/v1/cases/{case_id}/consents", json=consent).raise_for_status()
        cases.append(case_id)
    return cases


def referral_body(case_id: str) -> dict[str, Any]:
    """A referral of the case to the recipient, as a caseworker would post it."""
    return {
        "case_id": case_id,
        "recipient": SENDER,
        "purpose": "arrival_reception",
        "transfer_ground": "explicit_consent_informed_of_risks",
        "content": flows.content(),
    }


# -- the load ----------------------------------------------------------------------------------


@dataclass
class Intake:
    """Referrals posted one at a time: when each started, how long it took, whether it worked."""

    starts: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    ok: list[bool] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return self.ok.count(False)

    def post(self, http: httpx.Client, case_id: str) -> None:
        start = time.perf_counter()
        response = http.post("/api/v1/referrals", json=referral_body(case_id))
        self.seconds.append(time.perf_counter() - start)
        self.starts.append(start)
        self.ok.append(response.status_code == 201)

    def last(self, count: int) -> Intake:
        if count == 0:
            return Intake()
        return Intake(self.starts[-count:], self.seconds[-count:], self.ok[-count:])

    def __add__(self, other: Intake) -> Intake:
        return Intake(self.starts + other.starts, self.seconds + other.seconds, self.ok + other.ok)


def _purge_process(settings: Settings, channel: Connection) -> None:
    """The body of the purge process: what the worker runs, timed, with its transactions' spans.

    The spans use ``time.perf_counter`` (CLOCK_MONOTONIC on Linux, shared by all processes), so
    the parent can line them up with the referrals it timed.
    """
    try:
        node = Node(settings=settings, clock=SystemClock())
        engine = make_engine(settings.database_url)
        sessions = make_sessionmaker(engine)
        spans: list[tuple[float, float]] = []

        def began(session: Session, transaction: SessionTransaction, connection: Any) -> None:
            session.info["began"] = time.perf_counter()

        def ended(session: Session, transaction: SessionTransaction) -> None:
            if transaction.parent is None and "began" in session.info:
                spans.append((session.info.pop("began"), time.perf_counter()))

        event.listen(sessions, "after_begin", began)
        event.listen(sessions, "after_transaction_end", ended)
        # The worker's own defaults for this database (batch size, pause between batches).
        purger = Purger(node=node, sessions=sessions)
        channel.send("ready")
        channel.recv()
        start = time.perf_counter()
        report = purger.run_once()
        seconds = time.perf_counter() - start
        engine.dispose()
        channel.send(
            {
                "seconds": seconds,
                "received_sections": report.received_sections,
                "subjects_erased": report.subjects_erased,
                "packets_forgotten": report.packets_forgotten,
                "batches": report.batches,
                "spans": spans,
            }
        )
    except Exception as failure:
        channel.send({"error": f"{type(failure).__name__}: {failure}"})


def purge_while_posting(
    settings: Settings, http: httpx.Client, cases: list[str]
) -> tuple[Intake, dict[str, Any]]:
    """Phase 1: start the purge in its own process and post referrals until it has finished."""
    ours, theirs = SPAWN.Pipe()
    process = SPAWN.Process(target=_purge_process, args=(settings, theirs), daemon=True)
    process.start()
    intake = Intake()
    try:
        if not ours.poll(60) or ours.recv() != "ready":
            raise RuntimeError("the purge process did not start")
        ours.send("go")
        deadline = time.monotonic() + PURGE_TIMEOUT
        while not ours.poll():
            if not process.is_alive() and not ours.poll():
                raise RuntimeError("the purge process died")
            if time.monotonic() > deadline:
                raise TimeoutError("the purge took longer than the benchmark allows")
            intake.post(http, cases[len(intake.seconds) % len(cases)])
        outcome: dict[str, Any] = ours.recv()
    finally:
        stop(process)
    if "error" in outcome:
        raise RuntimeError(f"the purge failed: {outcome['error']}")
    return intake, outcome


def post_referrals(http: httpx.Client, cases: list[str], count: int) -> Intake:
    """``count`` referrals, one at a time, with no purge running."""
    intake = Intake()
    for index in range(count):
        intake.post(http, cases[index % len(cases)])
    return intake


# -- one run -----------------------------------------------------------------------------------


def _slowest(intake: Intake, spans: list[tuple[float, float]]) -> dict[str, Any]:
    """The slowest referral of phase 1 and the purge transactions it overlapped."""
    index = max(range(len(intake.seconds)), key=intake.seconds.__getitem__)
    start, end = intake.starts[index], intake.starts[index] + intake.seconds[index]
    overlapping = [(s, e) for s, e in spans if s < end and e > start]
    return {
        "ms": round(intake.seconds[index] * 1000, 3),
        "at_s_into_purge": round(start - spans[0][0], 3) if spans else None,
        "overlapping_purge_transactions": len(overlapping),
        "longest_overlapping_ms": round(max((e - s for s, e in overlapping), default=0) * 1000, 3),
        "was_last_transaction": bool(spans) and spans[-1] in overlapping,
    }


def one_run(databases: ScratchDatabases, config: Config, run: int, lead: int) -> dict[str, Any]:
    """One run on a fresh database: load, warm up, then before / during / after the purge.

    ``lead`` referrals are posted before the purge, so that the ``n // 2`` just before it can be
    taken as the first half of the baseline (``n`` is only known once the purge has finished; if
    ``lead`` was too small, the baseline leans after the purge, and the result says so).
    """
    started = time.perf_counter()
    federation = build_federation(databases, f"run{run}")
    try:
        settings = federation.nodes[HOST].settings
        _, load_seconds = timed(lambda: load_expired(settings, config))
        with (
            ApiServer(settings) as base_url,
            httpx.Client(
                base_url=base_url, headers=staff_headers(federation), timeout=30.0
            ) as http,
        ):
            cases = prepare_cases(http, CASES)
            if post_referrals(http, cases, WARMUP).failures:
                raise RuntimeError("warm-up referrals failed: is the setup right?")
            before = post_referrals(http, cases, lead)
            during, purge = purge_while_posting(settings, http, cases)
            ahead = before.last(min(lead, len(during.seconds) // 2))
            after = post_referrals(http, cases, len(during.seconds) - len(ahead.seconds))
    finally:
        federation.close()
    if purge["received_sections"] != config.sections:
        raise RuntimeError(
            f"the purge deleted {purge['received_sections']} of {config.sections} sections"
        )
    without = ahead + after
    spans = purge.pop("spans")
    transactions = [end - start for start, end in spans]
    p_without, p_during = LatencySummary.of(without.seconds), LatencySummary.of(during.seconds)
    drift = (
        statistics.median(after.seconds) / statistics.median(ahead.seconds)
        if ahead.seconds and after.seconds
        else None
    )
    return {
        "requests": len(during.seconds),
        "failures_during": during.failures,
        "failures_without": without.failures,
        "without": p_without.as_dict(),
        "during": p_during.as_dict(),
        "r": round(p_without.p99_ms / p_during.p99_ms, 4),
        "baseline": {
            "before_purge": len(ahead.seconds),
            "after_purge": len(after.seconds),
            # p50 after / p50 before the purge: how much the intake slowed by itself.
            "drift": round(drift, 3) if drift is not None else None,
        },
        "purge": {
            **purge,
            "sections_per_second": round(purge["received_sections"] / purge["seconds"], 1),
            "transactions": len(transactions),
            "transaction_p50_ms": round(statistics.median(transactions) * 1000, 3),
            "transaction_max_ms": round(max(transactions) * 1000, 3),
            # Transactions run in order: received batches, the sent batch, forget batches, and
            # the SQLite compaction last; the position says which kind the longest one was.
            "transaction_max_position": transactions.index(max(transactions)) + 1,
        },
        "slowest_during": _slowest(during, spans),
        "over_one_second_during": sum(1 for s in during.seconds if s * 1000 > BLOCK_LIMIT_MS),
        "load_seconds": round(load_seconds, 2),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "run_seconds": round(time.perf_counter() - started, 2),
    }


# -- report ------------------------------------------------------------------------------------

#: (label, path in a run's result, digits) for the table and the summary in results.json.
FIGURES: list[tuple[str, tuple[str, ...], int]] = [
    ("intake p50 without purge (ms)", ("without", "p50_ms"), 1),
    ("intake p50 during purge (ms)", ("during", "p50_ms"), 1),
    ("intake p99 without purge (ms)", ("without", "p99_ms"), 1),
    ("intake p99 during purge (ms)", ("during", "p99_ms"), 1),
    ("intake max without purge (ms)", ("without", "max_ms"), 1),
    ("intake max during purge (ms)", ("during", "max_ms"), 1),
    ("R = p99 without / p99 during", ("r",), 2),
    ("purge throughput (sections/s)", ("purge", "sections_per_second"), 0),
    ("purge wall time (s)", ("purge", "seconds"), 1),
    ("purge batches", ("purge", "batches"), 0),
    ("longest purge transaction (ms)", ("purge", "transaction_max_ms"), 1),
    ("median purge transaction (ms)", ("purge", "transaction_p50_ms"), 1),
    ("referrals per phase", ("requests",), 0),
    ("baseline drift (p50 after / before)", ("baseline", "drift"), 2),
    ("referrals over 1 s during purge", ("over_one_second_during",), 0),
    ("failed referrals during purge", ("failures_during",), 0),
    ("run wall time incl. setup (s)", ("run_seconds",), 1),
]


def _figure(run: dict[str, Any], path: tuple[str, ...]) -> float:
    value: Any = run
    for key in path:
        value = value[key]
    return float(value)


def summarise(
    config: Config, server: str, source: dict[str, Any], runs: list[dict[str, Any]]
) -> dict[str, Any]:
    spreads = {label: Spread.of([_figure(run, path) for run in runs]) for label, path, _ in FIGURES}
    r = spreads["R = p99 without / p99 during"]
    worst = spreads["intake max during purge (ms)"].high
    return {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": config.database,
        "server": server,
        "machine": machine(),
        "source": source,
        "setup": {
            "sections": config.sections,
            "packets": config.packets,
            "subjects": config.subjects,
            "batch_size": "worker default (500 on PostgreSQL; 25 and a 25 ms pause on SQLite)",
            "runs": config.runs,
            "intake": "one client, sequential POST /api/v1/referrals over HTTP to uvicorn on "
            "127.0.0.1 (one API process); purge in a separate process",
        },
        "summary": {label: spreads[label].as_dict() for label, _, _ in FIGURES},
        "verdict": {
            "r_median": r.median,
            "r_goal": GOAL_R,
            "r_goal_met": r.median >= GOAL_R,
            "max_during_worst_run_ms": worst,
            "blocks_under_one_second": worst < BLOCK_LIMIT_MS,
        },
        "runs": runs,
    }


def report(entry: dict[str, Any]) -> str:
    setup, summary, verdict = entry["setup"], entry["summary"], entry["verdict"]
    rows = [[label, *Spread(**summary[label]).cells(digits)] for label, _, digits in FIGURES]
    head = (
        f"{NAME} on {entry['server']}: {setup['sections']:,} expired sections "
        f"({setup['packets']:,} packets, {setup['subjects']:,} subjects), {setup['runs']} runs\n"
        f"intake: {setup['intake']}"
    )
    goal = "met" if verdict["r_goal_met"] else "NOT met"
    block = "yes" if verdict["blocks_under_one_second"] else "NO"
    tail = (
        f"R (median) = {verdict['r_median']:.2f}, goal >= {GOAL_R}: {goal}\n"
        f"longest referral during the purge (worst run) = {verdict['max_during_worst_run_ms']:,.0f}"
        f" ms; under one second: {block}"
    )
    return "\n".join([head, table(["metric", "median", "min", "max"], rows), tail])


def run_benchmark(config: Config) -> dict[str, Any]:
    runs = []
    measured = source()
    with ScratchDatabases(config.database) as databases:
        server = databases.server_version()
        # A first guess of how many referrals half the purge takes; then learnt from each run.
        lead = max(50, config.sections // 50)
        for run in range(config.runs):
            result = one_run(databases, config, run, lead)
            runs.append(result)
            lead = max(lead, result["requests"] * 5 // 8 + 10)
            emit(
                f"  run {run + 1}/{config.runs}: R={result['r']:.2f}, p99 "
                f"{result['without']['p99_ms']:.1f} -> {result['during']['p99_ms']:.1f} ms, max "
                f"during {result['during']['max_ms']:.0f} ms, purge "
                f"{result['purge']['sections_per_second']:,.0f} sections/s in "
                f"{result['purge']['seconds']:.1f} s, {result['requests']} referrals per phase, "
                f"run {result['run_seconds']:.0f} s"
            )
    return summarise(config, server, measured, runs)


def _result_key(config: Config) -> str:
    """Where the result goes in results.json: smoke runs never replace a full-size result."""
    if config.sections == FULL_SIZE:
        return config.database
    if config.sections == QUICK_SIZE:
        return f"{config.database}-quick"
    return f"{config.database}-{config.sections}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.purge", description=DESCRIPTION)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--quick", action="store_true", help="4,000 sections: a smoke run")
    parser.add_argument("--full", action="store_true", help="100,000 sections, 3 runs")
    parser.add_argument("--sections", type=int, help="expired sections (default 10,000)")
    parser.add_argument("--runs", type=int, help="runs (default 2; 3 with --full)")
    args = parser.parse_args(argv)
    stop_cleanly_on_sigterm()
    args.runs = args.runs or (3 if args.full else 2)
    sections = args.sections or (
        QUICK_SIZE if args.quick else FULL_SIZE if args.full else DEFAULT_SIZE
    )
    if sections < len(SECTIONS) or sections % len(SECTIONS) or args.runs < 1:
        parser.error(f"--sections is a positive multiple of {len(SECTIONS)}; --runs at least 1")
    config = Config(database=args.database, sections=sections, runs=args.runs)
    emit(f"{NAME}: {config.database}, {config.sections:,} sections, {config.runs} runs")
    entry = run_benchmark(config)
    merge_results(NAME, _result_key(config), entry)
    emit(report(entry))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
