"""The referral packet: four optional sections, each with its own fields.

Every field is optional so that minimisation can *remove* what a recipient may not see: a packet
serialised with ``exclude_none`` carries only the fields that survived the sharing decision. Free
text is bounded; lists are bounded; nothing here is a vulnerability flag in words.

Example::

    >>> ReferralContent(arrival=ArrivalSection(reception_requested=True)).section_names()
    ['arrival']
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from enum import StrEnum
from typing import Annotated, Any, get_args

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from schemas.common import (
    AS_JSON_NUMBER,
    FREE_TEXT,
    AirportCode,
    AwareDatetime,
    BirthDate,
    CountryCode,
    FreeLongText,
    FreeText,
    Inbound,
    LanguageCode,
    SectionName,
    ShortText,
    VulnerabilityFlag,
    some_field_given,
)

FreeTextList = Annotated[list[FreeText], Field(max_length=20)]


class TravelDocumentStatus(StrEnum):
    VALID_PASSPORT = "valid_passport"
    PASSPORT_TO_BE_ISSUED = "passport_to_be_issued"
    EMERGENCY_TRAVEL_DOCUMENT = "emergency_travel_document"
    LAISSEZ_PASSER = "laissez_passer"


class EscortType(StrEnum):
    NONE = "none"
    OPERATIONAL = "operational"
    MEDICAL = "medical"


class Equipment(StrEnum):
    WHEELCHAIR = "wheelchair"
    STRETCHER = "stretcher"
    OXYGEN = "oxygen"
    OTHER = "other"


class MedicalEscortKind(StrEnum):
    DOCTOR = "doctor"
    NURSE = "nurse"
    PARAMEDIC = "paramedic"


class CustodianKind(StrEnum):
    PARENT = "parent"
    RELATIVE = "relative"
    LEGAL_GUARDIAN = "legal_guardian"
    CHILD_PROTECTION_AGENCY = "child_protection_agency"


class ReintegrationDimension(StrEnum):
    ECONOMIC = "economic"
    SOCIAL = "social"
    PSYCHOSOCIAL = "psychosocial"


class AssistanceLevel(StrEnum):
    INDIVIDUAL = "individual"
    COMMUNITY = "community"


class GrantType(StrEnum):
    CASH = "cash"
    IN_KIND = "in_kind"
    BOTH = "both"
    NONE = "none"


class Stop(Inbound):
    """One airport on the itinerary, with the local times the traveller is there."""

    airport: AirportCode
    arrives_at: AwareDatetime | None = None
    departs_at: AwareDatetime | None = None


class TravelSection(Inbound):
    """How the person travels: documents, itinerary, escort, and help along the way."""

    model_config = ConfigDict(json_schema_extra=some_field_given)

    traveller_name: ShortText | None = None
    traveller_date_of_birth: BirthDate | None = None
    travel_document_status: TravelDocumentStatus | None = None
    departure: Stop | None = None
    transit_points: Annotated[list[Stop], Field(max_length=5)] | None = None
    arrival: Stop | None = None
    escort: EscortType | None = None
    assistance_at_departure: StrictBool | None = None
    assistance_in_transit: StrictBool | None = None
    assistance_at_arrival: StrictBool | None = None


class MedicalEscort(Inbound):
    kind: MedicalEscortKind
    organisation: ShortText | None = None


class MedicalSection(Inbound):
    """Health needs for the journey and after it.

    ``conditions`` and ``medication`` are clinical; ``mobility_needs_on_arrival`` is the practical
    statement ("needs a wheelchair at the gate") that a reception partner may receive instead.
    """

    model_config = ConfigDict(json_schema_extra=some_field_given)

    fit_to_travel: StrictBool | None = None
    conditions: FreeTextList | None = None
    medication: FreeTextList | None = None
    equipment: Annotated[list[Equipment], Field(max_length=4)] | None = None
    mobility_needs_on_arrival: FreeText | None = None
    medical_escort: MedicalEscort | None = None
    #: Free text: the facility's name can say what it treats.
    receiving_health_facility: FreeText | None = None


class Destination(Inbound):
    country: CountryCode
    locality: ShortText | None = None


class ChildCustodian(Inbound):
    """Who takes custody of a child on arrival, and how care passes to them."""

    kind: CustodianKind
    name: ShortText
    handover_arrangement: FreeLongText | None = None


class ArrivalSection(Inbound):
    """What the person needs on the day they arrive."""

    model_config = ConfigDict(json_schema_extra=some_field_given)

    reception_requested: StrictBool | None = None
    contact_language: LanguageCode | None = None
    onward_transport: StrictBool | None = None
    temporary_accommodation_nights: Annotated[int, Field(ge=0, le=30), AS_JSON_NUMBER] | None = None
    final_destination: Destination | None = None
    child_custodian: ChildCustodian | None = None
    #: Structured protection needs (never free text), for partners whose role needs them.
    protection_needs: Annotated[list[VulnerabilityFlag], Field(max_length=7)] | None = None


class ReintegrationNeed(Inbound):
    dimension: ReintegrationDimension
    level: AssistanceLevel


class ReintegrationSection(Inbound):
    """Needs and plan for the months after return."""

    model_config = ConfigDict(json_schema_extra=some_field_given)

    needs: Annotated[list[ReintegrationNeed], Field(max_length=6)] | None = None
    plan: FreeLongText | None = None
    skills: FreeTextList | None = None
    education: FreeText | None = None
    housing_support: StrictBool | None = None
    health_referral: StrictBool | None = None
    grant_type: GrantType | None = None


SECTION_MODELS: dict[SectionName, type[Inbound]] = {
    SectionName.TRAVEL: TravelSection,
    SectionName.MEDICAL: MedicalSection,
    SectionName.ARRIVAL: ArrivalSection,
    SectionName.REINTEGRATION: ReintegrationSection,
}


def section_fields(section: SectionName) -> frozenset[str]:
    """The top-level field names a section may carry: the unit of field-level minimisation."""
    return frozenset(SECTION_MODELS[section].model_fields)


def _holds_free_text(annotation: object, metadata: list[Any]) -> bool:
    """Whether a value of this type can hold text marked ``FREE_TEXT``, at any depth."""
    if any(item is FREE_TEXT for item in metadata):
        return True
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return any(
            _holds_free_text(f.annotation, f.metadata) for f in annotation.model_fields.values()
        )
    return any(
        _holds_free_text(arg, list(getattr(arg, "__metadata__", ())))
        for arg in get_args(annotation)
    )


def free_text_fields(section: SectionName) -> frozenset[str]:
    """Top-level fields of a section that hold staff's own words anywhere inside them.

    Minimisation works on top-level fields, so a field with free text nested in it (the child's
    custodian, whose handover arrangement is free text) counts as free text whole.
    """
    model = SECTION_MODELS[section]
    return frozenset(
        name
        for name, info in model.model_fields.items()
        if _holds_free_text(info.annotation, info.metadata)
    )


#: What never reaches a ``government_authority``, whatever the sharing policy or consent says
#: (DESIGN.md section 4): diagnosis and medication, protection flags (trafficking and asylum
#: history are among them), and every free-text field, which could state the same facts in words.
WITHHELD_FROM_AUTHORITIES: Mapping[SectionName, frozenset[str]] = {
    section: free_text_fields(section)
    | {
        SectionName.MEDICAL: frozenset({"conditions", "medication"}),
        SectionName.ARRIVAL: frozenset({"protection_needs"}),
    }.get(section, frozenset())
    for section in SectionName
}


class ReferralContent(Inbound):
    """The plaintext of a referral packet: whichever sections are present (at least one, and
    none of them empty; the published schema says so too)."""

    model_config = ConfigDict(json_schema_extra=some_field_given)

    travel: TravelSection | None = None
    medical: MedicalSection | None = None
    arrival: ArrivalSection | None = None
    reintegration: ReintegrationSection | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> ReferralContent:
        if not self.section_names():
            raise ValueError("a referral needs at least one section")
        for name in self.section_names():
            if not getattr(self, name).model_dump(exclude_none=True):
                raise ValueError(f"the {name} section has no field; leave it out instead")
        return self

    def section_names(self) -> list[str]:
        return [name.value for name in SectionName if getattr(self, name.value) is not None]

    def to_wire(self) -> dict[str, Any]:
        """The packet's JSON form: absent fields are absent, never null."""
        return self.model_dump(mode="json", exclude_none=True)

    def without(self, sections: Collection[SectionName]) -> ReferralContent:
        """The same content less ``sections`` (at least one must remain)."""
        names = {section.value for section in sections}
        return ReferralContent.model_validate(
            {name: values for name, values in self.to_wire().items() if name not in names}
        )

    def field_names(self) -> dict[str, list[str]]:
        """Each section present, with the names (never the values) of the fields it carries."""
        return {section: sorted(fields) for section, fields in self.to_wire().items()}
