"""Benchmark 2: end to end between two real nodes, against a bare relay of the same JSON.

Ours, each in its own process on 127.0.0.1: the host's API (uvicorn, as ``avrr serve``), the
host's worker (delivery and access-log sequencing, as ``avrr worker --interval 0.1``) and the
recipient's API. A referral is accepted by the host (validation, consent decision, minimisation,
sealing, signing, outbox, access log), posted by the worker to the recipient's inbox (token and
envelope checked, opened, stored, receipted), and done when the worker has verified the signed
receipt and stored it: the latency of a referral is from its submit to its receipt's
``verified_at``.

Baseline, the same three processes without the privacy: a bare FastAPI + SQLAlchemy host that
stores the request's JSON in a table, a bare forwarder that posts each stored body to a bare
recipient (which stores it) and marks the row delivered, one body per request and one
transaction per row (unbatched), with the same polling interval. Both sides run on the same kind
of database, opened by the node's own engine factory, and are served by uvicorn the same way.

Both pipelines start once and stay up; then the two alternate, ours then bare, for ``--pairs``
pairs. Each turn has two phases:

1. saturation: ``--referrals`` submitted by ``CLIENTS`` concurrent clients as fast as the host
   takes them; throughput = referrals / (last receipt - first submit). ``R`` = ours / bare
   (goal R >= 0.5 against this unbatched relay). ``cpu_R`` = the bare processes' CPU per
   referral over ours (the three server processes' own CPU time, from ``/proc``);
   ``limit_ratio`` = our three processes' CPU per referral over the end-to-end physical limit,
   and ``host_limit_ratio`` = the host API's over the host's (``bench.limit``, measured at the
   start of the same run);
2. half rate: referrals submitted open-loop at half the saturation rate just measured, with
   p50 and p99 of submit-to-receipt latency (goal: p99 within 5x p50).

While one pipeline is measured, the other idles (its worker polls every ``INTERVAL``).

    python -m bench.e2e --database sqlite
    python -m bench.e2e --database postgresql --quick
"""

from __future__ import annotations

import argparse
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bench import limit
from bench.bare import BareOutbox, BareStored, wait_healthy
from bench.bare import serve as serve_bare
from bench.harness import (
    PAIRS,
    QUICK_PAIRS,
    SPAWN,
    ApiServer,
    LatencySummary,
    Profiler,
    ScratchDatabases,
    ServerCpu,
    Spread,
    alternate,
    emit,
    free_port,
    load_average,
    machine,
    merge_results,
    pairs_argument,
    source,
    stop,
    stop_cleanly_on_sigterm,
    summarise,
    table,
)
from bench.purge import HOST, SENDER, build_federation, prepare_cases, referral_body, staff_headers
from gateway.kit.config import Settings
from gateway.kit.db import make_engine

with warnings.catch_warnings():
    warnings.simplefilter("ignore")

NAME = "end_to_end"
DESCRIPTION = "Benchmark: two nodes end to end at saturation, against a bare relay."
#: Against the unbatched bare relay below; and against a bare relay that batches as the node's
#: worker does (``delivery_batch_size`` bodies per request and per transaction).
GOAL_R = 0.5
GOAL_R_BATCHED = 0.35
BATCH: int = Settings.model_fields["delivery_batch_size"].default
GOAL_TAIL = 5.0
GOAL_LIMIT = 5.0
HOST_API = "host API"
#: Concurrent submitting clients in the saturation phase; the worker's idle poll (seconds).
CLIENTS = 4
INTERVAL = 0.1
CASES, WARMUP = 10, 10
#: A phase whose referrals are not all receipted by then is a failure, not a figure.
PHASE_TIMEOUT = 300.0
#: py-spy's samples per second (the harness default).
PROFILE_RATE = 100
DEFAULT_CONCURRENCY: int = Settings.model_fields["delivery_concurrency"].default
HOP_CONCURRENCY = (1, 2, 4, 8)
PROFILES = Path(__file__).parent / "profiles"


# -- ours ---------------------------------------------------------------------------------------


def _worker_process(settings: Settings) -> None:
    """The host's worker: delivery and access-log sequencing, as ``avrr worker`` runs them."""
    from gateway.exchange.delivery import DeliveryWorker
    from gateway.kit.clock import SystemClock
    from gateway.kit.db import make_engine, make_sessionmaker
    from gateway.kit.node import Node
    from gateway.processes.kinds import message_kinds
    from gateway.records.accesslog.tree import CHECKPOINT_INTERVAL, AccessLogTree
    from partners.client import NodeClient

    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    node = Node(settings=settings, clock=SystemClock())
    sessions = make_sessionmaker(make_engine(settings.database_url))
    with httpx.Client(timeout=settings.delivery_timeout_seconds) as http:
        delivery = DeliveryWorker(
            node=node, sessions=sessions, client=NodeClient(http=http), kinds=message_kinds()
        )
        audit = AccessLogTree(node=node, sessions=sessions)
        sequencer = threading.Thread(
            target=audit.run_forever,
            kwargs={"interval": CHECKPOINT_INTERVAL, "stop": stopping},
            daemon=True,
        )
        sequencer.start()
        delivery.run_forever(interval=INTERVAL, stop=stopping)


@dataclass
class Side:
    """One side of the comparison, running: how to submit a referral, and when each was done."""

    submit: Callable[[httpx.Client, int], str]
    done_at: Callable[[list[str]], dict[str, float]]
    client: Callable[[], httpx.Client]
    #: Start the delivering process, posting this many envelopes at once.
    start_worker: Callable[[int], None]
    #: The side's processes by role, to profile them.
    pids: dict[str, int] = field(default_factory=dict)


@contextmanager
def ours(databases: ScratchDatabases, run: int) -> Iterator[Side]:
    ports = {HOST: free_port(), SENDER: free_port()}
    federation = build_federation(databases, f"run{run}", ports)
    host, recipient = federation.nodes[HOST], federation.nodes[SENDER]
    headers = staff_headers(federation)
    workers: list[BaseProcess] = []
    pids: dict[str, int] = {}

    def start_worker(concurrency: int) -> None:
        settings = host.settings.model_copy(update={"delivery_concurrency": concurrency})
        worker = SPAWN.Process(target=_worker_process, args=(settings,), daemon=True)
        workers.append(worker)
        worker.start()
        pids["host worker"] = worker.pid or 0

    recipient_api = ApiServer(recipient.settings, port=ports[SENDER])
    host_api = ApiServer(host.settings, port=ports[HOST])
    try:
        with recipient_api, host_api as base_url:
            pids.update({HOST_API: host_api.pid, "recipient API": recipient_api.pid})

            def client() -> httpx.Client:
                return httpx.Client(base_url=base_url, headers=headers, timeout=60)

            with client() as http:
                cases = prepare_cases(http, CASES)

            def submit(http: httpx.Client, number: int) -> str:
                response = http.post("/api/v1/referrals", json=referral_body(cases[number % CASES]))
                if response.status_code != 201:
                    raise RuntimeError(f"a referral was answered {response.status_code}")
                return str(response.json()["packet_id"])

            def done_at(packets: list[str]) -> dict[str, float]:
                from gateway.exchange.outbox.models import DeliveryReceiptRow as ReceiptRow

                with host.sessions() as session:
                    rows = session.execute(
                        select(ReceiptRow.packet_id, ReceiptRow.verified_at).where(
                            ReceiptRow.packet_id.in_(packets)
                        )
                    ).all()
                return {packet: at.timestamp() for packet, at in rows}

            yield Side(submit, done_at, client, start_worker, pids)
    finally:
        for worker in workers:
            stop(worker)
        federation.close()


# -- the bare relay -----------------------------------------------------------------------------


def _bare_forwarder(url: str, inbox: str, concurrency: int, batch: int = 1) -> None:
    """Post every stored body to the bare recipient, polling as ours: one body per request and
    per transaction, or (``batch`` > 1) up to ``batch`` bodies per request to ``/bare/batch``,
    each batch marked delivered in one transaction, as the node's worker batches."""
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    engine = make_engine(url)

    def forward(http: httpx.Client, rows: list[tuple[int, dict[str, Any]]]) -> None:
        if batch > 1:
            http.post(f"{inbox}/batch", json={"bodies": [b for _, b in rows]}).raise_for_status()
        else:
            http.post(inbox, json=rows[0][1]).raise_for_status()
        with Session(engine) as session, session.begin():
            session.execute(
                update(BareOutbox)
                .where(BareOutbox.id.in_([row_id for row_id, _ in rows]))
                .values(delivered_at=time.time())
            )

    with httpx.Client(timeout=60) as http, ThreadPoolExecutor(concurrency) as pool:
        while not stopping.is_set():
            with Session(engine) as session:
                due = session.execute(
                    select(BareOutbox.id, BareOutbox.body)
                    .where(BareOutbox.delivered_at.is_(None))
                    .order_by(BareOutbox.id)
                    .limit(50 * batch)
                ).all()
            rows = [(row_id, body) for row_id, body in due]
            chunks = [rows[i : i + batch] for i in range(0, len(rows), batch)]
            list(pool.map(lambda chunk: forward(http, chunk), chunks))
            if not due:
                stopping.wait(INTERVAL)


@contextmanager
def bare(databases: ScratchDatabases, run: int, batch: int = 1) -> Iterator[Side]:
    def url(name: str) -> str:
        return databases.url(f"{name}_{run}_{batch}")

    host_url, recipient_url = url("bare_host"), url("bare_recipient")
    host_port, recipient_port = free_port(), free_port()
    processes = [
        SPAWN.Process(target=serve_bare, args=(host_url, host_port, BareOutbox), daemon=True),
        SPAWN.Process(
            target=serve_bare, args=(recipient_url, recipient_port, BareStored), daemon=True
        ),
    ]
    pids: dict[str, int] = {}
    try:
        for process in processes:
            process.start()
        wait_healthy(f"http://127.0.0.1:{host_port}")
        wait_healthy(f"http://127.0.0.1:{recipient_port}")
        pids.update({HOST_API: processes[0].pid or 0, "recipient API": processes[1].pid or 0})

        def start_worker(concurrency: int) -> None:
            forwarder = SPAWN.Process(
                target=_bare_forwarder,
                args=(host_url, f"http://127.0.0.1:{recipient_port}/bare", concurrency, batch),
                daemon=True,
            )
            processes.append(forwarder)
            forwarder.start()
            pids["host worker"] = forwarder.pid or 0

        engine = make_engine(host_url)

        def client() -> httpx.Client:
            return httpx.Client(base_url=f"http://127.0.0.1:{host_port}", timeout=60)

        def submit(http: httpx.Client, number: int) -> str:
            response = http.post("/bare", json=referral_body(f"{number:032x}"))
            response.raise_for_status()
            return str(response.json()["id"])

        def done_at(ids: list[str]) -> dict[str, float]:
            with Session(engine) as session:
                rows = session.execute(
                    select(BareOutbox.id, BareOutbox.delivered_at).where(
                        BareOutbox.id.in_([int(i) for i in ids]),
                        BareOutbox.delivered_at.is_not(None),
                    )
                ).all()
            return {str(row_id): at for row_id, at in rows if at is not None}

        yield Side(submit, done_at, client, start_worker, pids)
        engine.dispose()
    finally:
        for process in processes:
            stop(process)


# -- the load -----------------------------------------------------------------------------------


def _wait_done(side: Side, submitted: dict[str, float]) -> dict[str, float]:
    """When each submitted referral was done, polling the store; fails past PHASE_TIMEOUT."""
    deadline = time.monotonic() + PHASE_TIMEOUT
    ids = list(submitted)
    while True:
        done = side.done_at(ids)
        if len(done) == len(ids):
            return done
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(ids) - len(done)} referrals were never receipted")
        time.sleep(0.25)


def saturate(side: Side, count: int, offset: int) -> tuple[float, list[float]]:
    """``count`` referrals from CLIENTS clients, back to back: (per second, latencies)."""
    submitted: dict[str, float] = {}
    lock = threading.Lock()

    def client_loop(client_number: int) -> None:
        with side.client() as http:
            for number in range(client_number, count, CLIENTS):
                start = time.time()
                packet = side.submit(http, offset + number)
                with lock:
                    submitted[packet] = start

    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(client_loop, range(CLIENTS)))
    done = _wait_done(side, submitted)
    first, last = min(submitted.values()), max(done.values())
    return count / (last - first), [done[p] - submitted[p] for p in submitted]


def at_rate(side: Side, count: int, rate: float, offset: int) -> list[float]:
    """``count`` referrals submitted open-loop at ``rate`` per second: their latencies."""
    submitted: dict[str, float] = {}
    lock = threading.Lock()
    local = threading.local()
    clients: list[httpx.Client] = []
    start = time.time() + 0.1

    def send(number: int) -> None:
        if not hasattr(local, "http"):
            local.http = side.client()
            with lock:
                clients.append(local.http)
        due = start + number / rate
        time.sleep(max(0.0, due - time.time()))
        packet = side.submit(local.http, offset + number)
        with lock:
            submitted[packet] = due

    try:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(send, range(count)))
    finally:
        for client in clients:
            client.close()
    done = _wait_done(side, submitted)
    return [done[p] - submitted[p] for p in submitted]


def delivery_hop(side: Side, count: int, concurrency: int) -> float:
    """The delivery hop alone: ``count`` referrals queued first, then delivered; per second."""
    with side.client() as http:
        submitted = {side.submit(http, number): time.time() for number in range(count)}
    side.start_worker(concurrency)
    done = sorted(_wait_done(side, submitted).values())
    # From the first receipt, so that the worker's start-up is not counted.
    return (len(done) - 1) / max(done[-1] - done[0], 1e-6)


def measure(
    side: Side, referrals: int, half: int, offset: int, databases: ScratchDatabases
) -> dict[str, float]:
    """One turn of a side whose worker runs: saturation (with the servers' CPU), then half rate.

    ``cpu_ms`` counts the side's three processes and, on PostgreSQL, the database backends;
    ``host_cpu_ms`` the host API's process alone (its backends cannot be told from the worker's).
    """
    processes = list(side.pids.values())
    every = ServerCpu(processes, databases=databases)
    with every, ServerCpu([side.pids[HOST_API]]) as host:
        rate, burst = saturate(side, referrals, offset)
    steady = at_rate(side, half, rate / 2, offset + referrals)
    full, paced = LatencySummary.of(burst), LatencySummary.of(steady)
    return {
        "per_s": rate,
        "cpu_ms": every.seconds / referrals * 1000,
        "host_cpu_ms": host.seconds / referrals * 1000,
        "saturated_p50_ms": full.p50_ms,
        "saturated_p99_ms": full.p99_ms,
        "half_rate_p50_ms": paced.p50_ms,
        "half_rate_p99_ms": paced.p99_ms,
        "half_rate_tail": paced.p99_ms / paced.p50_ms,
        "load_1m": load_average(),
    }


@dataclass(frozen=True)
class Config:
    database: str
    referrals: int
    half: int
    pairs: int
    #: Envelopes the worker posts at once: the node's default unless chosen.
    concurrency: int = DEFAULT_CONCURRENCY
    quick: bool = False


def batched_figures(turn: Mapping[str, float]) -> dict[str, float]:
    """The batching relay's turn, under names of its own beside the unbatched relay's."""
    return {f"batched_{key}": value for key, value in turn.items() if key != "load_1m"}


def pair_row(
    mine: dict[str, float], theirs: dict[str, float], floor: limit.Limit, database: str
) -> dict[str, float]:
    """One pair's figures: each side's, and the ratios between them and to the limit.

    ``host_limit_ratio`` only on SQLite: on PostgreSQL part of the host's work is done by
    backends that cannot be told from the worker's, and leaving them out would flatter it
    (``bench.intake`` gives the host's ratio on both databases).
    """
    host_ratio = {"host_limit_ratio": mine["host_cpu_ms"] / floor.host_ms}
    return {
        **{f"ours_{k}": v for k, v in mine.items() if k != "load_1m"},
        **{f"bare_{k}": v for k, v in theirs.items() if k != "load_1m"},
        "R": mine["per_s"] / theirs["per_s"],
        "cpu_R": theirs["cpu_ms"] / mine["cpu_ms"] if mine["cpu_ms"] else 0.0,
        "limit_ratio": mine["cpu_ms"] / floor.end_to_end_ms,
        **(host_ratio if database == "sqlite" else {}),
        "load_1m": max(mine["load_1m"], theirs["load_1m"]),
    }


def run_benchmark(config: Config) -> dict[str, Any]:
    with ScratchDatabases(config.database) as databases:
        floor = limit.measure(databases.url("limit"), quick=config.quick)
        emit(
            f"  physical limit: {floor.host_ms:.3f} ms at the host per referral, "
            f"{floor.end_to_end_ms:.3f} ms end to end"
        )
        with (
            ours(databases, 0) as mine,
            bare(databases, 0) as theirs,
            bare(databases, 0, batch=BATCH) as batching,
        ):
            offsets = {id(mine): WARMUP, id(theirs): WARMUP, id(batching): WARMUP}
            for side in (mine, theirs, batching):
                side.start_worker(config.concurrency)
                saturate(side, WARMUP, 0)

            def turn(side: Side) -> dict[str, float]:
                offset = offsets[id(side)]
                offsets[id(side)] += config.referrals + config.half
                return measure(side, config.referrals, config.half, offset, databases)

            rows = []
            # Each round: ours, the unbatched relay, the batching relay, in turn.
            results = alternate(
                config.pairs,
                lambda _: turn(mine),
                lambda _: {**turn(theirs), **batched_figures(turn(batching))},
            )
            for number, (ours_turn, bare_turn) in enumerate(results, start=1):
                row = pair_row(dict(ours_turn), dict(bare_turn), floor, config.database)
                row["R_batched"] = ours_turn["per_s"] / bare_turn["batched_per_s"]
                row["cpu_R_batched"] = bare_turn["batched_cpu_ms"] / ours_turn["cpu_ms"]
                rows.append(row)
                emit(
                    f"  pair {number}: ours {row['ours_per_s']:.0f}/s "
                    f"({row['ours_cpu_ms']:.2f} ms CPU), bare {row['bare_per_s']:.0f}/s "
                    f"({row['bare_cpu_ms']:.2f} ms CPU): R = {row['R']:.2f}, CPU R = "
                    f"{row['cpu_R']:.2f}; batching bare {row['bare_batched_per_s']:.0f}/s: "
                    f"R = {row['R_batched']:.2f}; {row['limit_ratio']:.1f}x the limit; at half rate "
                    f"ours p50 {row['ours_half_rate_p50_ms']:.0f} ms, p99 "
                    f"{row['ours_half_rate_p99_ms']:.0f} ms; load {row['load_1m']:.2f}"
                )
    summary = summarise(rows)
    tail = summary["ours_half_rate_tail"]["median"]
    return {
        "setup": {
            "referrals": config.referrals,
            "half_rate_referrals": config.half,
            "pairs": config.pairs,
            "runs": config.pairs,
            "order": "alternating: ours, bare, ours, bare, ...",
            "bare_relay": "unbatched: one body per request and per transaction",
            "batching_bare_relay": f"up to {BATCH} bodies per request and per transaction",
            "clients": CLIENTS,
            "worker_interval_s": INTERVAL,
            "delivery_concurrency": config.concurrency,
        },
        "source": source(),
        "machine": machine(),
        "limit": floor.as_dict(),
        "pairs": rows,
        "summary": summary,
        "verdict": {
            "goal": (
                f"R >= {GOAL_R} (unbatched bare relay), R >= {GOAL_R_BATCHED} (batching bare "
                f"relay); p99 <= {GOAL_TAIL:.0f}x p50 at half "
                f"rate; CPU per referral <= {GOAL_LIMIT:.0f}x the end-to-end limit"
            ),
            "R_met": summary["R"]["median"] >= GOAL_R,
            "R_batched_met": summary["R_batched"]["median"] >= GOAL_R_BATCHED,
            "tail_met": tail <= GOAL_TAIL,
            "limit_met": summary["limit_ratio"]["median"] <= GOAL_LIMIT,
        },
    }


def report(entry: dict[str, Any]) -> str:
    summary = entry["summary"]
    two = ("R", "R_batched", "tail", "ratio", "load_1m", "cpu_ms")
    rows = [
        [name, *Spread(**summary[name]).cells(2 if name.endswith(two) else 1)] for name in summary
    ]
    verdict = entry["verdict"]

    def word(ok: bool) -> str:
        return "met" if ok else "NOT met"

    return "\n".join(
        [
            table(["figure", "median", "low", "high"], rows),
            f"goal R >= {GOAL_R}: {word(verdict['R_met'])}; against the batching relay R >= "
            f"{GOAL_R_BATCHED}: {word(verdict['R_batched_met'])}; half-rate p99 <= "
            f"{GOAL_TAIL:.0f}x p50: {word(verdict['tail_met'])}; CPU within "
            f"{GOAL_LIMIT:.0f}x the limit: {word(verdict['limit_met'])}",
        ]
    )


def hops(config: Config) -> dict[str, Any]:
    """The delivery hop on its own, ours and bare, at each of HOP_CONCURRENCY."""
    result: dict[str, Any] = {}
    with ScratchDatabases(config.database) as databases:
        for run, concurrency in enumerate(HOP_CONCURRENCY):
            with ours(databases, run) as side:
                mine = delivery_hop(side, config.referrals, concurrency)
            with bare(databases, run) as side:
                theirs = delivery_hop(side, config.referrals, concurrency)
            result[str(concurrency)] = {"ours_per_s": mine, "bare_per_s": theirs}
            emit(f"  {concurrency} at once: ours {mine:.0f}/s, bare {theirs:.0f}/s")
    return result


def profile(config: Config, folder: Path) -> dict[str, Any]:
    """Where our side's time goes at saturation: py-spy on the host API, worker and recipient.

    py-spy counts a thread as busy while it runs Python or waits inside a C call (a database
    driver waiting for the server, a socket waiting for the other node), so the figures are
    thread time, not CPU time: a worker thread waiting for the recipient's answer counts.
    """
    with ScratchDatabases(config.database) as databases, ours(databases, 0) as side:
        side.start_worker(config.concurrency)
        saturate(side, WARMUP, 0)
        with Profiler(side.pids, folder) as profiler:
            rate, _ = saturate(side, config.referrals, WARMUP)
        costs = profiler.costs()
    per_referral = {
        name: round(shares["samples"] / PROFILE_RATE / config.referrals * 1000, 2)
        for name, shares in costs.items()
    }
    return {"per_s": rate, "thread_ms_per_referral": per_referral, "shares": costs}


def profile_report(result: dict[str, Any]) -> str:
    lines = [f"profile at saturation ({result['per_s']:.0f} referrals/s under py-spy):"]
    for name, shares in result["shares"].items():
        busy = result["thread_ms_per_referral"][name]
        lines.append(f"  {name}: {busy:.1f} ms of busy thread time per referral")
        ranked = sorted(((v, k) for k, v in shares.items() if k != "samples"), reverse=True)
        lines.extend(f"    {share:5.1%}  {centre}" for share, centre in ranked)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.e2e", description=DESCRIPTION)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--quick", action="store_true", help="60 referrals a phase: a smoke run")
    pairs_argument(parser)
    parser.add_argument(
        "--profile", action="store_true", help="profile our side at saturation with py-spy"
    )
    parser.add_argument(
        "--hop", action="store_true", help="the delivery hop alone, at several concurrencies"
    )
    parser.add_argument("--concurrency", type=int, help="envelopes the worker posts at once")
    args = parser.parse_args(argv)
    stop_cleanly_on_sigterm()
    referrals = 60 if args.quick else 300
    config = Config(
        args.database,
        referrals,
        referrals // 2,
        args.pairs or (QUICK_PAIRS if args.quick else PAIRS),
        args.concurrency or DEFAULT_CONCURRENCY,
        args.quick,
    )
    if args.hop:
        emit(f"{NAME}: the delivery hop alone, {config.database}, {referrals} referrals queued")
        merge_results(f"{NAME}_hop", config.database, {"machine": machine(), **hops(config)})
        return 0
    if args.profile:
        folder = PROFILES / config.database
        folder.mkdir(parents=True, exist_ok=True)
        result = profile(config, folder)
        emit(f"py-spy's raw samples (collapsed stacks, for flame graphs) are in {folder}")
        merge_results(f"{NAME}_profile", config.database, {"machine": machine(), **result})
        emit(profile_report(result))
        return 0
    emit(
        f"{NAME}: {config.database}, {config.pairs} pairs of {referrals} referrals at "
        "saturation, alternating"
    )
    entry = run_benchmark(config)
    merge_results(NAME, config.database + ("-quick" if args.quick else ""), entry)
    emit(report(entry))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
