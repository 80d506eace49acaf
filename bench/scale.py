"""Benchmark 4: does the host stay flat as its store grows?

The same measurements on two host databases that differ only in how much they already hold: a
small one (``--small``, default 10,000 packets and 10,000 access-log entries) and a big one
(``--big``; ``make bench`` uses 100,000 to stay in its time budget, ``make bench-full`` the
1,000,000 the goal names). What is stored is cloned from real rows made through the API: one
case per five referrals, each referral with its delivered outbox row, and log entries naming
those cases, all placed in the Merkle log and checkpointed by the real sequencer.

Measured on each, over loopback HTTP against the node served by uvicorn in its own process:

1. referral intake, ``--requests`` referrals one at a time: R = time per referral on the small
   store over the big one (goal R >= 0.8);
2. subject access, the DPO's ``GET /api/v1/audit/subjects/{id}/history`` (every entry with its
   inclusion proof) for ``--requests`` stored people: p99 on the big store over the small one
   (goal: at most 1.5).

Each is repeated ``--runs`` times on each store; run i on the small store is set against run i
on the big one, and the ratios are reported as median and spread.

    python -m bench.scale --database sqlite
    python -m bench.scale --database postgresql --big 1000000
"""

from __future__ import annotations

import argparse
import random
import time
import warnings
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import Engine, Table, insert, select
from sqlalchemy.orm import Session, sessionmaker

from bench.audit import _entry
from bench.harness import (
    ApiServer,
    LatencySummary,
    ScratchDatabases,
    Spread,
    emit,
    machine,
    merge_results,
    source,
    stop_cleanly_on_sigterm,
    table,
    timed,
)
from bench.purge import HOST, build_federation, prepare_cases, referral_body, staff_headers
from gateway.exchange.outbox.models import OutboxRow
from gateway.exchange.referrals.models import ReferralRow
from gateway.records.accesslog.models import AccessEventRow
from gateway.records.accesslog.tree import AccessLogTree
from gateway.records.cases.models import CaseRow
from schemas.common import StaffRole

with warnings.catch_warnings():
    warnings.simplefilter("ignore")

NAME = "scale"
DESCRIPTION = "Benchmark: intake and subject access on a small and a big store."
GOAL_R = 0.8
GOAL_ACCESS = 1.5
REFERRALS_PER_CASE = 5
#: ``bench.run --full`` passes ``--full`` to this benchmark.
HAS_FULL = True
LOAD_CHUNK = 10_000
WARMUP = 10


@dataclass(frozen=True)
class Config:
    database: str
    small: int
    big: int
    requests: int
    runs: int
    seed: int = 20261122


def _clone(row: Any) -> dict[str, Any]:
    """A stored row's columns as a dict to insert copies of."""
    table_: Table = row.__table__
    return {column.key: getattr(row, column.key) for column in table_.columns}


def load(sessions: sessionmaker[Session], size: int, at: datetime) -> list[str]:
    """``size`` delivered referrals and log entries, cloned from the API-made template rows.

    Returns the ids of the stored cases (the people whose history is read).
    """
    with sessions() as session:
        case = _clone(session.scalars(select(CaseRow)).first())
        referral = _clone(session.scalars(select(ReferralRow)).first())
        outbox = _clone(session.scalars(select(OutboxRow)).first())
    outbox.pop("id")
    outbox.update(status="delivered", envelope="", claim_token=None, claimed_until=None)
    referral.update(status="delivered")
    cases = []
    for start in range(0, size, LOAD_CHUNK):
        numbers = range(start, min(size, start + LOAD_CHUNK))
        new_cases = [f"c{n // REFERRALS_PER_CASE:031x}" for n in numbers[::REFERRALS_PER_CASE]]
        cases.extend(new_cases)
        with sessions.begin() as session:
            session.execute(insert(CaseRow), [{**case, "id": c} for c in new_cases])
            session.execute(
                insert(ReferralRow),
                [
                    {
                        **referral,
                        "id": f"r{n:031x}",
                        "packet_id": f"p{n:031x}",
                        "case_id": f"c{n // REFERRALS_PER_CASE:031x}",
                    }
                    for n in numbers
                ],
            )
            session.execute(
                insert(OutboxRow),
                [
                    {**outbox, "packet_id": f"p{n:031x}", "referral_id": f"r{n:031x}"}
                    for n in numbers
                ],
            )
            session.execute(
                insert(AccessEventRow),
                [{**_entry(n, at), "subject": f"c{n // REFERRALS_PER_CASE:031x}"} for n in numbers],
            )
    return cases


def settle(engine: Engine) -> None:
    """Bring the planner's statistics up to date after the bulk load, as autovacuum would.

    PostgreSQL's autovacuum analyses a table once a tenth of it changed, so a long-lived store
    has current statistics; a store loaded a second ago does not yet. SQLite keeps none unless
    asked, and the node never asks, so it is left as it is.
    """
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")


def _timed_requests(calls: list[Any]) -> list[float]:
    seconds = []
    for call in calls:
        start = time.perf_counter()
        response = call()
        seconds.append(time.perf_counter() - start)
        if response.status_code not in (200, 201):
            raise RuntimeError(f"a request was answered {response.status_code}")
    return seconds


def one_store(databases: ScratchDatabases, config: Config, size: int) -> dict[str, Any]:
    federation = build_federation(databases, f"s{size}")
    host = federation.nodes[HOST]
    node = host.client.app.state.node  # type: ignore[attr-defined]
    try:
        with ApiServer(host.settings) as base_url:
            with httpx.Client(
                base_url=base_url, headers=staff_headers(federation), timeout=60
            ) as caseworker:
                live_cases = prepare_cases(caseworker, 10)
                # One referral made through the API: the template the stored rows are cloned from.
                first = referral_body(live_cases[0])
                caseworker.post("/api/v1/referrals", json=first).raise_for_status()
                stored, load_s = timed(lambda: load(host.sessions, size, node.clock.now()))
                settle(host.engine)
                _, sequence_s = timed(AccessLogTree(node=node, sessions=host.sessions).run_once)
                emit(
                    f"  {size:,} packets and entries loaded in {load_s:.0f} s, placed in the "
                    f"log and checkpointed in {sequence_s:.0f} s"
                )
                bodies = [
                    referral_body(live_cases[i % len(live_cases)])
                    for i in range(config.requests + WARMUP)
                ]
                posts = [
                    lambda body=body: caseworker.post("/api/v1/referrals", json=body)
                    for body in bodies
                ]
                _timed_requests(posts[:WARMUP])
                intake = [_timed_requests(posts[WARMUP:]) for _ in range(config.runs)]
            with httpx.Client(
                base_url=base_url, headers=staff_headers(federation, StaffRole.DPO), timeout=60
            ) as dpo:
                # A benchmark's sample of people, not a secret.
                people = random.Random(config.seed).sample(stored, config.requests)  # noqa: S311
                reads = [
                    lambda person=person: dpo.get(f"/api/v1/audit/subjects/{person}/history")
                    for person in people
                ]
                _timed_requests(reads[:WARMUP])
                access = [_timed_requests(reads) for _ in range(config.runs)]
    finally:
        federation.close()
    return {
        "intake_per_referral_ms": [sum(run) / len(run) * 1000 for run in intake],
        "intake": [LatencySummary.of(run).as_dict() for run in intake],
        "access": [LatencySummary.of(run).as_dict() for run in access],
        "load_s": load_s,
        "sequence_s": sequence_s,
    }


def run_benchmark(config: Config) -> dict[str, Any]:
    with ScratchDatabases(config.database) as databases:
        small = one_store(databases, config, config.small)
        big = one_store(databases, config, config.big)
    # Run i on the small store against run i on the big one: the same position in each session.
    pairs = range(config.runs)
    intake_r = Spread.of(
        [small["intake_per_referral_ms"][i] / big["intake_per_referral_ms"][i] for i in pairs]
    )
    growth = Spread.of([big["access"][i]["p99_ms"] / small["access"][i]["p99_ms"] for i in pairs])
    return {
        "setup": {
            "small": config.small,
            "big": config.big,
            "requests": config.requests,
            "runs": config.runs,
        },
        "source": source(),
        "machine": machine(),
        "small": small,
        "big": big,
        "summary": {"intake_R": intake_r.as_dict(), "access_p99_growth": growth.as_dict()},
        "verdict": {
            "goal": f"intake R >= {GOAL_R}; subject-access p99 grows <= {GOAL_ACCESS}x",
            "intake_met": intake_r.median >= GOAL_R,
            "access_met": growth.median <= GOAL_ACCESS,
        },
    }


def report(entry: dict[str, Any]) -> str:
    small, big = entry["small"], entry["big"]

    def median(values: list[float]) -> str:
        return f"{Spread.of(values).median:.1f}"

    rows = [
        [
            "intake ms per referral",
            median(small["intake_per_referral_ms"]),
            median(big["intake_per_referral_ms"]),
        ],
        *(
            [
                f"{name} {figure[:3]} ms",
                median([run[figure] for run in small[key]]),
                median([run[figure] for run in big[key]]),
            ]
            for name, key in (("intake", "intake"), ("history", "access"))
            for figure in ("p50_ms", "p99_ms")
        ),
    ]
    setup, summary, verdict = entry["setup"], entry["summary"], entry["verdict"]
    return "\n".join(
        [
            table(["figure", f"{setup['small']:,} stored", f"{setup['big']:,} stored"], rows),
            f"intake R = {summary['intake_R']['median']:.2f} (goal >= {GOAL_R}: "
            f"{'met' if verdict['intake_met'] else 'NOT met'}); history p99 grew "
            f"{summary['access_p99_growth']['median']:.2f}x (goal <= {GOAL_ACCESS}: "
            f"{'met' if verdict['access_met'] else 'NOT met'})",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=DESCRIPTION)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--quick", action="store_true", help="10,000 against 20,000: a smoke run")
    parser.add_argument("--full", action="store_true", help="the goal's 1,000,000 stored")
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--big", type=int, help="packets and entries on the big store")
    parser.add_argument("--requests", type=int, default=150)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    stop_cleanly_on_sigterm()
    big = args.big or (20_000 if args.quick else 1_000_000 if args.full else 100_000)
    requests = 50 if args.quick else args.requests
    config = Config(args.database, args.small, big, requests, args.runs)
    emit(f"{NAME}: {config.database}, {config.small:,} against {config.big:,} stored")
    entry = run_benchmark(config)
    key = config.database + ("" if big == 1_000_000 else f"-{big}")
    merge_results(NAME, key, entry)
    emit(report(entry))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
