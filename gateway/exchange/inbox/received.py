"""What partner officers see of the referrals their node received: a list, and one opened.

Partner officers only; a referral of which nothing is left answers 410 and the attempt is
logged; every opening is logged here and reported to the sender in an access notice, so the
person's history on the sender covers it.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime

from sqlalchemy.orm import Session

from crypto.storage import StoredDataUnreadable, open_at_rest
from gateway.exchange.inbox import repository as inbox
from gateway.exchange.inbox.models import ReceivedPacketRow
from gateway.exchange.kinds.access_notice import queue_notices
from gateway.exchange.kinds.referral import section_context
from gateway.kit.auth import Principal
from gateway.kit.errors import Gone, NotFound
from gateway.kit.node import Node
from gateway.records.accesslog.writer import Action, Actor, deny, record, tombstone
from partners.directory import FederationView
from partners.errors import UnknownNode
from schemas.api import ReceivedReferralRead, ReceivedReferralSummary
from schemas.audit import NoticedAccess
from schemas.common import ReceivedStatus, SectionName, StaffRole

log = logging.getLogger("avrr.inbox")


def _organisation(view: FederationView, node_id: str) -> str:
    try:
        return view.node(node_id).organisation
    except UnknownNode:
        return "(no longer in the directory)"


def _summary(row: ReceivedPacketRow, view: FederationView) -> ReceivedReferralSummary:
    return ReceivedReferralSummary(
        packet_id=row.packet_id,
        sender=row.sender,
        sender_organisation=_organisation(view, row.sender),
        purpose=row.purpose,
        subject=row.subject,
        sections=[s for s in row.sections if s not in row.withdrawn_sections],
        withdrawn_sections=row.withdrawn_sections,
        status=row.status,
        received_at=row.received_at,
        delete_by=row.delete_by,
    )


def list_received(
    session: Session, node: Node, principal: Principal, *, limit: int = 200, offset: int = 0
) -> list[ReceivedReferralSummary]:
    principal.require(StaffRole.PARTNER_OFFICER)
    view = node.directory()
    return [_summary(row, view) for row in inbox.newest_referrals(session, limit, offset)]


#: Why nothing is left of a referral, in the access log and in words for the officer.
_GONE = {
    ReceivedStatus.WITHDRAWN: (
        "consent_withdrawn",
        "consent for this referral was withdrawn; its content has been deleted",
    ),
    ReceivedStatus.EXPIRED: (
        "past_delete_by",
        "this referral has passed its deletion date and is no longer available",
    ),
    ReceivedStatus.DECLINED: (
        "declined",
        "this node declined this referral and deleted what it held of it",
    ),
}


def held_referral(
    session: Session, actor: Actor, packet_id: str, now: datetime
) -> ReceivedPacketRow:
    """A referral this node received and still holds something of; NotFound or Gone otherwise,
    each refusal logged."""
    row = inbox.by_id(session, packet_id)
    if row is None and tombstone(session, packet_id) is not None:
        # Deleted long enough ago that even its header facts are gone; the log remembers.
        deny(session, at=now, actor=actor, outcome="deleted", packet_id=packet_id)
        raise Gone("this referral has been deleted and is no longer available")
    row = inbox.referral(session, packet_id) if row is not None else None
    if row is None:
        deny(session, at=now, actor=actor, outcome="no_such_packet", packet_id=packet_id)
        raise NotFound("referral")
    status = ReceivedStatus(row.status)
    if status not in _GONE and row.delete_by <= now:
        status = ReceivedStatus.EXPIRED
    if status in _GONE:
        outcome, words = _GONE[status]
        deny(
            session,
            at=now,
            actor=actor,
            outcome=outcome,
            subject=row.subject,
            packet_id=row.packet_id,
        )
        raise Gone(words)
    return row


def open_received(
    session: Session, node: Node, principal: Principal, packet_id: str, now: datetime
) -> ReceivedReferralRead:
    principal.require(StaffRole.PARTNER_OFFICER)
    actor = Actor.of(principal)
    row = held_referral(session, actor, packet_id, now)
    content = _open_sections(session, node, row, now)
    inbox.opened(row)
    record(
        session,
        at=now,
        actor=actor,
        action=Action.OPENED,
        subject=row.subject,
        packet_id=row.packet_id,
        sections=sorted(content),
        purpose=row.purpose,
    )
    opened = NoticedAccess(
        packet_id=row.packet_id,
        action="opened",
        at=now,
        actor_role=principal.role.value,
        sections=[SectionName(s) for s in sorted(content)],
    )
    queue_notices(session, node, [(row, opened)], now)
    summary = _summary(row, node.directory())
    return ReceivedReferralRead(**summary.model_dump(), content=content)


def _open_sections(
    session: Session, node: Node, row: ReceivedPacketRow, now: datetime
) -> dict[str, object]:
    """The sections still held and not past their own delete-by date (a section past it is
    never shown, even before the purge has deleted it)."""
    try:
        key = node.keys.existing_key(row.subject)
    except StoredDataUnreadable as exc:
        log.error("the data key of a subject does not unwrap (packet %s)", row.packet_id)
        raise Gone("this referral's stored content cannot be read") from exc
    if key is None:
        raise Gone("this person's data has been erased on this node")
    sections = inbox.sections_of(session, row.packet_id)
    try:
        return {
            s.section: json.loads(
                open_at_rest(key, s.sealed, context=section_context(row.packet_id, s.section))
            )
            for s in sections
            if s.delete_by > now
        }
    except StoredDataUnreadable as exc:
        log.error("stored section of packet %s does not open", row.packet_id)
        raise Gone("this referral's stored content cannot be read") from exc
