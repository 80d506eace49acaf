"""The follow-up of a referral, both ways: replies, reintegration plans, monitoring rounds, notes.

A recipient answers a referral (``ReplyCreate``), a reintegration partner returns the plan it
wrote with the person (``PlanCreate``) and records monitoring rounds of the Reintegration
Sustainability Survey (``MonitoringCreate``), whose answers are coded and scored where they are
taken: only the scores travel. Either end may write a note about the referral (``NoteCreate``):
the host's answer to a question, a comment on a plan. Every list is fixed, every text bounded,
and unknown fields are refused, at both ends.

Example::

    >>> ReplyCreate(kind="declined", reason="no_capacity").reason.value
    'no_capacity'
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import ConfigDict, Field, StrictBool, model_validator

from schemas.common import (
    AS_JSON_NUMBER,
    AwareDatetime,
    FreeLongText,
    FreeText,
    Inbound,
    IsoDate,
    Outbound,
    RandomId,
)
from schemas.sections import AssistanceLevel, ReintegrationDimension


class ReplyKind(StrEnum):
    """How a recipient answers a referral, as the case goes on."""

    ACCEPTED = "accepted"
    DECLINED = "declined"
    NEEDS_INFORMATION = "needs_information"
    PERSON_MET = "person_met"
    DID_NOT_ARRIVE = "did_not_arrive"
    ASSISTANCE_DELIVERED = "assistance_delivered"
    #: A child handed over to the custodian the referral named.
    HANDED_OVER = "handed_over"


class DeclineReason(StrEnum):
    NO_CAPACITY = "no_capacity"
    OUTSIDE_MANDATE = "outside_mandate"
    NOT_AVAILABLE_IN_AREA = "service_not_available_in_the_area"
    SAFETY_CONCERNS = "safety_concerns"
    INCOMPLETE_INFORMATION = "incomplete_information"
    OTHER = "other"


class AssistanceItem(StrEnum):
    CASH = "cash"
    IN_KIND = "in_kind"
    BUSINESS_SUPPORT = "business_support"
    TRAINING = "training"
    HOUSING = "housing"
    MEDICAL = "medical"
    EDUCATION = "education"
    PSYCHOSOCIAL = "psychosocial"
    LEGAL = "legal"
    FAMILY_TRACING = "family_tracing"


class AmountRange(StrEnum):
    """The value of assistance, in US dollars, only ever as a range."""

    NONE = "none"
    UP_TO_500 = "up_to_500"
    FROM_500_TO_1000 = "500_to_1000"
    FROM_1000_TO_2000 = "1000_to_2000"
    FROM_2000_TO_5000 = "2000_to_5000"
    OVER_5000 = "over_5000"


#: Which replies report an event of the person's return, and which (``schemas.directory``).
REPLY_EVENTS = {
    ReplyKind.PERSON_MET: "arrival",
    ReplyKind.ASSISTANCE_DELIVERED: "assistance_started",
    ReplyKind.HANDED_OVER: "handed_over",
}


def _only_with(kind: ReplyKind, name: str) -> dict[str, Any]:
    """JSON Schema: ``name`` is given (not null) for a reply of ``kind``, and only for it."""
    return {
        "if": {"properties": {"kind": {"const": kind.value}}},
        "then": {"required": [name], "properties": {name: {"not": {"type": "null"}}}},
        "else": {"properties": {name: {"type": "null"}}},
    }


class ReplyCreate(Inbound):
    """A partner officer's answer to a referral received."""

    # What `_consistent` checks, in the published schema.
    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                _only_with(ReplyKind.DECLINED, "reason"),
                _only_with(ReplyKind.NEEDS_INFORMATION, "question"),
                _only_with(ReplyKind.ASSISTANCE_DELIVERED, "items"),
                {
                    "if": {"properties": {"kind": {"const": "assistance_delivered"}}},
                    "else": {"properties": {"amount": {"type": "null"}}},
                },
            ]
        }
    )

    kind: ReplyKind
    #: When it happened (a person met, assistance delivered); default: now. Never in the future.
    occurred_at: AwareDatetime | None = None
    reason: DeclineReason | None = None
    #: Words that go with it; never sent to a government authority.
    note: FreeLongText | None = None
    #: The question, for ``needs_information``.
    question: FreeLongText | None = None
    items: Annotated[list[AssistanceItem], Field(min_length=1, max_length=10)] | None = None
    amount: AmountRange | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ReplyCreate:
        if (self.kind is ReplyKind.DECLINED) != (self.reason is not None):
            raise ValueError("a decline, and only a decline, gives a reason from the list")
        if (self.kind is ReplyKind.NEEDS_INFORMATION) != (self.question is not None):
            raise ValueError("asking for information, and only that, states the question")
        delivered = self.kind is ReplyKind.ASSISTANCE_DELIVERED
        if delivered != (self.items is not None):
            raise ValueError("assistance delivered, and only that, lists the items delivered")
        if self.amount is not None and not delivered:
            raise ValueError("an amount goes only with assistance delivered")
        return self


class ReplyContent(ReplyCreate):
    """The plaintext of a ``reply`` envelope: a reply bound to the referral it answers."""

    packet_id: RandomId
    occurred_at: AwareDatetime


class PlanGoal(Inbound):
    dimension: ReintegrationDimension
    level: AssistanceLevel
    goal: FreeText


class PlanCreate(Inbound):
    """The reintegration plan, written at origin with the person."""

    goals: Annotated[list[PlanGoal], Field(min_length=1, max_length=12)]
    assistance_planned: Annotated[list[AssistanceItem], Field(max_length=10)] = []
    #: Local services the person is referred to (a clinic, a training centre).
    referrals_to_services: Annotated[list[FreeText], Field(max_length=10)] = []
    review_dates: Annotated[list[IsoDate], Field(max_length=8)] = []
    agreed_with_person: StrictBool


class PlanContent(PlanCreate):
    """The plaintext of a ``reintegration_plan`` envelope."""

    packet_id: RandomId
    #: 1 for the first plan; each revision adds one.
    version: Annotated[int, Field(ge=1, le=100)]


class MonitoringCreate(Inbound):
    """One round of the Reintegration Sustainability Survey with the person.

    ``answers`` maps each measurement element to its answer (a word of its coding rule, or
    true/false); the scoring table (``rss-v*.json``) says which words each element takes.
    """

    round_months: Annotated[int, Field(ge=1, le=60), AS_JSON_NUMBER]
    conducted_on: IsoDate
    answers: Annotated[dict[str, str | StrictBool], Field(min_length=1, max_length=32)]


#: A score between 0 and 1 in parts per ten thousand (0.1125 is 1125): signed documents are
#: canonical JSON, which holds no floats.
PerTenThousand = Annotated[int, Field(ge=0, le=10_000)]


class Scores(Inbound):
    """Reintegration scores, three dimensions and the composite, each in parts per ten thousand
    of the scale from 0 to 1; ``None`` where no weighted element of it was answered."""

    economic: PerTenThousand | None
    social: PerTenThousand | None
    psychosocial: PerTenThousand | None
    composite: PerTenThousand | None


class MonitoringContent(Inbound):
    """The plaintext of a ``monitoring`` envelope: scores and round, never the answers."""

    packet_id: RandomId
    round_months: Annotated[int, Field(ge=1, le=60)]
    conducted_on: date
    scoring_version: Annotated[str, Field(pattern=r"^rss-[a-z0-9.-]{1,20}$")]
    scores: Scores
    #: How many measurement elements were answered (and weighted).
    elements_scored: Annotated[int, Field(ge=0, le=32)]


class NoteCreate(Inbound):
    """Words about a referral to the other end: an answer to a question, a comment on a plan."""

    text: FreeLongText
    #: The follow-up message it answers or comments on, if any.
    about: RandomId | None = None


class NoteContent(NoteCreate):
    """The plaintext of a ``note`` envelope."""

    packet_id: RandomId


class FollowUpRead(Outbound):
    """One message of a referral's follow-up, as either end reads it."""

    id: str
    direction: str
    kind: str
    referral_packet_id: str
    counterpart: str
    counterpart_organisation: str
    detail: str | None
    occurred_at: datetime
    recorded_at: datetime
    content: dict[str, Any]
    #: Digest of the signed envelope it came or went in.
    envelope_sha256: str


class MonitoringRead(Outbound):
    """What a partner officer learns from a monitoring round it recorded."""

    id: str
    round_months: int
    scores: Scores
    elements_scored: int
    scoring_version: str
    #: The composite score fell below the programme's threshold: more assistance is needed.
    needs_more_assistance: bool
