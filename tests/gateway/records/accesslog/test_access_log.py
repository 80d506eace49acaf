"""The tamper-evident access log: sequencing, signed checkpoints, verification, proofs, the CLI.

Tampering is done the way an insider with database access would do it: raw SQL on the tables
(``access_events``, ``log_nodes``, ``log_state``, ``log_checkpoints``), up to rewriting the stored
tree and re-signing checkpoints with the node's own key. Time moves by the fake clock.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, event, func, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from crypto.encoding import b64decode, b64encode, canonical_json
from crypto.merkle import Frontier, consistency_proof
from gateway.kit.config import Settings
from gateway.kit.db import make_engine, make_sessionmaker
from gateway.records.accesslog.history import subject_history
from gateway.records.accesslog.models import AccessEventRow, CheckpointRow, LogNodeRow, LogStateRow
from gateway.records.accesslog.tree import (
    STATE_ID,
    AccessLogTree,
    log_entry,
    stored_subtree_root,
    witness_document,
)
from gateway.records.accesslog.verify import verify_log
from gateway.records.accesslog.writer import Action, Actor, record
from partners.auditlog import entry_is_in, entry_leaf, extends, verify_checkpoint
from schemas.audit import AuditReport, Checkpoint
from schemas.common import StaffRole
from schemas.envelope import SignedDocument
from tests.support import flows
from tests.support.cli import avrr, ok
from tests.support.federation import TestFederation, TestNode, gateway_node

CLERK = Actor(user="user-1", org="office-a", role="caseworker")


# -- helpers ------------------------------------------------------------------------------------


def audit_log(node: TestNode) -> AccessLogTree:
    return AccessLogTree(node=gateway_node(node), sessions=node.sessions)


def verify(node: TestNode, exported: Sequence[SignedDocument] = ()) -> AuditReport:
    with node.sessions() as session:
        return verify_log(
            session,
            node_id=node.node_id,
            view=gateway_node(node).directory(),
            now=node.clock.now(),
            exported=exported,
        )


def write_entries(node: TestNode, count: int, prefix: str = "case") -> None:
    """``count`` entries in one transaction, each about a different subject, so each differs."""
    with node.sessions.begin() as session:
        start = session.scalar(select(func.count()).select_from(AccessEventRow)) or 0
        for number in range(start, start + count):
            record(
                session,
                at=node.clock.now(),
                actor=CLERK,
                action=Action.CASE_VIEWED,
                subject=f"{prefix}-{number}",
            )


def checkpointed_log(node: TestNode, sizes: Sequence[int]) -> None:
    """Grow the log to each size in turn and checkpoint it there, a minute apart."""
    log = audit_log(node)
    for size in sizes:
        with node.sessions() as session:
            have = session.scalar(select(func.count()).select_from(AccessEventRow)) or 0
        write_entries(node, size - have)
        assert log.run_once().checkpoint == size
        node.clock.advance(minutes=1)


def row_count(node: TestNode) -> int:
    with node.sessions() as session:
        return session.scalar(select(func.count()).select_from(AccessEventRow)) or 0


def leaf_indices(session: Session) -> list[int | None]:
    return list(
        session.scalars(select(AccessEventRow.leaf_index).order_by(AccessEventRow.seq)).all()
    )


def checkpoints(node: TestNode) -> list[Checkpoint]:
    view = gateway_node(node).directory()
    with node.sessions() as session:
        rows = session.scalars(select(CheckpointRow).order_by(CheckpointRow.size)).all()
    return [
        verify_checkpoint(SignedDocument.model_validate(row.document), view, node.node_id)
        for row in rows
    ]


def checkpoint_document(node: TestNode, size: int) -> SignedDocument:
    with node.sessions() as session:
        row = session.get(CheckpointRow, size)
        assert row is not None
        return SignedDocument.model_validate(row.document)


def execute(node: TestNode, sql: str, **params: Any) -> None:
    with node.engine.begin() as connection:
        connection.execute(text(sql), params)


def shift_up_from(node: TestNode, index: int) -> None:
    """Make room at ``index``: every later entry moves up one place.

    Through a temporary offset, because PostgreSQL checks the unique leaf index row by row.
    """
    offset = 1_000_000
    execute(
        node,
        "UPDATE access_events SET leaf_index = leaf_index + :offset WHERE leaf_index >= :index",
        offset=offset,
        index=index,
    )
    execute(
        node,
        "UPDATE access_events SET leaf_index = leaf_index - :back WHERE leaf_index >= :offset",
        back=offset - 1,
        offset=offset,
    )


def rebuild_stored_tree(session: Session) -> Frontier:
    """What an attacker who understands the log does after editing entries: recompute every
    leaf hash and perfect subtree, and the state row, so the stored tree agrees with the entries."""
    rows = session.scalars(
        select(AccessEventRow)
        .where(AccessEventRow.leaf_index.is_not(None))
        .order_by(AccessEventRow.leaf_index)
    ).all()
    frontier = Frontier()
    nodes: list[dict[str, object]] = []
    for row in rows:
        frontier, completed = frontier.append_nodes(entry_leaf(log_entry(row)))
        nodes.extend({"level": lv, "index": ix, "hash": h} for lv, ix, h in completed)
    session.execute(delete(LogNodeRow))
    session.execute(insert(LogNodeRow), nodes)
    state = session.get(LogStateRow, STATE_ID)
    assert state is not None
    state.size, state.frontier = frontier.size, frontier.to_bytes()
    return frontier


def rewrite(session: Session, index: int, outcome: str = "rewritten") -> None:
    """Edit one entry and make the stored tree agree with the edited log."""
    row = session.scalars(select(AccessEventRow).where(AccessEventRow.leaf_index == index)).one()
    row.outcome = outcome
    session.flush()
    rebuild_stored_tree(session)


def first_problem(report: AuditReport) -> tuple[str, int | None]:
    assert report.problems, "verification found nothing wrong"
    return report.problems[0].kind, report.problems[0].index


def open_received(partner: TestNode, packet_id: str) -> None:
    response = partner.client.get(
        f"/api/v1/received/{packet_id}", headers=partner.auth(StaffRole.PARTNER_OFFICER)
    )
    assert response.status_code == 200, response.text


def exchange(pair: TestFederation, host: TestNode, partner: TestNode) -> dict[str, Any]:
    """A referral sent, delivered and opened: entries on both nodes."""
    sent = flows.referral(host, partner.node_id)
    pair.deliver(host)
    open_received(partner, sent["packet_id"])
    return sent


@pytest.fixture
def logged(federation: TestFederation, host: TestNode) -> TestNode:
    """A host whose log of 16 entries was checkpointed at 10 and at 16."""
    federation.publish()
    checkpointed_log(host, [10, 16])
    assert verify(host).problems == []
    return host


# -- an untouched log ---------------------------------------------------------------------------


class TestUntouchedLog:
    def test_real_activity_on_both_nodes_verifies_against_two_checkpoints(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        exchange(pair, host, partner)
        flows.create_case(host)
        sizes = {}
        for node in (host, partner):
            run = audit_log(node).run_once()
            assert run.checkpoint == row_count(node)
            sizes[node.node_id] = [run.checkpoint]
        host.clock.advance(minutes=5)
        exchange(pair, host, partner)
        for node in (host, partner):
            run = audit_log(node).run_once()
            assert run.checkpoint == row_count(node)
            sizes[node.node_id].append(run.checkpoint)

        for node in (host, partner):
            report = verify(node)
            assert report.problems == []
            assert report.entries == row_count(node)
            assert report.unsequenced == 0
            assert report.checkpoints == 2
            first, second = sizes[node.node_id]
            assert 0 < first < second
            assert [c.size for c in checkpoints(node)] == [first, second]

    def test_entries_written_after_the_last_run_are_counted_as_waiting(
        self, logged: TestNode
    ) -> None:
        write_entries(logged, 3)
        report = verify(logged)
        assert report.problems == []
        assert (report.entries, report.unsequenced, report.checkpoints) == (16, 3, 2)


# -- tampering with stored entries --------------------------------------------------------------


class TestTampering:
    def test_an_edited_field_is_named_at_its_entry(self, logged: TestNode) -> None:
        execute(logged, "UPDATE access_events SET outcome = 'x' WHERE leaf_index = 3")
        report = verify(logged)
        assert first_problem(report) == ("entry_altered", 3)
        assert [p.index for p in report.problems if p.kind == "entry_altered"] == [3]

    def test_a_deleted_entry_is_missing_at_its_place(self, logged: TestNode) -> None:
        execute(logged, "DELETE FROM access_events WHERE leaf_index = 5")
        report = verify(logged)
        assert first_problem(report) == ("missing_entry", 5)
        assert report.entries == 15

    def test_a_forged_entry_inserted_in_the_middle_is_named_at_its_place(
        self, logged: TestNode
    ) -> None:
        shift_up_from(logged, 5)
        with logged.sessions.begin() as session:
            session.add(
                AccessEventRow(
                    leaf_index=5,
                    at=logged.clock.now(),
                    actor=CLERK.user,
                    actor_org=CLERK.org,
                    actor_role=CLERK.role,
                    action=Action.CASE_VIEWED.value,
                    subject="case-forged",
                    sections=[],
                    outcome="ok",
                )
            )
        report = verify(logged)
        assert first_problem(report) == ("entry_altered", 5)
        assert report.entries == 17

    def test_two_swapped_entries_are_named_at_the_first(self, logged: TestNode) -> None:
        with logged.sessions.begin() as session:
            rows = session.scalars(
                select(AccessEventRow).where(AccessEventRow.leaf_index.in_((4, 7)))
            ).all()
            first, second = sorted(rows, key=lambda r: r.leaf_index or 0)
            first.subject, second.subject = second.subject, first.subject
        report = verify(logged)
        assert first_problem(report) == ("entry_altered", 4)
        assert [p.index for p in report.problems if p.kind == "entry_altered"] == [4, 7]

    def test_entries_cut_off_the_end_show_as_truncated_from_the_new_size(
        self, logged: TestNode
    ) -> None:
        execute(logged, "DELETE FROM access_events WHERE leaf_index >= 13")
        report = verify(logged)
        assert [(p.kind, p.index) for p in report.problems] == [("truncated", 13)]
        assert report.entries == 13

    def test_entries_placed_after_the_last_checkpoint_cannot_vanish_either(
        self, logged: TestNode
    ) -> None:
        write_entries(logged, 4, prefix="late")
        assert audit_log(logged).sequence() == 4
        execute(logged, "DELETE FROM access_events WHERE leaf_index >= 18")

        report = verify(logged)

        assert [(p.kind, p.index) for p in report.problems] == [("truncated", 18)]

    def test_a_rewrite_of_entries_and_tree_is_named_from_the_last_checkpoint_that_holds(
        self, logged: TestNode
    ) -> None:
        with logged.sessions.begin() as session:
            rewrite(session, 12)
        report = verify(logged)
        kinds = {p.kind for p in report.problems}
        assert "entry_altered" not in kinds
        assert first_problem(report) == ("checkpoint_mismatch", 10)

    def test_a_rewrite_before_the_first_checkpoint_is_named_from_the_start(
        self, logged: TestNode
    ) -> None:
        with logged.sessions.begin() as session:
            rewrite(session, 3)
        assert first_problem(verify(logged)) == ("checkpoint_mismatch", 0)

    def test_an_exported_checkpoint_exposes_a_rewrite_the_node_re_signed(
        self, logged: TestNode
    ) -> None:
        exported = checkpoint_document(logged, 10)
        with logged.sessions.begin() as session:
            rewrite(session, 3)
            session.execute(delete(CheckpointRow))
        logged.clock.advance(minutes=1)
        logged.home.checkpoint_witness.unlink()  # an attacker who also holds the node's files
        resigned = audit_log(logged).checkpoint(logged.clock.now())
        assert resigned is not None
        assert resigned.size == 16

        assert verify(logged).problems == []
        report = verify(logged, exported=[exported])
        assert first_problem(report) == ("checkpoint_mismatch", 0)

    def test_the_witness_file_refuses_to_re_sign_a_rewrite_and_exposes_it(
        self, logged: TestNode
    ) -> None:
        # Database access alone: entries, tree and checkpoint rows rewritten, files untouched.
        with logged.sessions.begin() as session:
            rewrite(session, 3)
            session.execute(delete(CheckpointRow))
        logged.clock.advance(minutes=1)
        write_entries(logged, 1, prefix="after")

        run = audit_log(logged).run_once()

        assert run.sequenced == 1
        assert run.checkpoint is None
        witness = witness_document(logged.home)
        assert witness is not None
        report = verify(logged, exported=[witness])
        assert first_problem(report) == ("checkpoint_mismatch", 0)

    def test_an_exported_checkpoint_of_the_same_size_names_the_rewrite_from_the_start(
        self, logged: TestNode
    ) -> None:
        exported = checkpoint_document(logged, 16)
        with logged.sessions.begin() as session:
            rewrite(session, 3)
            session.execute(delete(CheckpointRow))
        logged.clock.advance(minutes=1)
        logged.home.checkpoint_witness.unlink()
        assert audit_log(logged).checkpoint(logged.clock.now()) is not None
        report = verify(logged, exported=[exported])
        assert ("checkpoint_mismatch", 0) in [(p.kind, p.index) for p in report.problems]

    def test_an_edited_checkpoint_root_column_differs_from_what_was_signed(
        self, logged: TestNode
    ) -> None:
        execute(logged, "UPDATE log_checkpoints SET root = :root WHERE size = 10", root="0" * 64)
        report = verify(logged)
        assert [p.kind for p in report.problems] == ["checkpoint_altered"]

    def test_an_edited_root_inside_the_signed_checkpoint_breaks_its_signature(
        self, logged: TestNode
    ) -> None:
        with logged.sessions.begin() as session:
            row = session.get(CheckpointRow, 10)
            assert row is not None
            document = dict(row.document)
            payload = json.loads(b64decode(document["payload"]))
            payload["root"] = "0" * 64
            document["payload"] = b64encode(canonical_json(payload))
            row.document = document
        report = verify(logged)
        assert [p.kind for p in report.problems] == ["bad_checkpoint_signature"]


# -- the command line ---------------------------------------------------------------------------


@contextmanager
def cli_sessions(home: Path) -> Iterator[sessionmaker[Session]]:
    """Sessions on the database of a node made with the CLI, its engine disposed of afterwards."""
    engine = make_engine(Settings.for_home(home).database_url)
    try:
        yield make_sessionmaker(engine)
    finally:
        engine.dispose()


@pytest.fixture
def cli_home(tmp_path: Path, database_url: Any) -> Path:
    """A node set up with the CLI, as an operator would: listed in a signed directory, with a
    checkpointed log of eight entries."""
    federation = tmp_path / "fed"
    ok("federation", "init", federation, "--id", "avrr-test")
    home = tmp_path / "origin-reception"
    ok(
        "node",
        "init",
        home,
        "--node-id",
        "origin-reception",
        "--organisation",
        "origin-reception org",
        "--country",
        "SN",
        "--database-url",
        database_url("origin-reception"),
    )
    ok("node", "export", home, "--out", tmp_path / "public.json")
    ok(
        "federation",
        "add-node",
        federation,
        "--node-file",
        tmp_path / "public.json",
        "--roles",
        "reception_partner",
        "--inbox-url",
        "http://127.0.0.1:9999",
    )
    ok(
        "node",
        "install-directory",
        home,
        federation / "directory.json",
        "--operator-key",
        federation / "operator.json",
    )
    with cli_sessions(home) as sessions, sessions.begin() as session:
        for number in range(8):
            record(
                session,
                at=datetime(2026, 11, 2, 9, number, tzinfo=UTC),
                actor=CLERK,
                action=Action.CASE_VIEWED,
                subject=f"case-{number}",
            )
    assert "signed a checkpoint at size 8" in ok("audit", "checkpoint", home)
    return home


class TestCommandLine:
    def test_verify_passes_an_untouched_log(self, cli_home: Path) -> None:
        out = ok("audit", "verify", cli_home)
        assert "access log OK: 8 entries, 1 signed checkpoint hold" in out

    def test_verify_fails_on_an_edit_and_names_the_entry(self, cli_home: Path) -> None:
        with cli_sessions(cli_home) as sessions, sessions.begin() as session:
            session.execute(text("UPDATE access_events SET outcome = 'x' WHERE leaf_index = 6"))
        result = avrr("audit", "verify", cli_home)
        assert result.exit_code == 1
        assert "access log FAILED at entry #6" in result.output

    def test_exported_checkpoints_expose_a_rewrite_the_node_re_signed(
        self, cli_home: Path, tmp_path: Path
    ) -> None:
        exported = tmp_path / "checkpoints.json"
        assert "wrote 1 checkpoints" in ok(
            "audit", "export-checkpoints", cli_home, "--out", exported
        )
        # The export repeats the node's own checkpoint: one signed statement, checked once.
        assert "1 signed checkpoint hold" in ok(
            "audit", "verify", cli_home, "--checkpoints", exported
        )

        with cli_sessions(cli_home) as sessions, sessions.begin() as session:
            rewrite(session, 2)
            session.execute(delete(CheckpointRow))
        # An attacker who also controls the node's files removes the witness and re-signs.
        (cli_home / "audit" / "latest-checkpoint.json").unlink()
        ok("audit", "checkpoint", cli_home)

        assert "access log OK" in ok("audit", "verify", cli_home)
        result = avrr("audit", "verify", cli_home, "--checkpoints", exported)
        assert result.exit_code == 1
        assert "access log FAILED" in result.output
        assert "no longer matches the exported checkpoint of size 8" in result.output

    def test_export_to_stdout_is_what_verify_reads(self, cli_home: Path, tmp_path: Path) -> None:
        exported = tmp_path / "checkpoints.json"
        exported.write_text(ok("audit", "export-checkpoints", cli_home))
        printed = ok("audit", "verify", cli_home, "--checkpoints", exported, "--json")
        report = json.loads(printed)
        assert report["problems"] == []
        assert report["checkpoints"] == 1


class TestCommandLineReadingIsLogged:
    def test_every_report_comes_out_as_json_or_csv_and_is_logged(self, cli_home: Path) -> None:
        from gateway.processes.audit.reports import REPORTS
        from gateway.surfaces.cli.audit import REPORT_NAMES

        assert sorted(REPORT_NAMES) == sorted(REPORTS)
        for name in REPORT_NAMES:
            as_json = json.loads(ok("audit", "report", cli_home, name))
            assert as_json["name"] == name
            header = ok("audit", "report", cli_home, name, "--csv").splitlines()[0]
            assert header.split(",") == as_json["columns"]
        with cli_sessions(cli_home) as sessions, sessions() as session:
            outcomes = session.scalars(
                select(AccessEventRow.outcome).where(AccessEventRow.action == "exported")
            ).all()
        assert sorted(outcomes) == sorted(f"report:{n}" for n in REPORT_NAMES for _ in range(2))

    def test_reading_a_persons_history_is_logged(self, cli_home: Path) -> None:
        subject = "ab" * 16
        history = json.loads(ok("audit", "history", cli_home, subject))

        assert history["subject"] == subject
        with cli_sessions(cli_home) as sessions, sessions() as session:
            viewed = session.scalars(
                select(AccessEventRow.actor).where(
                    AccessEventRow.action == "history_viewed", AccessEventRow.subject == subject
                )
            ).all()
        assert len(viewed) == 1
        assert viewed[0].startswith("cli:")


# -- proofs -------------------------------------------------------------------------------------


class TestInclusionProofs:
    def test_each_entry_about_a_person_is_proven_in_the_signed_log(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = exchange(pair, host, partner)
        flows.create_case(host)
        audit_log(host).run_once()
        host.clock.advance(minutes=1)
        viewed = host.client.get(f"/api/v1/cases/{sent['case_id']}", headers=host.auth())
        assert viewed.status_code == 200, viewed.text
        audit_log(host).sequence()

        with host.sessions() as session:
            history = subject_history(session, sent["case_id"])
            about = session.scalar(
                select(func.count())
                .select_from(AccessEventRow)
                .where(AccessEventRow.subject == sent["case_id"])
            )
        assert history.checkpoint is not None
        checkpoint = verify_checkpoint(
            history.checkpoint, gateway_node(host).directory(), host.node_id
        )
        assert len(history.entries) == about
        proven = [e for e in history.entries if e.inclusion_proof is not None]
        waiting = [e for e in history.entries if e.inclusion_proof is None]
        assert len(proven) >= 2
        assert [e.entry.action for e in waiting] == [Action.CASE_VIEWED.value]
        for item in proven:
            assert item.inclusion_proof is not None
            assert item.checkpoint_size == checkpoint.size
            assert entry_is_in(item.entry, item.inclusion_proof, checkpoint)
        for item in waiting:
            assert item.entry.index >= checkpoint.size
            assert item.checkpoint_size is None

    def test_a_tampered_proof_or_entry_does_not_verify(self, logged: TestNode) -> None:
        with logged.sessions() as session:
            history = subject_history(session, "case-6")
        assert history.checkpoint is not None
        checkpoint = verify_checkpoint(
            history.checkpoint, gateway_node(logged).directory(), logged.node_id
        )
        (item,) = history.entries
        proof = item.inclusion_proof
        assert proof is not None
        assert entry_is_in(item.entry, proof, checkpoint)
        for position in range(len(proof)):
            flipped = bytearray(bytes.fromhex(proof[position]))
            flipped[0] ^= 1
            tampered = [*proof[:position], flipped.hex(), *proof[position + 1 :]]
            assert not entry_is_in(item.entry, tampered, checkpoint)
        assert not entry_is_in(item.entry.model_copy(update={"outcome": "x"}), proof, checkpoint)
        assert not entry_is_in(item.entry.model_copy(update={"index": 7}), proof, checkpoint)

    def test_proofs_are_read_by_key_not_by_scanning_the_stored_tree(self, logged: TestNode) -> None:
        # A person's history must not slow down as the log grows: every read of stored tree
        # nodes looks them up in the primary key. SQLite states its plan; PostgreSQL's planner
        # rightly scans a table this small, so the plan is checked where it is deterministic.
        if logged.engine.dialect.name != "sqlite":
            pytest.skip("the query plan is only deterministic on SQLite")
        reads: list[tuple[str, Any]] = []

        def keep(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
            if "FROM log_nodes" in statement:
                reads.append((statement, params))

        event.listen(logged.engine, "before_cursor_execute", keep)
        try:
            with logged.sessions() as session:
                subject_history(session, "case-6")
        finally:
            event.remove(logged.engine, "before_cursor_execute", keep)
        assert reads
        with logged.engine.connect() as connection:
            for statement, params in reads:
                plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params).all()
                details = [str(step[-1]) for step in plan]
                assert not any(d.startswith("SCAN log_nodes") for d in details), details


class TestConsistencyProofs:
    def test_each_checkpoint_extends_every_earlier_one(
        self, federation: TestFederation, host: TestNode
    ) -> None:
        # Powers of two, one either side of them, and runs of one entry: every shape of proof.
        sizes = [1, 2, 3, 4, 5, 7, 8, 13, 16, 17]
        federation.publish()
        checkpointed_log(host, sizes)
        signed = checkpoints(host)
        assert [c.size for c in signed] == sizes
        with host.sessions() as session:
            subtree_root = stored_subtree_root(session)
            for position, old in enumerate(signed):
                for new in signed[position + 1 :]:
                    proof = [p.hex() for p in consistency_proof(old.size, new.size, subtree_root)]
                    assert extends(old, new, proof), (old.size, new.size)
                    assert not extends(new, old, proof)
                    flipped = bytearray(bytes.fromhex(proof[0]))
                    flipped[-1] ^= 1
                    assert not extends(old, new, [flipped.hex(), *proof[1:]])


# -- sequencing ---------------------------------------------------------------------------------


class TestSequencing:
    def test_sequencing_twice_places_each_entry_once(
        self, federation: TestFederation, host: TestNode
    ) -> None:
        federation.publish()
        write_entries(host, 5)
        log = audit_log(host)
        assert log.sequence() == 5
        assert log.sequence() == 0
        with host.sessions() as session:
            assert leaf_indices(session) == [0, 1, 2, 3, 4]
            leaves = session.scalar(
                select(func.count()).select_from(LogNodeRow).where(LogNodeRow.level == 0)
            )
        assert leaves == 5

    def test_later_entries_get_higher_places_without_gaps(
        self, federation: TestFederation, host: TestNode
    ) -> None:
        federation.publish()
        log = audit_log(host)
        write_entries(host, 3, prefix="early")
        log.sequence()
        write_entries(host, 4, prefix="late")
        write_entries(host, 2, prefix="later")
        assert log.sequence() == 6
        with host.sessions() as session:
            placed = session.execute(
                select(AccessEventRow.subject, AccessEventRow.leaf_index).order_by(
                    AccessEventRow.leaf_index
                )
            ).all()
        assert [index for _, index in placed] == list(range(9))
        assert [str(subject).split("-")[0] for subject, _ in placed] == (
            ["early"] * 3 + ["late"] * 4 + ["later"] * 2
        )

    def test_an_empty_log_gets_no_checkpoint(
        self, federation: TestFederation, host: TestNode
    ) -> None:
        federation.publish()
        assert not audit_log(host).run_once()
        report = verify(host)
        assert (report.entries, report.checkpoints, report.problems) == (0, 0, [])
