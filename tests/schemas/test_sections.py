"""The referral packet models: closed, frozen, bounded, and strict about codes and times."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any, get_args

import pytest
from pydantic import BaseModel, ValidationError

from schemas.common import SectionName, VulnerabilityFlag
from schemas.sections import (
    SECTION_MODELS,
    WITHHELD_FROM_AUTHORITIES,
    ArrivalSection,
    ChildCustodian,
    Destination,
    MedicalSection,
    ReferralContent,
    ReintegrationSection,
    Stop,
    TravelSection,
    free_text_fields,
    section_fields,
)

ARRIVES = datetime(2026, 4, 1, 6, 30, tzinfo=UTC)


def error_types(exc: ValidationError) -> set[str]:
    return {str(error["type"]) for error in exc.errors()}


def refused(model: type[BaseModel], data: dict[str, Any]) -> set[str]:
    """Validate ``data`` expecting a refusal, and return the pydantic error types."""
    with pytest.raises(ValidationError) as exc_info:
        model.model_validate(data)
    return error_types(exc_info.value)


class TestInboundModels:
    @pytest.mark.parametrize(
        ("model", "valid"),
        [
            *((model, {}) for model in SECTION_MODELS.values()),
            (ReferralContent, {"arrival": {"reception_requested": True}}),
            (Stop, {"airport": "DSS"}),
            (Destination, {"country": "SN"}),
        ],
    )
    def test_unknown_field_is_refused(self, model: type[BaseModel], valid: dict[str, Any]) -> None:
        model.model_validate(valid)

        assert refused(model, {**valid, "diagnosis": "synthetic"}) == {"extra_forbidden"}

    def test_section_is_frozen(self) -> None:
        section = ArrivalSection(reception_requested=True)

        with pytest.raises(ValidationError) as exc_info:
            section.reception_requested = False  # type: ignore[misc]

        assert error_types(exc_info.value) == {"frozen_instance"}
        assert section.reception_requested is True

    def test_referral_is_frozen(self) -> None:
        content = ReferralContent(arrival=ArrivalSection(reception_requested=True))

        with pytest.raises(ValidationError) as exc_info:
            content.medical = MedicalSection(fit_to_travel=True)  # type: ignore[misc]

        assert error_types(exc_info.value) == {"frozen_instance"}

    def test_every_section_name_has_a_model(self) -> None:
        assert set(SECTION_MODELS) == set(SectionName)
        assert set(ReferralContent.model_fields) == {name.value for name in SectionName}


class TestSectionFields:
    def test_section_fields_are_the_top_level_field_names(self) -> None:
        assert section_fields(SectionName.MEDICAL) == {
            "fit_to_travel",
            "conditions",
            "medication",
            "equipment",
            "mobility_needs_on_arrival",
            "medical_escort",
            "receiving_health_facility",
        }

    def test_arrival_carries_protection_needs(self) -> None:
        assert "protection_needs" in section_fields(SectionName.ARRIVAL)


class TestProtectionNeeds:
    def test_flags_are_accepted(self) -> None:
        section = ArrivalSection.model_validate({"protection_needs": ["victim_of_trafficking"]})

        assert section.protection_needs == [VulnerabilityFlag.VICTIM_OF_TRAFFICKING]

    def test_every_flag_at_once_is_accepted(self) -> None:
        every = [flag.value for flag in VulnerabilityFlag]

        assert ArrivalSection.model_validate({"protection_needs": every}).protection_needs == list(
            VulnerabilityFlag
        )

    def test_free_text_is_refused(self) -> None:
        # Protection needs are structured flags, never words about the person.
        assert refused(ArrivalSection, {"protection_needs": ["fled an abusive employer"]}) == {
            "enum"
        }

    def test_more_entries_than_flags_are_refused(self) -> None:
        too_many = ["elderly"] * 8

        assert refused(ArrivalSection, {"protection_needs": too_many}) == {"too_long"}


class TestCountryCode:
    def test_known_country_code_is_accepted(self) -> None:
        assert Destination(country="SN").country == "SN"

    @pytest.mark.parametrize(
        ("code", "error"),
        [
            ("XX", "value_error"),
            ("sn", "value_error"),
            ("SEN", "string_too_long"),
            ("", "string_too_short"),
        ],
    )
    def test_code_outside_iso_3166_alpha_2_is_refused(self, code: str, error: str) -> None:
        assert refused(Destination, {"country": code}) == {error}


class TestLanguageCode:
    def test_known_language_code_is_accepted(self) -> None:
        assert ArrivalSection(contact_language="wo").contact_language == "wo"

    @pytest.mark.parametrize(
        ("code", "error"),
        [
            ("xx", "value_error"),
            ("EN", "value_error"),
            ("eng", "string_too_long"),
            ("e", "string_too_short"),
        ],
    )
    def test_code_outside_iso_639_1_is_refused(self, code: str, error: str) -> None:
        assert refused(ArrivalSection, {"contact_language": code}) == {error}


class TestTimes:
    def test_naive_datetime_is_refused(self) -> None:
        types = refused(Stop, {"airport": "DSS", "arrives_at": datetime(2026, 4, 1, 6, 30)})  # noqa: DTZ001

        assert types == {"value_error"}

    def test_naive_datetime_text_is_refused(self) -> None:
        assert refused(Stop, {"airport": "DSS", "arrives_at": "2026-04-01T06:30:00"}) == {
            "value_error"
        }

    def test_aware_datetime_is_normalised_to_utc(self) -> None:
        local = datetime(2026, 4, 1, 8, 30, tzinfo=timezone(timedelta(hours=2)))

        stop = Stop(airport="DSS", arrives_at=local)

        assert stop.arrives_at == ARRIVES
        assert stop.arrives_at is not None
        assert stop.arrives_at.utcoffset() == timedelta(0)


class TestBounds:
    def test_five_transit_points_are_accepted(self) -> None:
        section = TravelSection(transit_points=[Stop(airport="CMN")] * 5)

        assert section.transit_points is not None
        assert len(section.transit_points) == 5

    def test_too_many_transit_points_are_refused(self) -> None:
        stops = [{"airport": "CMN"}] * 6

        assert refused(TravelSection, {"transit_points": stops}) == {"too_long"}

    def test_short_text_at_its_limit_is_accepted(self) -> None:
        assert TravelSection(traveller_name="A" * 200).traveller_name == "A" * 200

    def test_too_long_short_text_is_refused(self) -> None:
        assert refused(TravelSection, {"traveller_name": "A" * 201}) == {"string_too_long"}

    def test_short_text_with_a_line_break_is_refused(self) -> None:
        assert refused(TravelSection, {"traveller_name": "Synthetic\nName"}) == {
            "string_pattern_mismatch"
        }

    def test_blank_short_text_is_refused(self) -> None:
        assert refused(TravelSection, {"traveller_name": "   "}) == {"string_pattern_mismatch"}

    def test_too_long_long_text_is_refused(self) -> None:
        assert refused(ReintegrationSection, {"plan": "p" * 4001}) == {"string_too_long"}

    def test_too_long_list_of_short_texts_is_refused(self) -> None:
        assert refused(MedicalSection, {"medication": ["synthetic"] * 21}) == {"too_long"}

    def test_too_many_accommodation_nights_are_refused(self) -> None:
        assert refused(ArrivalSection, {"temporary_accommodation_nights": 31}) == {
            "less_than_equal"
        }

    def test_lowercase_airport_code_is_refused(self) -> None:
        assert refused(Stop, {"airport": "dss"}) == {"string_pattern_mismatch"}

    def test_child_custodian_needs_a_name(self) -> None:
        assert refused(ChildCustodian, {"kind": "relative"}) == {"missing"}


class TestReferralContent:
    def test_empty_referral_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="at least one section"):
            ReferralContent()

    def test_section_without_any_field_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="travel section has no field"):
            ReferralContent(
                travel=TravelSection(), arrival=ArrivalSection(reception_requested=True)
            )

    @pytest.mark.parametrize("name", [name.value for name in SectionName])
    def test_each_section_without_any_field_is_refused(self, name: str) -> None:
        data: dict[str, Any] = {name: {}}
        if name != "arrival":
            data["arrival"] = {"reception_requested": True}

        with pytest.raises(ValidationError, match=f"{name} section has no field"):
            ReferralContent.model_validate(data)

    def test_section_with_only_null_fields_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="arrival section has no field"):
            ReferralContent.model_validate({"arrival": {"reception_requested": None}})

    def test_section_names_follow_section_order(self) -> None:
        content = ReferralContent(
            reintegration=ReintegrationSection(housing_support=True),
            travel=TravelSection(escort="none"),
        )

        assert content.section_names() == ["travel", "reintegration"]

    def test_to_wire_omits_none_fields(self) -> None:
        content = ReferralContent(
            travel=TravelSection(
                traveller_date_of_birth=date(1990, 5, 17),
                arrival=Stop(airport="DSS", arrives_at=ARRIVES),
            ),
            arrival=ArrivalSection(reception_requested=True),
        )

        assert content.to_wire() == {
            "travel": {
                "traveller_date_of_birth": "1990-05-17",
                "arrival": {"airport": "DSS", "arrives_at": "2026-04-01T06:30:00Z"},
            },
            "arrival": {"reception_requested": True},
        }

    def test_to_wire_round_trips(self) -> None:
        content = ReferralContent(
            medical=MedicalSection(equipment=["wheelchair"], mobility_needs_on_arrival="Gate"),
            arrival=ArrivalSection(final_destination=Destination(country="SN", locality="Thies")),
        )

        assert ReferralContent.model_validate(content.to_wire()) == content


def _text_fields(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Every (nested) field whose value is or holds a string, as dotted paths."""
    found: set[str] = set()
    for name, info in model.model_fields.items():
        found |= _strings_in(info.annotation, f"{prefix}{name}")
    return found


def _strings_in(annotation: object, path: str) -> set[str]:
    if annotation is str:
        return {path}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _text_fields(annotation, f"{path}.")
    if isinstance(annotation, type) and issubclass(annotation, (StrEnum, date)):
        return set()
    return set().union(*(_strings_in(arg, path) for arg in get_args(annotation)))


#: Text fields that name a person, place or organisation (bounded identifiers, never a
#: description): the only text an authority may receive, where the policy lists it.
NAMES = {
    "travel.traveller_name",
    "medical.medical_escort.organisation",
    "arrival.final_destination.locality",
    "arrival.child_custodian.name",
}
#: Text fields that hold a code checked against a list (airports, countries, languages).
CODES = {
    "travel.departure.airport",
    "travel.transit_points.airport",
    "travel.arrival.airport",
    "arrival.contact_language",
    "arrival.final_destination.country",
}


class TestFreeText:
    def test_free_text_fields_are_those_written_in_staffs_own_words(self) -> None:
        assert {s: free_text_fields(s) for s in SectionName} == {
            SectionName.TRAVEL: frozenset(),
            SectionName.MEDICAL: {
                "conditions",
                "medication",
                "mobility_needs_on_arrival",
                "receiving_health_facility",
            },
            # The custodian holds the handover arrangement, in words.
            SectionName.ARRIVAL: {"child_custodian"},
            SectionName.REINTEGRATION: {"plan", "skills", "education"},
        }

    def test_every_text_field_is_either_a_name_or_free_text(self) -> None:
        # A new text field must be marked FREE_TEXT or added to NAMES here, on purpose: an
        # unmarked description would otherwise reach a government authority.
        marked = {
            f"{section.value}.{name}"
            for section in SectionName
            for name in free_text_fields(section)
        }
        for section in SectionName:
            for path in _text_fields(SECTION_MODELS[section], f"{section.value}."):
                top = ".".join(path.split(".")[:2])
                assert path in NAMES | CODES or top in marked, path

    def test_authorities_never_get_diagnosis_flags_or_free_text(self) -> None:
        assert WITHHELD_FROM_AUTHORITIES[SectionName.MEDICAL] >= {"conditions", "medication"}
        assert "protection_needs" in WITHHELD_FROM_AUTHORITIES[SectionName.ARRIVAL]
        for section in SectionName:
            assert free_text_fields(section) <= WITHHELD_FROM_AUTHORITIES[section]

    def test_field_names_lists_what_is_present_never_values(self) -> None:
        content = ReferralContent(
            arrival=ArrivalSection(reception_requested=True, contact_language="fr")
        )

        assert content.field_names() == {"arrival": ["contact_language", "reception_requested"]}
