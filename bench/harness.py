"""The measuring kit every benchmark uses: timing, percentiles, runs, scratch databases, a live API.

Rules every benchmark follows, and that this module makes easy to follow:

- every verdict is a ratio against a baseline measured in the same run, on the same machine and
  database, so a slower or busier machine moves both sides alike; absolute numbers are context;
- a benchmark is repeated (``--runs``) and each figure is reported as the median of the runs with
  its spread (lowest and highest run); where ours is set against a baseline, the two alternate in
  one run (``alternate``: ours, bare, ours, bare, ..., at least ``PAIRS`` pairs), so drift in the
  machine's load falls on both alike, and R is taken pair by pair;
- a figure that depends on the server is given twice: as throughput, and as the CPU the server
  processes themselves spent (``ServerCpu``, from ``/proc``), since the client shares the cores;
- servers run as ``avrr serve`` runs them (``serve_app``: uvicorn with the same loop and HTTP
  parser, uvloop and httptools when installed), ours and the bare baselines alike;
- all traffic stays on 127.0.0.1; every process and scratch database a benchmark starts is stopped
  or dropped when it ends, also on error; each run is bounded in time;
- results are merged into ``bench/results.json`` under the benchmark's name and the database, so
  benchmarks and databases can be run separately without overwriting each other's results.

Example::

    >>> LatencySummary.of([0.010, 0.012, 0.011]).p50_ms
    11.0
    >>> Spread.of([1.0, 3.0, 2.0]).median
    2.0
    >>> next(alternate(2, lambda pair: {"per_s": 10.0}, lambda pair: {"per_s": 20.0}))
    ({'per_s': 10.0}, {'per_s': 20.0})
"""

from __future__ import annotations

import fcntl
import json
import math
import multiprocessing
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from gateway.kit.config import Settings
from gateway.kit.db import make_engine, migrate

T = TypeVar("T")

RESULTS = Path(__file__).parent / "results.json"
DATABASES = ("sqlite", "postgresql")
#: The local server (trust authentication); ``AVRR_BENCH_POSTGRES`` names another loopback one.
LOCAL_POSTGRES = "postgresql://127.0.0.1:5432/postgres"
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
_NAME = re.compile(r"^[a-z0-9_]{1,40}$")
#: Pairs of alternating variants by default (``--pairs``), and in a smoke run (``--quick``).
PAIRS = 5
QUICK_PAIRS = 3

#: Child processes are spawned, not forked: a fork would copy the parent's open database
#: connections and threads, which neither SQLite nor psycopg allow to be shared.
SPAWN = multiprocessing.get_context("spawn")


# -- output ------------------------------------------------------------------------------------


def stop_cleanly_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so a stopped benchmark still stops its processes and drops
    its scratch databases (their ``finally`` blocks run; a bare SIGTERM would skip them)."""

    def leave(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, leave)


def emit(line: str = "") -> None:
    """Write one line of the report to stdout at once (benchmarks are watched while they run)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table: the first column left-aligned, the others right-aligned."""
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest]).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])


def merge_results(
    benchmark: str, database: str, entry: Mapping[str, Any], path: Path = RESULTS
) -> None:
    """Store ``entry`` as ``results[benchmark][database]``, keeping every other result.

    Two benchmarks finishing at once must not lose each other's result, so the read and the
    write happen under an exclusive lock on the folder (released when the folder is closed).
    """
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)
        results: dict[str, Any] = json.loads(path.read_text("utf-8")) if path.exists() else {}
        results.setdefault(benchmark, {})[database] = entry
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        tmp.replace(path)
    finally:
        os.close(folder)


def source() -> dict[str, Any]:
    """The commit measured, and whether the working tree differed from it (read-only git)."""
    root = Path(__file__).parent.parent

    def git(*args: str) -> str:
        try:
            # A fixed git command on the project's own checkout: no input reaches it.
            done = subprocess.run(  # noqa: S603
                ["git", *args],  # noqa: S607
                cwd=root,
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            )
        except (OSError, subprocess.SubprocessError):
            return ""
        return done.stdout

    # Porcelain lines are "XY path"; the status letters may be spaces, so nothing is stripped.
    changed = [line[3:] for line in git("status", "--porcelain").splitlines()]
    return {
        "commit": git("rev-parse", "HEAD").strip() or None,
        "uncommitted": sorted(path for path in changed if not path.startswith("bench/")),
    }


def machine() -> dict[str, Any]:
    """What the figures were measured on, stored beside them."""
    return {
        # Other work on the machine (a test run, a build) moves every figure: say how busy it was.
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "uvicorn": uvicorn_setup(),
    }


def load_average() -> float:
    """The one-minute load average now, recorded with each pair of a comparison."""
    return round(os.getloadavg()[0], 2)


# -- measuring ---------------------------------------------------------------------------------


def timed(call: Callable[[], T]) -> tuple[T, float]:
    """``call()``'s result and how long it took, in seconds (monotonic, high resolution)."""
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0 to 100), interpolated between closest ranks as numpy does."""
    if not samples:
        raise ValueError("no samples")
    if not 0 <= q <= 100:
        raise ValueError("a percentile is between 0 and 100")
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class LatencySummary:
    """A phase's latencies, in milliseconds."""

    count: int
    p50_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> LatencySummary:
        return cls(
            count=len(seconds),
            p50_ms=round(percentile(seconds, 50) * 1000, 3),
            p99_ms=round(percentile(seconds, 99) * 1000, 3),
            max_ms=round(max(seconds) * 1000, 3),
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Spread:
    """One figure over several runs: the median run, and the lowest and highest."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        if not values:
            raise ValueError("no runs")
        return cls(median=statistics.median(values), low=min(values), high=max(values))

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    def cells(self, digits: int = 1) -> list[str]:
        return [f"{value:,.{digits}f}" for value in (self.median, self.low, self.high)]


def alternate(
    pairs: int,
    ours: Callable[[int], Mapping[str, float]],
    bare: Callable[[int], Mapping[str, float]],
) -> Iterator[tuple[Mapping[str, float], Mapping[str, float]]]:
    """Run ``ours(i)`` then ``bare(i)`` for each pair ``i``: A B A B ..., never all of one first.

    A machine whose load drifts during a run (another job starting, a cache warming) then moves
    both sides of every pair alike, and each pair gives its own ratio; the report is the median
    pair with the lowest and highest beside it. Pairs are yielded as they finish, so a caller can
    report each while the next runs.
    """
    if pairs < 1:
        raise ValueError("at least one pair")
    for pair in range(pairs):
        yield ours(pair), bare(pair)


def pairs_argument(parser: Any, default: int = PAIRS) -> None:
    """``--pairs N`` (``--runs`` is kept as its old name) on a benchmark's argument parser."""
    parser.add_argument(
        "--pairs",
        "--runs",
        dest="pairs",
        type=int,
        default=None,
        help=f"alternating pairs, ours then bare (default {default}; {QUICK_PAIRS} with --quick)",
    )


def summarise(rows: Sequence[Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """Each figure of ``rows`` (one row per pair or run) as median, lowest and highest."""
    names = [name for name in rows[0] if all(name in row for row in rows)]
    return {name: Spread.of([row[name] for row in rows]).as_dict() for name in names}


# -- the servers' own CPU time -----------------------------------------------------------------

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat_fields(pid: int) -> list[str]:
    """``/proc/<pid>/stat`` after the command name (which may hold spaces and parentheses)."""
    text_ = Path(f"/proc/{pid}/stat").read_text("ascii", errors="replace")
    return text_[text_.rfind(")") + 2 :].split()


def _descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (uvicorn's workers, for example), by scanning /proc."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            parent = int(_stat_fields(int(entry))[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found.extend(children)
        todo.extend(children)
    return found


def process_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) ``pid`` has used, with its children: the live ones' own time,
    and the time of those it has already waited for (``cutime`` and ``cstime``)."""
    total = 0
    for member in [pid, *_descendants(pid)]:
        try:
            fields = _stat_fields(member)
        except OSError:
            continue  # a child that exited between the scan and the read
        # Fields 14 to 17 of proc(5): utime, stime, cutime, cstime (here from field 3 on).
        total += sum(int(value) for value in fields[11:15])
    return total / _TICKS


def thread_cpu_seconds(pid: int) -> float:
    """CPU time of a single-threaded process (a PostgreSQL backend), to the nanosecond, from
    ``/proc/<pid>/schedstat``; 0 if it has gone."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text("ascii").split()[0]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


class ServerCpu:
    """CPU seconds the given server processes spent during a block, read from ``/proc``.

    The client shares the machine's cores with the servers, and its cost per request is about
    the same on both sides, which pulls a throughput ratio towards 1. The servers' own CPU time
    per request does not include the client. Resolution is one clock tick (10 ms), so a block
    should last long enough for a server to use a few hundred milliseconds.

    On PostgreSQL, a server's work is partly done by the database server's backend processes
    for its connections. With ``databases``, the backends of this benchmark's scratch databases
    count too (a backend that started during the block counts from its start), so a node that
    makes more statements pays for them on the database's side as well. Idle backends cost
    nothing, so the backends of the side not being measured do not move the figure.

    Example::

        >>> with ServerCpu([os.getpid()]) as cpu:
        ...     _ = sum(range(10))
        >>> cpu.seconds >= 0
        True
    """

    def __init__(self, pids: Sequence[int], *, databases: ScratchDatabases | None = None) -> None:
        self._pids = list(pids)
        self._databases = databases
        self._start = 0.0
        self._backends: dict[int, float] = {}
        self.seconds = 0.0
        #: Of ``seconds``, what the database's backends spent (0 on SQLite).
        self.database_seconds = 0.0

    def _now(self) -> float:
        return sum(process_cpu_seconds(pid) for pid in self._pids)

    def _backends_now(self) -> dict[int, float]:
        if self._databases is None:
            return {}
        return {pid: thread_cpu_seconds(pid) for pid in self._databases.backend_pids()}

    def __enter__(self) -> ServerCpu:
        self._start = self._now()
        self._backends = self._backends_now()
        return self

    def __exit__(self, *exc: object) -> None:
        ended = self._backends_now()
        self.database_seconds = sum(
            max(0.0, cpu - self._backends.get(pid, 0.0)) for pid, cpu in ended.items()
        )
        self.seconds = self._now() - self._start + self.database_seconds


# -- scratch databases -------------------------------------------------------------------------


def postgres_admin_url() -> str:
    """The PostgreSQL server benchmarks may create databases on; it must be on loopback."""
    url = os.environ.get("AVRR_BENCH_POSTGRES", "").strip() or LOCAL_POSTGRES
    if make_url(url).host not in _LOOPBACK:
        raise ValueError("benchmarks only use a PostgreSQL server on 127.0.0.1")
    return url


class ScratchDatabases:
    """Fresh, migrated, empty databases for one benchmark; all removed when the block ends.

    SQLite: files in a temporary folder, each a copy of one migrated template. PostgreSQL:
    databases ``avrr_bench_<pid>_<name>`` on the loopback server, created and migrated on first
    use and dropped ``WITH (FORCE)`` at the end, so a crashed child cannot leave one behind.
    """

    def __init__(self, kind: str) -> None:
        if kind not in DATABASES:
            raise ValueError(f"database is one of {', '.join(DATABASES)}")
        self.kind = kind
        self._urls: dict[str, str] = {}
        self._folder: Path | None = None
        self._admin: Engine | None = None
        self._prefix = f"avrr_bench_{os.getpid()}_"

    def __enter__(self) -> ScratchDatabases:
        self._folder = Path(tempfile.mkdtemp(prefix="avrr-bench-"))
        if self.kind == "sqlite":
            engine = make_engine(f"sqlite:///{self._folder / 'template.db'}")
            migrate(engine)
            engine.dispose()
        else:
            admin = make_url(postgres_admin_url()).set(drivername="postgresql+psycopg")
            self._admin = create_engine(admin, isolation_level="AUTOCOMMIT")
        return self

    @property
    def folder(self) -> Path:
        """A private temporary folder that lives as long as the databases (for node homes)."""
        if self._folder is None:
            raise RuntimeError("use ScratchDatabases in a with-block")
        return self._folder

    def url(self, name: str) -> str:
        """The URL of the database ``name``, created and migrated on first use."""
        if not _NAME.match(name):
            raise ValueError("a scratch database name is lowercase letters, digits and _")
        if name in self._urls:
            return self._urls[name]
        if self._admin is None:
            path = self.folder / f"{name}.db"
            shutil.copyfile(self.folder / "template.db", path)
            url = f"sqlite:///{path}"
        else:
            database = self._prefix + name
            with self._admin.connect() as connection:
                # The name is checked against _NAME above and prefixed here: never user input.
                connection.execute(text(f'CREATE DATABASE "{database}"'))
            url = self._admin.url.set(database=database).render_as_string(hide_password=False)
            engine = make_engine(url)
            migrate(engine)
            engine.dispose()
        self._urls[name] = url
        return url

    def backend_pids(self) -> list[int]:
        """The PostgreSQL backends connected to this benchmark's scratch databases (none on
        SQLite): the server processes doing the database's share of a request."""
        if self._admin is None:
            return []
        with self._admin.connect() as connection:
            rows = connection.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname LIKE :prefix"),
                {"prefix": self._prefix + "%"},
            ).all()
        return [int(pid) for (pid,) in rows]

    def server_version(self) -> str:
        if self._admin is None:
            return f"SQLite {sqlite3.sqlite_version}"
        with self._admin.connect() as connection:
            version = connection.execute(text("SHOW server_version")).scalar_one()
        return f"PostgreSQL {str(version).split()[0]}"

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._admin is not None:
            with self._admin.connect() as connection:
                for name in self._urls:
                    connection.execute(
                        text(f'DROP DATABASE IF EXISTS "{self._prefix + name}" WITH (FORCE)')
                    )
            self._admin.dispose()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)


# -- processes ---------------------------------------------------------------------------------


def stop(process: BaseProcess, timeout: float = 10.0) -> None:
    """Stop a child we started: politely (SIGTERM), then for sure (SIGKILL)."""
    if process.is_alive():
        process.terminate()
        process.join(timeout)
    if process.is_alive():
        process.kill()
        process.join(timeout)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


#: How ``avrr serve`` runs uvicorn, for ours and the bare apps alike: it names no ``loop`` or
#: ``http``, so uvicorn's "auto" takes uvloop and httptools, which are runtime dependencies.
#: Naming "auto" here keeps the bench on the same choice if ``avrr serve`` ever names one.
UVICORN: dict[str, Any] = {"loop": "auto", "http": "auto"}


def uvicorn_setup() -> dict[str, str]:
    """The event loop and HTTP parser uvicorn's "auto" picks on this machine, for the record."""
    import importlib.util

    has = importlib.util.find_spec
    return {
        "loop": "uvloop" if has("uvloop") else "asyncio",
        "http": "httptools" if has("httptools") else "h11",
    }


def serve_app(app: Any, port: int) -> None:
    """Serve ``app`` on 127.0.0.1 as ``avrr serve`` does (one process, ``UVICORN``'s settings)."""
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, **UVICORN)


def _serve(settings: Settings, port: int) -> None:
    """The body of the API process: exactly what ``avrr serve`` runs, on 127.0.0.1."""
    from gateway.surfaces.app import create_app

    serve_app(create_app(settings), port)


class ApiServer:
    """A node's real HTTP API in its own process (uvicorn, as ``avrr serve``), for one block.

    Entering returns the base URL once ``/healthz`` answers 200; leaving stops the process.
    """

    def __init__(
        self, settings: Settings, *, port: int | None = None, startup_timeout: float = 60.0
    ) -> None:
        self._settings = settings
        self._port = port
        self._timeout = startup_timeout
        self._process: BaseProcess | None = None

    @property
    def pid(self) -> int:
        """The API process's id, to profile it."""
        if self._process is None or self._process.pid is None:
            raise RuntimeError("the API is not running")
        return self._process.pid

    def __enter__(self) -> str:
        port = self._port or free_port()
        base_url = f"http://127.0.0.1:{port}"
        self._process = SPAWN.Process(target=_serve, args=(self._settings, port), daemon=True)
        self._process.start()
        deadline = time.monotonic() + self._timeout
        with httpx.Client(base_url=base_url, timeout=5.0) as probe:
            while time.monotonic() < deadline:
                if not self._process.is_alive():
                    raise RuntimeError("the API process exited while starting")
                try:
                    if probe.get("/healthz").status_code == 200:
                        return base_url
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        stop(self._process)
        raise TimeoutError("the API did not become healthy in time")

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._process is not None:
            stop(self._process)


# -- profiling ---------------------------------------------------------------------------------

#: Where a sample's time goes: the innermost frame that is in one of these places (py-spy names
#: a frame's file relative to its ``sys.path`` entry) names the cost centre. Time inside C or Rust code (libsodium, OpenSSL,
#: sqlite3, psycopg) counts for the Python frame that called it, so our thin wrapper over the
#: primitives (``crypto/_primitives.py``) counts as crypto.
COST_CENTRES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "crypto primitives (cryptography, PyNaCl)",
        ("crypto/_primitives.py", "nacl/", "cryptography/"),
    ),
    ("database (SQLAlchemy and driver)", ("sqlalchemy/", "sqlite3/", "psycopg")),
    ("canonical JSON (rfc8785)", ("rfc8785/",)),
    ("pydantic validation and serialisation", ("pydantic/", "pydantic_core/")),
    ("JSON (stdlib)", ("json/",)),
    (
        "HTTP and ASGI (uvicorn, h11, starlette, fastapi, anyio, httpx)",
        (
            "uvicorn/",
            "h11/",
            "starlette/",
            "fastapi/",
            "anyio/",
            "httpx/",
            "httpcore/",
            "asyncio/",
        ),
    ),
    ("logging", ("logging/",)),
)
#: Leaf frames of a thread waiting, not working (py-spy cannot always tell them apart here):
#: such samples are left out.
IDLE = ("Condition.wait (threading.py", "EpollSelector.select (selectors.py", "Event.wait (")
OUR_CODE = "our own code (gateway, consent, crypto, partners, schemas)"
_OURS = ("gateway/", "consent/", "crypto/", "partners/", "schemas/", "bench/")


def cost_centre(stack: str) -> str:
    """The cost centre of one collapsed stack (``func (path:line);...``, outermost first).

    Example::

        >>> cost_centre("run (threading.py:1);seal (crypto/envelope.py:9);dumps (json/__init__.py:2)")
        'JSON (stdlib)'
        >>> cost_centre("run (threading.py:1)")
        'other'
    """
    for frame in reversed(stack.split(";")):
        path = frame[frame.rfind("(") + 1 :]
        for name, markers in COST_CENTRES:
            if path.startswith(markers):
                return name
        if path.startswith(_OURS):
            return OUR_CODE
    return "other"


class Profiler:
    """py-spy sampling running processes for a block; the samples, grouped by cost centre.

    py-spy reads the processes' memory from outside (no change to the code measured); it needs
    to be allowed to (root, or ``ptrace`` permission on the processes).
    """

    def __init__(self, processes: Mapping[str, int], folder: Path, rate: int = 100) -> None:
        self._processes = dict(processes)
        self._folder = folder
        self._rate = rate
        self._running: dict[str, subprocess.Popen[bytes]] = {}

    def __enter__(self) -> Profiler:
        try:
            self._start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _start(self) -> None:
        spy = Path(sys.executable).with_name("py-spy")
        for name, pid in self._processes.items():
            # Fixed arguments: our own executable, a pid we started, a file in our own folder.
            self._running[name] = subprocess.Popen(  # noqa: S603
                [
                    str(spy),
                    "record",
                    "--pid",
                    str(pid),
                    "--rate",
                    str(self._rate),
                    "--format",
                    "raw",
                    "--output",
                    str(self._folder / f"{name}.txt"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

    def __exit__(self, *exc: object) -> None:
        for spy in self._running.values():
            spy.send_signal(2)  # SIGINT: py-spy writes its output, then exits
        for spy in self._running.values():
            try:
                spy.wait(timeout=30)
            except subprocess.TimeoutExpired:
                spy.kill()

    def costs(self) -> dict[str, dict[str, float]]:
        """Per process: its samples, and the share of them (0 to 1) per cost centre."""
        result: dict[str, dict[str, float]] = {}
        for name in self._processes:
            path = self._folder / f"{name}.txt"
            counts: dict[str, int] = {}
            lines = path.read_text("utf-8").splitlines() if path.exists() else []
            for line in lines:
                stack, _, count = line.rpartition(" ")
                if stack.rpartition(";")[2].startswith(IDLE):
                    continue
                centre = cost_centre(stack)
                counts[centre] = counts.get(centre, 0) + int(count)
            total = sum(counts.values())
            shares = {centre: count / total for centre, count in counts.items()} if total else {}
            result[name] = {"samples": float(total), **shares}
        return result
