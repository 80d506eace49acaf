"""Shapes of the HTTP API: ``XCreate`` for what a client sends, ``XRead`` for what it gets back.

Create models are inbound (unknown fields refused, frozen). Read models never carry more than the
caller's role may see: a partner officer's ``ReceivedReferralRead`` holds only the sections that
were sent to that partner, and no model carries a vulnerability flag to a partner.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, JsonValue, StrictBool, model_validator

from schemas.common import (
    AwareDatetime,
    BirthDate,
    CountryCode,
    Inbound,
    LanguageCode,
    NodeId,
    Outbound,
    Purpose,
    RandomId,
    ReceivedStatus,
    ReferralStatus,
    RevocationStatus,
    Sex,
    ShortText,
    TransferGround,
    VulnerabilityFlag,
)
from schemas.consent import WithdrawalRead
from schemas.sections import ReferralContent

#: Synthetic examples shown in the OpenAPI description (``/docs``); never a real person.
_CASE_EXAMPLE: dict[str, JsonValue] = {
    "given_name": "Amina",
    "family_name": "Example",
    "date_of_birth": "1994-03-01",
    "nationality": "SN",
    "preferred_language": "fr",
    "vulnerability_flags": ["health_needs"],
    "sex": "female",
}
_REFERRAL_EXAMPLE: dict[str, JsonValue] = {
    "case_id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    "recipient": "origin-reception",
    "purpose": "arrival_reception",
    "transfer_ground": "explicit_consent_informed_of_risks",
    "content": {
        "travel": {
            "traveller_name": "Amina Example",
            "traveller_date_of_birth": "1994-03-01",
            "travel_document_status": "emergency_travel_document",
            "arrival": {"airport": "DSS", "arrives_at": "2026-12-01T16:00:00Z"},
            "escort": "none",
            "assistance_at_arrival": True,
        }
    },
}


class CaseCreate(Inbound):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [_CASE_EXAMPLE],
            # What `_age_known_or_uncertain` checks.
            "anyOf": [
                {
                    "required": ["date_of_birth"],
                    "properties": {"date_of_birth": {"type": "string"}},
                },
                {"required": ["age_uncertain"], "properties": {"age_uncertain": {"const": True}}},
            ],
        }
    )

    given_name: ShortText
    family_name: ShortText
    date_of_birth: BirthDate | None = None
    age_uncertain: StrictBool = False
    nationality: CountryCode
    preferred_language: LanguageCode
    vulnerability_flags: Annotated[list[VulnerabilityFlag], Field(max_length=7)] = []
    sex: Sex = Sex.NOT_RECORDED

    @model_validator(mode="after")
    def _age_known_or_uncertain(self) -> CaseCreate:
        if self.date_of_birth is None and not self.age_uncertain:
            raise ValueError("give a date of birth, or mark the age as uncertain")
        return self


class CaseRead(Outbound):
    id: str
    office: str
    created_at: datetime
    given_name: str
    family_name: str
    date_of_birth: date | None
    age_uncertain: bool
    nationality: str
    preferred_language: str
    vulnerability_flags: list[str]
    sex: str


class ReferralCreate(Inbound):
    model_config = ConfigDict(json_schema_extra={"examples": [_REFERRAL_EXAMPLE]})

    case_id: RandomId
    recipient: NodeId
    purpose: Purpose
    transfer_ground: TransferGround
    content: ReferralContent


class DeliveryAttemptRead(Outbound):
    attempted_at: datetime
    outcome: str


class DeliveryReceiptRead(Outbound):
    received_at: datetime
    verified_at: datetime
    envelope_sha256: str


class ReferralRead(Outbound):
    id: str
    case_id: str
    recipient: str
    purpose: str
    packet_id: str
    created_at: datetime
    delete_by: datetime
    status: ReferralStatus
    transfer_ground: str
    sections_sent: list[str]
    #: Section -> field names that were entered but not sent (policy or consent); never values.
    withheld: dict[str, Any]
    attempts: list[DeliveryAttemptRead] = []
    receipt: DeliveryReceiptRead | None = None
    #: Why it is in its status where that needs saying: the rule that cancelled it.
    status_reason: str | None = None
    #: For a referral that needed a second staff member's approval: when it was submitted, and
    #: who approved it (``created_at`` is then when it was approved and sealed).
    submitted_at: datetime | None = None
    approved_by: str | None = None
    #: The referral this one follows, after that one was declined.
    follows: str | None = None
    #: While it is queued for a recipient without a public address: it waits for the recipient
    #: to pick it up, or travels in a hand-carried bundle; and since when.
    travels_by: Literal["pickup", "bundle"] | None = None
    travels_since: datetime | None = None


class ReReferralCreate(Inbound):
    """Refer the person to another partner after a decline, in one call that links the two.

    Without ``content``, what was sent to the partner that declined goes, decided again for the
    new recipient (policy and consent may let less go, never more).
    """

    recipient: NodeId
    transfer_ground: TransferGround | None = None
    content: ReferralContent | None = None


class ReceivedReferralSummary(Outbound):
    packet_id: str
    sender: str
    sender_organisation: str
    purpose: str
    subject: str
    #: Sections still held; withdrawn ones are listed apart and their content is gone.
    sections: list[str]
    withdrawn_sections: list[str]
    status: ReceivedStatus
    received_at: datetime
    delete_by: datetime


class ReceivedReferralRead(ReceivedReferralSummary):
    content: dict[str, Any]


class ErrorCode(StrEnum):
    """Every ``error`` a node answers with (docs/api.md lists when)."""

    INVALID_REQUEST = "invalid_request"
    UNAUTHORISED = "unauthorised"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    CONFLICT = "conflict"
    GONE = "gone"
    TOO_LARGE = "too_large"
    SHARING_REFUSED = "sharing_refused"
    NOTHING_TO_SEND = "nothing_to_send"
    UNPROCESSABLE = "unprocessable"
    ENVELOPE_REJECTED = "envelope_rejected"
    UNAVAILABLE = "unavailable"
    INTERNAL_ERROR = "internal_error"


class ErrorRead(Outbound):
    """The one shape of every error: what went wrong as a word, and for whom it is meant, words
    or (for ``invalid_request``) each field's location and what is wrong with it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": "invalid_request",
                    "detail": [{"loc": ["body", "nationality"], "msg": "not a country code"}],
                },
                {"error": "unavailable", "detail": "the node's database is not reachable"},
            ]
        }
    )

    error: ErrorCode
    detail: Any
    #: For ``sharing_refused``: the rule that said no (docs/consent.md).
    rule: str | None = None


class TransferRecord(Outbound):
    """One cross-border transfer, for the DPO's register: never content."""

    packet_id: str
    sent_at: datetime
    recipient: str
    recipient_organisation: str
    destination_country: str
    purpose: str
    sections: list[str]
    transfer_ground: str
    status: ReferralStatus


class ChildViewRead(Outbound):
    """For the DPO's review of a child's referral: the child's own view and how the
    best-interests determination weighed it, from each child's consent the referral rests on."""

    referral_id: str
    consent_id: str
    child_view: str
    best_interests_reference: str | None
    #: The determination's own words on how it weighed the child's view; None if not recorded.
    weighing: str | None


class LegalHoldCreate(Inbound):
    """Pause deletion for a subject (case id or pseudonym) or one packet, until a date."""

    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {
                    "required": ["subject"],
                    "properties": {"subject": {"type": "string"}, "packet_id": {"type": "null"}},
                },
                {
                    "required": ["packet_id"],
                    "properties": {"packet_id": {"type": "string"}, "subject": {"type": "null"}},
                },
            ]
        }
    )

    subject: Annotated[str, Field(pattern=r"^[0-9a-f]{32,64}$")] | None = None
    packet_id: RandomId | None = None
    reason: ShortText
    until: AwareDatetime


class LegalHoldRead(Outbound):
    id: str
    subject: str | None
    packet_id: str | None
    reason: str
    until: datetime
    created_by: str
    created_at: datetime
    released_at: datetime | None


class ErasureRead(Outbound):
    """An erasure: the person's key is destroyed here; recipients are sent revocations."""

    case_id: str
    withdrawal: WithdrawalRead | None


class DeletionProofCreate(Inbound):
    """Ask recipients to sign that packets past their date are deleted.

    Name the packets, or name none to ask about every overdue packet (at most 500 per call).
    """

    packet_ids: Annotated[list[RandomId], Field(max_length=500)] = []


class DeletionProofRead(Outbound):
    """One request for proof of deletion sent to one recipient."""

    id: str
    recipient: str
    packets: list[str]
    sections: list[str]
    status: RevocationStatus
    requested_at: datetime
    confirmed_at: datetime | None


class OverdueDeletion(Outbound):
    """A packet past its date for which no recipient has yet signed a deletion receipt."""

    packet_id: str
    case_id: str
    recipient: str
    purpose: str
    delete_by: datetime
    #: Sections sent in the packet that no verified deletion receipt covers.
    unproven_sections: list[str]
    #: The latest request for proof about this packet, if any: pending, held or undeliverable.
    last_request: Literal["pending", "held", "undeliverable"] | None


class CaseEventRead(Outbound):
    """An event recorded (on the case's node) or reported (from a recipient, to the sender)."""

    case_id: str | None
    packet_id: str | None
    event: str
    occurred_at: datetime
    recorded_at: datetime
    #: How many packets' delete-by dates moved on this node (0 for a report: the sender decides).
    packets_updated: int


class CardCreate(Inbound):
    """Issue an access card; the portal opens in ``language`` for it."""

    language: Literal["en", "fr", "ar", "es", "ps"] = "en"


class CardIssued(Outbound):
    """Shown once: the code is not stored and cannot be shown again."""

    reference: str
    code: str
    language: str
    issued_at: datetime


class CorrectionAnswer(Inbound):
    accepted: StrictBool


class ReferralCorrectionCreate(Inbound):
    """Corrected content for sections of a delivered referral (each section given whole)."""

    content: ReferralContent


class TimelineEntry(Outbound):
    """One thing that happened in a case, across its referrals and what partners answered."""

    at: datetime
    what: str
    referral_id: str | None
    #: The partner organisation concerned.
    organisation: str | None
    detail: str | None
    #: A partner's message as it came; for a referral, what it carried by name only.
    content: dict[str, Any] | None
    #: The digest of the signed envelope or delivery receipt this rests on.
    proof: str | None
