"""The referral: sealed and queued by the host, checked and stored by the recipient.

Sending (``queue_referral``): the minimised content is sealed for the recipient and signed, its
outbox row carries the names of what it carries (so the worker can decide again before each
attempt) and the access log says it was sealed. The referral's own row is
``exchange.referrals``; deciding what may go is ``exchange.referrals.service``.

Receiving: a referral is accepted only if its sections are those its header names, and every
field is one this node's roles may receive for the purpose and none is withheld from one of its
roles (an authority never holds a protection flag or free text, whatever another role allows).
It is split into its sections, each sealed at rest under the person's data key; the envelope
itself is not kept, so deleting a section deletes it.

The answer is a signed delivery receipt; once the sender verifies it, the referral is delivered.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from consent.policy import policy_allowance
from consent.retention import cap_deadlines, rule_event, section_deadlines
from crypto.envelope import SealedEnvelope, parse
from crypto.errors import InvalidEnvelope, RejectReason
from crypto.storage import seal_at_rest
from gateway.exchange.inbox import repository as inbox
from gateway.exchange.kinds.base import (
    ReceiptAnswered,
    ReceiptKept,
    matches,
    node_actor,
    parsed,
    receipt_for,
    worker_actor,
)
from gateway.exchange.kinds.status_update import send_dates
from gateway.exchange.outbox import repository as outbox
from gateway.exchange.outbox.models import OutboxRow
from gateway.exchange.outbox.queue import Message, queue_envelope
from gateway.exchange.referrals import repository as referrals
from gateway.exchange.referrals.models import ReferralRow
from gateway.exchange.registry import Confirmation, Recipient, Sent
from gateway.kit.errors import Unprocessable
from gateway.kit.node import Node
from gateway.records.accesslog.writer import Action, Actor, record
from gateway.records.cases import repository as cases
from partners.inbound import AcceptedEnvelope
from schemas.common import PartnerRole, Purpose, ReferralStatus, SectionName, TransferGround
from schemas.directory import RetentionEvent
from schemas.envelope import (
    DeliveryReceipt,
    EnvelopeHeader,
    MessageKind,
    SignedDocument,
    WireEnvelope,
)
from schemas.sections import ReferralContent
from schemas.status import StatusPacket


def queue_referral(
    session: Session,
    node: Node,
    referral: ReferralRow,
    content: ReferralContent,
    actor: Actor,
    now: datetime,
) -> EnvelopeHeader:
    """Seal the envelope for the recipient and queue it, in the caller's transaction."""
    deadlines = {SectionName(s): d for s, d in referrals.dates(referral).items()}
    message = Message(
        kind=MessageKind.REFERRAL,
        recipient=referral.recipient,
        purpose=Purpose(referral.purpose),
        case_id=referral.case_id,
        consent_ref=referral.consent_ids[0],
        transfer_ground=TransferGround(referral.transfer_ground),
        sections=[SectionName(s) for s in content.section_names()],
        content=content.to_wire(),
        delete_by=referral.delete_by,
        section_delete_by=deadlines,
        referral_id=referral.id,
        carried_fields=content.field_names(),
        packet_id=referral.packet_id,
    )
    header = queue_envelope(session, node, message, now)
    record(
        session,
        at=now,
        actor=actor,
        action=Action.REFERRAL_SEALED,
        subject=referral.case_id,
        packet_id=header.packet_id,
        sections=header.sections,
        purpose=referral.purpose,
    )
    return header


def check_referral_content(
    content: ReferralContent, sealed: SealedEnvelope, recipient: Recipient
) -> None:
    """Sections as the header names them; fields our roles may hold for the purpose, none
    withheld from one of them. Also what a correction carries."""
    matches(set(content.section_names()), sealed)
    if PartnerRole.LAW_ENFORCEMENT in recipient.roles:
        raise InvalidEnvelope(RejectReason.NOT_ALLOWED)
    # Defence in depth: even a faulty or hostile sender cannot make us hold more than our roles
    # may, nor anything withheld from one of them.
    allowed = policy_allowance(recipient.view.rule, recipient.roles, sealed.header.purpose)
    for section, names in content.field_names().items():
        name = SectionName(section)
        if set(names) & recipient.withheld.get(name, frozenset()):
            raise InvalidEnvelope(RejectReason.WITHHELD_FROM_ROLE)
        if not set(names) <= allowed.get(name, frozenset()):
            raise InvalidEnvelope(RejectReason.NOT_ALLOWED)


def section_context(packet_id: str, section: str) -> bytes:
    """What a received section is bound to when sealed at rest: its packet and its name."""
    return f"received_sections/{packet_id}/{section}".encode()


@dataclass(frozen=True)
class _Delivered:
    """The recipient's verified receipt: keep it, and the referral is delivered."""

    kept: ReceiptKept

    def record(self, session: Session, node: Node, row: OutboxRow, done: datetime) -> None:
        self.kept.record(session, node, row, done)
        referral = _mark(session, node, row, ReferralStatus.DELIVERED, Action.DELIVERED, done)
        if referral is not None:
            _dates_moved_on_the_way(session, node, row, referral, done)


def _dates_moved_on_the_way(
    session: Session, node: Node, row: OutboxRow, referral: ReferralRow, now: datetime
) -> None:
    """Tell the recipient the dates an event moved while the referral was on its way.

    A status update moves dates only of a packet the recipient already holds
    (``processes.status`` sends one at once): one that overtook the referral found nothing. So
    once the referral is delivered, the dates its envelope carried are compared with the
    referral's now, and whatever an event moved goes again, one update per event (applying
    the same dates twice changes nothing).
    """
    header = parse(WireEnvelope.model_validate_json(row.envelope)).header
    sealed = {s.value: d for s, d in (header.section_delete_by or {}).items()}
    current = referrals.dates(referral)
    events = cases.case_events(session, referral.case_id)
    retention = node.directory().directory.retention
    purpose = Purpose(referral.purpose)
    moved: dict[RetentionEvent, dict[SectionName, datetime]] = {}
    for name, date in sealed.items():
        if name in referral.withdrawn_sections or current.get(name, date) == date:
            continue
        event = rule_event(retention, purpose, SectionName(name))
        if event in events:
            moved.setdefault(event, {})[SectionName(name)] = current[name]
    for event, dates in moved.items():
        packet = StatusPacket(packet_id=referral.packet_id, section_delete_by=dates)
        try:
            send_dates(session, node, [(referral, packet)], event, events[event], now)
        except Unprocessable:
            # The recipient has left the federation since: its own rules delete the data.
            return


def _mark(
    session: Session,
    node: Node,
    row: OutboxRow,
    status: ReferralStatus,
    action: Action,
    now: datetime,
) -> ReferralRow | None:
    referral = referrals.by_id(session, row.referral_id) if row.referral_id else None
    if referral is None:
        return None
    referrals.set_status(referral, status)
    record(
        session,
        at=now,
        actor=worker_actor(node),
        action=action,
        subject=referral.case_id,
        packet_id=row.packet_id,
        sections=sorted(referral.sent_sections),
        purpose=referral.purpose,
        outcome="receipt_verified" if status is ReferralStatus.DELIVERED else status.value,
    )
    return referral


class ReferralKind(ReceiptAnswered):
    kind = MessageKind.REFERRAL
    personal = True
    referral_content = True
    never_to_authorities = False

    def check(self, sealed: SealedEnvelope, plaintext: bytes, recipient: Recipient) -> None:
        check_referral_content(parsed(ReferralContent, plaintext), sealed, recipient)

    def receive(
        self, session: Session, node: Node, accepted: AcceptedEnvelope, now: datetime
    ) -> SignedDocument:
        header = accepted.sealed.header
        record(
            session,
            at=now,
            actor=node_actor(header.sender),
            action=Action.RECEIVED,
            subject=header.subject,
            packet_id=header.packet_id,
            sections=[s.value for s in header.sections],
            purpose=header.purpose.value,
        )
        return receipt_for(node, accepted, now)

    def stored(
        self, session: Session, node: Node, accepted: AcceptedEnvelope, now: datetime
    ) -> None:
        """Each section sealed at rest, kept no longer than the federation's rules allow."""
        header = accepted.sealed.header
        key = node.keys.data_key(header.subject)
        directory = node.directory().directory
        stated = header.section_delete_by or {}
        allowed = section_deadlines(
            rules=directory.retention,
            horizons=directory.event_horizon_days,
            purpose=header.purpose,
            sections=list(stated),
            sent_at=header.created_at,
            # The recipient does not know the person's age; the cap allows the longer child period.
            is_child=True,
        )
        deadlines = cap_deadlines(stated, allowed)
        for section, values in json.loads(accepted.plaintext).items():
            inbox.add_section(
                session,
                packet_id=header.packet_id,
                section=section,
                sealed=seal_at_rest(
                    key,
                    json.dumps(values, sort_keys=True).encode(),
                    context=section_context(header.packet_id, section),
                ),
                delete_by=deadlines[SectionName(section)],
            )

    def confirmed(
        self, sent: Sent, receipt: DeliveryReceipt, document: SignedDocument
    ) -> Confirmation:
        return _Delivered(ReceiptKept(receipt, document))

    def attempted(
        self, session: Session, node: Node, row: OutboxRow, now: datetime, outcome: str
    ) -> None:
        """The first time a referral goes out to its recipient (whatever came of it) is logged."""
        if row.referral_id is None or outbox.went_out(session, row.id):
            return
        referral = referrals.by_id(session, row.referral_id)
        if referral is None:
            return
        record(
            session,
            at=now,
            actor=worker_actor(node),
            action=Action.SENT,
            subject=referral.case_id,
            packet_id=row.packet_id,
            sections=sorted(referral.sent_sections),
            purpose=referral.purpose,
            outcome=outcome,
        )

    def dead_lettered(self, session: Session, node: Node, row: OutboxRow, now: datetime) -> None:
        _mark(session, node, row, ReferralStatus.DEAD_LETTERED, Action.DEAD_LETTERED, now)
