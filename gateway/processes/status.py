"""Events in a person's return (arrived, assistance started, case closed) move retention dates.

On the host (the node that holds the case), ``record_case_event`` stores the event, recomputes
the delete-by date of each section it sent whose rule counts from that event, and queues a
signed ``status_update`` to each recipient with the new dates. A recipient's partner officer
reports an event with ``report_received_event``: it goes to the host, which records it the same
way and answers every recipient, the reporter included, with the new dates. A recipient caps
the dates it is given by the federation's rules, as for a referral (``exchange.kinds.
status_update``, which hands an event reported by a recipient to ``event_from_recipient``).

For an unaccompanied child (or a person of uncertain age), arrival is refused, from a caseworker
or a partner, until the handover to the named custodian is recorded (``consent.policy.check_event``).

An event is reported once it has happened (never in the future). Reporting it again with the
same time changes nothing; with another time, the later report wins, and both are logged.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from consent.errors import SharingRefused
from consent.policy import check_event
from consent.retention import rule_event, section_deadlines
from gateway.exchange.inbox import repository as inbox
from gateway.exchange.kinds.status_update import report_event, send_dates
from gateway.exchange.outbox.queue import pseudonym_for
from gateway.exchange.referrals import repository as referrals
from gateway.exchange.referrals.models import ReferralRow
from gateway.kit.auth import Principal
from gateway.kit.errors import Gone, NotFound, Unprocessable
from gateway.kit.node import Node
from gateway.records.accesslog.writer import Action, Actor, deny, record
from gateway.records.cases import repository as cases
from gateway.records.cases.models import CaseRow
from gateway.records.cases.service import own_case
from gateway.records.consents.service import subject_facts
from schemas.api import CaseEventRead
from schemas.common import Purpose, SectionName, StaffRole
from schemas.directory import RetentionEvent
from schemas.status import CaseEventCreate, StatusPacket, StatusUpdateContent

#: Packets per status update.
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
        check_event(event, facts, cases.case_events(session, case.id))
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
    row = cases.event(session, case.id, event)
    if row is not None and row.occurred_at == occurred:
        return 0
    cases.set_event(
        session, case.id, event, occurred_at=occurred, recorded_at=now, reported_by=actor.org
    )
    record(
        session,
        at=now,
        actor=actor,
        action=Action.EVENT_RECORDED,
        subject=case.id,
        outcome=event.value,
    )
    return _move_sent_dates(session, node, case, event, actor, now)


def _move_sent_dates(
    session: Session, node: Node, case: CaseRow, event: RetentionEvent, actor: Actor, now: datetime
) -> int:
    events = cases.case_events(session, case.id)
    updates: dict[tuple[str, str], list[tuple[ReferralRow, StatusPacket]]] = defaultdict(list)
    count = 0
    for referral in referrals.of_case(session, case.id):
        if referral.status not in referrals.LIVE:
            continue
        try:
            moved = _new_dates(node, case, referral, event, events, now)
        except Gone:
            return 0  # the person was erased: nothing of theirs is held here to re-date
        if not moved:
            continue
        referrals.set_dates(referral, {**referrals.dates(referral), **moved})
        record(
            session,
            at=now,
            actor=actor,
            action=Action.DEADLINE_MOVED,
            subject=case.id,
            packet_id=referral.packet_id,
            sections=sorted(moved),
            purpose=referral.purpose,
            outcome=event.value,
        )
        count += 1
        # Sent now even for a referral still on its way: it may already be there. If it is not,
        # the update finds nothing and is ignored, and the dates go again with its receipt
        # (``exchange.kinds.referral``), whichever transaction commits first.
        packet = StatusPacket(
            packet_id=referral.packet_id,
            section_delete_by={SectionName(s): d for s, d in moved.items()},
        )
        updates[(referral.recipient, referral.purpose)].append((referral, packet))
    occurred = events[event]
    for group in updates.values():
        for start in range(0, len(group), _BATCH):
            try:
                send_dates(session, node, group[start : start + _BATCH], event, occurred, now)
            except Unprocessable:
                # That recipient left the federation: its own rules still delete the data.
                continue
    return count


def _new_dates(
    node: Node,
    case: CaseRow,
    referral: ReferralRow,
    event: RetentionEvent,
    events: dict[RetentionEvent, datetime],
    now: datetime,
) -> dict[str, datetime]:
    """The sections of a referral whose date ``event`` moves, with their new dates.

    A date that has already passed stays: what is due for deletion is never revived, even
    before the purge has deleted it.
    """
    directory = node.directory().directory
    purpose = Purpose(referral.purpose)
    sent_at = referral.created_at.replace(microsecond=0)
    # Children are kept at least the child minimum: childhood as on the day of sending.
    is_child = subject_facts(node, case, sent_at.date()).is_child
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
    old = referrals.dates(referral)
    return {s.value: d for s, d in new.items() if now < old[s.value] != d}


def event_from_recipient(
    session: Session,
    node: Node,
    sent: Sequence[ReferralRow],
    sender: str,
    subject: str,
    content: StatusUpdateContent,
    actor: Actor,
    now: datetime,
) -> None:
    """A recipient reports an event about the person packets it received concern: recorded on
    the case as if a caseworker had, unless it cannot be that person's, predates the referral,
    was recorded already, or a protection rule refuses it."""
    case_ids = {r.case_id for r in sent}
    if len(case_ids) != 1:
        return
    case = cases.by_id(session, case_ids.pop())
    if case is None or pseudonym_for(node, case.id, sender) != subject:
        return
    # A partner reports what it saw after receiving the packet, once; it cannot move an event
    # already recorded (only the case's caseworker can), nor date one before the referral.
    earliest = min(r.created_at for r in sent).replace(microsecond=0)
    if content.occurred_at < earliest:
        return
    if cases.event(session, case.id, content.event) is not None:
        return
    try:
        if _event_refused(session, node, case, content.event, actor, now) is not None:
            return
    except Gone:
        return  # the person was erased here: nothing to record
    record_event(session, node, case, content.event, content.occurred_at, actor=actor, now=now)


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
    row = inbox.referral(session, packet_id)
    if row is None:
        deny(
            session,
            at=now,
            actor=Actor.of(principal),
            outcome="no_such_packet",
            packet_id=packet_id,
        )
        raise NotFound("referral")
    occurred = _when(node, body.occurred_at, now)
    report_event(session, node, row, body.event, occurred, now)
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
