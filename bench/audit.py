"""Benchmark: the tamper-evident access log, appending and verifying.

Two figures, each against a bare baseline measured in the same run on the same database:

1. **Append**: ``--appends`` entries, each written with ``gateway.records.accesslog.writer.record`` in
   its own transaction (as every request does), then placed in the Merkle log by the sequencer
   and checkpointed. Baseline: the same rows inserted one transaction each into the same table,
   never sequenced. R = our entries/s over the baseline's (the cost of tamper evidence).
2. **Verify**: a log of ``--entries`` entries (150,000; ``--full`` 1,000,000; loaded in bulk, then sequenced
   and checkpointed, which is timed too) verified with ``gateway.records.accesslog.verify.verify_log``:
   every entry re-read, re-hashed and folded into the tree, checked against the stored leaves
   and the signed checkpoint. Baseline: reading the same entries with the same query shape and
   hashing each one's bytes with ``hashlib.sha256`` in a loop. R = baseline time over ours
   (the goal in docs/performance.md is R >= 0.5).

Nothing here asserts a time; it reports. Run it::

    python -m bench.audit --database sqlite
    python -m bench.audit --database postgresql --quick     # 20,000 entries
"""

from __future__ import annotations

import argparse
import hashlib
import json
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from bench.harness import (
    ScratchDatabases,
    Spread,
    emit,
    machine,
    merge_results,
    stop_cleanly_on_sigterm,
    table,
    timed,
)
from gateway.kit.node import Node
from gateway.records.accesslog.models import AccessEventRow
from gateway.records.accesslog.tree import AccessLogTree
from gateway.records.accesslog.verify import verify_log
from gateway.records.accesslog.writer import Action, Actor, record
from schemas.audit import AuditReport
from schemas.common import PartnerRole

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from tests.support.clock import FakeClock
    from tests.support.federation import TestFederation

NAME = "audit_log"
DESCRIPTION = "Benchmark: appending to and verifying the tamper-evident access log."
NODE = "host-mission"
LOAD_CHUNK = 10_000
READ_CHUNK = 10_000
GOAL_VERIFY_R = 0.5
#: The goal's log size, and the one ``make bench`` uses to stay within its time budget.
FULL, DEFAULT = 1_000_000, 150_000
#: ``bench.run --full`` passes ``--full`` to this benchmark.
HAS_FULL = True


@dataclass(frozen=True)
class Config:
    database: str
    entries: int
    appends: int
    runs: int


def _entry(number: int, at: datetime) -> dict[str, Any]:
    """A synthetic entry: a caseworker viewing a case; ids only, as in real entries."""
    return {
        "at": at + timedelta(microseconds=number),
        "actor": f"user-{number % 50}",
        "actor_org": "office-a",
        "actor_role": "caseworker",
        "action": Action.CASE_VIEWED.value,
        "subject": f"{number:032x}",
        "packet_id": None,
        "sections": [],
        "purpose": None,
        "outcome": "ok",
    }


def _federation(databases: ScratchDatabases, label: str) -> TestFederation:
    federation = TestFederation(
        root=databases.folder / label,
        clock=FakeClock(datetime.now(UTC)),
        database_url=lambda node_id: databases.url(f"{label}_{node_id.replace('-', '_')}"),
    )
    federation.add_node(NODE, [PartnerRole.HOST_MISSION], "DE")
    federation.publish()
    return federation


def _node(federation: TestFederation) -> tuple[Node, sessionmaker[Session]]:
    test_node = federation.nodes[NODE]
    node: Node = test_node.client.app.state.node  # type: ignore[attr-defined]
    return node, test_node.sessions


# -- 1. append --------------------------------------------------------------------------------


def _append_ours(node: Node, sessions: sessionmaker[Session], count: int) -> float:
    actor = Actor(user="user-1", org="office-a", role="caseworker")
    now = node.clock.now()

    def write() -> None:
        for number in range(count):
            with sessions.begin() as session:
                record(
                    session,
                    at=now,
                    actor=actor,
                    action=Action.CASE_VIEWED,
                    subject=f"{number:032x}",
                )
        AccessLogTree(node=node, sessions=sessions).run_once()

    _, seconds = timed(write)
    return count / seconds


def _append_bare(sessions: sessionmaker[Session], count: int, at: datetime) -> float:
    def write() -> None:
        for number in range(count):
            with sessions.begin() as session:
                session.execute(insert(AccessEventRow), [_entry(number, at)])

    _, seconds = timed(write)
    return count / seconds


# -- 2. verify --------------------------------------------------------------------------------


def _load(sessions: sessionmaker[Session], count: int, at: datetime) -> float:
    def load() -> None:
        for start in range(0, count, LOAD_CHUNK):
            rows = [_entry(n, at) for n in range(start, min(count, start + LOAD_CHUNK))]
            with sessions.begin() as session:
                session.execute(insert(AccessEventRow), rows)

    _, seconds = timed(load)
    return seconds


def _bare_hashing(sessions: sessionmaker[Session]) -> int:
    """Read every entry as verify does (in chunks, in order) and hash it with hashlib."""
    columns = (
        AccessEventRow.at,
        AccessEventRow.actor,
        AccessEventRow.actor_org,
        AccessEventRow.actor_role,
        AccessEventRow.action,
        AccessEventRow.subject,
        AccessEventRow.packet_id,
        AccessEventRow.sections,
        AccessEventRow.purpose,
        AccessEventRow.outcome,
    )
    after, hashed = -1, 0
    with sessions() as session:
        while True:
            rows = session.execute(
                select(AccessEventRow.leaf_index, *columns)
                .where(AccessEventRow.leaf_index > after)
                .order_by(AccessEventRow.leaf_index)
                .limit(READ_CHUNK)
            ).all()
            if not rows:
                return hashed
            for index, at, *rest in rows:
                hashlib.sha256(json.dumps([at.isoformat(), *rest]).encode()).digest()
                hashed += 1
                after = after if index is None else index


def run_benchmark(config: Config) -> dict[str, Any]:
    figures: dict[str, list[float]] = {
        "append_entries_per_s": [],
        "append_bare_entries_per_s": [],
        "append_R": [],
        "verify_s": [],
        "verify_bare_s": [],
        "verify_R": [],
    }
    with ScratchDatabases(config.database) as databases:
        for run in range(config.runs):
            federation = _federation(databases, f"append{run}")
            node, sessions = _node(federation)
            ours = _append_ours(node, sessions, config.appends)
            bare_federation = _federation(databases, f"bare{run}")
            _, bare_sessions = _node(bare_federation)
            bare = _append_bare(bare_sessions, config.appends, node.clock.now())
            figures["append_entries_per_s"].append(ours)
            figures["append_bare_entries_per_s"].append(bare)
            figures["append_R"].append(ours / bare)
            emit(f"  append run {run + 1}: {ours:,.0f}/s against {bare:,.0f}/s bare")
            federation.close()
            bare_federation.close()

        federation = _federation(databases, "verify")
        node, sessions = _node(federation)
        at = node.clock.now()
        load_s = _load(sessions, config.entries, at)
        run_result, sequence_s = timed(AccessLogTree(node=node, sessions=sessions).run_once)
        emit(
            f"  loaded {config.entries:,} entries in {load_s:.1f} s; placed and checkpointed "
            f"in {sequence_s:.1f} s ({run_result})"
        )

        def verify() -> AuditReport:
            with sessions() as session:
                return verify_log(
                    session, node_id=node.node_id, view=node.directory(), now=node.clock.now()
                )

        for run in range(config.runs):
            report, ours = timed(verify)
            if not report.ok or report.entries != config.entries:
                raise RuntimeError(f"the benchmark log does not verify: {report.problems[:1]}")
            hashed, bare = timed(lambda: _bare_hashing(sessions))
            if hashed != config.entries:
                raise RuntimeError("the baseline did not read every entry")
            figures["verify_s"].append(ours)
            figures["verify_bare_s"].append(bare)
            figures["verify_R"].append(bare / ours)
            emit(f"  verify run {run + 1}: {ours:.1f} s against {bare:.1f} s bare")
        federation.close()
    summary = {name: Spread.of(values).as_dict() for name, values in figures.items()}
    return {
        "setup": {
            "entries": config.entries,
            "appends": config.appends,
            "runs": config.runs,
            "load_s": round(load_s, 2),
            "sequence_and_checkpoint_s": round(sequence_s, 2),
            "sequence_entries_per_s": round(config.entries / sequence_s),
        },
        "machine": machine(),
        "summary": summary,
        "verdict": {
            "verify_goal": f"R >= {GOAL_VERIFY_R}",
            "verify_met": summary["verify_R"]["median"] >= GOAL_VERIFY_R,
        },
    }


def report(entry: dict[str, Any]) -> str:
    summary = entry["summary"]
    rows = [
        [name, *Spread(**summary[name]).cells(2 if name.endswith("R") else 1)] for name in summary
    ]
    setup = entry["setup"]
    head = (
        f"log of {setup['entries']:,} entries: loaded in {setup['load_s']} s, placed and "
        f"checkpointed in {setup['sequence_and_checkpoint_s']} s "
        f"({setup['sequence_entries_per_s']:,} entries/s)"
    )
    verdict = entry["verdict"]
    tail = f"verify: goal {verdict['verify_goal']}: {'met' if verdict['verify_met'] else 'NOT met'}"
    return "\n".join([head, table(["figure", "median", "low", "high"], rows), tail])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.audit", description=DESCRIPTION)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--quick", action="store_true", help="20,000 entries: a smoke run")
    parser.add_argument("--full", action="store_true", help="1,000,000 entries, the goal's size")
    parser.add_argument("--entries", type=int, help="log size to verify (default 150,000)")
    parser.add_argument("--appends", type=int, help="entries appended one by one (default 2,000)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    stop_cleanly_on_sigterm()
    config = Config(
        database=args.database,
        entries=args.entries or (20_000 if args.quick else FULL if args.full else DEFAULT),
        appends=args.appends or (500 if args.quick else 2_000),
        runs=args.runs,
    )
    emit(f"{NAME}: {config.database}, {config.entries:,} entries, {config.runs} runs")
    entry = run_benchmark(config)
    key = config.database + ("" if config.entries == FULL else f"-{config.entries}")
    merge_results(NAME, key, entry)
    emit(report(entry))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
