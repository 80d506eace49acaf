"""Proof of deletion on recipients: ask for signed deletion receipts, list what is unproven.

A recipient enforces each section's date by itself; proof is how the sender's DPO checks it.
What a verified answer proves is ``exchange.revocations`` (the answer's own table).
``request_proof`` sends a revocation with reason ``retention_ended`` for packets past their date
(the recipient deletes whatever is left, unless its own legal hold keeps it, and signs a
deletion receipt); ``overdue`` lists delivered packets past their date that no verified deletion
receipt covers yet, whatever the reason the receipt was asked for (withdrawal or retention).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from gateway.exchange.kinds.revocation import send_revocation
from gateway.exchange.referrals import repository
from gateway.exchange.referrals.models import ReferralRow
from gateway.exchange.revocations import repository as revocations
from gateway.exchange.revocations.models import RevocationRow
from gateway.exchange.revocations.repository import (
    UNCONFIRMED,
    DeletionRequest,
    requests_naming,
    unproven,
)
from gateway.kit.auth import Principal
from gateway.kit.errors import Unprocessable
from gateway.kit.node import Node
from gateway.records.accesslog.writer import Actor
from schemas.api import DeletionProofRead, OverdueDeletion
from schemas.common import ReferralStatus, RevocationStatus, StaffRole
from schemas.consent import RevocationReason

PROOF_BATCH = 500


def _unproven(referral: ReferralRow, requests: Sequence[DeletionRequest]) -> list[str]:
    return unproven(referral.packet_id, referral.section_delete_by, requests)


def overdue(session: Session, principal: Principal, now: datetime) -> list[OverdueDeletion]:
    """Delivered packets past their date without a verified deletion receipt for every section.

    At most ``PROOF_BATCH``, oldest first; proven packets leave the list for good.
    """
    principal.require(StaffRole.DPO)
    referrals = repository.past_date_unproven(session, now, PROOF_BATCH)
    naming = requests_naming(session, (r.case_id for r in referrals))
    report = []
    for referral in referrals:
        requests = naming.get(referral.packet_id, [])
        still = _unproven(referral, requests)
        if not still:
            continue
        last = requests[-1].status if requests else None
        report.append(
            OverdueDeletion(
                packet_id=referral.packet_id,
                case_id=referral.case_id,
                recipient=referral.recipient,
                purpose=referral.purpose,
                delete_by=referral.delete_by,
                unproven_sections=still,
                last_request=last if last in UNCONFIRMED else None,
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
        referrals = repository.by_packet_ids(session, packet_ids)
        found = {r.packet_id for r in referrals}
        if missing := sorted(set(packet_ids) - found):
            raise Unprocessable(f"no packet was sent from this node with id {missing[0]}")
        for referral in referrals:
            if referral.status != ReferralStatus.DELIVERED:
                raise Unprocessable(
                    f"packet {referral.packet_id} was never delivered, so nothing is to be proven"
                )
            if referral.delete_by > now:
                raise Unprocessable(
                    f"packet {referral.packet_id} is not past its date yet; to delete earlier, "
                    "withdraw consent or erase the person"
                )
    else:
        referrals = repository.past_date_unproven(session, now, PROOF_BATCH)
    naming = requests_naming(session, (r.case_id for r in referrals))
    groups: dict[tuple[str, str, str], list[tuple[ReferralRow, Sequence[str]]]] = defaultdict(list)
    for referral in referrals:
        requests = naming.get(referral.packet_id, [])
        if requests and requests[-1].status == RevocationStatus.PENDING:
            continue  # already asked; the answer is on its way
        still = _unproven(referral, requests)
        if still:
            groups[(referral.case_id, referral.recipient, referral.purpose)].append(
                (referral, still)
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
            "packets": revocations.packets_named(row),
            "sections": revocations.sections_named(row),
            "status": row.status,
            "requested_at": row.requested_at,
            "confirmed_at": row.confirmed_at,
        }
    )
