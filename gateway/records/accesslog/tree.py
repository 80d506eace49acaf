"""Placing access-log entries in the Merkle log, signing checkpoints, and serving proofs.

One writer at a time (``sequence``): it takes entries not yet placed, in write order, gives each
the next leaf index, stores the leaf hash and every perfect subtree the entry completes
(``log_nodes``), and keeps the compact range in ``log_state``. A concurrent second writer fails
on the unique leaf index or the state row and rolls back; its entries wait for the next run.

``checkpoint`` signs (size, root, time) with the node's key whenever the log has grown since the
last checkpoint; the worker does both every ``CHECKPOINT_INTERVAL`` seconds, well within the minute.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from crypto.encoding import b64decode
from crypto.merkle import (
    EMPTY_ROOT,
    Frontier,
    SubtreeRoot,
    consistency_proof,
    fold,
    inclusion_proof,
    leaf_hash,
    perfect_subtrees,
    verify_consistency,
)
from gateway.kit.home import NodeHome, write_public
from gateway.kit.node import Node
from gateway.kit.periodic import run_periodically
from gateway.records.accesslog.models import AccessEventRow, CheckpointRow, LogNodeRow, LogStateRow
from partners.auditlog import entry_time, fields_bytes, sign_checkpoint
from schemas.audit import Checkpoint, LogEntry
from schemas.envelope import SignedDocument

log = logging.getLogger("avrr.accesslog")

STATE_ID = 1
#: Seconds between runs of the sequencer and checkpointer in ``avrr worker``.
CHECKPOINT_INTERVAL = 20.0
SEQUENCE_BATCH = 5_000


def log_entry(row: AccessEventRow) -> LogEntry:
    """The entry as hashed and shown; ``index`` is None until the sequencer has placed it."""
    return LogEntry(
        index=row.leaf_index,
        at=entry_time(row.at),
        actor=row.actor,
        actor_org=row.actor_org,
        actor_role=row.actor_role,
        action=row.action,
        subject=row.subject,
        packet_id=row.packet_id,
        sections=sorted(row.sections),
        purpose=row.purpose,
        outcome=row.outcome,
    )


#: The columns an entry's leaf is computed from, in ``partners.auditlog.fields_bytes`` order.
LEAF_COLUMNS = (
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


def row_leaf(fields: Sequence[Any]) -> bytes:
    """The leaf hash of an entry from its ``LEAF_COLUMNS`` values (no ORM object, no model)."""
    at, *rest = fields
    return leaf_hash(fields_bytes(entry_time(at), *rest))


@dataclass
class AuditRun:
    sequenced: int = 0
    checkpoint: int | None = None

    def __bool__(self) -> bool:
        return bool(self.sequenced or self.checkpoint is not None)

    def __str__(self) -> str:
        signed = f"; signed a checkpoint at size {self.checkpoint}" if self.checkpoint else ""
        return f"placed {self.sequenced} entries in the log{signed}"


def _state(session: Session) -> LogStateRow:
    state = session.scalars(
        select(LogStateRow).where(LogStateRow.id == STATE_ID).with_for_update()
    ).first()
    if state is None:
        state = LogStateRow(id=STATE_ID, size=0, frontier=Frontier().to_bytes())
        session.add(state)
        session.flush()
    return state


def sequence_batch(session: Session, limit: int = SEQUENCE_BATCH) -> int:
    """Place up to ``limit`` waiting entries, in the caller's transaction; how many were placed."""
    state = _state(session)
    rows = session.execute(
        select(AccessEventRow.seq, *LEAF_COLUMNS)
        .where(AccessEventRow.leaf_index.is_(None))
        .order_by(AccessEventRow.seq)
        .limit(limit)
    ).all()
    if not rows:
        return 0
    frontier = Frontier.from_bytes(state.frontier)
    if frontier.size != state.size:
        raise RuntimeError("the log state row is inconsistent; run `avrr audit verify`")
    nodes: list[dict[str, object]] = []
    placed: list[dict[str, object]] = []
    for seq, *fields in rows:
        placed.append({"seq": seq, "leaf_index": frontier.size})
        frontier, completed = frontier.append_nodes(row_leaf(fields))
        nodes.extend({"level": lv, "index": ix, "hash": h} for lv, ix, h in completed)
    session.execute(update(AccessEventRow), placed)
    session.execute(insert(LogNodeRow), nodes)
    state.size, state.frontier = frontier.size, frontier.to_bytes()
    return len(rows)


def latest_checkpoint(session: Session) -> CheckpointRow | None:
    return session.scalars(
        select(CheckpointRow).order_by(CheckpointRow.size.desc()).limit(1)
    ).first()


def _stored_nodes(
    session: Session, blocks: Iterable[tuple[int, int]]
) -> dict[tuple[int, int], bytes]:
    """The stored hashes of these perfect subtrees, read in chunks.

    Each chunk asks ``level = l AND index IN (...)`` per level, OR-ed: both databases look that up
    in the primary key. (A row-value ``(level, index) IN (...)`` made SQLite scan the whole
    table, so a person's history slowed down as the log grew: ``bench/scale.py`` found it.)
    """
    wanted = sorted(set(blocks))
    found: dict[tuple[int, int], bytes] = {}
    for start in range(0, len(wanted), 500):
        by_level: dict[int, list[int]] = {}
        for level, index in wanted[start : start + 500]:
            by_level.setdefault(level, []).append(index)
        rows = session.execute(
            select(LogNodeRow.level, LogNodeRow.index, LogNodeRow.hash).where(
                or_(
                    *(
                        and_(LogNodeRow.level == level, LogNodeRow.index.in_(indices))
                        for level, indices in by_level.items()
                    )
                )
            )
        ).all()
        found.update({(level, index): value for level, index, value in rows})
    return found


def _fold(found: dict[tuple[int, int], bytes], start: int, end: int) -> bytes:
    try:
        return fold([found[block] for block in perfect_subtrees(start, end)])
    except (KeyError, IndexError) as exc:
        raise LookupError(f"the stored tree lacks entries [{start}, {end})") from exc


def stored_subtree_root(session: Session) -> SubtreeRoot:
    """Subtree roots for one proof, from the stored perfect subtrees (``O(log n)`` rows each)."""

    def subtree_root(start: int, end: int) -> bytes:
        return _fold(_stored_nodes(session, perfect_subtrees(start, end)), start, end)

    return subtree_root


def preloaded_subtree_root(session: Session, indices: Iterable[int], size: int) -> SubtreeRoot:
    """Subtree roots for the inclusion proofs of ``indices`` in a log of ``size``, read from the
    stored tree in a few queries up front instead of a few per proof step."""
    needed: set[tuple[int, int]] = set()

    def record_blocks(start: int, end: int) -> bytes:
        needed.update(perfect_subtrees(start, end))
        return EMPTY_ROOT

    for index in indices:
        inclusion_proof(index, size, record_blocks)
    found = _stored_nodes(session, needed)
    return lambda start, end: _fold(found, start, end)


class AccessLogTree:
    """The access log of one node as a Merkle tree: places entries and signs checkpoints."""

    def __init__(self, *, node: Node, sessions: sessionmaker[Session]) -> None:
        self._node = node
        self._sessions = sessions

    def sequence(self) -> int:
        total = 0
        while True:
            try:
                with self._sessions.begin() as session:
                    placed = sequence_batch(session)
            except IntegrityError:
                log.warning("another sequencer placed entries at the same time; retrying later")
                return total
            total += placed
            if placed < SEQUENCE_BATCH:
                return total

    def checkpoint(self, now: datetime | None = None) -> CheckpointRow | None:
        """Sign the log's current size and root, if it grew since the last checkpoint.

        The newest checkpoint is also written to a file in the node's home (the witness), outside
        the database: a log rewritten in the database alone, with its latest checkpoints
        removed, is then refused here instead of being signed again, and ``verify`` holds the
        log to the witness as to any exported checkpoint.
        """
        now = now or self._node.clock.now()
        try:
            row = self._sign(now)
        except IntegrityError:
            log.warning("another worker signed a checkpoint of the same size; skipping")
            return None
        if row is not None:
            self._node.home.checkpoint_witness.parent.mkdir(parents=True, exist_ok=True)
            write_public(
                self._node.home.checkpoint_witness,
                json.dumps(row.document, sort_keys=True).encode("utf-8"),
            )
        return row

    def _sign(self, now: datetime) -> CheckpointRow | None:
        with self._sessions.begin() as session:
            state = session.get(LogStateRow, STATE_ID)
            size = state.size if state else 0
            last = session.scalar(select(func.max(CheckpointRow.size)))
            if size == 0 or (last is not None and last >= size):
                return None
            witness = read_witness(self._node.home)
            frontier = Frontier.from_bytes(state.frontier) if state else Frontier()
            if witness is not None:
                _extends_witness(session, witness, frontier)
            root = frontier.root() if size else EMPTY_ROOT
            signed = Checkpoint(
                node=self._node.node_id, size=size, root=root.hex(), at=now.replace(microsecond=0)
            )
            document = sign_checkpoint(signed, self._node.signing_key(now))
            row = CheckpointRow(
                size=size, root=signed.root, at=signed.at, document=document.model_dump()
            )
            session.add(row)
        return row

    def run_once(self) -> AuditRun:
        run = AuditRun(sequenced=self.sequence())
        try:
            row = self.checkpoint()
        except LogRewritten as alarm:
            log.error("no checkpoint signed: %s", alarm)
            return run
        run.checkpoint = row.size if row else None
        return run

    def run_forever(self, *, interval: float, stop: threading.Event) -> None:
        run_periodically(self.run_once, interval=interval, stop=stop, log=log, name="access log")


class LogRewritten(RuntimeError):
    """The log no longer extends the checkpoint in the witness file: nothing more is signed."""


def _extends_witness(session: Session, witness: Checkpoint, frontier: Frontier) -> None:
    """Refuse to sign unless the log, as stored now, still extends the witnessed checkpoint."""
    stored = session.get(CheckpointRow, witness.size)
    if stored is None or stored.root != witness.root or frontier.size < witness.size:
        raise LogRewritten(
            f"the database no longer holds the checkpoint of size {witness.size} that the "
            "witness file holds; run `avrr audit verify`"
        )
    if frontier.size == witness.size:
        consistent = frontier.root().hex() == witness.root
    else:
        try:
            proof = consistency_proof(witness.size, frontier.size, stored_subtree_root(session))
        except LookupError:
            proof = []
        consistent = verify_consistency(
            witness.size,
            frontier.size,
            bytes.fromhex(witness.root),
            frontier.root(),
            proof,
        )
    if not consistent:
        raise LogRewritten(
            f"the log does not extend the witnessed checkpoint of size {witness.size}; "
            "run `avrr audit verify`"
        )


def read_witness(home: NodeHome) -> Checkpoint | None:
    """The checkpoint in the witness file, as signed (its signature is checked by verify)."""
    document = witness_document(home)
    if document is None:
        return None
    return Checkpoint.model_validate_json(b64decode(document.payload))


def witness_document(home: NodeHome) -> SignedDocument | None:
    try:
        data = home.checkpoint_witness.read_bytes()
    except FileNotFoundError:
        return None
    return SignedDocument.model_validate_json(data)


def checkpoint_document(row: CheckpointRow) -> SignedDocument:
    return SignedDocument.model_validate(row.document)
