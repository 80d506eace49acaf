"""Where every envelope is sealed: one message for one recipient, put in the outbox in the
caller's transaction.

Every message kind goes this way: the per-recipient pseudonym is derived here, the envelope is
sealed to the recipient's current directory key and signed with this node's listed key, and the
outbox row is added to the same unit of work as whatever caused it. After commit the delivery
worker takes it from there (``exchange.delivery``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from crypto.encoding import canonical_json
from crypto.envelope import seal
from crypto.pseudonym import subject_pseudonym
from gateway.exchange.outbox.models import OutboxRow, OutboxStatus
from gateway.kit.errors import Unprocessable
from gateway.kit.node import Node
from partners.errors import NoUsableKey, UnknownNode
from schemas.common import Purpose, SectionName, TransferGround
from schemas.directory import DeliveryMode
from schemas.envelope import EnvelopeHeader, MessageKind


@dataclass(frozen=True)
class Message:
    kind: MessageKind
    recipient: str
    purpose: Purpose
    #: The person concerned: a case of this node (its pseudonym for the recipient is derived
    #: here), or ``subject``, the pseudonym a packet we received named them by.
    case_id: str | None
    consent_ref: str
    sections: list[SectionName]
    content: dict[str, Any]
    delete_by: datetime
    section_delete_by: dict[SectionName, datetime] | None = None
    transfer_ground: TransferGround | None = None
    referral_id: str | None = None
    subject: str | None = None
    #: For a message carrying referral content (a referral, a correction): the names of the
    #: sections and fields it carries, which the worker checks against the policy before each
    #: attempt. None for a message that carries none.
    carried_fields: dict[str, list[str]] | None = None
    packet_id: str = field(default_factory=lambda: secrets.token_hex(16))

    def pseudonym(self, node: Node) -> str:
        if self.subject is not None:
            return self.subject
        if self.case_id is None:
            raise ValueError("a message names a case or a subject pseudonym")
        return pseudonym_for(node, self.case_id, self.recipient)


def pseudonym_for(node: Node, case_id: str, recipient: str) -> str:
    return subject_pseudonym(node.pseudonym_secret, subject_id=case_id, recipient=recipient)


def queue_envelope(session: Session, node: Node, message: Message, now: datetime) -> EnvelopeHeader:
    view = node.directory()
    created = now.replace(microsecond=0)
    signing_key = node.signing_key(now)
    try:
        recipient_key = view.current_encryption_key(message.recipient, now)
        listed = view.node(message.recipient)
    except NoUsableKey as exc:
        raise Unprocessable("the recipient has no valid encryption key in the directory") from exc
    except UnknownNode as exc:
        raise Unprocessable("the recipient is no longer in the federation directory") from exc
    header = EnvelopeHeader(
        kind=message.kind,
        packet_id=message.packet_id,
        sender=node.node_id,
        recipient=message.recipient,
        purpose=message.purpose,
        subject=message.pseudonym(node),
        consent_ref=message.consent_ref,
        transfer_ground=message.transfer_ground,
        sections=sorted(set(message.sections)),
        created_at=created,
        delete_by=message.delete_by.replace(microsecond=0),
        section_delete_by=message.section_delete_by,
        sender_key_id=signing_key.key_id,
        recipient_key_id=recipient_key.key_id,
    )
    sealed = seal(
        header,
        canonical_json(message.content),
        signing_key=signing_key,
        recipient_key=recipient_key,
    )
    session.add(
        OutboxRow(
            packet_id=header.packet_id,
            kind=message.kind.value,
            referral_id=message.referral_id,
            recipient=message.recipient,
            subject_ref=message.case_id or message.subject,
            carried_fields=message.carried_fields,
            inbox_url=str(listed.inbox_url) if listed.inbox_url else None,
            envelope=canonical_json(sealed.wire().model_dump()).decode("ascii"),
            envelope_sha256=sealed.digest(),
            status=OutboxStatus.PENDING,
            attempts=0,
            created_at=now,
            next_attempt_at=now,
            deliver_by=min(header.delete_by, created + node.settings.acceptance_window),
            pickup_since=now if listed.delivery is DeliveryMode.PICKUP else None,
        )
    )
    return header
