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
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
from fastapi import Body, FastAPI
from sqlalchemy import JSON, Integer, create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

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
from bench.purge import SENDER, prepare_cases, staff_headers
from schemas.common import PartnerRole

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from tests.support import flows
    from tests.support.clock import FakeClock
    from tests.support.federation import TestFederation

NAME = "referral_intake"
DESCRIPTION = "Benchmark: referral intake against a bare endpoint storing the same JSON."
HOST = "host-mission"
GOAL_R = 0.5
WARMUP = 20


class _Base(DeclarativeBase):
    pass


class BareReferral(_Base):
    __tablename__ = "bare_referrals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSON())


def _serve_bare(url: str, port: int) -> None:
    """The baseline app: parse the JSON, store it, answer 201. Nothing else."""
    import uvicorn

    engine = create_engine(url)
    _Base.metadata.create_all(engine)
    app = FastAPI()

    @app.get("/healthz")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    # A plain ``def``, as our endpoints are: both pay the same hop to FastAPI's thread pool.
    @app.post("/bare", status_code=201)
    def store(body: Annotated[dict[str, Any], Body()]) -> dict[str, int]:
        with Session(engine) as session, session.begin():
            row = BareReferral(body=body)
            session.add(row)
            session.flush()
            return {"id": row.id}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _payload(case_id: str) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "recipient": SENDER,
        "purpose": "arrival_reception",
        "transfer_ground": "explicit_consent_informed_of_risks",
        "content": flows.content(),
    }


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
    federation = TestFederation(
        root=databases.folder / f"run{run}",
        clock=FakeClock(datetime.now(UTC)),
        database_url=lambda node_id: databases.url(f"{node_id.replace('-', '_')}_{run}"),
    )
    federation.add_node(HOST, [PartnerRole.HOST_MISSION], "DE")
    federation.add_node(SENDER, [PartnerRole.RECEPTION_PARTNER], "SN")
    federation.publish()
    bare_url = databases.url(f"bare_{run}").replace("postgresql://", "postgresql+psycopg://")
    port = free_port()
    bare = SPAWN.Process(target=_serve_bare, args=(bare_url, port), daemon=True)
    bare.start()
    try:
        with (
            ApiServer(federation.nodes[HOST].settings) as base_url,
            httpx.Client(base_url=base_url, headers=staff_headers(federation), timeout=30) as node,
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as plain,
        ):
            _wait(plain)
            cases = prepare_cases(node, 10)
            bodies = [_payload(cases[i % len(cases)]) for i in range(requests + WARMUP)]
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


def _wait(http: httpx.Client, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if http.get("/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError("the bare app did not start")


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
