"""The revocation: ask a recipient to delete packets, and have it sign that it did.

Two reasons share this kind: a withdrawal of consent (``processes.withdrawal``) and a request
for proof of deletion once packets are past their date (``processes.deletion_proof``).

Sending (``send_revocation``): the request is sealed and queued in the caller's transaction and
kept as a revocation row (``exchange.revocations``), pending until the recipient's signed
deletion receipt is verified. A revocation carries no personal data (packet ids and section
names), so it goes even to a suspended recipient, and to one that left the federation after it
was queued.

Receiving: the named sections of packets this node holds from the same sender about the same
person are deleted at once. A withdrawal deletes whatever else applies; a request for proof
deletes too, except what a legal hold here keeps, which the signed deletion receipt names as
held instead of pretending it is gone.

When the sender verifies the deletion receipt, the request is confirmed (or held), and every
packet whose each section is now covered by verified receipts counts as proven deleted.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from crypto.envelope import SealedEnvelope
from gateway.exchange.inbox import repository as inbox
from gateway.exchange.kinds.base import matches, node_actor, parsed, worker_actor
from gateway.exchange.outbox.models import OutboxRow
from gateway.exchange.outbox.queue import Message, queue_envelope
from gateway.exchange.referrals import repository as referrals
from gateway.exchange.referrals.models import ReferralRow
from gateway.exchange.registry import Confirmation, Recipient, Sent
from gateway.exchange.revocations import repository as revocations
from gateway.exchange.revocations.models import RevocationRow
from gateway.kit.errors import Unprocessable
from gateway.kit.node import Node
from gateway.records.accesslog.writer import Action, Actor, record
from gateway.records.holds.service import active_holds
from partners.directory import FederationView
from partners.errors import DeliveryFailed
from partners.inbound import AcceptedEnvelope
from partners.receipts import issue_deletion_receipt, verify_deletion_receipt
from schemas.common import Purpose, RevocationStatus, SectionName
from schemas.consent import DeletionReceipt, RevocationContent, RevocationReason, RevokedPacket
from schemas.envelope import DeliveryReceipt, MessageKind, SignedDocument


def send_revocation(
    session: Session,
    node: Node,
    *,
    packets: Sequence[tuple[ReferralRow, Sequence[str]]],
    reason: RevocationReason,
    withdrawal_id: str | None,
    actor: Actor,
    now: datetime,
) -> RevocationRow:
    """Queue one revocation for packets of one case, sent to one recipient for one purpose."""
    first = packets[0][0]
    if any(
        (r.case_id, r.recipient, r.purpose) != (first.case_id, first.recipient, first.purpose)
        for r, _ in packets
    ):
        raise ValueError("one revocation covers one case, recipient and purpose")
    revoked = [
        RevokedPacket(packet_id=r.packet_id, sections=[SectionName(s) for s in sorted(sections)])
        for r, sections in packets
    ]
    content = RevocationContent(reason=reason, withdrawal_id=withdrawal_id, packets=revoked)
    sections = sorted({s for p in revoked for s in p.sections})
    status, request_id = _queue(session, node, first, packets, content, sections, now)
    row = revocations.add(
        session,
        revocation_id=request_id,
        case_id=first.case_id,
        content=content,
        recipient=first.recipient,
        status=status,
        now=now,
    )
    record(
        session,
        at=now,
        actor=actor,
        action=Action.REVOCATION_QUEUED,
        subject=first.case_id,
        packet_id=request_id,
        sections=[s.value for s in sections],
        purpose=first.purpose,
        outcome=reason.value if status is RevocationStatus.PENDING else "recipient_unreachable",
    )
    return row


def _queue(
    session: Session,
    node: Node,
    first: ReferralRow,
    packets: Sequence[tuple[ReferralRow, Sequence[str]]],
    content: RevocationContent,
    sections: list[SectionName],
    now: datetime,
) -> tuple[RevocationStatus, str]:
    """Seal and queue the request; undeliverable (with an id of its own) if nobody can be asked."""
    try:
        header = queue_envelope(
            session,
            node,
            Message(
                kind=MessageKind.REVOCATION,
                recipient=first.recipient,
                purpose=Purpose(first.purpose),
                case_id=first.case_id,
                consent_ref=first.consent_ids[0],
                sections=sections,
                content=content.model_dump(mode="json"),
                # A revocation must travel even if the packets' own dates have passed (the
                # recipient then holds nothing, and confirms so).
                delete_by=max(
                    max(r.delete_by for r, _ in packets), now + node.settings.acceptance_window
                ),
            ),
            now,
        )
    except Unprocessable:
        # The recipient left the federation (or has no usable key): nobody can be asked now.
        # The request stays on record as undeliverable, for the DPO's pending-withdrawals report.
        return RevocationStatus.UNDELIVERABLE, secrets.token_hex(16)
    return RevocationStatus.PENDING, header.packet_id


@dataclass(frozen=True)
class _Deleted:
    """The recipient's verified deletion receipt."""

    deletion: DeletionReceipt
    document: SignedDocument

    def record(self, session: Session, node: Node, row: OutboxRow, done: datetime) -> None:
        request = revocations.by_id(session, row.packet_id)
        if request is None:
            return
        revocations.answered(request, self.deletion, self.document.model_dump(mode="json"), done)
        _note_proven(session, request, done)
        record(
            session,
            at=done,
            actor=worker_actor(node),
            action=Action.DELETION_CONFIRMED,
            subject=request.case_id,
            packet_id=row.packet_id,
            sections=revocations.sections_named(request),
            outcome=request.status,
        )


def _note_proven(session: Session, request: RevocationRow, now: datetime) -> None:
    """Mark the packets this answer named whose every section is now proven deleted."""
    candidates = referrals.lock_unproven(session, revocations.packets_named(request))
    naming = revocations.requests_naming(session, {r.case_id for r in candidates})
    for referral in candidates:
        if not revocations.unproven(
            referral.packet_id, referral.section_delete_by, naming.get(referral.packet_id, [])
        ):
            referrals.proven_deleted(referral, now)


class RevocationKind:
    kind = MessageKind.REVOCATION
    #: Packet ids and section names only: it goes to a suspended or departed recipient too.
    personal = False
    referral_content = False
    never_to_authorities = False
    #: Answered by a deletion receipt (what was deleted, what a hold keeps), which a batch
    #: receipt cannot state: a revocation always travels alone.
    batched = False

    # -- receiving ----------------------------------------------------------------------------------

    def check(self, sealed: SealedEnvelope, plaintext: bytes, recipient: Recipient) -> None:
        # The sharing policy does not apply: a revocation only removes data.
        revocation = parsed(RevocationContent, plaintext)
        matches({s.value for p in revocation.packets for s in p.sections}, sealed)

    def receive(
        self, session: Session, node: Node, accepted: AcceptedEnvelope, now: datetime
    ) -> SignedDocument:
        header = accepted.sealed.header
        revocation = RevocationContent.model_validate_json(accepted.plaintext)
        withdrawn = revocation.reason is RevocationReason.CONSENT_WITHDRAWN
        held_subjects, held_packets = active_holds(session, now)
        held = []
        for revoked in revocation.packets:
            row = inbox.received_from(
                session, revoked.packet_id, sender=header.sender, subject=header.subject
            )
            if row is None:
                continue  # nothing of this sender's held under that id (never, or gone)
            if not withdrawn and (row.packet_id in held_packets or row.subject in held_subjects):
                held.append(row.packet_id)
                continue
            sections = [s.value for s in revoked.sections]
            inbox.delete_sections(session, row.packet_id, sections)
            if withdrawn:
                inbox.note_withdrawn(row, sections)
            else:
                inbox.note_expired(row, sections)
            record(
                session,
                at=now,
                actor=node_actor(header.sender),
                action=Action.DELETED,
                subject=row.subject,
                packet_id=row.packet_id,
                sections=sections,
                purpose=row.purpose,
                outcome=revocation.reason.value,
            )
        return issue_deletion_receipt(
            accepted.sealed,
            revocation=revocation,
            held=held,
            deleted_at=now,
            key=node.signing_key(now),
        )

    def stored(
        self, session: Session, node: Node, accepted: AcceptedEnvelope, now: datetime
    ) -> None:
        return None

    # -- sending ------------------------------------------------------------------------------------

    def expect(self, session: Session, row: OutboxRow) -> RevocationContent | None:
        return revocations.content_of(session, row.packet_id)

    def verify(
        self, sent: Sent, document: SignedDocument, view: FederationView, sender: str
    ) -> Confirmation:
        if not isinstance(sent.expected, RevocationContent):
            raise DeliveryFailed("bad_deletion_receipt")
        deletion = verify_deletion_receipt(
            document,
            view=view,
            revocation_id=sent.packet_id,
            revocation=sent.expected,
            sender=sender,
            recipient=sent.recipient,
        )
        return _Deleted(deletion, document)

    def confirmed(
        self, sent: Sent, receipt: DeliveryReceipt, document: SignedDocument
    ) -> Confirmation:
        raise DeliveryFailed("bad_deletion_receipt")  # never batched: a receipt proves nothing

    def attempted(
        self, session: Session, node: Node, row: OutboxRow, now: datetime, outcome: str
    ) -> None:
        return None

    def dead_lettered(self, session: Session, node: Node, row: OutboxRow, now: datetime) -> None:
        revocations.undeliverable(session, row.packet_id)
