"""A person's history from the access log, each entry with its proof of inclusion.

The proofs are against the node's latest signed checkpoint, returned alongside: the person (or
anyone for them) checks the signature with the node's key from the directory, then each entry
with ``partners.auditlog.entry_is_in``. Entries newer than the checkpoint come without a proof
until the next one (at most a minute while the worker runs).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto.merkle import SubtreeRoot, inclusion_proof
from gateway.records.accesslog.models import AccessEventRow
from gateway.records.accesslog.tree import latest_checkpoint, log_entry, preloaded_subtree_root
from partners.auditlog import entry_leaf
from schemas.audit import LogEntry, ProvenEntry, SubjectHistory
from schemas.envelope import SignedDocument

HISTORY_LIMIT = 5_000


def subject_history(session: Session, subject: str) -> SubjectHistory:
    # The newest entries (a history too long to show keeps its most recent part); shown placed
    # entries in log order first, then those still waiting for their place in write order.
    newest = session.scalars(
        select(AccessEventRow)
        .where(AccessEventRow.subject == subject)
        .order_by(AccessEventRow.seq.desc())
        .limit(HISTORY_LIMIT)
    ).all()
    rows = sorted(newest, key=lambda r: (r.leaf_index is None, r.leaf_index or 0, r.seq))
    checkpoint = latest_checkpoint(session)
    size = checkpoint.size if checkpoint else 0
    subtree_root = preloaded_subtree_root(
        session,
        [r.leaf_index for r in rows if r.leaf_index is not None and r.leaf_index < size],
        size,
    )
    entries = []
    for row in rows:
        entry = log_entry(row)
        index = row.leaf_index
        entries.append(
            _proven(entry, index, size, subtree_root)
            if index is not None and index < size
            else _unproven(entry)
        )
    return SubjectHistory(
        subject=subject,
        checkpoint=SignedDocument.model_validate(checkpoint.document) if checkpoint else None,
        entries=entries,
    )


def _proven(entry: LogEntry, index: int, size: int, subtree_root: SubtreeRoot) -> ProvenEntry:
    proof = inclusion_proof(index, size, subtree_root)
    return ProvenEntry(
        entry=entry,
        leaf_hash=entry_leaf(entry).hex(),
        inclusion_proof=[p.hex() for p in proof],
        checkpoint_size=size,
    )


def _unproven(entry: LogEntry) -> ProvenEntry:
    return ProvenEntry(
        entry=entry, leaf_hash=entry_leaf(entry).hex(), inclusion_proof=None, checkpoint_size=None
    )
