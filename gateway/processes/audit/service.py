"""What the data protection officer reads from the access log: read-only, DPO only, no content.

Looking at a person's history is itself logged (``history_viewed``), and so is taking a report
out of the node (``exported``), so the DPO's own reading is on the record too.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from crypto.merkle import consistency_proof
from gateway.kit.auth import Principal
from gateway.kit.errors import Unprocessable
from gateway.kit.node import Node
from gateway.processes.audit import reports
from gateway.processes.audit.reconcile import reconcile
from gateway.records.accesslog import repository as accesslog
from gateway.records.accesslog.history import subject_history
from gateway.records.accesslog.tree import (
    checkpoint_document,
    log_entry,
    stored_subtree_root,
    witness_document,
)
from gateway.records.accesslog.verify import verify_log
from gateway.records.accesslog.writer import Action, Actor, record
from schemas.audit import AuditProblem, AuditReport, ConsistencyRead, LogEntry, SubjectHistory
from schemas.common import StaffRole
from schemas.envelope import SignedDocument

SEARCH_LIMIT = 1_000
Search = accesslog.Search


def search(session: Session, principal: Principal, query: Search, now: datetime) -> list[LogEntry]:
    """Entries matching every given filter, newest first."""
    principal.require(StaffRole.DPO)
    rows = accesslog.search(session, query, SEARCH_LIMIT)
    if query.subject:
        _viewed(session, principal, query.subject, now)
    return [log_entry(row) for row in rows]


def _viewed(session: Session, principal: Principal, subject: str, now: datetime) -> None:
    record(
        session,
        at=now,
        actor=Actor.of(principal),
        action=Action.HISTORY_VIEWED,
        subject=subject,
    )


def history(session: Session, principal: Principal, subject: str, now: datetime) -> SubjectHistory:
    """A person's whole history, each entry with its inclusion proof (``records.accesslog.history``)."""
    principal.require(StaffRole.DPO)
    result = subject_history(session, subject)
    _viewed(session, principal, subject, now)
    return result


def checkpoints(session: Session, principal: Principal) -> list[SignedDocument]:
    principal.require(StaffRole.DPO)
    return [checkpoint_document(row) for row in accesslog.checkpoints(session)]


def consistency(
    session: Session, principal: Principal, old_size: int, new_size: int
) -> ConsistencyRead:
    """The proof that the log at ``new_size`` extends the log at ``old_size`` (both signed)."""
    principal.require(StaffRole.DPO)
    sizes = accesslog.checkpoint_sizes(session, (old_size, new_size))
    if not 0 < old_size <= new_size or {old_size, new_size} - sizes:
        raise Unprocessable("name two checkpoint sizes, the older first")
    proof = consistency_proof(old_size, new_size, stored_subtree_root(session))
    return ConsistencyRead(old_size=old_size, new_size=new_size, proof=[p.hex() for p in proof])


def verify(session: Session, node: Node, principal: Principal, now: datetime) -> AuditReport:
    principal.require(StaffRole.DPO)
    witness = witness_document(node.home)
    return verify_log(
        session,
        node_id=node.node_id,
        view=node.directory(),
        now=now,
        exported=[witness] if witness else [],
    )


def unlogged(session: Session, principal: Principal) -> list[AuditProblem]:
    principal.require(StaffRole.DPO)
    return reconcile(session)


def report(
    session: Session, node: Node, principal: Principal, name: str, now: datetime
) -> reports.Report:
    principal.require(StaffRole.DPO)
    built = reports.build(name, session, node, now)
    record(
        session,
        at=now,
        actor=Actor.of(principal),
        action=Action.EXPORTED,
        subject=None,
        outcome=f"report:{name}",
    )
    return built
