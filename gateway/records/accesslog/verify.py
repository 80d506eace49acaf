"""``avrr audit verify``: recompute the whole log from its entries and hold it to every signature.

What is checked, in one pass over the entries in log order:

1. the entries' places run 0, 1, 2... without a gap (a gap is an entry removed);
2. each entry, rehashed from its fields, equals the leaf the tree stored when it was placed
   (a difference is an entry edited, inserted or moved: the first one is named);
3. each checkpoint's signature, by a key the directory lists for this node, valid at its time;
4. at each checkpoint's size, the root recomputed from the entries equals the signed root. All
   checkpoints being roots of prefixes of one recomputed log is what makes each consistent with
   the one before; the last two are also checked with a consistency proof from the stored tree,
   the same proofs the node serves;
5. checkpoints exported earlier (``avrr audit export-checkpoints``) are held to the same test,
   so a rewrite after an export is caught even if the node's key signed the rewrite;
6. no checkpoint is larger than the log (a larger one means entries were cut off the end).

An attacker who rewrites entries and the stored tree consistently is still caught by step 4 or
5; the report then names the range between the last checkpoint that holds and the first that
does not.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from crypto.merkle import Frontier, consistency_proof
from gateway.records.accesslog.models import AccessEventRow, CheckpointRow, LogNodeRow, LogStateRow
from gateway.records.accesslog.tree import LEAF_COLUMNS, STATE_ID, row_leaf, stored_subtree_root
from partners.auditlog import BadCheckpoint, extends, verify_checkpoint
from partners.directory import FederationView
from schemas.audit import AuditProblem, AuditReport, Checkpoint
from schemas.envelope import SignedDocument

CHUNK = 10_000
MAX_PROBLEMS = 50


@dataclass
class _Target:
    checkpoint: Checkpoint
    label: str


@dataclass
class _Findings:
    problems: list[AuditProblem] = field(default_factory=list)

    def add(self, kind: str, index: int | None, detail: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(AuditProblem(kind=kind, index=index, detail=detail))


def _placed(session: Session) -> Iterator[tuple[int, bytes, bytes | None]]:
    """Every placed entry in log order: its place, its leaf rehashed from its fields, and the
    leaf hash the tree stored for that place. In chunks, as plain rows (no ORM objects)."""
    after = -1
    while True:
        rows = session.execute(
            select(AccessEventRow.leaf_index, LogNodeRow.hash, *LEAF_COLUMNS)
            .outerjoin(
                LogNodeRow,
                and_(LogNodeRow.level == 0, LogNodeRow.index == AccessEventRow.leaf_index),
            )
            .where(AccessEventRow.leaf_index > after)
            .order_by(AccessEventRow.leaf_index)
            .limit(CHUNK)
        ).all()
        if not rows:
            return
        for index, stored, *fields in rows:
            after = after if index is None else index  # never None: the filter excludes it
            yield after, row_leaf(fields), stored


def _signed_targets(
    session: Session,
    view: FederationView,
    node_id: str,
    exported: Sequence[SignedDocument],
    findings: _Findings,
) -> list[_Target]:
    targets = []
    for row in session.scalars(select(CheckpointRow).order_by(CheckpointRow.size)).all():
        label = f"checkpoint of size {row.size} signed at {row.at.isoformat()}"
        try:
            checkpoint = verify_checkpoint(
                SignedDocument.model_validate(row.document), view, node_id
            )
        except (BadCheckpoint, ValidationError):
            findings.add("bad_checkpoint_signature", None, f"the {label} does not verify")
            continue
        if (checkpoint.size, checkpoint.root) != (row.size, row.root):
            findings.add("checkpoint_altered", None, f"the {label} differs from what was signed")
        targets.append(_Target(checkpoint, label))
    for doc in exported:
        try:
            checkpoint = verify_checkpoint(doc, view, node_id)
        except BadCheckpoint:
            findings.add("bad_checkpoint_signature", None, "an exported checkpoint does not verify")
            continue
        if any(
            (t.checkpoint.size, t.checkpoint.root) == (checkpoint.size, checkpoint.root)
            for t in targets
        ):
            continue  # the same statement as one already held to the log
        label = (
            f"exported checkpoint of size {checkpoint.size} signed at {checkpoint.at.isoformat()}"
        )
        targets.append(_Target(checkpoint, label))
    return sorted(targets, key=lambda t: t.checkpoint.size)


def _check_entry(
    index: int, expected: int, leaf: bytes, stored: bytes | None, findings: _Findings
) -> None:
    """An entry in its place, placed in the tree, and the very entry placed there."""
    if index != expected:
        findings.add(
            "missing_entry",
            expected,
            f"entries #{expected} to #{index - 1} are missing from the log",
        )
    if stored is None:
        findings.add("entry_not_in_tree", index, f"entry #{index} was never placed in the tree")
    elif stored != leaf:
        findings.add(
            "entry_altered",
            index,
            f"entry #{index} is not the entry placed there: edited, inserted or moved",
        )


def verify_log(
    session: Session,
    *,
    node_id: str,
    view: FederationView,
    now: datetime,
    exported: Sequence[SignedDocument] = (),
) -> AuditReport:
    findings = _Findings()
    targets = _signed_targets(session, view, node_id, exported, findings)
    pending = list(targets)
    sizes = {t.checkpoint.size for t in targets}
    frontier = Frontier()
    last_good = 0
    expected = 0
    for index, leaf, stored in _placed(session):
        _check_entry(index, expected, leaf, stored, findings)
        frontier = frontier.append(leaf)
        expected = index + 1
        held = True
        while pending and pending[0].checkpoint.size == frontier.size:
            target = pending.pop(0)
            if frontier.root().hex() != target.checkpoint.root:
                held = False
                findings.add(
                    "checkpoint_mismatch",
                    last_good,
                    f"the log no longer matches the {target.label}: an entry from #{last_good} "
                    f"to #{target.checkpoint.size - 1} was changed, removed, added or moved",
                )
        if held and frontier.size in sizes:
            last_good = frontier.size
    for target in pending:
        findings.add(
            "truncated",
            frontier.size,
            f"the {target.label} covers {target.checkpoint.size} entries but the log has "
            f"{frontier.size}: entries from #{frontier.size} on were removed",
        )
    _check_counts(session, frontier.size, findings)
    _check_latest_consistency(session, targets, findings)
    unsequenced = session.scalar(
        select(func.count()).select_from(AccessEventRow).where(AccessEventRow.leaf_index.is_(None))
    )
    return AuditReport(
        entries=frontier.size,
        unsequenced=int(unsequenced or 0),
        checkpoints=len(targets),
        checked_at=now,
        problems=findings.problems,
    )


def _check_counts(session: Session, entries: int, findings: _Findings) -> None:
    """Entries placed but not yet checkpointed must not vanish from the end either."""
    state = session.get(LogStateRow, STATE_ID)
    leaves = session.scalar(
        select(func.count()).select_from(LogNodeRow).where(LogNodeRow.level == 0)
    )
    placed = max(state.size if state else 0, int(leaves or 0))
    already = {p.kind for p in findings.problems}
    if placed > entries and not already & {"truncated", "missing_entry"}:
        findings.add(
            "truncated",
            entries,
            f"{placed} entries were placed in the log but {entries} are stored: entries from "
            f"#{entries} on were removed",
        )


def _check_latest_consistency(
    session: Session, targets: list[_Target], findings: _Findings
) -> None:
    """The proof the node would serve between its last two checkpoints must hold."""
    if len(targets) < 2:
        return
    old, new = targets[-2].checkpoint, targets[-1].checkpoint
    try:
        proof = consistency_proof(old.size, new.size, stored_subtree_root(session))
    except LookupError:
        findings.add("tree_incomplete", None, "the stored tree cannot prove consistency")
        return
    if not extends(old, new, [p.hex() for p in proof]):
        findings.add(
            "inconsistent_checkpoints",
            old.size,
            f"the checkpoint of size {new.size} does not extend the one of size {old.size}",
        )
