"""Benchmark 1: referral intake at the host's API, against a bare endpoint storing the same JSON.

Ours: ``POST /api/v1/referrals`` on a real node (uvicorn in its own process, as ``avrr serve``):
validation, the consent decision, minimisation, sealing and signing, the outbox write and the
access-log entry, all in one transaction. Baseline: a bare FastAPI + SQLAlchemy app, served the
same way (same uvicorn loop and parser), that stores the same request body unencrypted in one
table of a database of the same kind, opened by the node's own engine factory. One client posts
one request at a time over loopback HTTP.

Both servers start once; then blocks of ``requests`` referrals alternate, ours then bare, for
``--pairs`` pairs (after a warm-up of each). Per pair:

- ``R``: our referrals/s over the bare endpoint's (goal R >= 0.5);
- ``cpu_R``: the bare server's CPU per request over ours, from the server processes' own CPU time
  (goal >= 0.4), with on PostgreSQL their database backends'; the client's cost, the same on
  both sides, pulls ``R`` towards 1, not this;
- ``limit_ratio``: our server's CPU per referral over the physical limit (``bench.limit``, the
  host's unavoidable work, measured at the start of the same run; goal <= 5);
- the one-minute load average.

Each figure is reported as the median pair with the lowest and highest.

    python -m bench.intake --database sqlite
    python -m bench.intake --database postgresql --quick --pairs 3
"""

from __future__ import annotations

import argparse
import time
import warnings
from typing import Any

import httpx

from bench import limit
from bench.bare import BareStored, wait_healthy
from bench.bare import serve as serve_bare
from bench.harness import (
    PAIRS,
    QUICK_PAIRS,
    SPAWN,
    ApiServer,
    LatencySummary,
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
from bench.purge import build_federation, prepare_cases, referral_body, staff_headers

with warnings.catch_warnings():
    warnings.simplefilter("ignore")

NAME = "referral_intake"
DESCRIPTION = "Benchmark: referral intake against a bare endpoint storing the same JSON."
HOST = "host-mission"
GOAL_R = 0.5
GOAL_CPU_R = 0.4
GOAL_LIMIT = 5.0
WARMUP = 20


def _post_many(http: httpx.Client, path: str, bodies: list[dict[str, Any]]) -> list[float]:
    seconds = []
    for body in bodies:
        start = time.perf_counter()
        response = http.post(path, json=body)
        seconds.append(time.perf_counter() - start)
        if response.status_code != 201:
            raise RuntimeError(f"{path} answered {response.status_code}")
    return seconds


def _block(
    http: httpx.Client,
    path: str,
    bodies: list[dict[str, Any]],
    pid: int,
    databases: ScratchDatabases,
) -> dict[str, float]:
    """Post ``bodies`` one at a time: throughput, latencies and the server's CPU per request
    (with, on PostgreSQL, its database backends')."""
    with ServerCpu([pid], databases=databases) as cpu:
        seconds = _post_many(http, path, bodies)
    latency = LatencySummary.of(seconds)
    return {
        "per_s": len(seconds) / sum(seconds),
        "cpu_ms": cpu.seconds / len(seconds) * 1000,
        "p50_ms": latency.p50_ms,
        "p99_ms": latency.p99_ms,
        "load_1m": load_average(),
    }


def run_pairs(
    databases: ScratchDatabases, pairs: int, requests: int, host_limit_ms: float
) -> list[dict[str, float]]:
    """Both servers up once, then ``pairs`` pairs of blocks, ours then bare: one row per pair."""
    federation = build_federation(databases, "intake")
    bare_url = databases.url("bare_intake")
    port = free_port()
    bare = SPAWN.Process(target=serve_bare, args=(bare_url, port, BareStored), daemon=True)
    bare.start()
    try:
        server = ApiServer(federation.nodes[HOST].settings)
        with (
            server as base_url,
            httpx.Client(base_url=base_url, headers=staff_headers(federation), timeout=30) as node,
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as plain,
        ):
            wait_healthy(f"http://127.0.0.1:{port}")
            bare_pid = bare.pid or 0
            cases = prepare_cases(node, 10)
            bodies = [referral_body(cases[i % len(cases)]) for i in range(requests + WARMUP)]
            _post_many(node, "/api/v1/referrals", bodies[:WARMUP])
            _post_many(plain, "/bare", bodies[:WARMUP])
            measured = bodies[WARMUP:]

            def ours(pair: int) -> dict[str, float]:
                return _block(node, "/api/v1/referrals", measured, server.pid, databases)

            def theirs(pair: int) -> dict[str, float]:
                return _block(plain, "/bare", measured, bare_pid, databases)

            rows = []
            for number, (mine, base) in enumerate(alternate(pairs, ours, theirs), start=1):
                row = {
                    **{f"ours_{k}": v for k, v in mine.items() if k != "load_1m"},
                    **{f"bare_{k}": v for k, v in base.items() if k != "load_1m"},
                    "R": mine["per_s"] / base["per_s"],
                    "cpu_R": base["cpu_ms"] / mine["cpu_ms"] if mine["cpu_ms"] else 0.0,
                    "limit_ratio": mine["cpu_ms"] / host_limit_ms,
                    "load_1m": max(mine["load_1m"], base["load_1m"]),
                }
                rows.append(row)
                emit(
                    f"  pair {number}: ours {row['ours_per_s']:.0f}/s "
                    f"({row['ours_cpu_ms']:.2f} ms CPU), bare {row['bare_per_s']:.0f}/s "
                    f"({row['bare_cpu_ms']:.2f} ms CPU): R = {row['R']:.2f}, CPU R = "
                    f"{row['cpu_R']:.2f}, {row['limit_ratio']:.1f}x the limit; "
                    f"load {row['load_1m']:.2f}"
                )
            return rows
    finally:
        stop(bare)
        federation.close()


def verdict(summary: dict[str, dict[str, float]]) -> dict[str, Any]:
    return {
        "goal": f"R >= {GOAL_R}; cpu_R >= {GOAL_CPU_R}; limit_ratio <= {GOAL_LIMIT:.0f}",
        "met": summary["R"]["median"] >= GOAL_R,
        "cpu_met": summary["cpu_R"]["median"] >= GOAL_CPU_R,
        "limit_met": summary["limit_ratio"]["median"] <= GOAL_LIMIT,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.intake", description=DESCRIPTION)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--quick", action="store_true", help="60 requests a block: a smoke run")
    parser.add_argument("--requests", type=int, help="requests per block (default 300)")
    pairs_argument(parser)
    args = parser.parse_args(argv)
    stop_cleanly_on_sigterm()
    requests = args.requests or (60 if args.quick else 300)
    pairs = args.pairs or (QUICK_PAIRS if args.quick else PAIRS)
    emit(f"{NAME}: {args.database}, {pairs} pairs of {requests} requests a side, alternating")
    with ScratchDatabases(args.database) as databases:
        floor = limit.measure(databases.url("limit"), quick=args.quick)
        emit(
            f"  physical limit: {floor.host_ms:.3f} ms at the host per referral, "
            f"{floor.end_to_end_ms:.3f} ms end to end"
        )
        rows = run_pairs(databases, pairs, requests, floor.host_ms)
    summary = summarise(rows)
    entry = {
        "setup": {
            "requests_per_side": requests,
            "pairs": pairs,
            "runs": pairs,
            "order": "alternating: ours, bare, ours, bare, ...",
            "client": "sequential httpx",
        },
        "source": source(),
        "machine": machine(),
        "limit": floor.as_dict(),
        "pairs": rows,
        "summary": summary,
        "verdict": verdict(summary),
    }
    key = args.database + ("-quick" if args.quick else "")
    merge_results(NAME, key, entry)
    emit(report(entry))
    return 0


def report(entry: dict[str, Any]) -> str:
    digits = ("R", "cpu_R", "limit_ratio", "load_1m")
    rows = [
        [name, *Spread(**values).cells(2 if name in digits or "cpu" in name else 1)]
        for name, values in entry["summary"].items()
    ]
    met = entry["verdict"]

    def word(ok: bool) -> str:
        return "met" if ok else "NOT met"

    return "\n".join(
        [
            table(["figure", "median", "low", "high"], rows),
            f"goal R >= {GOAL_R}: {word(met['met'])}; CPU R >= {GOAL_CPU_R}: "
            f"{word(met['cpu_met'])}; within {GOAL_LIMIT:.0f}x the limit: "
            f"{word(met['limit_met'])}",
        ]
    )


if __name__ == "__main__":
    raise SystemExit(main())
