"""Every query on deletion requests (revocations) and every change to them, and what their
verified answers prove.

A packet counts as proven deleted on a recipient once verified deletion receipts cover every
section sent in it; a packet a recipient names as held (a legal hold there) is not deleted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from gateway.exchange.revocations.models import RevocationRow
from schemas.common import RevocationStatus
from schemas.consent import DeletionReceipt, RevocationContent, RevocationReason, RevokedPacket

#: Answered by a verified deletion receipt (``held`` packets in it are not deleted).
ANSWERED = (RevocationStatus.CONFIRMED, RevocationStatus.HELD)
#: Not (fully) confirmed: a DPO follows these up.
UNCONFIRMED = (RevocationStatus.PENDING, RevocationStatus.UNDELIVERABLE, RevocationStatus.HELD)
_CHUNK = 500

LoggedFor = Callable[[InstrumentedAttribute[str]], ColumnElement[bool]]


class DeletionRequest(NamedTuple):
    """What a deletion request and its answer say, without the signed receipt itself."""

    status: str
    held: list[str]
    packets: list[dict[str, Any]]


# -- reads ------------------------------------------------------------------------------------------


def by_id(session: Session, revocation_id: str) -> RevocationRow | None:
    return session.get(RevocationRow, revocation_id)


def content_of(session: Session, revocation_id: str) -> RevocationContent | None:
    """What a revocation asked for, to check the recipient's deletion receipt against."""
    row = session.get(RevocationRow, revocation_id)
    if row is None:
        return None
    return RevocationContent(
        reason=RevocationReason(row.reason),
        withdrawal_id=row.withdrawal_id,
        packets=[RevokedPacket.model_validate(p) for p in row.packets],
    )


def of_withdrawal(session: Session, withdrawal_id: str) -> Sequence[RevocationRow]:
    return session.scalars(
        select(RevocationRow)
        .where(RevocationRow.withdrawal_id == withdrawal_id)
        .order_by(RevocationRow.recipient)
    ).all()


def unconfirmed_of_withdrawals(session: Session, limit: int) -> Sequence[Any]:
    """Withdrawal id, recipient and status of every withdrawal's request not yet confirmed."""
    return session.execute(
        select(RevocationRow.withdrawal_id, RevocationRow.recipient, RevocationRow.status)
        .where(RevocationRow.withdrawal_id.is_not(None), RevocationRow.status.in_(UNCONFIRMED))
        .order_by(RevocationRow.requested_at, RevocationRow.withdrawal_id, RevocationRow.recipient)
        .limit(limit)
    ).all()


def requests_naming(session: Session, case_ids: Iterable[str]) -> dict[str, list[DeletionRequest]]:
    """Packet id -> every deletion request that named it, oldest first."""
    ids = sorted(set(case_ids))
    naming: dict[str, list[DeletionRequest]] = defaultdict(list)
    for start in range(0, len(ids), _CHUNK):
        rows = session.execute(
            select(RevocationRow.status, RevocationRow.held, RevocationRow.packets)
            .where(RevocationRow.case_id.in_(ids[start : start + _CHUNK]))
            .order_by(RevocationRow.requested_at, RevocationRow.id)
        ).all()
        for status, held, packets in rows:
            request = DeletionRequest(status, list(held), list(packets))
            for packet in request.packets:
                naming[packet["packet_id"]].append(request)
    return naming


def unproven(
    packet_id: str, sections: Iterable[str], requests: Sequence[DeletionRequest]
) -> list[str]:
    """The sections no verified deletion receipt covers (``held`` packets are not deleted)."""
    proven = {
        section
        for request in requests
        if request.status in ANSWERED and packet_id not in request.held
        for packet in request.packets
        if packet["packet_id"] == packet_id
        for section in packet["sections"]
    }
    return sorted(set(sections) - proven)


def answered_without_entry(session: Session, logged: LoggedFor, limit: int) -> Sequence[str]:
    """Ids of answered requests for which ``logged`` finds no access-log entry (reconciliation)."""
    return session.scalars(
        select(RevocationRow.id)
        .where(RevocationRow.status.in_(ANSWERED), ~logged(RevocationRow.id))
        .limit(limit)
    ).all()


# -- changes -------------------------------------------------------------------------------------


def add(
    session: Session,
    *,
    revocation_id: str,
    case_id: str,
    content: RevocationContent,
    recipient: str,
    status: RevocationStatus,
    now: datetime,
) -> RevocationRow:
    row = RevocationRow(
        id=revocation_id,
        case_id=case_id,
        reason=content.reason.value,
        withdrawal_id=content.withdrawal_id,
        requested_at=now,
        recipient=recipient,
        packets=[p.model_dump(mode="json") for p in content.packets],
        status=status,
        held=[],
        confirmed_at=None,
        deletion_receipt=None,
    )
    session.add(row)
    return row


def answered(
    row: RevocationRow, deletion: DeletionReceipt, document: dict[str, Any], now: datetime
) -> None:
    """The recipient's verified deletion receipt: confirmed, or held for what a hold keeps."""
    row.status = RevocationStatus.HELD if deletion.held else RevocationStatus.CONFIRMED
    row.held = list(deletion.held)
    row.confirmed_at = now
    row.deletion_receipt = document


def undeliverable(session: Session, revocation_id: str) -> None:
    row = session.get(RevocationRow, revocation_id)
    if row is not None:
        row.status = RevocationStatus.UNDELIVERABLE


def packets_named(row: RevocationRow) -> list[str]:
    return [p["packet_id"] for p in row.packets]


def sections_named(row: RevocationRow) -> list[str]:
    return sorted({s for p in row.packets for s in p["sections"]})


def in_cases(session: Session, case_ids: Collection[str]) -> Sequence[RevocationRow]:
    return session.scalars(select(RevocationRow).where(RevocationRow.case_id.in_(case_ids))).all()
