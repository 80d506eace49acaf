"""Minimisation: what an allowance does not permit is absent from the packet, not blanked."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from consent.minimise import NothingToSend, minimise
from consent.policy import Allowance
from schemas.common import SectionName
from schemas.sections import ReferralContent, section_fields

TRAVEL, MEDICAL = SectionName.TRAVEL, SectionName.MEDICAL
ARRIVAL, REINTEGRATION = SectionName.ARRIVAL, SectionName.REINTEGRATION

#: One synthetic value for every field of every section (wire form), to build referrals from.
FULL: dict[SectionName, dict[str, Any]] = {
    TRAVEL: {
        "traveller_name": "Synthetic Traveller",
        "traveller_date_of_birth": "1990-05-17",
        "travel_document_status": "emergency_travel_document",
        "departure": {"airport": "FRA", "departs_at": "2026-04-01T06:30:00Z"},
        "transit_points": [{"airport": "CMN"}],
        "arrival": {"airport": "DSS", "arrives_at": "2026-04-01T13:10:00Z"},
        "escort": "operational",
        "assistance_at_departure": True,
        "assistance_in_transit": False,
        "assistance_at_arrival": True,
    },
    MEDICAL: {
        "fit_to_travel": True,
        "conditions": ["synthetic condition"],
        "medication": ["synthetic medication"],
        "equipment": ["wheelchair"],
        "mobility_needs_on_arrival": "Wheelchair at the gate",
        "medical_escort": {"kind": "nurse", "organisation": "Synthetic Escorts"},
        "receiving_health_facility": "Synthetic Clinic",
    },
    ARRIVAL: {
        "reception_requested": True,
        "contact_language": "wo",
        "onward_transport": True,
        "temporary_accommodation_nights": 2,
        "final_destination": {"country": "SN", "locality": "Synthetic Town"},
        "child_custodian": {"kind": "relative", "name": "Synthetic Custodian"},
        "protection_needs": ["victim_of_trafficking", "asylum_history"],
    },
    REINTEGRATION: {
        "needs": [{"dimension": "economic", "level": "individual"}],
        "plan": "A synthetic plan.",
        "skills": ["carpentry"],
        "education": "Secondary",
        "housing_support": False,
        "health_referral": True,
        "grant_type": "in_kind",
    },
}


def content(fields: Mapping[SectionName, set[str]]) -> ReferralContent:
    return ReferralContent.model_validate(
        {s.value: {f: FULL[s][f] for f in sorted(names)} for s, names in fields.items()}
    )


def allowance(fields: Mapping[SectionName, set[str]]) -> Allowance:
    return Allowance({s: frozenset(names) for s, names in fields.items()}, ("c-1",))


class TestMinimise:
    def test_fields_not_allowed_are_absent(self) -> None:
        source = content({ARRIVAL: {"reception_requested", "contact_language", "child_custodian"}})

        result = minimise(source, allowance({ARRIVAL: {"reception_requested"}}))

        assert result.to_wire() == {"arrival": {"reception_requested": True}}
        assert result.arrival is not None
        assert result.arrival.model_fields_set == {"reception_requested"}

    def test_sections_not_allowed_are_dropped(self) -> None:
        source = content({ARRIVAL: {"reception_requested"}, MEDICAL: {"conditions"}})

        result = minimise(source, allowance({ARRIVAL: {"reception_requested"}}))

        assert result.medical is None
        assert result.section_names() == ["arrival"]

    def test_section_left_without_fields_is_dropped(self) -> None:
        source = content({ARRIVAL: {"reception_requested"}, MEDICAL: {"conditions"}})
        allowed = allowance({ARRIVAL: {"reception_requested"}, MEDICAL: {"equipment"}})

        result = minimise(source, allowed)

        assert result.medical is None
        assert result.to_wire() == {"arrival": {"reception_requested": True}}

    def test_allowed_field_without_value_is_not_added(self) -> None:
        source = content({ARRIVAL: {"reception_requested"}})

        result = minimise(source, allowance({ARRIVAL: {"reception_requested", "onward_transport"}}))

        assert result.to_wire() == {"arrival": {"reception_requested": True}}

    def test_allowed_nested_value_is_kept_whole(self) -> None:
        source = content({ARRIVAL: {"final_destination", "child_custodian"}})

        result = minimise(source, allowance({ARRIVAL: {"final_destination"}}))

        assert result.to_wire() == {
            "arrival": {"final_destination": FULL[ARRIVAL]["final_destination"]}
        }

    def test_everything_allowed_keeps_the_referral_as_it_was(self) -> None:
        every = {s: set(FULL[s]) for s in SectionName}

        assert minimise(content(every), allowance(every)) == content(every)

    def test_nothing_left_raises_nothing_to_send(self) -> None:
        source = content({MEDICAL: {"conditions", "medication"}})

        with pytest.raises(NothingToSend):
            minimise(source, allowance({MEDICAL: {"equipment"}, ARRIVAL: {"reception_requested"}}))

    def test_protection_needs_not_allowed_are_absent(self) -> None:
        source = content({ARRIVAL: {"reception_requested", "protection_needs"}})

        result = minimise(source, allowance({ARRIVAL: {"reception_requested"}}))

        assert result.to_wire() == {"arrival": {"reception_requested": True}}

    def test_full_example_covers_every_field(self) -> None:
        # The property below draws from FULL; a field missing here would go untested.
        assert {s: set(values) for s, values in FULL.items()} == {
            s: set(section_fields(s)) for s in SectionName
        }

    def test_section_present_but_empty_cannot_even_be_built(self) -> None:
        # An empty section is refused at input, so minimise never has to guess what it means.
        with pytest.raises(ValidationError, match="no field"):
            content({ARRIVAL: set()})


@st.composite
def field_maps(draw: st.DrawFn) -> dict[SectionName, set[str]]:
    sections = draw(st.sets(st.sampled_from(list(SectionName))))
    return {s: draw(st.sets(st.sampled_from(sorted(section_fields(s))))) for s in sections}


@st.composite
def filled_field_maps(draw: st.DrawFn) -> dict[SectionName, set[str]]:
    """Referral inputs: at least one section, and every present section has a field."""
    sections = draw(st.sets(st.sampled_from(list(SectionName)), min_size=1))
    return {
        s: draw(st.sets(st.sampled_from(sorted(section_fields(s))), min_size=1)) for s in sections
    }


class TestMinimiseProperties:
    @given(given_fields=filled_field_maps(), allowed_fields=field_maps())
    def test_output_is_within_both_allowance_and_input(
        self,
        given_fields: dict[SectionName, set[str]],
        allowed_fields: dict[SectionName, set[str]],
    ) -> None:
        source = content(given_fields)
        expected = {
            s.value: fields & allowed_fields[s]
            for s, fields in given_fields.items()
            if s in allowed_fields and fields & allowed_fields[s]
        }

        try:
            result = minimise(source, allowance(allowed_fields))
        except NothingToSend:
            assert expected == {}
            return
        wire, source_wire = result.to_wire(), source.to_wire()

        for section, values in wire.items():
            assert set(values) <= allowed_fields[SectionName(section)]
            assert set(values) <= set(source_wire[section])
            assert values == {f: source_wire[section][f] for f in values}
        assert {s: set(v) for s, v in wire.items()} == expected
