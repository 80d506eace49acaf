"""Registers a DPO keeps: here, the register of cross-border transfers (no content, no names)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.auth import Principal
from gateway.node import Node
from gateway.referrals.models import ReferralRow
from partners.errors import UnknownNode
from schemas.api import TransferRecord
from schemas.common import StaffRole


def transfers(session: Session, node: Node, principal: Principal) -> list[TransferRecord]:
    """Every referral sealed for another node: when, to whom, where, why, on what ground."""
    principal.require(StaffRole.DPO)
    view = node.directory()
    rows = session.scalars(
        select(ReferralRow).order_by(ReferralRow.created_at, ReferralRow.id)
    ).all()
    records = []
    for row in rows:
        try:
            target = view.node(row.recipient)
            organisation, country = target.organisation, target.country
        except UnknownNode:
            organisation, country = "(no longer in the directory)", "??"
        records.append(
            TransferRecord(
                packet_id=row.packet_id,
                sent_at=row.created_at,
                recipient=row.recipient,
                recipient_organisation=organisation,
                destination_country=country,
                purpose=row.purpose,
                sections=sorted(
                    {*row.sent_sections, *row.withdrawn_sections, *row.expired_sections}
                ),
                transfer_ground=row.transfer_ground,
                status=row.status,
            )
        )
    return records
