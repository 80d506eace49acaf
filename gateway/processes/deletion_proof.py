"""Proof of deletion on recipients: ask for signed deletion receipts, list what is unproven.

A recipient enforces each section's date by itself; proof is how the sender's DPO checks it.
``request_proof`` sends a revocation with reason ``retention_ended`` for packets past their date
(the recipient deletes whatever is left, unless its own legal hold keeps it, and signs a
deletion receipt); ``overdue`` lists delivered packets past their date that no verified deletion
receipt covers yet, whatever the reason the receipt was asked for (withdrawal or retention).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.exchange.kinds.revocation import send_revocation
from gateway.exchange.referrals import repository
from gateway.exchange.referrals.models import ReferralRow
from gateway.kit.auth import Principal
from gateway.kit.errors import Unprocessable
from gateway.kit.node import Node
from gateway.records.accesslog.writer import Actor
from gateway.records.consents.models import RevocationRow
from schemas.api import DeletionProofRead, OverdueDeletion
from schemas.common import StaffRole
from schemas.consent import RevocationReason

PROOF_BATCH = 500
#: A request answered by a verified deletion receipt (``held`` packets in it are not deleted).
_ANSWERED = ("confirmed", "held")


class DeletionRequest(NamedTuple):
    """What a deletion request and its answer say, without the signed receipt itself."""

    status: str
    held: list[str]
    packets: list[dict[str, Any]]


def requests_naming(session: Session, case_ids: Iterable[str]) -> dict[str, list[DeletionRequest]]:
    """Packet id -> every deletion request that named it, oldest first."""
    ids = sorted(set(case_ids))
    naming: dict[str, list[DeletionRequest]] = defaultdict(list)
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(RevocationRow.status, RevocationRow.held, RevocationRow.packets)
            .where(RevocationRow.case_id.in_(ids[start : start + 500]))
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
        if request.status in _ANSWERED and packet_id not in request.held
        for packet in request.packets
        if packet["packet_id"] == packet_id
        for section in packet["sections"]
    }
    return sorted(set(sections) - proven)


def _unproven(referral: ReferralRow, requests: Sequence[DeletionRequest]) -> list[str]:
    return unproven(referral.packet_id, referral.section_delete_by, requests)


def note_answer(session: Session, request: RevocationRow, now: datetime) -> None:
    """After a verified deletion receipt: mark the packets whose every section is now proven."""
    packet_ids = [p["packet_id"] for p in request.packets]
    # Two answers about one packet may be confirmed at once (the worker delivers in parallel).
    # Locking its referral row makes the second wait for the first to commit, and then see the
    # first's answer: otherwise neither would see both, and the packet would never count as
    # proven. (SQLite has one writer at a time and needs no lock.)
    referrals = session.scalars(
        select(ReferralRow)
        .where(ReferralRow.packet_id.in_(packet_ids), ReferralRow.deletion_proven_at.is_(None))
        .with_for_update()
    ).all()
    naming = requests_naming(session, {r.case_id for r in referrals})
    for referral in referrals:
        if not _unproven(referral, naming.get(referral.packet_id, [])):
            referral.deletion_proven_at = now


def _past_date(session: Session, now: datetime, limit: int) -> Sequence[ReferralRow]:
    """Delivered packets past their date whose deletion is not proven yet, oldest first."""
    return session.scalars(
        select(ReferralRow)
        .where(
            ReferralRow.status == repository.DELIVERED,
            ReferralRow.delete_by <= now,
            ReferralRow.deletion_proven_at.is_(None),
        )
        .order_by(ReferralRow.delete_by, ReferralRow.id)
        .limit(limit)
    ).all()


def overdue(session: Session, principal: Principal, now: datetime) -> list[OverdueDeletion]:
    """Delivered packets past their date without a verified deletion receipt for every section.

    At most ``PROOF_BATCH``, oldest first; proven packets leave the list for good.
    """
    principal.require(StaffRole.DPO)
    referrals = _past_date(session, now, PROOF_BATCH)
    naming = requests_naming(session, (r.case_id for r in referrals))
    report = []
    for referral in referrals:
        requests = naming.get(referral.packet_id, [])
        unproven = _unproven(referral, requests)
        if not unproven:
            continue
        last = requests[-1].status if requests else None
        report.append(
            OverdueDeletion(
                packet_id=referral.packet_id,
                case_id=referral.case_id,
                recipient=referral.recipient,
                purpose=referral.purpose,
                delete_by=referral.delete_by,
                unproven_sections=unproven,
                last_request=last if last in ("pending", "held", "undeliverable") else None,
            )
        )
    return report


def request_proof(
    session: Session,
    node: Node,
    principal: Principal,
    packet_ids: Sequence[str],
    now: datetime,
) -> list[DeletionProofRead]:
    """Ask each recipient to sign that the named packets (or all overdue ones) are deleted."""
    principal.require(StaffRole.DPO)
    if packet_ids:
        referrals = session.scalars(
            select(ReferralRow).where(ReferralRow.packet_id.in_(set(packet_ids)))
        ).all()
        found = {r.packet_id for r in referrals}
        if missing := sorted(set(packet_ids) - found):
            raise Unprocessable(f"no packet was sent from this node with id {missing[0]}")
        for referral in referrals:
            if referral.status != repository.DELIVERED:
                raise Unprocessable(
                    f"packet {referral.packet_id} was never delivered, so nothing is to be proven"
                )
            if referral.delete_by > now:
                raise Unprocessable(
                    f"packet {referral.packet_id} is not past its date yet; to delete earlier, "
                    "withdraw consent or erase the person"
                )
    else:
        referrals = _past_date(session, now, PROOF_BATCH)
    naming = requests_naming(session, (r.case_id for r in referrals))
    groups: dict[tuple[str, str, str], list[tuple[ReferralRow, Sequence[str]]]] = defaultdict(list)
    for referral in referrals:
        requests = naming.get(referral.packet_id, [])
        if requests and requests[-1].status == "pending":
            continue  # already asked; the answer is on its way
        unproven = _unproven(referral, requests)
        if unproven:
            groups[(referral.case_id, referral.recipient, referral.purpose)].append(
                (referral, unproven)
            )
    actor = Actor.of(principal)
    sent = [
        send_revocation(
            session,
            node,
            packets=packets,
            reason=RevocationReason.RETENTION_ENDED,
            withdrawal_id=None,
            actor=actor,
            now=now,
        )
        for packets in groups.values()
    ]
    return [proof_read(row) for row in sent]


def proof_read(row: RevocationRow) -> DeletionProofRead:
    return DeletionProofRead.model_validate(
        {
            "id": row.id,
            "recipient": row.recipient,
            "packets": [p["packet_id"] for p in row.packets],
            "sections": sorted({s for p in row.packets for s in p["sections"]}),
            "status": row.status,
            "requested_at": row.requested_at,
            "confirmed_at": row.confirmed_at,
        }
    )
