"""Receipts: the recipient's signed word that it verified and stored exactly this envelope.

The sender verifies a receipt against the recipient's signing key in the directory and checks that
it names the same packet, the same two nodes, and the SHA-256 of the very envelope it sent.

Example::

    >>> doc = issue_receipt(sealed, received_at=now, key=partner_key)                 # doctest: +SKIP
    >>> verify_receipt(doc, view=view, sent=sealed).packet_id == sealed.header.packet_id  # doctest: +SKIP
    True
"""

from __future__ import annotations

from datetime import datetime

from pydantic import ValidationError

from crypto.envelope import SealedEnvelope
from crypto.errors import InvalidSignature
from crypto.keys import SigningKey
from crypto.signed import sign_document, verify_document
from partners.directory import FederationView
from partners.errors import DeliveryFailed, DirectoryError
from schemas.envelope import RECEIPT_FORMAT, Receipt, SignedDocument


def issue_receipt(
    sealed: SealedEnvelope, *, received_at: datetime, key: SigningKey
) -> SignedDocument:
    receipt = Receipt(
        packet_id=sealed.header.packet_id,
        sender=sealed.header.sender,
        recipient=sealed.header.recipient,
        envelope_sha256=sealed.digest(),
        received_at=received_at.replace(microsecond=0),
    )
    return sign_document(receipt.model_dump(mode="json"), key, context=RECEIPT_FORMAT)


def verify_receipt(
    doc: SignedDocument,
    *,
    view: FederationView,
    packet_id: str,
    sender: str,
    recipient: str,
    envelope_sha256: str,
) -> Receipt:
    """The receipt, if the recipient signed it for exactly this envelope; else ``DeliveryFailed``."""
    try:
        key = view.signing_key(recipient, doc.key_id)
        receipt = Receipt.model_validate(verify_document(doc, key, context=RECEIPT_FORMAT))
    except (DirectoryError, InvalidSignature, ValidationError) as exc:
        raise DeliveryFailed("bad_receipt") from exc
    if not key.valid_at(receipt.received_at):
        raise DeliveryFailed("bad_receipt")
    expected = (packet_id, sender, recipient, envelope_sha256)
    if (receipt.packet_id, receipt.sender, receipt.recipient, receipt.envelope_sha256) != expected:
        raise DeliveryFailed("bad_receipt")
    return receipt
