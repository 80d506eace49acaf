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


# -- pickup and hand-carried bundles (docs/protocol.md, sections 6b and 6c) -------------------

PICKUP_FORMAT: Final = "avrr-pickup/1"
PICKUP_ACK_FORMAT: Final = "avrr-pickup-ack/1"
BUNDLE_FORMAT: Final = "avrr-bundle/1"
#: The most envelopes one pickup page may carry.
MAX_PICKUP_PAGE: Final = 50
#: The most envelopes, and the most answers, one bundle may carry.
MAX_BUNDLE: Final = 5000
#: The largest bundle file a node writes or reads (a node reads it whole into memory); what
#: does not fit travels in the next bundle.
MAX_BUNDLE_BYTES: Final = 64 * 1024 * 1024


class PickupRequest(Inbound):
    """What a pickup member posts to a sender (``POST /federation/v1/pickup``): give me up to
    ``limit`` of the envelopes waiting for me, oldest first."""

    format: Literal["avrr-pickup/1"]
    limit: Annotated[int, Field(ge=1, le=MAX_PICKUP_PAGE)] = 16


class PickupPage(Inbound):
    """The sender's answer: sealed envelopes for the caller, oldest first, and whether more wait.
    Every envelope handed out is held for the caller for the claim lease; an envelope not
    acknowledged by then is handed out again (the inbox is idempotent on the packet id)."""

    format: Literal["avrr-pickup/1"] = PICKUP_FORMAT
    envelopes: Annotated[list[WireEnvelope], Field(max_length=MAX_PICKUP_PAGE)]
    more: bool


class CarriedAnswer(Inbound):
    """The recipient's answer to one envelope it was handed (by pickup or in a bundle): the very
    signed document its inbox would have answered a post with (a delivery receipt, or for a
    revocation a deletion receipt), or none if it refused the envelope."""

    packet_id: RandomId
    envelope_sha256: Sha256Hex
    answer: SignedDocument | None = None


class PickupAck(Inbound):
    """What a pickup member posts back (``POST /federation/v1/pickup/ack``): its answers."""

    format: Literal["avrr-pickup-ack/1"]
    answers: Annotated[list[CarriedAnswer], Field(min_length=1, max_length=MAX_PICKUP_PAGE)]


class AckOutcome(StrEnum):
    """What the sender made of one answer: recorded (delivered, or refused and to be retried),
    not verified (a receipt that does not hold), or unknown (no such envelope waits)."""

    RECORDED = "recorded"
    BAD_RECEIPT = "bad_receipt"
    UNKNOWN = "unknown"


class PickupAckResult(Inbound):
    format: Literal["avrr-pickup-ack/1"] = PICKUP_ACK_FORMAT
    outcomes: Annotated[list[AckOutcome], Field(max_length=MAX_PICKUP_PAGE)]


class BundleHeader(Inbound):
    """What anyone carrying a bundle can read: who it is from and for, when, its place in the
    sender's sequence to that recipient, and how many envelopes and answers it holds. Signed, and
    bound into the encryption of the rest."""

    format: Literal["avrr-bundle/1"] = BUNDLE_FORMAT
    suite: Literal["HPKE-base-X25519-HKDFSHA256-CHACHA20POLY1305/Ed25519"] = SUITE
    bundle_id: RandomId
    sender: NodeId
    recipient: NodeId
    #: 1 for the first bundle this sender wrote to this recipient, then one more each time.
    sequence: Annotated[int, Field(ge=1, le=2**53 - 1)]
    created_at: AwareDatetime
    envelopes: Annotated[int, Field(ge=0, le=MAX_BUNDLE)]
    answers: Annotated[int, Field(ge=0, le=MAX_BUNDLE)]
    sender_key_id: KeyId
    recipient_key_id: KeyId

    @model_validator(mode="after")
    def _whole_seconds(self) -> BundleHeader:
        if self.created_at.microsecond:
            raise ValueError("times are whole seconds")
        return self


class BundleContent(Inbound):
    """What a bundle carries, sealed: envelopes for the recipient (each exactly as it would be
    posted) and answers to envelopes the recipient sent the sender."""

    envelopes: Annotated[list[WireEnvelope], Field(max_length=MAX_BUNDLE)]
    answers: Annotated[list[CarriedAnswer], Field(max_length=MAX_BUNDLE)]


class WireBundle(Inbound):
    """A bundle file: the header bytes, the sealed content and the sender's signature."""

    header: Base64Url
    ciphertext: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]*$")]
    signature: Base64Url
