"""Staff sending a referral's follow-up: a partner officer's replies, plans, monitoring rounds
and notes to the referral's sender, and a caseworker's notes to the referral's recipient.

Each goes as its own signed, sealed envelope through the outbox (``exchange.kinds``), is kept
here sealed at rest, and lands in this node's access log; the other end logs it too.

Invariants:
- only about a referral this node still holds (a partner) or sent and had delivered (a host);
- nothing of a plan, a monitoring round or any free text goes to a government authority;
- survey answers are coded and scored here; only the scores travel, never the answers;
- a decline deletes what this node held of the referral: it will not be used.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from gateway.exchange.followup import repository as followup
from gateway.exchange.followup.models import FollowUpRow
from gateway.exchange.followup.scoring import InvalidAnswer, score
from gateway.exchange.inbox import repository as inbox
from gateway.exchange.inbox.models import ReceivedPacketRow
from gateway.exchange.inbox.received import held_referral
from gateway.exchange.outbox import repository as outbox
from gateway.exchange.outbox.queue import Message, queue_envelope
from gateway.exchange.referrals.service import own_referral
from gateway.kit.auth import Principal
from gateway.kit.errors import Gone, Unprocessable
from gateway.kit.node import Node
from gateway.records.accesslog.writer import Action, Actor, record
from partners.errors import UnknownNode
from schemas.common import PartnerRole, Purpose, ReferralStatus, StaffRole
from schemas.envelope import MessageKind
from schemas.followup import (
    FollowUpRead,
    MonitoringContent,
    MonitoringCreate,
    MonitoringRead,
    NoteContent,
    NoteCreate,
    PlanContent,
    PlanCreate,
    ReplyContent,
    ReplyCreate,
    ReplyKind,
)

#: Purposes under which a reintegration plan or a monitoring round can be written.
REINTEGRATION = (Purpose.REINTEGRATION_ASSISTANCE, Purpose.REINTEGRATION_MONITORING)


# -- a partner officer, about a referral received ------------------------------------------------


def reply(
    session: Session,
    node: Node,
    principal: Principal,
    packet_id: str,
    body: ReplyCreate,
    now: datetime,
) -> FollowUpRead:
    row = _held(session, principal, packet_id, now)
    if body.note or body.question:
        _never_to_authority(node, row.sender, "a note or a question")
    occurred = (body.occurred_at or now).replace(microsecond=0)
    if occurred > now + node.settings.clock_skew:
        raise Unprocessable("a reply reports what has happened, not what will")
    content = ReplyContent(
        **body.model_dump(exclude={"occurred_at"}), occurred_at=occurred, packet_id=row.packet_id
    )
    sent = _to_sender(
        session, node, principal, row, MessageKind.REPLY, content, body.kind.value, occurred, now
    )
    if body.kind is ReplyKind.DECLINED:
        _forget_declined(session, principal, row, now)
    return _read(node, sent, content.model_dump(mode="json"))


def plan(
    session: Session,
    node: Node,
    principal: Principal,
    packet_id: str,
    body: PlanCreate,
    now: datetime,
) -> FollowUpRead:
    row = _held(session, principal, packet_id, now)
    _for_reintegration(row, "a reintegration plan")
    _never_to_authority(node, row.sender, "a reintegration plan")
    version = followup.count(session, row.packet_id, MessageKind.REINTEGRATION_PLAN, followup.SENT)
    content = PlanContent(**body.model_dump(), packet_id=row.packet_id, version=version + 1)
    sent = _to_sender(
        session,
        node,
        principal,
        row,
        MessageKind.REINTEGRATION_PLAN,
        content,
        f"version {version + 1}",
        now,
        now,
    )
    return _read(node, sent, content.model_dump(mode="json"))


def monitor(
    session: Session,
    node: Node,
    principal: Principal,
    packet_id: str,
    body: MonitoringCreate,
    now: datetime,
) -> MonitoringRead:
    """Code and score one round; only the scores go to the sender, the answers stay here."""
    row = _held(session, principal, packet_id, now)
    _for_reintegration(row, "a monitoring round")
    _never_to_authority(node, row.sender, "a monitoring round")
    try:
        result = score(body.answers)
    except InvalidAnswer as exc:
        raise Unprocessable(str(exc)) from exc
    content = MonitoringContent(
        packet_id=row.packet_id,
        round_months=body.round_months,
        conducted_on=body.conducted_on,
        scoring_version=result.version,
        scores=result.scores,
        elements_scored=result.elements_scored,
    )
    sent = _to_sender(
        session,
        node,
        principal,
        row,
        MessageKind.MONITORING,
        content,
        f"month {body.round_months}",
        now,
        now,
        kept={"answers": body.answers},
        needs_more_assistance=result.needs_more_assistance,
    )
    return MonitoringRead(
        id=sent.id,
        round_months=body.round_months,
        scores=result.scores,
        elements_scored=result.elements_scored,
        scoring_version=result.version,
        needs_more_assistance=result.needs_more_assistance,
    )


def note_to_sender(
    session: Session,
    node: Node,
    principal: Principal,
    packet_id: str,
    body: NoteCreate,
    now: datetime,
) -> FollowUpRead:
    row = _held(session, principal, packet_id, now)
    _never_to_authority(node, row.sender, "a note")
    _about_this_referral(session, row.packet_id, body.about)
    content = NoteContent(**body.model_dump(), packet_id=row.packet_id)
    sent = _to_sender(session, node, principal, row, MessageKind.NOTE, content, None, now, now)
    return _read(node, sent, content.model_dump(mode="json"))


def of_received(
    session: Session, node: Node, principal: Principal, packet_id: str, now: datetime
) -> list[FollowUpRead]:
    """Everything this node and the sender said about a referral received (the reading logged)."""
    row = _held(session, principal, packet_id, now)
    record(
        session,
        at=now,
        actor=Actor.of(principal),
        action=Action.FOLLOW_UP_READ,
        subject=row.subject,
        packet_id=row.packet_id,
        purpose=row.purpose,
    )
    return reads(session, node, [row.packet_id])


def flagged(
    session: Session, node: Node, principal: Principal, now: datetime
) -> list[FollowUpRead]:
    """Monitoring rounds whose scores call for more assistance, newest first (logged per person)."""
    principal.require(StaffRole.PARTNER_OFFICER)
    rows = followup.flagged(session, 200)
    for row in rows:
        record(
            session,
            at=now,
            actor=Actor.of(principal),
            action=Action.FOLLOW_UP_READ,
            subject=row.subject_ref,
            packet_id=row.referral_packet_id,
            outcome="needs_more_assistance",
        )
    return [r for r in (_read_row(node, row) for row in rows) if r is not None]


# -- a caseworker, about a referral sent ---------------------------------------------------------


def note_to_recipient(
    session: Session,
    node: Node,
    principal: Principal,
    referral_id: str,
    body: NoteCreate,
    now: datetime,
) -> FollowUpRead:
    """An answer to the recipient's question, or a comment on its plan."""
    referral, case = own_referral(session, principal, referral_id, now)
    if referral.status != ReferralStatus.DELIVERED:
        raise Unprocessable("a note goes about a referral delivered to its recipient")
    _never_to_authority(node, referral.recipient, "a note")
    _about_this_referral(session, referral.packet_id, body.about)
    content = NoteContent(**body.model_dump(), packet_id=referral.packet_id)
    header = queue_envelope(
        session,
        node,
        Message(
            kind=MessageKind.NOTE,
            recipient=referral.recipient,
            purpose=Purpose(referral.purpose),
            case_id=case.id,
            consent_ref=referral.consent_ids[0],
            sections=[],
            content=content.model_dump(mode="json"),
            delete_by=now + node.settings.acceptance_window,
        ),
        now,
    )
    sent = _keep_sent(
        session,
        node,
        principal,
        message_id=header.packet_id,
        kind=MessageKind.NOTE,
        referral_packet_id=referral.packet_id,
        subject_ref=case.id,
        counterpart=referral.recipient,
        detail=None,
        occurred_at=now,
        stored=content.model_dump(mode="json"),
        delete_by=referral.delete_by,
        purpose=referral.purpose,
        now=now,
    )
    return _read(node, sent, content.model_dump(mode="json"))


# -- shared ----------------------------------------------------------------------------------------


def reads(session: Session, node: Node, packet_ids: list[str]) -> list[FollowUpRead]:
    """The follow-up of these referrals, opened, in the order things happened."""
    rows = followup.of_referrals(session, packet_ids)
    return [r for r in (_read_row(node, row) for row in rows) if r is not None]


def _held(
    session: Session, principal: Principal, packet_id: str, now: datetime
) -> ReceivedPacketRow:
    principal.require(StaffRole.PARTNER_OFFICER)
    return held_referral(session, Actor.of(principal), packet_id, now)


def _for_reintegration(row: ReceivedPacketRow, what: str) -> None:
    if Purpose(row.purpose) not in REINTEGRATION:
        raise Unprocessable(f"{what} follows a referral for reintegration assistance or monitoring")


def _never_to_authority(node: Node, recipient: str, what: str) -> None:
    try:
        roles = node.directory().node(recipient).roles
    except UnknownNode as exc:
        raise Unprocessable("the other end is no longer in the federation directory") from exc
    if PartnerRole.GOVERNMENT_AUTHORITY in roles:
        raise Unprocessable(f"{what} never goes to a government authority")


def _about_this_referral(session: Session, packet_id: str, about: str | None) -> None:
    if about is None:
        return
    if about not in {r.id for r in followup.of_referrals(session, [packet_id])}:
        raise Unprocessable("a note answers or comments on a message about the same referral")


def _to_sender(
    session: Session,
    node: Node,
    principal: Principal,
    row: ReceivedPacketRow,
    kind: MessageKind,
    content: BaseModel,
    detail: str | None,
    occurred_at: datetime,
    now: datetime,
    *,
    kept: dict[str, Any] | None = None,
    needs_more_assistance: bool = False,
) -> FollowUpRow:
    """Seal and queue a message to the referral's sender; keep it (and ``kept``) here."""
    sent = content.model_dump(mode="json")
    header = queue_envelope(
        session,
        node,
        Message(
            kind=kind,
            recipient=row.sender,
            purpose=Purpose(row.purpose),
            case_id=None,
            subject=row.subject,
            consent_ref=row.consent_ref,
            sections=[],
            content=sent,
            delete_by=now + node.settings.acceptance_window,
        ),
        now,
    )
    return _keep_sent(
        session,
        node,
        principal,
        message_id=header.packet_id,
        kind=kind,
        referral_packet_id=row.packet_id,
        subject_ref=row.subject,
        counterpart=row.sender,
        detail=detail,
        occurred_at=occurred_at,
        stored={**sent, **(kept or {})},
        delete_by=row.delete_by,
        purpose=row.purpose,
        now=now,
        needs_more_assistance=needs_more_assistance,
    )


def _keep_sent(
    session: Session,
    node: Node,
    principal: Principal,
    *,
    message_id: str,
    kind: MessageKind,
    referral_packet_id: str,
    subject_ref: str,
    counterpart: str,
    detail: str | None,
    occurred_at: datetime,
    stored: dict[str, Any],
    delete_by: datetime,
    purpose: str,
    now: datetime,
    needs_more_assistance: bool = False,
) -> FollowUpRow:
    row = followup.add(
        session,
        node,
        message_id=message_id,
        direction=followup.SENT,
        kind=kind,
        referral_packet_id=referral_packet_id,
        subject_ref=subject_ref,
        counterpart=counterpart,
        detail=detail,
        occurred_at=occurred_at,
        content=stored,
        envelope_sha256=outbox.digest_of(session, message_id),
        delete_by=delete_by,
        now=now,
        needs_more_assistance=needs_more_assistance,
    )
    if row is None:
        raise Gone("this person's data has been erased on this node")
    record(
        session,
        at=now,
        actor=Actor.of(principal),
        action=Action.FOLLOW_UP_SENT,
        subject=subject_ref,
        packet_id=referral_packet_id,
        purpose=purpose,
        outcome=kind.value if detail is None else f"{kind.value}: {detail}",
    )
    return row


def _forget_declined(
    session: Session, principal: Principal, row: ReceivedPacketRow, now: datetime
) -> None:
    """A declined referral will not be used here: what this node held of it goes now."""
    gone = inbox.declined(session, row)
    if gone:
        record(
            session,
            at=now,
            actor=Actor.of(principal),
            action=Action.DELETED,
            subject=row.subject,
            packet_id=row.packet_id,
            sections=gone,
            purpose=row.purpose,
            outcome="declined",
        )


def _read(node: Node, row: FollowUpRow, content: dict[str, Any]) -> FollowUpRead:
    return FollowUpRead(
        id=row.id,
        direction=row.direction,
        kind=row.kind,
        referral_packet_id=row.referral_packet_id,
        counterpart=row.counterpart,
        counterpart_organisation=_organisation(node, row.counterpart),
        detail=row.detail,
        occurred_at=row.occurred_at,
        recorded_at=row.recorded_at,
        content=content,
        envelope_sha256=row.envelope_sha256,
    )


def _read_row(node: Node, row: FollowUpRow) -> FollowUpRead | None:
    content = followup.opened(node, row)
    return None if content is None else _read(node, row, content)


def _organisation(node: Node, node_id: str) -> str:
    try:
        return node.directory().node(node_id).organisation
    except UnknownNode:
        return "(no longer in the directory)"
