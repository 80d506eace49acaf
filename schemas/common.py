"""Vocabulary shared by every other model: purposes, roles, flags, and constrained scalar types.

Invariants: every enum value is a stable wire string (renaming one is a protocol change); country
codes are ISO 3166-1 alpha-2 and language codes ISO 639-1, both checked against the full lists;
times and dates are written as text (RFC 3339, ISO 8601), never as a number of seconds, so what
the published schema calls a ``date-time`` is the only thing taken as one.

Example::

    >>> Purpose("arrival_reception") is Purpose.ARRIVAL_RECEPTION
    True
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

from schemas.iso import COUNTRY_CODES, LANGUAGE_CODES


class Purpose(StrEnum):
    """Why data is shared. Every consent and every packet names exactly one."""

    TRAVEL_ASSISTANCE = "travel_assistance"
    MEDICAL_ESCORT = "medical_escort"
    ARRIVAL_RECEPTION = "arrival_reception"
    REINTEGRATION_ASSISTANCE = "reintegration_assistance"
    REINTEGRATION_MONITORING = "reintegration_monitoring"
    CHILD_HANDOVER = "child_handover"


class PartnerRole(StrEnum):
    """What an organisation in the federation does; the sharing policy is keyed on it."""

    HOST_MISSION = "host_mission"
    TRANSIT_OFFICE = "transit_office"
    RECEPTION_PARTNER = "reception_partner"
    MEDICAL_ESCORT_PROVIDER = "medical_escort_provider"
    REINTEGRATION_PARTNER = "reintegration_partner"
    CHILD_PROTECTION_AGENCY = "child_protection_agency"
    GOVERNMENT_AUTHORITY = "government_authority"
    LAW_ENFORCEMENT = "law_enforcement"


class StaffRole(StrEnum):
    """What a person signed in to a node may do there."""

    CASEWORKER = "caseworker"
    PARTNER_OFFICER = "partner_officer"
    DPO = "dpo"
    ADMIN = "admin"


class Sex(StrEnum):
    """As the person states it; used only in statistics that cannot single anyone out."""

    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    NOT_RECORDED = "not_recorded"


class VulnerabilityFlag(StrEnum):
    """Protection-relevant facts about a person. Never sent as free text."""

    UNACCOMPANIED_OR_SEPARATED_CHILD = "unaccompanied_or_separated_child"
    VICTIM_OF_TRAFFICKING = "victim_of_trafficking"
    HEALTH_NEEDS = "health_needs"
    ELDERLY = "elderly"
    SINGLE_PARENT = "single_parent"
    VICTIM_OF_VIOLENCE_OR_EXPLOITATION = "victim_of_violence_or_exploitation"
    ASYLUM_HISTORY = "asylum_history"


class SectionName(StrEnum):
    """The optional parts of a referral packet; each has its own fields and retention."""

    TRAVEL = "travel"
    MEDICAL = "medical"
    ARRIVAL = "arrival"
    REINTEGRATION = "reintegration"


class TransferGround(StrEnum):
    """The legal ground for sending personal data across a border, stated in every packet."""

    EXPLICIT_CONSENT = "explicit_consent_informed_of_risks"
    VITAL_INTERESTS = "vital_interests"
    IMPORTANT_PUBLIC_INTEREST = "important_public_interest"


class ReferralStatus(StrEnum):
    """Where an outgoing referral stands on the node that sent it."""

    #: Decided but not sealed: a second staff member must approve it (the gravest cases).
    AWAITING_APPROVAL = "awaiting_approval"
    QUEUED = "queued"
    DELIVERED = "delivered"
    DEAD_LETTERED = "dead_lettered"
    #: Never sent: a withdrawal, or a protection rule at delivery (``status_reason`` says which).
    CANCELLED = "cancelled"


class ReceivedStatus(StrEnum):
    """What a recipient still holds of a referral it received."""

    ACTIVE = "active"
    PARTLY_WITHDRAWN = "partly_withdrawn"
    #: Consent was withdrawn for every section: nothing is left.
    WITHDRAWN = "withdrawn"
    #: Every section's retention period ended: nothing is left.
    EXPIRED = "expired"
    #: This node declined the referral and deleted what it held of it.
    DECLINED = "declined"


class RevocationStatus(StrEnum):
    """A request to a recipient to delete (a withdrawal, or a request for proof of deletion)."""

    #: Not answered yet: retried like any delivery.
    PENDING = "pending"
    #: The recipient's signed deletion receipt is verified.
    CONFIRMED = "confirmed"
    #: Answered, but a legal hold on the recipient keeps some packets.
    HELD = "held"
    #: Could not be delivered before its deadline; a DPO follows it up.
    UNDELIVERABLE = "undeliverable"


class ConsentGiver(StrEnum):
    """Who gave a consent on the person's behalf, or the person themselves."""

    DATA_SUBJECT = "data_subject"
    PARENT = "parent"
    GUARDIAN = "guardian"
    LEGAL_REPRESENTATIVE = "legal_representative"


def _country(value: str) -> str:
    if value not in COUNTRY_CODES:
        raise ValueError("not an ISO 3166-1 alpha-2 country code")
    return value


def _language(value: str) -> str:
    if value not in LANGUAGE_CODES:
        raise ValueError("not an ISO 639-1 language code")
    return value


#: A number, as a client might send one for a time (seconds since 1970): the parser would take it.
_NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")


def _written(value: object) -> object:
    # The parser takes a number, or a string holding one, as seconds since 1970; the published
    # schema says a time or a date is text in ISO 8601, so that is all that is taken.
    if isinstance(value, bool | int | float) or (isinstance(value, str) and _NUMBER.match(value)):
        raise ValueError("write a time or a date as text (2026-03-02T10:00:00Z, 2026-03-02)")
    return value


def _json_number(value: object) -> object:
    # The parser would take "3" or true for 3 or 1; the published schema says an integer, and
    # JSON's 3.0 is one.
    if isinstance(value, bool | str):
        raise ValueError("write a whole number as a JSON number")
    return value


def _aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("a time must carry its UTC offset")
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:  # 0001-01-01T00:00:00+01:00 has no UTC time
        raise ValueError("the time is out of range") from exc


def _born(value: date) -> date:
    # A day ahead of UTC's today: where the person is, today may already be tomorrow in UTC.
    if value > datetime.now(UTC).date() + timedelta(days=1):
        raise ValueError("a date of birth cannot be in the future")
    return value


# The published schema lists the codes the server takes, so a client (or a contract test) is
# never told a value is valid that the server then refuses.
CountryCode = Annotated[
    str,
    StringConstraints(min_length=2, max_length=2),
    AfterValidator(_country),
    Field(json_schema_extra={"enum": sorted(COUNTRY_CODES)}),
]
LanguageCode = Annotated[
    str,
    StringConstraints(min_length=2, max_length=2),
    AfterValidator(_language),
    Field(json_schema_extra={"enum": sorted(LANGUAGE_CODES)}),
]
#: A time with its UTC offset, written as text (RFC 3339), kept in UTC.
AwareDatetime = Annotated[datetime, BeforeValidator(_written), AfterValidator(_aware_utc)]
#: For an ``int`` field, after its bounds (so that the published schema keeps them): sent as a
#: JSON number (``3`` or ``3.0``), never as text or a boolean.
AS_JSON_NUMBER = BeforeValidator(_json_number)
#: A calendar date written as text (ISO 8601, ``2026-03-02``).
IsoDate = Annotated[date, BeforeValidator(_written)]
#: A date of birth: not after today (as late as today is anywhere on Earth).
BirthDate = Annotated[
    IsoDate,
    AfterValidator(_born),
    Field(description="Not in the future (a day of leeway for time zones)."),
]

_ID = re.compile(r"^[0-9a-f]{32}$")
#: A random 128-bit identifier as 32 lowercase hex digits (packets, cases, referrals).
RandomId = Annotated[str, StringConstraints(pattern=_ID.pattern)]
#: A node's name in the federation: lowercase letters, digits, dots and dashes.
NodeId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9.-]{1,62}$")]
#: A key id: the first 16 bytes, in hex, of SHA-256 over "avrr-key-id/1", the key's use and its
#: raw public key (see ``crypto.keys.key_id_for``).
KeyId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
# Text is checked as it was sent, not trimmed first, so that the published limits (length, one
# line, not blank) are exactly what is taken: a value cut to fit after trimming would be one the
# schema refuses and the node accepts. No control characters: PostgreSQL stores no NUL in text.
_PRINTABLE = r"[^\x00-\x1f\x7f]"
_NOT_BLANK = r"[^ \x00-\x1f\x7f]"
_IN_LINES = r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
#: Short free text typed by staff (a place name, an airport, a facility): bounded, one line of
#: printable characters, not blank.
ShortText = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=200, pattern=f"^{_PRINTABLE}*{_NOT_BLANK}{_PRINTABLE}*$"
    ),
]
#: Longer free text (a plan, a note): bounded, not blank; lines and tabs, no other control
#: characters.
LongText = Annotated[
    str,
    StringConstraints(
        min_length=1,
        max_length=4000,
        pattern=f"^{_IN_LINES}*{_NOT_BLANK}{_IN_LINES}*$",
    ),
]


class FreeTextMarker:
    """Marks a field in which staff describe the person in their own words.

    Such a field can carry any fact (a diagnosis, a trafficking or asylum history) whatever its
    label says, so the protection rules treat it as sensitive: it never reaches a government
    authority (``schemas.sections.WITHHELD_FROM_AUTHORITIES``). Names of people, places and
    organisations are ``ShortText`` without the mark.
    """

    def __repr__(self) -> str:
        return "FREE_TEXT"


FREE_TEXT = FreeTextMarker()
#: A description in staff's own words, one line (a condition, a skill, mobility needs).
FreeText = Annotated[ShortText, FREE_TEXT]
#: A longer description in staff's own words (a plan, a handover arrangement).
FreeLongText = Annotated[LongText, FREE_TEXT]


def _subdivision(value: str) -> str:
    if value.split("-", 1)[0] not in COUNTRY_CODES:
        raise ValueError("not an ISO 3166-2 code: its first part must be a country code")
    return value


#: An ISO 3166-2 country subdivision (a region, province or state), e.g. ``ML-7``.
SubdivisionCode = Annotated[
    str, StringConstraints(pattern=r"^[A-Z]{2}-[A-Z0-9]{1,3}$"), AfterValidator(_subdivision)
]
#: An IATA airport code.
AirportCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


def some_field_given(schema: dict[str, Any]) -> None:
    """For ``json_schema_extra``: the published schema says what a model's check says, that at
    least one of its fields is present and not null (not: each field there is null)."""
    schema["not"] = {"properties": {name: {"type": "null"} for name in schema["properties"]}}


class Inbound(BaseModel):
    """Base of every model read from outside: unknown fields are refused, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Outbound(BaseModel):
    """Base of models the service writes; strict about unknown fields so tests catch drift."""

    model_config = ConfigDict(extra="forbid")


__all__ = [
    "AS_JSON_NUMBER",
    "FREE_TEXT",
    "AirportCode",
    "AwareDatetime",
    "ConsentGiver",
    "CountryCode",
    "Field",
    "FreeLongText",
    "FreeText",
    "FreeTextMarker",
    "Inbound",
    "IsoDate",
    "KeyId",
    "LanguageCode",
    "LongText",
    "NodeId",
    "Outbound",
    "PartnerRole",
    "Purpose",
    "RandomId",
    "ReceivedStatus",
    "ReferralStatus",
    "RevocationStatus",
    "SectionName",
    "Sex",
    "ShortText",
    "StaffRole",
    "SubdivisionCode",
    "TransferGround",
    "VulnerabilityFlag",
    "some_field_given",
]
