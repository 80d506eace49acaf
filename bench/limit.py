"""The physical limit: what a referral cannot avoid costing on this machine, measured raw.

Benchmarks 1 and 2 set the node against bare apps, which tells how much the privacy costs
against doing nothing. This module measures how close the node is to the floor: the work that
any implementation of the protocol must do per referral, with nothing of ours around it. It is
measured in the same run as the benchmark it serves, on the same machine, and on the same kind of
database opened the same way (the node's own ``make_engine``, so the same pragmas and pool).

The parts, each the median over several batches of the raw calls, in CPU time (this process's,
and on PostgreSQL the backend's too), as the benchmarks count their servers' CPU time:

- ``hpke_seal``, ``ed25519_sign``: the envelope's primitives (``crypto._primitives``) on a
  referral's canonical content, the header's bytes bound in as the node binds them;
- ``hpke_open``, ``ed25519_verify``: the recipient's side of the same;
- ``at_rest_seal``: ChaCha20-Poly1305 over the person's copy (``crypto.storage.seal_at_rest``);
- ``canonical_header``: RFC 8785 of a referral's header (``crypto.encoding.canonical_json``);
- ``db_referral``: raw DB-API (``sqlite3`` or ``psycopg``, no SQLAlchemy) on a connection the
  node's engine opened: four point reads by primary key, three inserts of a referral's row sizes,
  one commit; ``db_delivery``: one read, three inserts, one commit (the worker's record of an
  attempt, a receipt and a log entry);
- ``http_parse``: a referral's request (head, bearer token, JSON body) parsed by httptools, the
  body decoded with ``json.loads`` and an answer encoded with ``json.dumps``: what any HTTP
  server on this machine does per request;
- ``socket_round_trip``: a request's bytes to another process over loopback TCP and its answer
  back (wall time: the one part that is not CPU time).

Summed:

- **host**: seal, sign, at-rest seal, canonical header, ``db_referral``, ``http_parse``: the
  host's unavoidable work per referral;
- **end to end**: the host's, the recipient's (open, verify, at-rest seal, canonical header, sign
  the receipt, ``db_referral``, ``http_parse``), the worker's (``db_delivery``, verify the
  receipt, ``http_parse``), and two socket round trips (client to host, worker to recipient).

The staff token's check, the consent decision and minimisation are left out: the limit is a
floor, not an estimate of a good implementation. ``python -m bench.limit`` prints the parts.

Beside the floor, not in its sums: ``writes_raw``, ``writes_core`` and ``writes_orm``, a
referral's three inserts and commit written raw, as SQLAlchemy Core statements in a session, and
through the ORM's unit of work as the node writes them: what Core inserts on intake would save;
on PostgreSQL also ``writes_pipeline``, the raw statements in psycopg's pipeline mode (one round
trip for the three inserts and the commit).

    python -m bench.limit --database sqlite
"""

from __future__ import annotations

import argparse
import json
import secrets
import socket
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any, cast

import httptools
from sqlalchemy import BigInteger, LargeBinary, Table, insert
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from bench.harness import (
    SPAWN,
    ScratchDatabases,
    emit,
    free_port,
    machine,
    merge_results,
    stop,
    stop_cleanly_on_sigterm,
    table,
    thread_cpu_seconds,
)
from crypto import _primitives
from crypto.encoding import canonical_json
from crypto.envelope import HPKE_INFO_CONTEXT, SIGNATURE_CONTEXT
from crypto.storage import new_key, seal_at_rest
from gateway.kit.db import make_engine

NAME = "physical_limit"
DESCRIPTION = "The physical limit: a referral's unavoidable work, measured raw on this machine."
BATCHES = 5
#: The sizes of the three rows a referral writes: the referral with the person's sealed copy,
#: the outbox row with the envelope, the access-log entry.
ROW_SIZES = (1500, 2500, 300)

HOST_PARTS = (
    "hpke_seal",
    "ed25519_sign",
    "at_rest_seal",
    "canonical_header",
    "db_referral",
    "http_parse",
)
RECIPIENT_PARTS = (
    "hpke_open",
    "ed25519_verify",
    "at_rest_seal",
    "canonical_header",
    "ed25519_sign",
    "db_referral",
    "http_parse",
)
WORKER_PARTS = ("db_delivery", "ed25519_verify", "http_parse")


@dataclass(frozen=True)
class Limit:
    """The floor, in milliseconds per referral, and each part in microseconds per call."""

    host_ms: float
    end_to_end_ms: float
    parts_us: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def per_call(
    call: Callable[[], object],
    count: int,
    batches: int = BATCHES,
    clock: Callable[[], float] = time.process_time,
) -> float:
    """Seconds per ``call()`` by ``clock`` (CPU time unless told): the median over ``batches``
    batches of ``count`` calls. CPU time, not wall time, so that other work on a busy machine
    does not inflate the limit."""
    call()  # warm caches and lazy imports
    times = []
    for _ in range(batches):
        start = clock()
        for _ in range(count):
            call()
        times.append((clock() - start) / count)
    return statistics.median(times)


def _referral() -> tuple[bytes, bytes]:
    """A referral's canonical content (the plaintext) and its canonical header."""
    from bench.crypto import NOW, _header
    from bench.purge import referral_body
    from crypto.keys import EncryptionKey, SigningKey

    window = {"valid_from": NOW, "valid_until": NOW.replace(year=NOW.year + 1)}
    header = _header(SigningKey.generate(**window), EncryptionKey.generate(**window))
    content = referral_body(secrets.token_hex(16))["content"]
    return canonical_json(content), canonical_json(header.model_dump(mode="json"))


def crypto_parts(count: int) -> dict[str, float]:
    """Microseconds per call of each primitive a referral needs, on a referral's bytes."""
    plaintext, header = _referral()
    header_value = json.loads(header)
    seed = _primitives.new_encryption_seed()
    public = _primitives.encryption_public(seed)
    signer = _primitives.signer(_primitives.new_signing_seed())
    info = HPKE_INFO_CONTEXT + header
    sealed = _primitives.hpke_seal(public, plaintext, info)
    message = SIGNATURE_CONTEXT + len(header).to_bytes(4, "big") + header + sealed
    signature = signer.sign(message)
    key = new_key()
    calls: dict[str, Callable[[], object]] = {
        "hpke_seal": lambda: _primitives.hpke_seal(public, plaintext, info),
        "hpke_open": lambda: _primitives.hpke_open(seed, sealed, info),
        "ed25519_sign": lambda: signer.sign(message),
        "ed25519_verify": lambda: _primitives.ed25519_verify(signer.public, signature, message),
        "at_rest_seal": lambda: seal_at_rest(key, plaintext, context=b"referral/1/subject"),
        "canonical_header": lambda: canonical_json(header_value),
    }
    return {name: per_call(call, count) * 1e6 for name, call in calls.items()}


def database_parts(url: str, count: int) -> dict[str, float]:
    """Microseconds per transaction of raw DB-API statements on a connection the node's own
    engine factory opened (its pragmas, its driver), in tables of their own."""
    engine = make_engine(url)
    proxy = engine.raw_connection()
    try:
        connection: Any = proxy.driver_connection
        sqlite = engine.dialect.name == "sqlite"
        mark, blob = ("?", "BLOB") if sqlite else ("%s", "BYTEA")
        cursor = connection.cursor()
        for name in ("limit_read", "limit_write"):
            cursor.execute(f"CREATE TABLE {name} (id BIGINT PRIMARY KEY, body {blob})")
        for row in range(100):
            cursor.execute(
                f"INSERT INTO limit_read (id, body) VALUES ({mark}, {mark})",  # noqa: S608
                (row, secrets.token_bytes(300)),
            )
        connection.commit()
        # On PostgreSQL the statements' work is shared with the server's backend process for
        # this connection: its CPU time counts, as it does for the benchmarked servers.
        backend = None if sqlite else int(connection.info.backend_pid)

        def clock() -> float:
            own = time.process_time()
            return own if backend is None else own + thread_cpu_seconds(backend)

        select = f"SELECT body FROM limit_read WHERE id = {mark}"  # noqa: S608
        insert = f"INSERT INTO limit_write (id, body) VALUES ({mark}, {mark})"  # noqa: S608
        bodies = [secrets.token_bytes(size) for size in ROW_SIZES]
        next_id = iter(range(10**9))

        def transaction(reads: int) -> None:
            for read in range(reads):
                cursor.execute(select, (read * 7 % 100,))
                cursor.fetchone()
            for body in bodies:
                cursor.execute(insert, (next(next_id), body))
            connection.commit()

        return {
            "db_referral": per_call(lambda: transaction(4), count, clock=clock) * 1e6,
            "db_delivery": per_call(lambda: transaction(1), count, clock=clock) * 1e6,
        }
    finally:
        proxy.close()
        engine.dispose()


class _WriteBase(DeclarativeBase):
    pass


class _WriteRow(_WriteBase):
    """A row of the write-path comparison: an id and a body of a referral row's size."""

    __tablename__ = "limit_orm_write"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    body: Mapped[bytes] = mapped_column(LargeBinary())


def write_paths(url: str, count: int) -> dict[str, float]:
    """Microseconds per transaction of a referral's three inserts and its commit, three ways on
    the node's own engine: raw DB-API (``writes_raw``), SQLAlchemy Core statements in a
    ``Session`` (``writes_core``) and the ORM unit of work, as the node writes today
    (``writes_orm``); on PostgreSQL also raw in psycopg's pipeline mode (``writes_pipeline``).
    Not part of the limit: it says what Core inserts (or a pipeline) on intake would save. The
    variants take turns, batch by batch, so that a busy machine weighs on each alike."""
    engine = make_engine(url)
    _WriteBase.metadata.create_all(engine)
    sqlite = engine.dialect.name == "sqlite"
    bodies = [secrets.token_bytes(size) for size in ROW_SIZES]
    next_id = iter(range(10**9))
    # The table's own insert, not ``insert(_WriteRow)``: an ORM entity there takes the ORM's
    # bulk path, which costs more than the unit of work.
    statement = insert(cast(Table, _WriteRow.__table__))
    proxy = engine.raw_connection()
    connection: Any = proxy.driver_connection
    cursor = connection.cursor()
    mark = "?" if sqlite else "%s"
    raw_insert = f"INSERT INTO limit_orm_write (id, body) VALUES ({mark}, {mark})"  # noqa: S608

    def raw() -> None:
        for body in bodies:
            cursor.execute(raw_insert, (next(next_id), body))
        connection.commit()

    def core() -> None:
        with Session(engine) as session, session.begin():
            for body in bodies:
                session.execute(statement, {"id": next(next_id), "body": body})

    def orm() -> None:
        with Session(engine) as session, session.begin():
            for body in bodies:
                session.add(_WriteRow(id=next(next_id), body=body))

    def pipelined() -> None:
        # psycopg's pipeline mode: the three inserts and the commit in one round trip.
        with connection.pipeline():
            for body in bodies:
                cursor.execute(raw_insert, (next(next_id), body))
            connection.commit()

    variants: dict[str, Callable[[], None]] = {
        "writes_raw": raw,
        "writes_core": core,
        "writes_orm": orm,
    }
    if not sqlite:
        variants["writes_pipeline"] = pipelined
    try:
        times: dict[str, list[float]] = {name: [] for name in variants}
        for call in variants.values():
            call()  # warm caches and the statement cache
        for _ in range(BATCHES):
            for name, call in variants.items():
                # CPU time of this process only: on PostgreSQL the server runs the same
                # statements whichever way they are sent.
                start = time.process_time()
                for _ in range(count):
                    call()
                times[name].append((time.process_time() - start) / count)
        return {name: statistics.median(values) * 1e6 for name, values in times.items()}
    finally:
        proxy.close()
        _WriteBase.metadata.drop_all(engine)
        engine.dispose()


def _request() -> bytes:
    from bench.purge import referral_body

    body = json.dumps(referral_body(secrets.token_hex(16))).encode()
    head = (
        "POST /api/v1/referrals HTTP/1.1\r\n"
        "Host: 127.0.0.1:8000\r\n"
        "Accept: */*\r\n"
        "Accept-Encoding: gzip, deflate\r\n"
        "Connection: keep-alive\r\n"
        "User-Agent: python-httpx/0.28.1\r\n"
        f"Authorization: Bearer {secrets.token_urlsafe(300)}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class _Request:
    """What httptools hands a server: the URL, the headers and the body."""

    def __init__(self) -> None:
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = bytearray()
        self.complete = False

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        self.complete = True


def http_part(count: int) -> float:
    """Microseconds to parse a referral's request, decode its JSON and encode an answer."""
    request = _request()
    state = _Request()
    parser = httptools.HttpRequestParser(state)
    answer = {"packet_id": secrets.token_hex(16), "status": "queued", "sections": ["travel"]}

    def serve_one() -> bytes:
        state.headers.clear()
        state.body.clear()
        state.complete = False
        parser.feed_data(request)
        json.loads(state.body)
        body = json.dumps(answer).encode()
        return (
            b"HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
        )

    return per_call(serve_one, count) * 1e6


def _echo(port: int) -> None:
    """A process's body: answer every request on one loopback connection with 200 bytes."""
    with socket.create_server(("127.0.0.1", port)) as server:
        connection, _ = server.accept()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        answer = b"x" * 200
        with connection:
            while connection.recv(65536):
                connection.sendall(answer)


@contextmanager
def _echo_server() -> Iterator[socket.socket]:
    port = free_port()
    server = SPAWN.Process(target=_echo, args=(port,), daemon=True)
    server.start()
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                client = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        with client:
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            yield client
    finally:
        stop(server)


def socket_part(count: int) -> float:
    """Microseconds for a request's bytes to another process on loopback and 200 bytes back."""
    request = _request()
    with _echo_server() as client:

        def round_trip() -> None:
            client.sendall(request)
            received = 0
            while received < 200:
                received += len(client.recv(65536))

        return per_call(round_trip, count, clock=time.perf_counter) * 1e6


def measure(url: str, *, quick: bool = False) -> Limit:
    """The limit on this machine now, with the database at ``url`` (a scratch database)."""
    count = 200 if quick else 1000
    parts = {
        **crypto_parts(count),
        **database_parts(url, count // 4),
        "http_parse": http_part(count),
        "socket_round_trip": socket_part(count),
        **write_paths(url, count // 4),
    }
    host = sum(parts[name] for name in HOST_PARTS)
    end_to_end = (
        host
        + sum(parts[name] for name in RECIPIENT_PARTS)
        + sum(parts[name] for name in WORKER_PARTS)
        + 2 * parts["socket_round_trip"]
    )
    return Limit(
        host_ms=round(host / 1000, 4),
        end_to_end_ms=round(end_to_end / 1000, 4),
        parts_us={name: round(value, 2) for name, value in parts.items()},
    )


def report(limit: Limit) -> str:
    rows = [[name, f"{value:,.1f}"] for name, value in limit.parts_us.items()]
    rows += [
        ["host, per referral", f"{limit.host_ms * 1000:,.1f}"],
        ["end to end, per referral", f"{limit.end_to_end_ms * 1000:,.1f}"],
    ]
    return table(["part", "microseconds"], rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.limit", description=DESCRIPTION)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--quick", action="store_true", help="fewer calls: a smoke run")
    args = parser.parse_args(argv)
    stop_cleanly_on_sigterm()
    with ScratchDatabases(args.database) as databases:
        limit = measure(databases.url("limit"), quick=args.quick)
    merge_results(
        NAME,
        args.database + ("-quick" if args.quick else ""),
        {"machine": machine(), **limit.as_dict()},
    )
    emit(f"{NAME}: {args.database}")
    emit(report(limit))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
