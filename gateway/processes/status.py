"""Events in a person's return (arrived, assistance started, case closed) move retention dates.

On the host (the node that holds the case), ``record_case_event`` stores the event, recomputes
the delete-by date of each section it sent whose rule counts from that event, and queues a
signed ``status_update`` to each recipient with the new dates. A recipient's partner officer
reports an event with ``report_received_event``: it goes to the host, which records it the same
way and answers every recipient, the reporter included, with the new dates. A recipient caps
the dates it is given by the federation's rules (``apply_status_update``), as for a referral.

For an unaccompanied child (or a person of uncertain age), arrival is refused, from a caseworker
or a partner, until the handover to the named custodian is recorded (``consent.policy.check_event``).

An event is reported once it has happened (never in the future). Reporting it again with the
same time changes nothing; with another time, the later report wins, and both are logged.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent.errors import SharingRefused
from consent.policy import check_event
from consent.retention import cap_deadlines, rule_event, section_deadlines
from gateway.exchange.inbox.models import ReceivedPacketRow, ReceivedSectionRow
from gateway.exchange.inbox.repository import received_from
from gateway.exchange.outbox.queue import Message, pseudonym_for, seal_and_queue
from gateway.exchange.referrals import repository
from gateway.exchange.referrals.models import ReferralRow
from gateway.kit.auth import Principal
from gateway.kit.errors import Gone, NotFound, Unprocessable
from gateway.kit.node import Node
from gateway.records.accesslog.writer import Action, Actor, deny, record
from gateway.records.cases.models import CaseEventRow, CaseRow
from gateway.records.cases.repository import case_events
from gateway.records.cases.service import own_case
from gateway.records.consents.service import subject_facts
from schemas.api import CaseEventRead
from schemas.common import Purpose, SectionName, StaffRole
from schemas.directory import RetentionEvent
from schemas.envelope import MessageKind
from schemas.status import CaseEventCreate, StatusPacket, StatusUpdateContent

#: Referral states whose recipient holds (or will hold) the packet.
_LIVE = ("queued", repository.DELIVERED)
_BATCH = 500


def _when(node: Node, occurred_at: datetime, now: datetime) -> datetime:
    occurred = occurred_at.replace(microsecond=0)
    if occurred > now + node.settings.clock_skew:
        raise Unprocessable("an event is reported once it has happened, not before")
    return occurred


# -- host ----------------------------------------------------------------------------------------


def record_case_event(
    session: Session,
    node: Node,
    principal: Principal,
    case_id: str,
    body: CaseEventCreate,
    now: datetime,
) -> CaseEventRead:
    """A caseworker reports an event in the person's return; recipients get the new dates."""
    case = own_case(session, principal, case_id, now)
    occurred = _when(node, body.occurred_at, now)
    actor = Actor.of(principal)
    refusal = _event_refused(session, node, case, body.event, actor, now)
    if refusal is not None:
        raise refusal
    updated = record_event(session, node, case, body.event, occurred, actor=actor, now=now)
    return CaseEventRead(
        case_id=case.id,
        packet_id=None,
        event=body.event.value,
        occurred_at=occurred,
        recorded_at=now,
        packets_updated=updated,
    )


def _event_refused(
    session: Session,
    node: Node,
    case: CaseRow,
    event: RetentionEvent,
    actor: Actor,
    now: datetime,
) -> SharingRefused | None:
    """The protection rule that forbids recording ``event`` now, logged (and kept), or None."""
    try:
        facts = subject_facts(node, case, now.date())
        check_event(event, facts, case_events(session, case.id))
    except SharingRefused as refusal:
        record(
            session,
            at=now,
            actor=actor,
            action=Action.EVENT_REFUSED,
            subject=case.id,
            outcome=refusal.rule.value,
            keep=True,
        )
        return refusal
    return None


def record_event(
    session: Session,
    node: Node,
    case: CaseRow,
    event: RetentionEvent,
    occurred: datetime,
    *,
    actor: Actor,
    now: datetime,
) -> int:
    """Store the event and move the dates it governs; the number of packets whose dates moved."""
    row = session.get(CaseEventRow, (case.id, event.value))
    if row is not None and row.occurred_at == occurred:
        return 0
    if row is None:
        row = CaseEventRow(case_id=case.id, event=event.value)
        session.add(row)
    row.occurred_at, row.recorded_at, row.reported_by = occurred, now, actor.org
    record(
        session,
        at=now,
        actor=actor,
        action=Action.EVENT_RECORDED,
        subject=case.id,
        outcome=event.value,
    )
    session.flush()
    return _move_sent_dates(session, node, case, event, actor, now)


def _move_sent_dates(
    session: Session, node: Node, case: CaseRow, event: RetentionEvent, actor: Actor, now: datetime
) -> int:
    directory = node.directory().directory
    events = case_events(session, case.id)
    updates: dict[tuple[str, str], list[tuple[ReferralRow, StatusPacket]]] = defaultdict(list)
    for referral in repository.referrals_of_case(session, case.id):
        if referral.status not in _LIVE:
            continue
        purpose = Purpose(referral.purpose)
        sent_at = referral.created_at.replace(microsecond=0)
        try:
            # Children are kept at least the child minimum: childhood as on the day of sending.
            is_child = subject_facts(node, case, sent_at.date()).is_child
        except Gone:
            return 0  # the person was erased: nothing of theirs is held here to re-date
        governed = [
            SectionName(s)
            for s in referral.section_delete_by
            if rule_event(directory.retention, purpose, SectionName(s)) is event
        ]
        new = section_deadlines(
            rules=directory.retention,
            horizons=directory.event_horizon_days,
            purpose=purpose,
            sections=governed,
            sent_at=sent_at,
            is_child=is_child,
            events=events,
        )
        old = {s: datetime.fromisoformat(d) for s, d in referral.section_delete_by.items()}
        moved = {s: d for s, d in new.items() if old[s.value] != d}
        if not moved:
            continue
        dates = {**old, **{s.value: d for s, d in moved.items()}}
        referral.section_delete_by = {s: d.isoformat() for s, d in dates.items()}
        referral.delete_by = max(dates.values())
        held = [d for s, d in dates.items() if s in referral.sent_sections]
        referral.next_delete_at = min(held) if held else None
        record(
            session,
            at=now,
            actor=actor,
            action=Action.DEADLINE_MOVED,
            subject=case.id,
            packet_id=referral.packet_id,
            sections=[s.value for s in moved],
            purpose=referral.purpose,
            outcome=event.value,
        )
        packet = StatusPacket(packet_id=referral.packet_id, section_delete_by=moved)
        updates[(referral.recipient, referral.purpose)].append((referral, packet))
    occurred = events[event]
    for group in updates.values():
        for start in range(0, len(group), _BATCH):
            try:
                _send_update(session, node, group[start : start + _BATCH], event, occurred, now)
            except Unprocessable:
                # That recipient left the federation: its own rules still delete the data.
                continue
    return sum(len(group) for group in updates.values())


def _send_update(
    session: Session,
    node: Node,
    group: Sequence[tuple[ReferralRow, StatusPacket]],
    event: RetentionEvent,
    occurred: datetime,
    now: datetime,
) -> None:
    first = group[0][0]
    content = StatusUpdateContent(
        event=event, occurred_at=occurred, packets=[packet for _, packet in group]
    )
    seal_and_queue(
        session,
        node,
        Message(
            kind=MessageKind.STATUS_UPDATE,
            recipient=first.recipient,
            purpose=Purpose(first.purpose),
            case_id=first.case_id,
            consent_ref=first.consent_ids[0],
            sections=content.sections(),
            content=content.model_dump(mode="json"),
            delete_by=now + node.settings.acceptance_window,
        ),
        now,
    )


# -- recipient -----------------------------------------------------------------------------------


def report_received_event(
    session: Session,
    node: Node,
    principal: Principal,
    packet_id: str,
    body: CaseEventCreate,
    now: datetime,
) -> CaseEventRead:
    """A partner officer reports an event about the person a packet concerns, to its sender."""
    principal.require(StaffRole.PARTNER_OFFICER)
    row = session.get(ReceivedPacketRow, packet_id)
    if row is None or row.kind != MessageKind.REFERRAL.value:
        deny(
            session,
            at=now,
            actor=Actor.of(principal),
            outcome="no_such_packet",
            packet_id=packet_id,
        )
        raise NotFound("referral")
    occurred = _when(node, body.occurred_at, now)
    content = StatusUpdateContent(
        event=body.event, occurred_at=occurred, packets=[StatusPacket(packet_id=packet_id)]
    )
    seal_and_queue(
        session,
        node,
        Message(
            kind=MessageKind.STATUS_UPDATE,
            recipient=row.sender,
            purpose=Purpose(row.purpose),
            case_id=None,
            subject=row.subject,
            consent_ref=row.consent_ref,
            sections=[],
            content=content.model_dump(mode="json"),
            delete_by=now + node.settings.acceptance_window,
        ),
        now,
    )
    record(
        session,
        at=now,
        actor=Actor.of(principal),
        action=Action.EVENT_REPORTED,
        subject=row.subject,
        packet_id=packet_id,
        purpose=row.purpose,
        outcome=body.event.value,
    )
    return CaseEventRead(
        case_id=None,
        packet_id=packet_id,
        event=body.event.value,
        occurred_at=occurred,
        recorded_at=now,
        packets_updated=0,
    )


def apply_status_update(
    session: Session,
    node: Node,
    *,
    sender: str,
    subject: str,
    content: StatusUpdateContent,
    actor: Actor,
    now: datetime,
) -> None:
    """Take a status update in: new dates from a packet's sender, or an event from a recipient."""
    ids = [p.packet_id for p in content.packets]
    sent = session.scalars(
        select(ReferralRow).where(ReferralRow.packet_id.in_(ids), ReferralRow.recipient == sender)
    ).all()
    if sent:
        _event_from_recipient(session, node, sent, sender, subject, content, actor, now)
    else:
        _dates_from_sender(session, node, sender, subject, content, actor, now)


def _event_from_recipient(
    session: Session,
    node: Node,
    sent: Sequence[ReferralRow],
    sender: str,
    subject: str,
    content: StatusUpdateContent,
    actor: Actor,
    now: datetime,
) -> None:
    case_ids = {r.case_id for r in sent}
    if len(case_ids) != 1:
        return
    case = session.get(CaseRow, case_ids.pop())
    if case is None or pseudonym_for(node, case.id, sender) != subject:
        return
    # A partner reports what it saw after receiving the packet, once; it cannot move an event
    # already recorded (only the case's caseworker can), nor date one before the referral.
    earliest = min(r.created_at for r in sent).replace(microsecond=0)
    if content.occurred_at < earliest:
        return
    if session.get(CaseEventRow, (case.id, content.event.value)) is not None:
        return
    try:
        if _event_refused(session, node, case, content.event, actor, now) is not None:
            return
    except Gone:
        return  # the person was erased here: nothing to record
    record_event(session, node, case, content.event, content.occurred_at, actor=actor, now=now)


def _dates_from_sender(
    session: Session,
    node: Node,
    sender: str,
    subject: str,
    content: StatusUpdateContent,
    actor: Actor,
    now: datetime,
) -> None:
    directory = node.directory().directory
    for packet in content.packets:
        row = received_from(session, packet.packet_id, sender=sender, subject=subject)
        if row is None:
            continue  # never received, or no longer held: nothing to re-date
        purpose = Purpose(row.purpose)
        stated = {
            s: d
            for s, d in (packet.section_delete_by or {}).items()
            if rule_event(directory.retention, purpose, s) is content.event
        }
        allowed = section_deadlines(
            rules=directory.retention,
            horizons=directory.event_horizon_days,
            purpose=purpose,
            sections=list(stated),
            sent_at=row.created_at,
            # As for a referral: the recipient does not know the person's age.
            is_child=True,
            events={content.event: content.occurred_at},
        )
        dates = cap_deadlines(stated, allowed)
        sections = session.scalars(
            select(ReceivedSectionRow).where(ReceivedSectionRow.packet_id == row.packet_id)
        ).all()
        moved = []
        for section in sections:
            new = dates.get(SectionName(section.section))
            if new is not None and new != section.delete_by:
                section.delete_by = new
                moved.append(section.section)
        if not moved:
            continue
        row.delete_by = max(s.delete_by for s in sections)
        record(
            session,
            at=now,
            actor=actor,
            action=Action.DEADLINE_MOVED,
            subject=row.subject,
            packet_id=row.packet_id,
            sections=moved,
            purpose=row.purpose,
            outcome=content.event.value,
        )
