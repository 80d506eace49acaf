"""The correction: new content for sections of a referral already delivered.

Sending (``queue_correction``): the corrected sections, already decided again by the sharing
policy and the person's consents (``processes.corrections``), go to the referral's recipient in
a signed ``correction`` envelope whose outbox row names what it carries.

Receiving: the content is checked as a referral's is (its sections, our roles' policy, nothing
withheld from our roles), then only sections still held of a packet from the same sender about
the same person, for the same purpose, are replaced: a correction never brings back what was
withdrawn or deleted at its date.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from crypto.envelope import SealedEnvelope
from crypto.storage import seal_at_rest
from gateway.exchange.inbox import repository as inbox
from gateway.exchange.kinds.base import ReceiptAnswered, node_actor, parsed, receipt_for
from gateway.exchange.kinds.referral import check_referral_content, section_context
from gateway.exchange.outbox.queue import Message, queue_envelope
from gateway.exchange.referrals.models import ReferralRow
from gateway.exchange.registry import Recipient
from gateway.kit.node import Node
from gateway.records.accesslog.writer import Action, record
from partners.inbound import AcceptedEnvelope
from schemas.common import Purpose, SectionName
from schemas.envelope import MessageKind, SignedDocument
from schemas.status import CorrectionContent


def queue_correction(
    session: Session,
    node: Node,
    referral: ReferralRow,
    corrected: dict[str, Any],
    now: datetime,
) -> None:
    """Queue corrected sections (already decided and minimised) to the referral's recipient."""
    content = CorrectionContent.model_validate(
        {"packet_id": referral.packet_id, "content": corrected}
    )
    queue_envelope(
        session,
        node,
        Message(
            kind=MessageKind.CORRECTION,
            recipient=referral.recipient,
            purpose=Purpose(referral.purpose),
            case_id=referral.case_id,
            consent_ref=referral.consent_ids[0],
            sections=[SectionName(s) for s in sorted(corrected)],
            content=content.model_dump(mode="json"),
            delete_by=max(referral.delete_by, now + node.settings.acceptance_window),
            carried_fields=content.content.field_names(),
        ),
        now,
    )


class CorrectionKind(ReceiptAnswered):
    kind = MessageKind.CORRECTION
    personal = True
    referral_content = True
    never_to_authorities = False

    def check(self, sealed: SealedEnvelope, plaintext: bytes, recipient: Recipient) -> None:
        check_referral_content(parsed(CorrectionContent, plaintext).content, sealed, recipient)

    def receive(
        self, session: Session, node: Node, accepted: AcceptedEnvelope, now: datetime
    ) -> SignedDocument:
        header = accepted.sealed.header
        correction = CorrectionContent.model_validate_json(accepted.plaintext)
        row = inbox.received_from(
            session, correction.packet_id, sender=header.sender, subject=header.subject
        )
        if (
            row is None
            or row.kind != MessageKind.REFERRAL.value
            or row.purpose != header.purpose.value
        ):
            return receipt_for(node, accepted, now)
        key = node.keys.existing_key(row.subject)
        if key is None:
            return receipt_for(node, accepted, now)  # the person was erased here
        replaced = [
            section
            for section, values in correction.content.to_wire().items()
            if inbox.replace_section(
                session,
                row.packet_id,
                section,
                seal_at_rest(
                    key,
                    json.dumps(values, sort_keys=True).encode(),
                    context=section_context(row.packet_id, section),
                ),
            )
        ]
        if replaced:
            record(
                session,
                at=now,
                actor=node_actor(header.sender),
                action=Action.CORRECTED,
                subject=row.subject,
                packet_id=row.packet_id,
                sections=replaced,
                purpose=row.purpose,
                outcome="sender_correction",
            )
        return receipt_for(node, accepted, now)
