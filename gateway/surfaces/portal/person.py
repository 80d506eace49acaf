"""What the person sees of their own data: assembled for one case, and nothing else.

Every function here takes the case the signed-in card belongs to; nothing takes an id from the
request, so one person's card can never reach another person's data. Each act is logged with
the person as actor (``person:<card reference>``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from gateway.exchange.referrals import repository as referrals
from gateway.exchange.referrals.sent import sent_content
from gateway.kit.node import Node
from gateway.records.accesslog.history import subject_history
from gateway.records.accesslog.writer import Action, Actor, record
from gateway.records.cases.models import CaseRow
from gateway.records.cases.service import person
from gateway.records.consents.service import consents_of_case
from gateway.records.person_access import correction_requests
from partners.errors import UnknownNode
from schemas.audit import PersonExport, SharedPacket
from schemas.common import ReferralStatus


def shared(session: Session, node: Node, case: CaseRow) -> list[SharedPacket]:
    view = node.directory()
    packets = []
    for row in referrals.of_case(session, case.id):
        try:
            target = view.node(row.recipient)
            organisation, country = target.organisation, target.country
        except UnknownNode:
            organisation, country = row.recipient, "??"
        packets.append(
            SharedPacket(
                packet_id=row.packet_id,
                recipient=row.recipient,
                recipient_organisation=organisation,
                recipient_country=country,
                purpose=row.purpose,
                sent_at=row.created_at,
                status=row.status,
                sections_sent=sorted(
                    {*row.sent_sections, *row.withdrawn_sections, *row.expired_sections}
                ),
                withdrawn_sections=sorted(row.withdrawn_sections),
                expired_sections=sorted(row.expired_sections),
                delete_by=row.delete_by,
                content=sent_content(node, row),
            )
        )
    return packets


def holders(session: Session, case: CaseRow, consent_id: str) -> dict[str, list[str]]:
    """Who holds data sent under a consent, and who was about to get some: node ids of the
    recipients of its delivered referrals (``holding``), and of those not yet sent
    (``waiting``)."""
    found: dict[str, set[str]] = {"holding": set(), "waiting": set()}
    for row in referrals.of_case(session, case.id):
        if consent_id not in row.consent_ids:
            continue
        if row.status == ReferralStatus.DELIVERED:
            found["holding"].add(row.recipient)
        elif row.status in {ReferralStatus.QUEUED, ReferralStatus.AWAITING_APPROVAL}:
            found["waiting"].add(row.recipient)
    return {key: sorted(value) for key, value in found.items()}


def export(
    session: Session, node: Node, case: CaseRow, actor: Actor, now: datetime
) -> PersonExport:
    """Everything held about the person here, machine-readable; the export itself is logged."""
    record(
        session,
        at=now,
        actor=actor,
        action=Action.EXPORTED,
        subject=case.id,
        outcome="person_export",
    )
    session.flush()
    view = node.directory()
    return PersonExport(
        node=node.node_id,
        organisation=view.node(node.node_id).organisation,
        exported_at=now,
        case_reference=case.id,
        details=person(node, case).model_dump(mode="json"),
        shared=shared(session, node, case),
        consents=[c.model_dump(mode="json") for c in consents_of_case(session, case.id)],
        corrections=correction_requests.of_case(session, node, case),
        history=subject_history(session, case.id),
    )
