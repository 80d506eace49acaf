"""Consent: what a person (or their guardian) agreed to, as recorded and as shown back to them.

A consent has a stable id and a history of versions; a version is never edited. Narrowing or
withdrawing adds a version. For a child, the guardian's consent, the child's own view and a
best-interests determination reference are recorded separately.

Example::

    >>> ConsentCreate(purpose="arrival_reception", recipient="origin-reception",
    ...               sections=["arrival"], method="signed_form", language="fr").given_by
    <ConsentGiver.DATA_SUBJECT: 'data_subject'>
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, JsonValue, StrictBool, WithJsonSchema, model_validator

from schemas.common import (
    AwareDatetime,
    ConsentGiver,
    Inbound,
    LanguageCode,
    LongText,
    NodeId,
    Outbound,
    PartnerRole,
    Purpose,
    RandomId,
    RevocationStatus,
    SectionName,
    ShortText,
)
from schemas.sections import section_fields

CONSENT_RECEIPT_FORMAT: Literal["avrr-consent-receipt/1"] = "avrr-consent-receipt/1"
DELETION_RECEIPT_FORMAT: Literal["avrr-deletion-receipt/1"] = "avrr-deletion-receipt/1"


class ConsentMethod(StrEnum):
    SIGNED_FORM = "signed_form"
    VERBAL_WITH_WITNESS = "verbal_with_witness"
    DIGITAL = "digital"


class ChildView(StrEnum):
    """The child's own view, recorded apart from the guardian's consent."""

    AGREES = "agrees"
    DISAGREES = "disagrees"
    MIXED = "mixed"
    UNABLE_TO_EXPRESS = "unable_to_express"


class ConsentStatus(StrEnum):
    ACTIVE = "active"
    NARROWED = "narrowed"
    WITHDRAWN = "withdrawn"


FieldScope = dict[SectionName, Annotated[list[str], Field(min_length=1, max_length=64)]]


def _given(name: str) -> dict[str, Any]:
    return {"required": [name], "properties": {name: {"not": {"type": "null"}}}}


#: ``ConsentCreate.fields`` as the node checks it: per section, the names of that section's fields.
_FIELD_SCOPE_SCHEMA: dict[str, Any] = {
    "description": "Only for sections named in `sections`.",
    "anyOf": [
        {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                section.value: {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 64,
                    "items": {"enum": sorted(section_fields(section))},
                }
                for section in SectionName
            },
        },
        {"type": "null"},
    ],
}
#: What ``ConsentCreate._consistent`` checks, in the published schema. Two rules are said in
#: words only: a JSON Schema cannot compare ``valid_until`` with ``valid_from``, and that the
#: sections of ``fields`` are among ``sections`` (four conditions more, sixteen times the
#: combinations) is past what test generators can expand.
_CONSENT_RULES: list[JsonValue] = [
    {
        "oneOf": [
            {**_given("recipient"), "properties": {"recipient": {"type": "string"}}},
            {**_given("recipient_role"), "properties": {"recipient_role": {"type": "string"}}},
        ]
    },
    {
        "not": {
            "required": ["recipient_role"],
            "properties": {"recipient_role": {"const": PartnerRole.LAW_ENFORCEMENT.value}},
        }
    },
    {
        "if": {
            "required": ["given_by"],
            "properties": {"given_by": {"not": {"const": ConsentGiver.DATA_SUBJECT.value}}},
        },
        "then": _given("giver_relation"),
    },
    {
        "if": _given("child_view_weighing"),
        "then": {"allOf": [_given("child_view"), _given("best_interests_reference")]},
    },
    {
        "if": {"properties": {"method": {"const": "verbal_with_witness"}}},
        "then": _given("witness"),
    },
]


class ConsentCreate(Inbound):
    """What a caseworker records at counselling."""

    model_config = ConfigDict(json_schema_extra={"allOf": _CONSENT_RULES})

    purpose: Purpose
    #: A named node, or (``recipient_role``) any node holding a role; exactly one of the two.
    recipient: NodeId | None = None
    recipient_role: PartnerRole | None = None
    sections: Annotated[list[SectionName], Field(min_length=1, max_length=4)]
    #: Optional narrowing to named fields within sections; absent means the whole section.
    fields: Annotated[FieldScope | None, WithJsonSchema(_FIELD_SCOPE_SCHEMA)] = None
    given_by: ConsentGiver = ConsentGiver.DATA_SUBJECT
    giver_relation: ShortText | None = None
    child_view: ChildView | None = None
    best_interests_reference: ShortText | None = None
    #: How the best-interests determination weighed the child's view: needed before anything is
    #: sent for a child who disagrees or is of two minds. Kept sealed; shown to the DPO.
    child_view_weighing: LongText | None = None
    method: ConsentMethod
    witness: ShortText | None = None
    language: LanguageCode
    informed_of_risks: StrictBool = False
    valid_from: AwareDatetime | None = None
    valid_until: Annotated[
        AwareDatetime | None, Field(description="After valid_from, when both are given.")
    ] = None

    @model_validator(mode="after")
    def _consistent(self) -> ConsentCreate:
        if (self.recipient is None) == (self.recipient_role is None):
            raise ValueError("name either a recipient node or a recipient role, not both")
        if self.recipient_role is PartnerRole.LAW_ENFORCEMENT:
            raise ValueError("consent cannot be recorded for law enforcement")
        if self.given_by is not ConsentGiver.DATA_SUBJECT and not self.giver_relation:
            raise ValueError("say how the person giving consent is related to the data subject")
        if self.child_view_weighing and not (self.child_view and self.best_interests_reference):
            raise ValueError(
                "how the child's view was weighed belongs to a best-interests determination: "
                "record the child's view and the determination's reference with it"
            )
        if self.method is ConsentMethod.VERBAL_WITH_WITNESS and not self.witness:
            raise ValueError("verbal consent needs a witness")
        for section, names in (self.fields or {}).items():
            if section not in self.sections:
                raise ValueError(f"fields are given for {section.value}, which is not consented")
            unknown = set(names) - section_fields(section)
            if unknown:
                raise ValueError(f"unknown fields for {section.value}: {sorted(unknown)}")
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            raise ValueError("valid_until must come after valid_from")
        return self


class ConsentNarrow(Inbound):
    """Keep only these sections (a subset of the current ones); the rest is withdrawn."""

    sections: Annotated[list[SectionName], Field(min_length=1, max_length=4)]


class WithdrawalCreate(Inbound):
    """Withdraw consent for a person: everything, or only a purpose, a recipient, or sections."""

    purpose: Purpose | None = None
    recipient: NodeId | None = None
    sections: Annotated[list[SectionName], Field(max_length=4)] | None = None
    #: Who asked: the person themselves (through a caseworker or the portal) or a representative.
    requested_by: ConsentGiver = ConsentGiver.DATA_SUBJECT


class ConsentVersionRead(Outbound):
    version: int
    status: ConsentStatus
    sections: list[str]
    fields: dict[str, list[str]] | None
    recorded_at: datetime
    recorded_by: str


class ConsentRead(Outbound):
    id: str
    case_id: str
    purpose: str
    recipient: str | None
    recipient_role: str | None
    status: ConsentStatus
    sections: list[str]
    fields: dict[str, list[str]] | None
    given_by: str
    giver_relation: str | None
    child_view: str | None
    best_interests_reference: str | None
    child_view_weighed: bool = False
    method: str
    witness: str | None
    language: str
    counsellor: str
    informed_of_risks: bool
    valid_from: datetime
    valid_until: datetime | None
    history: list[ConsentVersionRead]


class RevocationRead(Outbound):
    recipient: str
    packets: list[str]
    sections: list[str]
    #: pending until the recipient's signed deletion receipt is verified; undeliverable if the
    #: revocation could not be delivered before its deadline (the DPO sees these); held if the
    #: recipient signed that a legal hold keeps some of the packets.
    status: RevocationStatus
    confirmed_at: datetime | None


class WithdrawalRead(Outbound):
    id: str
    case_id: str
    requested_at: datetime
    requested_by: str
    purpose: str | None
    recipient: str | None
    sections: list[str] | None
    consents_changed: list[str]
    packets_cancelled: list[str]
    revocations: list[RevocationRead]


# -- wire: revocation content and deletion receipts ------------------------------------------------


class RevokedPacket(Inbound):
    packet_id: RandomId
    sections: Annotated[list[SectionName], Field(min_length=1, max_length=4)]


class RevocationReason(StrEnum):
    """Why a sender asks a recipient to delete (and to sign that it did)."""

    #: The person withdrew consent: ``withdrawal_id`` names the withdrawal.
    CONSENT_WITHDRAWN = "consent_withdrawn"
    #: The packets' retention period has ended: the sender wants proof of deletion.
    RETENTION_ENDED = "retention_ended"


class RevocationContent(Inbound):
    """The plaintext of a ``revocation`` envelope: delete these sections of these packets."""

    reason: RevocationReason = RevocationReason.CONSENT_WITHDRAWN
    withdrawal_id: RandomId | None = None
    packets: Annotated[list[RevokedPacket], Field(min_length=1, max_length=500)]

    @model_validator(mode="after")
    def _withdrawal_named(self) -> RevocationContent:
        if (self.reason is RevocationReason.CONSENT_WITHDRAWN) != (self.withdrawal_id is not None):
            raise ValueError("a withdrawal, and only a withdrawal, names its withdrawal_id")
        return self


class DeletionReceipt(Inbound):
    """The recipient's signed statement that it deleted what a revocation named."""

    format: Literal["avrr-deletion-receipt/1"] = DELETION_RECEIPT_FORMAT
    revocation_id: RandomId
    reason: RevocationReason = RevocationReason.CONSENT_WITHDRAWN
    withdrawal_id: RandomId | None = None
    sender: NodeId
    recipient: NodeId
    packets: list[RevokedPacket]
    #: Packets a legal hold on the recipient keeps for now (only for ``retention_ended``).
    held: Annotated[list[RandomId], Field(max_length=500)] = []
    deleted_at: AwareDatetime


class ConsentReceipt(Inbound):
    """What the node signs and the person keeps: what they agreed to, with whom, until when."""

    format: Literal["avrr-consent-receipt/1"] = CONSENT_RECEIPT_FORMAT
    node: NodeId
    organisation: ShortText
    consent_id: RandomId
    version: int
    case_reference: RandomId
    status: ConsentStatus
    purpose: Purpose
    recipient: NodeId | None
    recipient_organisation: str | None
    recipient_role: PartnerRole | None
    sections: list[SectionName]
    given_by: ConsentGiver
    method: ConsentMethod
    language: LanguageCode
    valid_from: AwareDatetime
    valid_until: AwareDatetime | None
    issued_at: AwareDatetime
