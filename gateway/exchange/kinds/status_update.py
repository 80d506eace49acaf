"""The status update: an event in a person's return, and the delete-by dates it moves.

Two directions share this kind. From the sender of packets (``send_dates``): new dates for
sections whose retention counts from the event; each recipient caps them by the federation's
rules, as for a referral. From a recipient (``report_event``): an event it saw about the person
a packet concerns, which the sender records on the case (``on_event``, a process given to this
kind, since recording an event moves dates for every recipient).

It names packets and dates, never content; it carries a person's data all the same (when they
arrived), so it is decided again before each delivery attempt like every such message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from consent.retention import cap_deadlines, rule_event, section_deadlines
from crypto.envelope import SealedEnvelope
from crypto.errors import InvalidEnvelope, RejectReason
from gateway.exchange.inbox import repository as inbox
from gateway.exchange.inbox.models import ReceivedPacketRow
from gateway.exchange.kinds.base import (
    ReceiptAnswered,
    matches,
    node_actor,
    parsed,
    receipt_for,
)
from gateway.exchange.outbox.queue import Message, queue_envelope
from gateway.exchange.referrals import repository as referrals
from gateway.exchange.referrals.models import ReferralRow
from gateway.exchange.registry import Recipient
from gateway.kit.node import Node
from gateway.records.accesslog.writer import Action, Actor, record
from partners.inbound import AcceptedEnvelope
from schemas.common import Purpose
from schemas.directory import RetentionEvent
from schemas.envelope import MessageKind, SignedDocument
from schemas.status import StatusPacket, StatusUpdateContent

#: What the sender does with an event a recipient reports about packets it sent there.
EventFromRecipient = Callable[
    [Session, Node, Sequence[ReferralRow], str, str, StatusUpdateContent, Actor, datetime], None
]


def send_dates(
    session: Session,
    node: Node,
    group: Sequence[tuple[ReferralRow, StatusPacket]],
    event: RetentionEvent,
    occurred: datetime,
    now: datetime,
) -> None:
    """Tell one recipient the new dates of packets sent to it for one person and purpose."""
    first = group[0][0]
    content = StatusUpdateContent(
        event=event, occurred_at=occurred, packets=[packet for _, packet in group]
    )
    queue_envelope(
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


def report_event(
    session: Session,
    node: Node,
    received: ReceivedPacketRow,
    event: RetentionEvent,
    occurred: datetime,
    now: datetime,
) -> None:
    """Report an event about the person a received packet concerns to that packet's sender."""
    content = StatusUpdateContent(
        event=event, occurred_at=occurred, packets=[StatusPacket(packet_id=received.packet_id)]
    )
    queue_envelope(
        session,
        node,
        Message(
            kind=MessageKind.STATUS_UPDATE,
            recipient=received.sender,
            purpose=Purpose(received.purpose),
            case_id=None,
            subject=received.subject,
            consent_ref=received.consent_ref,
            sections=[],
            content=content.model_dump(mode="json"),
            delete_by=now + node.settings.acceptance_window,
        ),
        now,
    )


class StatusUpdateKind(ReceiptAnswered):
    kind = MessageKind.STATUS_UPDATE
    personal = True
    referral_content = False
    never_to_authorities = False

    def __init__(self, *, on_event: EventFromRecipient) -> None:
        self._on_event = on_event

    def check(self, sealed: SealedEnvelope, plaintext: bytes, recipient: Recipient) -> None:
        # The sharing policy does not apply: an update names packets and dates, no content.
        update = parsed(StatusUpdateContent, plaintext)
        matches({s.value for s in update.sections()}, sealed)
        if update.occurred_at > recipient.latest:
            raise InvalidEnvelope(RejectReason.CONTENT_MISMATCH)

    def receive(
        self, session: Session, node: Node, accepted: AcceptedEnvelope, now: datetime
    ) -> SignedDocument:
        """New dates from a packet's sender, or an event from a packet's recipient."""
        header = accepted.sealed.header
        content = StatusUpdateContent.model_validate_json(accepted.plaintext)
        actor = node_actor(header.sender)
        ids = [p.packet_id for p in content.packets]
        sent = referrals.sent_to(session, ids, header.sender)
        if sent:
            self._on_event(session, node, sent, header.sender, header.subject, content, actor, now)
        else:
            _dates_from_sender(session, node, header.sender, header.subject, content, actor, now)
        return receipt_for(node, accepted, now)


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
        row = inbox.received_from(session, packet.packet_id, sender=sender, subject=subject)
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
        dates = {s.value: d for s, d in cap_deadlines(stated, allowed).items()}
        moved = inbox.move_section_dates(session, row, dates, now)
        if not moved:
            continue
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
