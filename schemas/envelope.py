"""Wire formats between nodes: the envelope, signed documents, and receipts.

An envelope carries one packet to one recipient. Its header is canonical JSON (RFC 8785) sent as
the exact bytes that were signed and bound into the encryption, so a receiver verifies bytes and
only then parses them. ``docs/protocol.md`` describes every byte.

Example::

    >>> WireEnvelope(header="e30", ciphertext="AA", signature="AA").header
    'e30'
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Final, Literal

from pydantic import Field, StringConstraints, model_validator

from schemas.common import (
    AwareDatetime,
    Inbound,
    KeyId,
    NodeId,
    Purpose,
    RandomId,
    SectionName,
    TransferGround,
)

ENVELOPE_FORMAT: Final = "avrr-envelope/1"
RECEIPT_FORMAT: Final = "avrr-receipt/1"
SUITE: Final = "HPKE-base-X25519-HKDFSHA256-CHACHA20POLY1305/Ed25519"

Base64Url = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]*$", max_length=1_400_000)]
Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
#: A per-recipient subject pseudonym: HMAC-SHA256 output, hex.
Pseudonym = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class MessageKind(StrEnum):
    """What an envelope carries. All kinds share the one envelope format."""

    REFERRAL = "referral"
    REVOCATION = "revocation"
    DELETION_RECEIPT = "deletion_receipt"
    CORRECTION = "correction"
    STATUS_UPDATE = "status_update"
    ACCESS_NOTICE = "access_notice"
    #: A recipient's answer to a referral: accepted, declined, person met, assistance delivered...
    REPLY = "reply"
    #: The reintegration plan a reintegration partner wrote with the person.
    REINTEGRATION_PLAN = "reintegration_plan"
    #: One monitoring round's reintegration scores (never the answers).
    MONITORING = "monitoring"
    #: Words between the two ends of a referral: a question answered, a comment on a plan.
    NOTE = "note"


class EnvelopeHeader(Inbound):
    """What is known about a packet without opening it; signed and bound into the encryption."""

    format: Literal["avrr-envelope/1"] = ENVELOPE_FORMAT
    suite: Literal["HPKE-base-X25519-HKDFSHA256-CHACHA20POLY1305/Ed25519"] = SUITE
    kind: MessageKind
    packet_id: RandomId
    sender: NodeId
    recipient: NodeId
    purpose: Purpose
    subject: Pseudonym
    consent_ref: RandomId
    #: The legal ground for this cross-border transfer; every referral must state one.
    transfer_ground: TransferGround | None = None
    sections: Annotated[list[SectionName], Field(max_length=4)]
    created_at: AwareDatetime
    delete_by: AwareDatetime
    #: For a referral, the delete-by date of each section (the latest is ``delete_by``).
    section_delete_by: dict[SectionName, AwareDatetime] | None = None
    sender_key_id: KeyId
    recipient_key_id: KeyId

    @model_validator(mode="after")
    def _consistent(self) -> EnvelopeHeader:
        if self.sections != sorted(set(self.sections)):
            raise ValueError("sections must be sorted and unique")
        if self.delete_by <= self.created_at:
            raise ValueError("delete_by must come after created_at")
        if self.created_at.microsecond or self.delete_by.microsecond:
            raise ValueError("times are whole seconds")
        if self.kind is MessageKind.REFERRAL and self.transfer_ground is None:
            raise ValueError("a referral must state its transfer ground")
        if self.kind is MessageKind.REFERRAL:
            dates = self.section_delete_by or {}
            if sorted(dates) != self.sections:
                raise ValueError("a referral states a delete-by date for each of its sections")
            if any(d.microsecond or d <= self.created_at for d in dates.values()):
                raise ValueError("section delete-by dates are whole seconds after created_at")
            if max(dates.values(), default=self.delete_by) != self.delete_by:
                raise ValueError("delete_by is the latest section delete-by date")
        return self


class WireEnvelope(Inbound):
    """The JSON body posted to a node's inbox."""

    header: Base64Url
    ciphertext: Base64Url
    signature: Base64Url


class SignedDocument(Inbound):
    """A canonical-JSON payload with an Ed25519 signature: receipts and directories travel so."""

    payload: Base64Url
    key_id: KeyId
    signature: Base64Url


class DeliveryReceipt(Inbound):
    """The recipient's signed statement that it verified and stored a packet."""

    format: Literal["avrr-receipt/1"] = RECEIPT_FORMAT
    packet_id: RandomId
    sender: NodeId
    recipient: NodeId
    envelope_sha256: Sha256Hex
    received_at: AwareDatetime


# -- batched delivery (docs/protocol.md, section 6a) -------------------------------------------

BATCH_FORMAT: Final = "avrr-batch/1"
BATCH_RECEIPT_FORMAT: Final = "avrr-batch-receipt/1"
#: The most envelopes one batch request may carry.
MAX_BATCH: Final = 100


class BatchRequest(Inbound):
    """The JSON body posted to a node's batch inbox: envelopes for that one recipient, in order."""

    format: Literal["avrr-batch/1"]
    #: Wire envelopes (``WireEnvelope``), each read on its own: one that is not a wire object
    #: refuses only itself.
    envelopes: Annotated[list[dict[str, Any]], Field(min_length=1, max_length=MAX_BATCH)]


class BatchOutcome(StrEnum):
    """What became of one envelope of a batch. A refusal is the one generic word, as for a lone
    envelope; ``unavailable`` means nothing was decided and the sender should try again later."""

    ACCEPTED = "accepted"
    REJECTED = "envelope_rejected"
    UNAVAILABLE = "unavailable"


class BatchResult(Inbound):
    outcome: BatchOutcome


class BatchReceiptEntry(Inbound):
    """One accepted envelope, as a lone receipt would acknowledge it."""

    packet_id: RandomId
    envelope_sha256: Sha256Hex
    received_at: AwareDatetime


class BatchReceipt(Inbound):
    """The recipient's one signed statement that it verified and stored each envelope named."""

    format: Literal["avrr-batch-receipt/1"] = BATCH_RECEIPT_FORMAT
    sender: NodeId
    recipient: NodeId
    issued_at: AwareDatetime
    receipts: Annotated[list[BatchReceiptEntry], Field(max_length=MAX_BATCH)]

    @model_validator(mode="after")
    def _sorted(self) -> BatchReceipt:
        ids = [entry.packet_id for entry in self.receipts]
        if ids != sorted(set(ids)):
            raise ValueError("receipts are sorted by packet_id, each packet once")
        return self


class BatchAnswer(Inbound):
    """The answer to a batch request: one result per envelope, in the request's order, and the
    signed batch receipt naming every envelope accepted."""

    format: Literal["avrr-batch/1"] = BATCH_FORMAT
    results: Annotated[list[BatchResult], Field(min_length=1, max_length=MAX_BATCH)]
    receipt: SignedDocument
