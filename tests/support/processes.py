"""Real nodes as an operator runs them: set up with ``avrr`` commands, each API and worker an
``avrr serve`` or ``avrr worker`` process of its own, with replicas that have their own home
folders and share the database and the key store.

On PostgreSQL (an admin URL) each node gets a database for its data and one for its key store;
on SQLite (``"sqlite"``) two files in the federation's folder, outside every home, so that the
processes of a node, each from its own copy of the home, share them as they would share a server.

Example::

    fed = ProcessFederation.create(tmp_path, "sqlite")
    host = fed.add_node("host-mission", "host_mission", "DE")
    partner = fed.add_node("origin-reception", "reception_partner", "SN", pickup=True)
    fed.publish()
    host.serve(replicas=3)
    partner.work()  # a pickup member: no API, its worker fetches what waits for it
    ...
    fed.close()
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

#: How long a started API may take to answer ``/livez``.
STARTUP_SECONDS = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def run_avrr(
    *args: str | Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run one ``avrr`` command to completion, as an operator would, whatever its exit code."""
    return subprocess.run(
        [sys.executable, "-m", "gateway", *[str(a) for a in args]],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )


def avrr(*args: str | Path, env: dict[str, str] | None = None) -> str:
    """Run one ``avrr`` command to completion, as an operator would; its standard output."""
    done = run_avrr(*args, env=env)
    if done.returncode != 0:
        raise AssertionError(
            f"avrr {args[0]} {args[1] if len(args) > 1 else ''} failed:\n{done.stderr}"
        )
    return done.stdout


@dataclass
class Process:
    """One running ``avrr`` process and the file its log lines go to."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    _log: IO[bytes]

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self) -> None:
        if self.alive():
            self.popen.terminate()
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@dataclass
class ProcessNode:
    """A node set up with ``avrr node init`` whose processes run from copies of its home."""

    node_id: str
    roles: str
    country: str
    home: Path
    database_url: str
    keystore_url: str
    port: int
    folder: Path
    #: Listed with ``delivery: pickup``: no inbox URL, it fetches what waits for it.
    pickup: bool = False
    processes: list[Process] = field(default_factory=list)
    api_urls: list[str] = field(default_factory=list)

    @property
    def inbox_url(self) -> str | None:
        return None if self.pickup else f"http://127.0.0.1:{self.port}"

    def configure(self, **values: Any) -> None:
        """Set keys of the home's ``node.json`` (``pickup_interval=1``...), as an operator edits
        it; before the processes start, since each runs from a copy of the home."""
        path = self.home / "node.json"
        config: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        config.update(values)
        path.write_text(json.dumps(config), encoding="utf-8")

    def replica_home(self, name: str) -> Path:
        """A copy of the node's home (keys, settings, directory) for one more process, as a
        second machine would have it; per-person keys are in the shared key store."""
        copy = self.folder / f"{self.node_id}-{name}"
        if not copy.exists():
            shutil.copytree(self.home, copy)
        return copy

    def _start(self, name: str, *args: str | Path) -> Process:
        log_path = self.folder / f"{self.node_id}-{name}.log"
        log = log_path.open("wb")
        popen = subprocess.Popen(
            [sys.executable, "-m", "gateway", *[str(a) for a in args]],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "AVRR_LOG_FORMAT": "json"},
        )
        process = Process(name=name, popen=popen, log_path=log_path, _log=log)
        self.processes.append(process)
        return process

    def serve(self, *, replicas: int = 1, workers_per_replica: int = 1) -> list[str]:
        """Start ``replicas`` API processes, each from its own home copy; the first listens on
        the node's inbox port. Returns their base URLs once each answers ``/livez``."""
        for index in range(replicas):
            port = self.port if index == 0 else free_port()
            home = self.replica_home(f"api{index}")
            self._start(
                f"api{index}",
                "serve",
                home,
                "--port",
                str(port),
                "--workers",
                str(workers_per_replica),
            )
            self.api_urls.append(f"http://127.0.0.1:{port}")
        for url in self.api_urls:
            wait_live(url)
        return self.api_urls

    def work(self, *, replicas: int = 1, interval: float = 0.2) -> None:
        for index in range(replicas):
            home = self.replica_home(f"worker{index}")
            self._start(f"worker{index}", "worker", home, "--interval", str(interval))

    @contextmanager
    def staff_api(self) -> Iterator[str]:
        """An API process on loopback for the node's own staff, stopped on leaving: what a
        pickup member, which takes no posts and whose directory entry lists no address, runs for
        its officers. Yields its base URL once it answers ``/livez``."""
        process = self._start(
            "staff-api",
            "serve",
            self.replica_home("staff-api"),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        )
        try:
            wait_live(f"http://127.0.0.1:{self.port}")
            yield f"http://127.0.0.1:{self.port}"
        finally:
            process.stop()

    def token(self, role: str, *, user: str, office: str) -> str:
        return avrr(
            "node", "token", self.home, "--user", user, "--role", role, "--office", office
        ).strip()

    def engine(self) -> Engine:
        return create_engine(self.database_url.replace("postgresql://", "postgresql+psycopg://"))

    def count(self, sql: str, **params: Any) -> int:
        """One number from the node's database (``SELECT count(*) ... WHERE x = :x``, with
        ``x=...``), read directly, as an operator would check it."""
        engine = self.engine()
        try:
            with engine.connect() as conn:
                return int(conn.execute(text(sql), params).scalar_one())
        finally:
            engine.dispose()

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()


def wait_live(base_url: str, timeout: float = STARTUP_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=base_url, timeout=5) as probe:
        while time.monotonic() < deadline:
            try:
                if probe.get("/livez").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    raise TimeoutError(f"no API answered at {base_url}")


def side_by_side(command: Callable[[ProcessNode], None], nodes: list[ProcessNode]) -> None:
    """Run ``command`` for every node at once (each an ``avrr`` process touching only its own
    home); the first failure is raised."""
    with ThreadPoolExecutor(max(len(nodes), 1)) as pool:
        for _ in pool.map(command, nodes):
            pass


@dataclass
class ProcessFederation:
    """A federation folder, its nodes, and the databases made for them: PostgreSQL databases
    (``admin`` is then the server's admin engine) or SQLite files (``admin`` is None)."""

    folder: Path
    admin: Engine | None
    prefix: str
    nodes: dict[str, ProcessNode] = field(default_factory=dict)
    databases: list[str] = field(default_factory=list)

    @classmethod
    def create(cls, folder: Path, database: str) -> ProcessFederation:
        """``database``: ``"sqlite"``, or the URL of a PostgreSQL server's admin database."""
        admin = (
            None
            if database == "sqlite"
            else create_engine(
                make_url(database).set(drivername="postgresql+psycopg"),
                isolation_level="AUTOCOMMIT",
            )
        )
        federation = cls(folder=folder, admin=admin, prefix=f"avrr_proc_{os.getpid()}_")
        avrr("federation", "init", folder / "federation", "--id", "process-test")
        return federation

    def database(self, name: str) -> str:
        if self.admin is None:
            path = self.folder / "databases" / f"{name}.db"
            path.parent.mkdir(exist_ok=True)
            return f"sqlite:///{path.resolve()}"
        database = self.prefix + name
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{database}"'))
        self.databases.append(database)
        url = self.admin.url.set(database=database, drivername="postgresql")
        return url.render_as_string(hide_password=False)

    def add_node(
        self, node_id: str, roles: str, country: str, *, pickup: bool = False
    ) -> ProcessNode:
        """``avrr node init`` a node with its own databases; ``pickup``: to be listed with
        ``delivery: pickup`` (``--pickup`` instead of ``--inbox-url``)."""
        home = self.folder / node_id
        database_url = self.database(node_id.replace("-", "_"))
        keystore_url = self.database(node_id.replace("-", "_") + "_keys")
        avrr(
            "node",
            "init",
            home,
            "--node-id",
            node_id,
            "--organisation",
            f"{node_id} (test)",
            "--country",
            country,
            "--database-url",
            database_url,
        )
        config: dict[str, Any] = json.loads((home / "node.json").read_text(encoding="utf-8"))
        config["keystore_url"] = keystore_url
        (home / "node.json").write_text(json.dumps(config), encoding="utf-8")
        node = ProcessNode(
            node_id=node_id,
            roles=roles,
            country=country,
            home=home,
            database_url=database_url,
            keystore_url=keystore_url,
            port=free_port(),
            folder=self.folder,
            pickup=pickup,
        )
        self.nodes[node_id] = node
        return node

    def publish(self) -> None:
        """List every node in the directory and install it in each node's home.

        Each node's own commands run side by side (each touches only its home); the operator's
        run one after the other, as each signs a new directory."""
        operator = self.folder / "federation"
        nodes = list(self.nodes.values())

        def exported(node: ProcessNode) -> Path:
            return self.folder / f"{node.node_id}.public.json"

        def export(node: ProcessNode) -> None:
            avrr("node", "export", node.home, "--out", exported(node))

        def install(node: ProcessNode) -> None:
            avrr(
                "node",
                "install-directory",
                node.home,
                operator / "directory.json",
                "--operator-key",
                operator / "operator.json",
            )

        side_by_side(export, nodes)
        for node in nodes:
            reached = ("--pickup",) if node.inbox_url is None else ("--inbox-url", node.inbox_url)
            avrr(
                "federation",
                "add-node",
                operator,
                "--node-file",
                exported(node),
                "--roles",
                node.roles,
                *reached,
            )
        side_by_side(install, nodes)

    def terminate_connections(self) -> int:
        """Kill every connection to the nodes' databases, as a failover or restart would."""
        if self.admin is None:
            raise NotImplementedError("SQLite has no connections to kill")
        with self.admin.connect() as conn:
            killed = conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = ANY(:names) AND pid <> pg_backend_pid()"
                ),
                {"names": self.databases},
            ).scalar_one()
        return int(killed)

    def close(self) -> None:
        for node in self.nodes.values():
            node.stop()
        if self.admin is None:
            return
        with self.admin.connect() as conn:
            for database in self.databases:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        self.admin.dispose()
