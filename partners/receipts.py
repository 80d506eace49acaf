"""Receipts: the recipient's signed word that it stored (or, for a revocation, deleted) what it got.

A deletion receipt answers a revocation: it names the revocation, the withdrawal it serves, and
the packets and sections the recipient deleted. A batch receipt answers a batch of envelopes
(``avrr-batch/1``): one signature naming the id and digest of every envelope the recipient took.

The sender verifies a receipt against the recipient's signing key in the directory and checks that
it names the same packet, the same two nodes, and the SHA-256 of the very envelope it sent.

Example::

    >>> doc = issue_delivery_receipt(sealed, received_at=now, key=partner_key)                 # doctest: +SKIP
    >>> verify_delivery_receipt(doc, view=view, sent=sealed).packet_id == sealed.header.packet_id  # doctest: +SKIP
    True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from pydantic import ValidationError

from crypto.envelope import SealedEnvelope
from crypto.errors import InvalidSignature
from crypto.keys import PublicKey, SigningKey
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
from schemas.envelope import (
    BATCH_RECEIPT_FORMAT,
    RECEIPT_FORMAT,
    BatchAnswer,
    BatchOutcome,
    BatchReceipt,
    BatchReceiptEntry,
    DeliveryReceipt,
    SignedDocument,
)


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


def issue_batch_receipt(
    receipts: Iterable[DeliveryReceipt],
    *,
    sender: str,
    recipient: str,
    issued_at: datetime,
    key: SigningKey,
) -> SignedDocument:
    """One signature over the receipts of a batch's accepted envelopes (each as a lone receipt
    would state it, so a repeat names the same time and digest as the first answer)."""
    batch = BatchReceipt(
        sender=sender,
        recipient=recipient,
        issued_at=issued_at.replace(microsecond=0),
        receipts=sorted(
            (
                BatchReceiptEntry(
                    packet_id=r.packet_id,
                    envelope_sha256=r.envelope_sha256,
                    received_at=r.received_at,
                )
                for r in receipts
            ),
            key=lambda entry: entry.packet_id,
        ),
    )
    return sign_document(batch.model_dump(mode="json"), key, context=BATCH_RECEIPT_FORMAT)


def verify_batch_receipt(
    doc: SignedDocument,
    *,
    view: FederationView,
    sender: str,
    recipient: str,
    sent: Mapping[str, str],
) -> BatchReceipt:
    """The batch receipt, if the recipient signed it with a key the directory lists for it and
    it holds (``batch_receipt_under``); else ``DeliveryFailed``."""
    try:
        key = view.signing_key(recipient, doc.key_id)
    except DirectoryError as exc:
        raise DeliveryFailed("bad_receipt") from exc
    return batch_receipt_under(doc, key, sender=sender, recipient=recipient, sent=sent)


def batch_receipt_under(
    doc: SignedDocument,
    key: PublicKey,
    *,
    sender: str,
    recipient: str,
    sent: Mapping[str, str],
) -> BatchReceipt:
    """The batch receipt, if ``key`` signed it under ``avrr-batch-receipt/1``, the key is valid
    at ``issued_at``, it names these two nodes, and every envelope it names is one of ``sent``
    (packet id to envelope digest), digest included; else ``DeliveryFailed``."""
    try:
        batch = BatchReceipt.model_validate(verify_document(doc, key, context=BATCH_RECEIPT_FORMAT))
    except (InvalidSignature, ValidationError) as exc:
        raise DeliveryFailed("bad_receipt") from exc
    if not key.valid_at(batch.issued_at):
        raise DeliveryFailed("bad_receipt")
    if (batch.sender, batch.recipient) != (sender, recipient):
        raise DeliveryFailed("bad_receipt")
    for entry in batch.receipts:
        if sent.get(entry.packet_id) != entry.envelope_sha256:
            raise DeliveryFailed("bad_receipt")
    return batch


def verify_batch_answer(
    answer: BatchAnswer,
    *,
    view: FederationView,
    sender: str,
    recipient: str,
    sent: Sequence[tuple[str, str]],
) -> list[BatchReceiptEntry | BatchOutcome]:
    """For each envelope sent (packet id, digest, in the order posted): its signed receipt entry
    if the recipient accepted it, or the refusal word if not; ``DeliveryFailed`` if the receipt
    does not verify (``verify_batch_receipt``) or does not match the results
    (``batch_outcomes``)."""
    batch = verify_batch_receipt(
        answer.receipt, view=view, sender=sender, recipient=recipient, sent=dict(sent)
    )
    return batch_outcomes(answer, batch, sent)


def batch_outcomes(
    answer: BatchAnswer, batch: BatchReceipt, sent: Sequence[tuple[str, str]]
) -> list[BatchReceiptEntry | BatchOutcome]:
    """Pair each envelope sent with its result, given the answer's verified receipt ``batch``.

    Refused (``DeliveryFailed``) unless there is one result per envelope and the envelopes the
    receipt names are exactly those the results call accepted: a receipt that leaves out an
    accepted envelope, or names a refused one, is not a receipt for this batch.
    """
    if len(answer.results) != len(sent):
        raise DeliveryFailed("bad_receipt")
    named = {entry.packet_id: entry for entry in batch.receipts}
    accepted = {
        packet_id
        for (packet_id, _), result in zip(sent, answer.results, strict=True)
        if result.outcome is BatchOutcome.ACCEPTED
    }
    if set(named) != accepted:
        raise DeliveryFailed("bad_receipt")
    return [
        named[packet_id] if result.outcome is BatchOutcome.ACCEPTED else result.outcome
        for (packet_id, _), result in zip(sent, answer.results, strict=True)
    ]
