"""Two real nodes for the crash campaign (``bench.chaos``) and the soak (``bench.soak``).

A federation of a host mission and a reception partner is set up with ``avrr`` commands as an
operator sets one up (``tests.support.processes``: ``avrr federation init``, ``node init``,
``node export``, ``federation add-node``, ``node install-directory``, ``node token``). Each node
then runs two processes, each from its own copy of the node's home, sharing the node's
database: its API (``avrr serve``) and its worker (``avrr worker``). A ``Member`` is one of those
four processes; it can be killed with SIGKILL at any moment and started again with the same
command line, and every start writes to the same log file.

Invariants:
- a member is only ever started by this module and stopped by its own pid (``kill -9`` or a
  SIGTERM at the end), never by name;
- everything ``Cluster.running`` starts is stopped, and its scratch databases dropped, when the
  block ends, also on error;
- both nodes run with the product's code and settings, except ``CAMPAIGN_SETTINGS``, which
  shorten how long a killed worker's claim and a failing recipient's backoff last, so that a
  campaign drains in seconds instead of hours.

Example::

    with Cluster.running(folder, "sqlite") as cluster:   # doctest: +SKIP
        cluster.members["host-api"].kill()
        cluster.members["host-api"].start()
        cluster.wait_ready()
"""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
from sqlalchemy import Engine, func, select

from bench.harness import postgres_admin_url
from gateway.exchange.outbox.models import OutboxRow, OutboxStatus
from gateway.records.accesslog.models import AccessEventRow

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from tests.support import flows
    from tests.support.processes import ProcessFederation, ProcessNode, run_avrr

HOST = "host-mission"
PARTNER = "origin-reception"
PURPOSE = "arrival_reception"
#: The staff the campaign acts as: a caseworker of the host, an officer of the partner.
CASEWORKER = {"role": "caseworker", "user": "cw-campaign", "office": "tunis"}
OFFICER = {"role": "partner_officer", "user": "po-campaign", "office": "dakar"}
#: Node settings (``node.json``) both nodes run with. A killed worker's claimed rows wait for
#: its lease to end before another run takes them (2 minutes by default), and a recipient that
#: was down many times pushes a row's next attempt up to an hour away; both are shortened so
#: that a campaign with a kill every second or two drains in seconds. Everything else is the
#: product's default.
CAMPAIGN_SETTINGS: dict[str, Any] = {"claim_lease": 30, "retry_base": 0.5, "retry_cap": 5}
#: How often each worker polls its outbox (``avrr worker --interval``), as the system tests do.
WORKER_INTERVAL = 0.2
#: How long a started member may take to be ready (its API answers, its worker runs).
STARTUP_SECONDS = 120.0
#: What a worker prints once it runs (``avrr worker``).
WORKER_RUNNING = b"delivery worker running"


def admin_database(database: str) -> str:
    """``"sqlite"``, or the PostgreSQL server's admin URL: for ``"postgresql"`` the local one
    (``bench.harness.postgres_admin_url``), or a ``postgresql://`` URL as given."""
    if database == "sqlite":
        return "sqlite"
    if database == "postgresql":
        return postgres_admin_url()
    if database.startswith("postgresql://"):
        return database
    raise ValueError("the database is sqlite, postgresql or a postgresql:// URL")


def database_kind(database: str) -> str:
    return "sqlite" if database == "sqlite" else "postgresql"


# -- what a caseworker and a partner officer send --------------------------------------------


def case_body() -> dict[str, Any]:
    return dict(flows.CASE)


def consent_body() -> dict[str, Any]:
    return {
        "purpose": PURPOSE,
        "recipient": PARTNER,
        "sections": list(flows.ALL_SECTIONS),
        "method": "signed_form",
        "language": "fr",
        "informed_of_risks": True,
    }


def referral_body(case_id: str) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "recipient": PARTNER,
        "purpose": PURPOSE,
        "transfer_ground": "explicit_consent_informed_of_risks",
        "content": flows.content(),
    }


def correction_body() -> dict[str, Any]:
    """Corrected content for the arrival section (the person goes to another town)."""
    arrival = copy.deepcopy(flows.CONTENT["arrival"])
    arrival["final_destination"] = {"country": "SN", "locality": "Saint-Louis"}
    return {"content": {"arrival": arrival}}


# -- one process of a node --------------------------------------------------------------------


@dataclass
class Member:
    """One ``avrr serve`` or ``avrr worker`` process of a node, killable and startable again.

    ``url`` is the API's base URL (None for a worker); readiness is the API answering
    ``/livez``, or the worker having printed that it runs.
    """

    name: str
    args: list[str]
    log_path: Path
    url: str | None = None
    starts: int = 0
    popen: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    _log: IO[bytes] | None = None
    _log_offset: int = 0
    _ready: bool = False

    def start(self) -> None:
        """Start the process (again); its output is appended to the member's log."""
        if self.alive():
            raise RuntimeError(f"{self.name} is already running")
        if self._log is None:
            self._log = self.log_path.open("ab")
        self._log.write(f"\n--- campaign: start {self.starts + 1} of {self.name}\n".encode())
        self._log.flush()
        self._log_offset = self.log_path.stat().st_size
        # Our own interpreter running our own package with fixed arguments: no input reaches it.
        self.popen = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "gateway", *self.args],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "AVRR_LOG_FORMAT": "json"},
        )
        self.starts += 1
        self.started_at = time.monotonic()
        self._ready = False

    @property
    def pid(self) -> int:
        if self.popen is None:
            raise RuntimeError(f"{self.name} was never started")
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def ready(self) -> bool:
        """Whether it serves now: the API answers ``/livez``, the worker has said it runs."""
        if not self.alive():
            return False
        if self._ready:
            return True
        if self.url is not None:
            try:
                self._ready = httpx.get(self.url + "/livez", timeout=2.0).status_code == 200
            except httpx.HTTPError:
                return False
        else:
            with self.log_path.open("rb") as log:
                log.seek(self._log_offset)
                self._ready = WORKER_RUNNING in log.read()
        return self._ready

    def kill(self) -> float:
        """``kill -9`` the process, by its own pid; how long it had been running, in seconds."""
        if self.popen is None or not self.alive():
            raise RuntimeError(f"{self.name} is not running")
        uptime = time.monotonic() - self.started_at
        os.kill(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=30)
        self._ready = False
        return uptime

    def stop(self) -> None:
        """Stop it politely (SIGTERM), then for sure; close its log."""
        if self.popen is not None and self.alive():
            self.popen.terminate()
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def _member(node: ProcessNode, role: str) -> Member:
    """The node's API (on the port the directory lists for it) or its worker."""
    name = f"{'host' if node.node_id == HOST else 'partner'}-{role}"
    home = node.replica_home(role)
    log_path = node.folder / f"{name}.log"
    if role == "api":
        args = ["serve", str(home), "--port", str(node.port)]
        return Member(name, args, log_path, url=f"http://127.0.0.1:{node.port}")
    return Member(name, ["worker", str(home), "--interval", str(WORKER_INTERVAL)], log_path)


# -- the two nodes ----------------------------------------------------------------------------


@dataclass
class Cluster:
    """The host and the partner, their four members, and a staff token for each side."""

    federation: ProcessFederation
    host: ProcessNode
    partner: ProcessNode
    members: dict[str, Member]
    caseworker_token: str = ""
    officer_token: str = ""
    kind: str = "sqlite"
    engines: dict[str, Engine] = field(default_factory=dict)

    @classmethod
    @contextmanager
    def running(
        cls, folder: Path, database: str, *, settings: dict[str, Any] | None = None
    ) -> Iterator[Cluster]:
        """Set both nodes up in ``folder`` (``database``: ``sqlite``, ``postgresql`` or an admin
        URL), start their four members and wait until each is ready; stop everything after."""
        federation = ProcessFederation.create(folder, admin_database(database))
        # Databases of our own name, apart from those the system tests make.
        federation.prefix = f"avrr_campaign_{os.getpid()}_"
        cluster: Cluster | None = None
        try:
            # Each node's own ``avrr node init`` touches only its home: side by side.
            with ThreadPoolExecutor(2) as pool:
                adding = pool.submit(federation.add_node, HOST, "host_mission", "DE")
                partner = federation.add_node(PARTNER, "reception_partner", "SN")
                host = adding.result()
            federation.publish()
            for node in (host, partner):
                node.configure(**(CAMPAIGN_SETTINGS if settings is None else settings))
            members = {
                m.name: m
                for m in (
                    _member(host, "api"),
                    _member(host, "worker"),
                    _member(partner, "api"),
                    _member(partner, "worker"),
                )
            }
            cluster = cls(federation, host, partner, members, kind=database_kind(database))
            for member in members.values():
                member.start()
            with ThreadPoolExecutor(2) as pool:
                caseworker = pool.submit(lambda: host.token(**CASEWORKER))
                officer = pool.submit(lambda: partner.token(**OFFICER))
                cluster.caseworker_token = caseworker.result()
                cluster.officer_token = officer.result()
            cluster.wait_ready()
            yield cluster
        finally:
            if cluster is not None:
                cluster.stop()
            federation.close()

    @property
    def nodes(self) -> tuple[ProcessNode, ProcessNode]:
        return self.host, self.partner

    @property
    def host_url(self) -> str:
        return f"http://127.0.0.1:{self.host.port}"

    @property
    def partner_url(self) -> str:
        return f"http://127.0.0.1:{self.partner.port}"

    def caseworker(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.caseworker_token}"}

    def officer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.officer_token}"}

    def wait_ready(self, timeout: float = STARTUP_SECONDS) -> None:
        """Start any member that is down, then wait until every one is ready."""
        for member in self.members.values():
            if not member.alive():
                member.start()
        deadline = time.monotonic() + timeout
        while not all(member.ready() for member in self.members.values()):
            for member in self.members.values():
                if not member.alive() and member.popen is not None:
                    raise RuntimeError(f"{member.name} exited while starting:\n{_tail(member)}")
            if time.monotonic() > deadline:
                late = [m.name for m in self.members.values() if not m.ready()]
                raise TimeoutError(f"not ready after {timeout:.0f} s: {', '.join(late)}")
            time.sleep(0.2)

    def stop(self) -> None:
        for member in self.members.values():
            member.stop()
        for engine in self.engines.values():
            engine.dispose()
        self.engines.clear()

    def engine(self, node: ProcessNode) -> Engine:
        """An engine on the node's database, for reading it directly as an operator would."""
        if node.node_id not in self.engines:
            self.engines[node.node_id] = node.engine()
        return self.engines[node.node_id]

    def outbox_depth(self, node: ProcessNode) -> int:
        """Envelopes still waiting in the node's outbox."""
        with self.engine(node).connect() as conn:
            count = conn.scalar(
                select(func.count())
                .select_from(OutboxRow)
                .where(OutboxRow.status == OutboxStatus.PENDING)
            )
        return int(count or 0)

    def unsequenced(self, node: ProcessNode) -> int:
        """Access-log entries still waiting for their place in the node's log."""
        with self.engine(node).connect() as conn:
            count = conn.scalar(
                select(func.count())
                .select_from(AccessEventRow)
                .where(AccessEventRow.leaf_index.is_(None))
            )
        return int(count or 0)

    def audit(self, node: ProcessNode) -> tuple[bool, str]:
        """``avrr audit checkpoint`` then ``avrr audit verify`` on the node's home: whether the
        log verifies, and what verify said."""
        run_avrr("audit", "checkpoint", node.home)
        done = run_avrr("audit", "verify", node.home)
        said = (done.stdout + done.stderr).strip().splitlines()
        return done.returncode == 0, said[-1] if said else ""


def _tail(member: Member, size: int = 3000) -> str:
    with suppress(OSError):
        return member.log()[-size:]
    return ""


# -- what a process uses, from /proc ----------------------------------------------------------


def rss_kib(pid: int) -> int:
    """The process's resident memory (``VmRSS`` of ``/proc/<pid>/status``), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text("ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def open_fds(pid: int) -> int:
    """How many file descriptors the process holds open (``/proc/<pid>/fd``)."""
    return len(os.listdir(f"/proc/{pid}/fd"))
