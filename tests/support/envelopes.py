"""Envelopes made by hand and posted straight to a node's inbox, as a faulty or hostile sender would.

The sender's own keys seal and sign them, so they pass every check but the one a test is about.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from crypto.encoding import canonical_json
from crypto.envelope import seal
from crypto.pseudonym import subject_pseudonym
from gateway.exchange.inbox.models import ReceivedPacketRow
from partners.directory import FederationView
from partners.tokens import issue_node_token
from schemas.common import Purpose, SectionName, TransferGround
from schemas.envelope import EnvelopeHeader, MessageKind
from tests.support.federation import TestNode

INBOX = "/federation/v1/inbox"


def view_of(node: TestNode) -> FederationView:
    return node.client.app.state.node.directory()  # type: ignore[attr-defined,no-any-return]


def sealed_body(
    sender: TestNode,
    recipient: TestNode,
    *,
    content: dict[str, Any] | None = None,
    purpose: Purpose = Purpose.ARRIVAL_RECEPTION,
    **header_changes: Any,
) -> bytes:
    """An envelope as the sender's node would seal it, with optional changes to the header."""
    now = sender.clock.now().replace(microsecond=0)
    content = content or {"arrival": {"reception_requested": True}}
    signing = sender.home.keyring().signing_key_at(now)
    target_key = view_of(sender).current_encryption_key(recipient.node_id, now)
    fields: dict[str, Any] = {
        "kind": MessageKind.REFERRAL,
        "packet_id": secrets.token_hex(16),
        "sender": sender.node_id,
        "recipient": recipient.node_id,
        "purpose": purpose,
        "subject": subject_pseudonym(b"s" * 32, subject_id="case", recipient=recipient.node_id),
        "consent_ref": secrets.token_hex(16),
        "transfer_ground": TransferGround.EXPLICIT_CONSENT,
        "sections": sorted(SectionName(s) for s in content),
        "created_at": now,
        "delete_by": now + timedelta(days=30),
        "sender_key_id": signing.key_id,
        "recipient_key_id": target_key.key_id,
    }
    if fields["kind"] is MessageKind.REFERRAL:
        fields["section_delete_by"] = dict.fromkeys(fields["sections"], fields["delete_by"])
    fields.update(header_changes)
    if "delete_by" in header_changes and fields["kind"] is MessageKind.REFERRAL:
        fields["section_delete_by"] = dict.fromkeys(fields["sections"], fields["delete_by"])
    header = EnvelopeHeader(**fields)
    sealed = seal(header, canonical_json(content), signing_key=signing, recipient_key=target_key)
    return canonical_json(sealed.wire().model_dump())


def node_token(sender: TestNode, recipient: TestNode, body: bytes) -> str:
    """A fresh one-time token from ``sender`` to ``recipient`` for exactly ``body``."""
    now = sender.clock.now()
    return issue_node_token(
        key=sender.home.keyring().signing_key_at(now),
        issuer=sender.node_id,
        audience=recipient.node_id,
        body=body,
        now=now,
        token_id=secrets.token_hex(16),
    )


def post(sender: TestNode, recipient: TestNode, body: bytes, *, token: str | None = None) -> Any:
    token = token or node_token(sender, recipient, body)
    return recipient.client.post(
        INBOX,
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )


def stored(node: TestNode) -> int:
    with node.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(ReceivedPacketRow)) or 0)


def rejected(response: Any) -> bool:
    return bool(
        response.status_code == 400
        and response.json()
        == {"error": "envelope_rejected", "detail": "the envelope was not accepted"}
    )


def sealed_message(
    sender: TestNode,
    recipient: TestNode,
    *,
    kind: MessageKind,
    content: dict[str, Any],
    subject: str,
    purpose: Purpose = Purpose.ARRIVAL_RECEPTION,
) -> bytes:
    """A follow-up message (no referral section) sealed by ``sender`` as its node would."""
    now = sender.clock.now().replace(microsecond=0)
    signing = sender.home.keyring().signing_key_at(now)
    target_key = view_of(sender).current_encryption_key(recipient.node_id, now)
    header = EnvelopeHeader(
        kind=kind,
        packet_id=secrets.token_hex(16),
        sender=sender.node_id,
        recipient=recipient.node_id,
        purpose=purpose,
        subject=subject,
        consent_ref=secrets.token_hex(16),
        sections=[],
        created_at=now,
        delete_by=now + timedelta(days=14),
        sender_key_id=signing.key_id,
        recipient_key_id=target_key.key_id,
    )
    sealed = seal(header, canonical_json(content), signing_key=signing, recipient_key=target_key)
    return canonical_json(sealed.wire().model_dump())
