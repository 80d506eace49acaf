"""Receipts: the recipient's signed word that it stored (or, for a revocation, deleted) what it got.

A deletion receipt answers a revocation: it names the revocation, the withdrawal it serves, and
the packets and sections the recipient deleted.

The sender verifies a receipt against the recipient's signing key in the directory and checks that
it names the same packet, the same two nodes, and the SHA-256 of the very envelope it sent.

Example::

    >>> doc = issue_delivery_receipt(sealed, received_at=now, key=partner_key)                 # doctest: +SKIP
    >>> verify_delivery_receipt(doc, view=view, sent=sealed).packet_id == sealed.header.packet_id  # doctest: +SKIP
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
from schemas.consent import (
    DELETION_RECEIPT_FORMAT,
    DeletionReceipt,
    RevocationContent,
    RevocationReason,
    RevokedPacket,
)
from schemas.envelope import RECEIPT_FORMAT, DeliveryReceipt, SignedDocument


def issue_delivery_receipt(
    sealed: SealedEnvelope, *, received_at: datetime, key: SigningKey
) -> SignedDocument:
    receipt = DeliveryReceipt(
        packet_id=sealed.header.packet_id,
        sender=sealed.header.sender,
        recipient=sealed.header.recipient,
        envelope_sha256=sealed.digest(),
        received_at=received_at.replace(microsecond=0),
    )
    return sign_document(receipt.model_dump(mode="json"), key, context=RECEIPT_FORMAT)


def verify_delivery_receipt(
    doc: SignedDocument,
    *,
    view: FederationView,
    packet_id: str,
    sender: str,
    recipient: str,
    envelope_sha256: str,
) -> DeliveryReceipt:
    """The receipt, if the recipient signed it for exactly this envelope; else ``DeliveryFailed``."""
    try:
        key = view.signing_key(recipient, doc.key_id)
        receipt = DeliveryReceipt.model_validate(verify_document(doc, key, context=RECEIPT_FORMAT))
    except (DirectoryError, InvalidSignature, ValidationError) as exc:
        raise DeliveryFailed("bad_receipt") from exc
    if not key.valid_at(receipt.received_at):
        raise DeliveryFailed("bad_receipt")
    expected = (packet_id, sender, recipient, envelope_sha256)
    if (receipt.packet_id, receipt.sender, receipt.recipient, receipt.envelope_sha256) != expected:
        raise DeliveryFailed("bad_receipt")
    return receipt


def issue_deletion_receipt(
    sealed: SealedEnvelope,
    *,
    revocation: RevocationContent,
    held: list[str],
    deleted_at: datetime,
    key: SigningKey,
) -> SignedDocument:
    receipt = DeletionReceipt(
        revocation_id=sealed.header.packet_id,
        reason=revocation.reason,
        withdrawal_id=revocation.withdrawal_id,
        sender=sealed.header.sender,
        recipient=sealed.header.recipient,
        packets=revocation.packets,
        held=sorted(held),
        deleted_at=deleted_at.replace(microsecond=0),
    )
    return sign_document(receipt.model_dump(mode="json"), key, context=DELETION_RECEIPT_FORMAT)


def verify_deletion_receipt(
    doc: SignedDocument,
    *,
    view: FederationView,
    revocation_id: str,
    revocation: RevocationContent,
    sender: str,
    recipient: str,
) -> DeletionReceipt:
    """The deletion receipt, if the recipient signed it for exactly what was revoked.

    A receipt may name packets a legal hold keeps on the recipient (``held``); only packets that
    were asked about, and only when the request was for retention proof, not a withdrawal.
    """
    try:
        key = view.signing_key(recipient, doc.key_id)
        receipt = DeletionReceipt.model_validate(
            verify_document(doc, key, context=DELETION_RECEIPT_FORMAT)
        )
    except (DirectoryError, InvalidSignature, ValidationError) as exc:
        raise DeliveryFailed("bad_deletion_receipt") from exc
    if not key.valid_at(receipt.deleted_at):
        raise DeliveryFailed("bad_deletion_receipt")
    expected = (revocation_id, revocation.reason, revocation.withdrawal_id, sender, recipient)
    if (
        receipt.revocation_id,
        receipt.reason,
        receipt.withdrawal_id,
        receipt.sender,
        receipt.recipient,
    ) != expected:
        raise DeliveryFailed("bad_deletion_receipt")
    asked = sorted(revocation.packets, key=_packet_key)
    if sorted(receipt.packets, key=_packet_key) != asked:
        raise DeliveryFailed("bad_deletion_receipt")
    may_hold = revocation.reason is RevocationReason.RETENTION_ENDED
    if receipt.held and not (may_hold and set(receipt.held) <= {p.packet_id for p in asked}):
        raise DeliveryFailed("bad_deletion_receipt")
    return receipt


def _packet_key(packet: RevokedPacket) -> str:
    return packet.packet_id
