"""Registers a DPO keeps: the register of cross-border transfers (no content, no names), and the
review of a child's referral (the one place a DPO reads words about a person, each time logged)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from gateway.exchange.referrals import repository as referrals
from gateway.kit.at_rest import PersonErased, open_json
from gateway.kit.auth import Principal
from gateway.kit.errors import NotFound
from gateway.kit.node import Node
from gateway.records.accesslog.writer import Action, Actor, deny, record
from gateway.records.consents import repository as consents_repository
from gateway.records.consents.service import WEIGHING
from partners.errors import UnknownNode
from schemas.api import ChildViewRead, TransferRecord
from schemas.common import StaffRole


def transfers(session: Session, node: Node, principal: Principal) -> list[TransferRecord]:
    """Every referral sealed for another node: when, to whom, where, why, on what ground."""
    principal.require(StaffRole.DPO)
    view = node.directory()
    records = []
    for row in referrals.register(session):
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


def child_view(
    session: Session, node: Node, principal: Principal, referral_id: str, now: datetime
) -> list[ChildViewRead]:
    """The child's view and its weighing for one referral; the reading is logged for the child."""
    principal.require(StaffRole.DPO)
    actor = Actor.of(principal)
    referral = referrals.by_id(session, referral_id)
    consents = (
        consents_repository.child_consents_among(session, referral.consent_ids)
        if referral is not None
        else []
    )
    if referral is None or not consents:
        deny(session, at=now, actor=actor, outcome="no_child_referral")
        raise NotFound("child's referral")
    views = []
    for consent in consents:
        try:
            weighing = (
                open_json(
                    node.keys, referral.case_id, consent.child_view_weighing, context=WEIGHING
                )
                if consent.child_view_weighing is not None
                else None
            )
        except PersonErased:
            weighing = None
        views.append(
            ChildViewRead(
                referral_id=referral.id,
                consent_id=consent.id,
                child_view=str(consent.child_view),
                best_interests_reference=consent.best_interests_reference,
                weighing=weighing,
            )
        )
    record(
        session,
        at=now,
        actor=actor,
        action=Action.CHILD_VIEW_READ,
        subject=referral.case_id,
        packet_id=referral.packet_id,
        purpose=referral.purpose,
    )
    return views
