"""Benchmark 1: referral intake at the host's API, against a bare endpoint storing the same JSON.

Ours: ``POST /api/v1/referrals`` on a real node (uvicorn in its own process, as ``avrr serve``):
validation, the consent decision, minimisation, sealing and signing, the outbox write and the
access-log entry, all in one transaction. Baseline: a bare FastAPI + SQLAlchemy app, served the
same way, that stores the same request body unencrypted in one table of a database of the same
kind. One client posts one request at a time over loopback HTTP; each side gets the same number
of requests after a warm-up. R = our referrals/s over the bare endpoint's (goal R >= 0.5).

    python -m bench.intake --database sqlite
    python -m bench.intake --database postgresql --quick
"""

from __future__ import annotations

import argparse
import time
import warnings
from typing import Any

import httpx

from bench.bare import BareStored
from bench.bare import serve as serve_bare
from bench.harness import (
    SPAWN,
    ApiServer,
    LatencySummary,
    ScratchDatabases,
    Spread,
    emit,
    free_port,
    machine,
    merge_results,
    stop,
    stop_cleanly_on_sigterm,
    table,
)
from bench.purge import build_federation, prepare_cases, referral_body, staff_headers

with warnings.catch_warnings():
    warnings.simplefilter("ignore")

NAME = "referral_intake"
DESCRIPTION = "Benchmark: referral intake against a bare endpoint storing the same JSON."
HOST = "host-mission"
GOAL_R = 0.5
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


def one_run(databases: ScratchDatabases, run: int, requests: int) -> dict[str, float]:
    federation = build_federation(databases, f"run{run}")
    bare_url = databases.url(f"bare_{run}").replace("postgresql://", "postgresql+psycopg://")
    port = free_port()
    bare = SPAWN.Process(target=serve_bare, args=(bare_url, port, BareStored), daemon=True)
    bare.start()
    try:
        with (
            ApiServer(federation.nodes[HOST].settings) as base_url,
            httpx.Client(base_url=base_url, headers=staff_headers(federation), timeout=30) as node,
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as plain,
        ):
            cases = prepare_cases(node, 10)
            bodies = [referral_body(cases[i % len(cases)]) for i in range(requests + WARMUP)]
            _post_many(node, "/api/v1/referrals", bodies[:WARMUP])
            _post_many(plain, "/bare", bodies[:WARMUP])
            ours = _post_many(node, "/api/v1/referrals", bodies[WARMUP:])
            baseline = _post_many(plain, "/bare", bodies[WARMUP:])
    finally:
        stop(bare)
        federation.close()
    mine, theirs = LatencySummary.of(ours), LatencySummary.of(baseline)
    return {
        "ours_per_s": len(ours) / sum(ours),
        "bare_per_s": len(baseline) / sum(baseline),
        "R": sum(baseline) / sum(ours),
        "ours_p50_ms": mine.p50_ms,
        "ours_p99_ms": mine.p99_ms,
        "bare_p50_ms": theirs.p50_ms,
        "bare_p99_ms": theirs.p99_ms,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.intake", description=DESCRIPTION)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--quick", action="store_true", help="100 requests a side: a smoke run")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    stop_cleanly_on_sigterm()
    requests = 100 if args.quick else 400
    emit(f"{NAME}: {args.database}, {requests} requests a side, {args.runs} runs")
    figures: dict[str, list[float]] = {}
    with ScratchDatabases(args.database) as databases:
        for run in range(args.runs):
            result = one_run(databases, run, requests)
            for name, value in result.items():
                figures.setdefault(name, []).append(value)
            emit(
                f"  run {run + 1}: ours {result['ours_per_s']:.0f}/s, bare "
                f"{result['bare_per_s']:.0f}/s, R = {result['R']:.2f}"
            )
    summary = {name: Spread.of(values).as_dict() for name, values in figures.items()}
    entry = {
        "setup": {"requests_per_side": requests, "runs": args.runs, "client": "sequential httpx"},
        "machine": machine(),
        "summary": summary,
        "verdict": {"goal": f"R >= {GOAL_R}", "met": summary["R"]["median"] >= GOAL_R},
    }
    key = args.database + ("-quick" if args.quick else "")
    merge_results(NAME, key, entry)
    rows = [[n, *Spread(**v).cells(2 if n == "R" else 1)] for n, v in summary.items()]
    emit(table(["figure", "median", "low", "high"], rows))
    emit(f"goal R >= {GOAL_R}: {'met' if entry['verdict']['met'] else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
