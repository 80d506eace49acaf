"""Values for people: codes, dates, lists, names and roles as a page says them in its language."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from babel.messages.pofile import read_po

from gateway.surfaces.portal.i18n import HERE, LANGUAGES
from gateway.surfaces.portal.labels import ACTIONS, COLUMNS, FIELDS, REPORTS, VALUES
from gateway.surfaces.portal.words import Words
from schemas.common import TransferGround, VulnerabilityFlag
from schemas.sections import (
    AssistanceLevel,
    CustodianKind,
    Equipment,
    EscortType,
    GrantType,
    MedicalEscortKind,
    ReintegrationDimension,
    TravelDocumentStatus,
)

LOCALES = HERE / "locales"
NAMES = {"origin-reception": "Réception Dakar"}


def words(language: str = "en", zone: str = "UTC") -> Words:
    return Words.of(language, zone, NAMES)


class TestTheWorld:
    @pytest.mark.parametrize(
        ("language", "country", "spoken"),
        [("en", "Senegal", "Wolof"), ("fr", "Sénégal", "wolof"), ("ar", "السنغال", "الولوفية")],
    )
    def test_countries_and_languages_by_name_in_the_pages_language(
        self, language: str, country: str, spoken: str
    ) -> None:
        assert words(language).country("SN") == country
        assert words(language).language_name("wo") == spoken

    def test_an_unknown_country_is_said_not_shown_as_a_code(self) -> None:
        assert words().country("??") == "an unknown country"

    def test_organisations_by_their_directory_name_never_their_id(self) -> None:
        assert words().organisation("origin-reception") == "Réception Dakar"
        assert "old-node" not in words().organisation("old-node")

    def test_staff_by_role_and_organisation_never_a_user_id(self) -> None:
        # Names are isolated (U+2068 ... U+2069), so a Latin name keeps its place in Arabic.
        assert words().actor("origin-reception", "partner_officer") == (
            "a staff member of \u2068Réception Dakar\u2069"
        )
        assert words().actor("tunis", "caseworker") == "a caseworker at \u2068tunis\u2069 office"
        assert words().actor("anything", "data_subject") == "you"


class TestDatesAndLists:
    def test_times_in_the_nodes_zone_to_the_minute(self) -> None:
        at = datetime(2026, 11, 5, 23, 30, tzinfo=UTC)
        assert words("en", "UTC").moment(at) == "Nov 5, 2026, 23:30"
        # Tunis is an hour ahead: the same moment is the next day there.
        assert words("en", "Africa/Tunis").moment("2026-11-05T23:30:00Z") == "Nov 6, 2026, 00:30"
        assert words("fr", "UTC").day(date(1990, 3, 4)) == "4 mars 1990"

    def test_a_week_is_the_day_it_starts(self) -> None:
        assert words("en").week("2026-W45") == "Nov 2"

    @pytest.mark.parametrize(
        ("language", "joined"), [("en", "a, b, and c"), ("fr", "a, b et c"), ("es", "a, b y c")]
    )
    def test_lists_joined_as_the_language_joins_them(self, language: str, joined: str) -> None:
        assert words(language).join(["a", "b", "c"]) == joined


class TestWhatWasShared:
    def test_fields_have_labels_and_values_in_words(self) -> None:
        said = dict(
            words().fields(
                {
                    "final_destination": {"country": "SN", "locality": "Thies"},
                    "equipment": ["wheelchair", "oxygen"],
                    "reception_requested": True,
                    "contact_language": "wo",
                    "needs": [{"dimension": "economic", "level": "individual"}],
                }
            )
        )
        assert said == {
            "Where you are going": "\u2068Thies\u2069, Senegal",
            "Equipment": "a wheelchair and oxygen",
            "Someone to meet you": "yes",
            "Language to speak to you in": "Wolof",
            "Needs": "work and income (for you)",
        }

    def test_free_text_is_shown_as_written_even_if_it_looks_like_a_code(self) -> None:
        assert words().said("plan", "other") == "other"
        assert words("fr").said("plan", "other") == "other"
        assert words("fr").said("equipment", "other") != "other"

    @pytest.mark.parametrize(
        "enum",
        [
            TravelDocumentStatus,
            EscortType,
            Equipment,
            MedicalEscortKind,
            CustodianKind,
            ReintegrationDimension,
            AssistanceLevel,
            GrantType,
            VulnerabilityFlag,
            TransferGround,
        ],
    )
    def test_every_coded_value_a_person_can_meet_has_a_label(self, enum: type) -> None:
        assert {member.value for member in enum} <= set(VALUES)


class TestCatalogue:
    @pytest.mark.parametrize("language", [code for code in LANGUAGES if code != "en"])
    def test_every_string_is_translated_with_the_same_placeholders(self, language: str) -> None:
        path = LOCALES / language / "LC_MESSAGES" / "messages.po"
        with path.open("rb") as handle:
            catalog = read_po(handle, locale=language)
        with (LOCALES / "messages.pot").open("rb") as handle:
            template = read_po(handle)

        assert {m.id for m in template if m.id} <= {m.id for m in catalog if m.id}
        for message in catalog:
            if not message.id:
                continue
            assert message.string, f"{language}: {message.id!r} is not translated"
            wanted = sorted(re.findall(r"%\(\w+\)s", str(message.id)))
            assert sorted(re.findall(r"%\(\w+\)s", str(message.string))) == wanted, message.id

    def test_every_field_of_every_section_has_a_label(self) -> None:
        from schemas.sections import (
            ArrivalSection,
            MedicalSection,
            ReintegrationSection,
            TravelSection,
        )

        for section in (TravelSection, MedicalSection, ArrivalSection, ReintegrationSection):
            assert set(section.model_fields) <= set(FIELDS), section.__name__

    def test_every_action_of_the_access_log_and_every_report_has_words(self) -> None:
        from gateway.processes import statistics
        from gateway.processes.audit import reports
        from gateway.records.accesslog.writer import Action

        assert {a.value for a in Action} <= set(ACTIONS)
        assert set(reports.REPORTS) | set(statistics.STATISTICS) <= set(REPORTS)
        assert "transfer_grounds" in COLUMNS
