"""Consent records as plain values: who is a child, which consent covers whom, and when."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from consent.records import ConsentGrant, SubjectFacts
from schemas.common import ConsentGiver, PartnerRole, Purpose, SectionName, VulnerabilityFlag

TODAY = date(2026, 3, 2)
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PARTNER = "reception.example"
OTHER = "transit.example"

RECEPTION = PartnerRole.RECEPTION_PARTNER
TRANSIT = PartnerRole.TRANSIT_OFFICE
ARRIVAL_RECEPTION = Purpose.ARRIVAL_RECEPTION
UNACCOMPANIED = VulnerabilityFlag.UNACCOMPANIED_OR_SEPARATED_CHILD


def facts(
    date_of_birth: date | None,
    *,
    age_uncertain: bool = False,
    today: date = TODAY,
    flags: frozenset[VulnerabilityFlag] = frozenset(),
) -> SubjectFacts:
    return SubjectFacts.from_birth(
        date_of_birth=date_of_birth, age_uncertain=age_uncertain, today=today, flags=flags
    )


class TestSubjectFactsFromBirth:
    def test_adult_is_not_a_child(self) -> None:
        assert facts(date(1990, 5, 17)).is_child is False

    def test_young_child_is_a_child(self) -> None:
        assert facts(date(2019, 1, 1)).is_child is True

    def test_eighteenth_birthday_today_is_an_adult(self) -> None:
        assert facts(date(2008, 3, 2)).is_child is False

    def test_day_before_eighteenth_birthday_is_a_child(self) -> None:
        assert facts(date(2008, 3, 3)).is_child is True

    def test_eighteenth_birthday_later_in_the_year_is_a_child(self) -> None:
        # Same year of birth as the adult above, but the birthday has not come round yet.
        assert facts(date(2008, 12, 31)).is_child is True

    def test_eighteenth_birthday_earlier_in_the_year_is_an_adult(self) -> None:
        assert facts(date(2008, 1, 1)).is_child is False

    def test_leap_day_birth_is_a_child_on_the_28th_of_february(self) -> None:
        assert facts(date(2008, 2, 29), today=date(2026, 2, 28)).is_child is True

    def test_leap_day_birth_is_an_adult_on_the_first_of_march(self) -> None:
        assert facts(date(2008, 2, 29), today=date(2026, 3, 1)).is_child is False

    def test_uncertain_age_is_a_child_even_with_an_adult_date_of_birth(self) -> None:
        assert facts(date(1990, 5, 17), age_uncertain=True).is_child is True

    def test_no_date_of_birth_is_a_child(self) -> None:
        assert facts(None).is_child is True

    def test_unaccompanied_child_flag_makes_a_child_whatever_the_date(self) -> None:
        assert facts(date(1990, 5, 17), flags=frozenset({UNACCOMPANIED})).is_child is True

    def test_other_flags_do_not_make_a_child(self) -> None:
        flags = frozenset({VulnerabilityFlag.ELDERLY, VulnerabilityFlag.HEALTH_NEEDS})

        assert facts(date(1950, 1, 1), flags=flags).is_child is False

    @pytest.mark.parametrize("date_of_birth", [date(1990, 5, 17), date(2019, 1, 1), None])
    def test_flags_are_kept(self, date_of_birth: date | None) -> None:
        flags = frozenset({VulnerabilityFlag.VICTIM_OF_TRAFFICKING})

        assert facts(date_of_birth, flags=flags).flags == flags


def grant(
    *,
    purpose: Purpose = ARRIVAL_RECEPTION,
    recipient: str | None = PARTNER,
    recipient_role: PartnerRole | None = None,
    valid_from: datetime = NOW - timedelta(days=1),
    valid_until: datetime | None = NOW + timedelta(days=90),
    withdrawn_at: datetime | None = None,
    given_by: ConsentGiver = ConsentGiver.DATA_SUBJECT,
    child_view_recorded: bool = False,
    best_interests_reference: bool = False,
) -> ConsentGrant:
    return ConsentGrant(
        ref="c-1",
        purpose=purpose,
        sections=frozenset({SectionName.ARRIVAL}),
        valid_from=valid_from,
        valid_until=valid_until,
        recipient=recipient,
        recipient_role=recipient_role,
        withdrawn_at=withdrawn_at,
        given_by=given_by,
        child_view_recorded=child_view_recorded,
        best_interests_reference=best_interests_reference,
    )


def covers(
    consent: ConsentGrant,
    *,
    purpose: Purpose = ARRIVAL_RECEPTION,
    node: str = PARTNER,
    roles: frozenset[PartnerRole] = frozenset({RECEPTION}),
    now: datetime = NOW,
) -> bool:
    return consent.covers(purpose, node, roles, now)


class TestConsentGrantCovers:
    def test_consent_covers_its_named_recipient(self) -> None:
        assert covers(grant()) is True

    def test_consent_does_not_cover_another_node(self) -> None:
        assert covers(grant(), node=OTHER) is False

    def test_named_recipient_is_covered_whatever_its_roles(self) -> None:
        assert covers(grant(), roles=frozenset({TRANSIT})) is True

    def test_consent_does_not_cover_another_purpose(self) -> None:
        assert covers(grant(), purpose=Purpose.MEDICAL_ESCORT) is False

    def test_role_consent_covers_any_node_holding_the_role(self) -> None:
        by_role = grant(recipient=None, recipient_role=RECEPTION)

        assert covers(by_role, node=PARTNER) is True
        assert covers(by_role, node=OTHER) is True

    def test_role_consent_covers_a_node_holding_the_role_among_others(self) -> None:
        by_role = grant(recipient=None, recipient_role=RECEPTION)

        assert covers(by_role, roles=frozenset({TRANSIT, RECEPTION})) is True

    def test_role_consent_does_not_cover_a_node_without_the_role(self) -> None:
        by_role = grant(recipient=None, recipient_role=RECEPTION)

        assert covers(by_role, roles=frozenset({TRANSIT})) is False

    def test_consent_naming_no_recipient_covers_nobody(self) -> None:
        # Fails closed: a record with neither a node nor a role is not a consent to everyone.
        nobody = grant(recipient=None, recipient_role=None)

        assert covers(nobody, roles=frozenset(PartnerRole)) is False

    def test_withdrawn_consent_does_not_cover(self) -> None:
        assert covers(grant(withdrawn_at=NOW - timedelta(days=1))) is False

    def test_consent_withdrawn_at_this_instant_does_not_cover(self) -> None:
        assert covers(grant(withdrawn_at=NOW)) is False

    def test_consent_to_be_withdrawn_later_still_covers(self) -> None:
        assert covers(grant(withdrawn_at=NOW + timedelta(seconds=1))) is True

    def test_consent_not_yet_valid_does_not_cover(self) -> None:
        assert covers(grant(valid_from=NOW + timedelta(seconds=1))) is False

    def test_consent_valid_from_this_instant_covers(self) -> None:
        assert covers(grant(valid_from=NOW)) is True

    def test_expired_consent_does_not_cover(self) -> None:
        expired = grant(valid_from=NOW - timedelta(days=90), valid_until=NOW - timedelta(days=1))

        assert covers(expired) is False

    def test_consent_ending_at_this_instant_does_not_cover(self) -> None:
        assert covers(grant(valid_until=NOW)) is False

    def test_consent_without_end_covers(self) -> None:
        assert covers(grant(valid_until=None)) is True


REPRESENTATIVES = [ConsentGiver.PARENT, ConsentGiver.GUARDIAN, ConsentGiver.LEGAL_REPRESENTATIVE]


class TestCompleteForAChild:
    @pytest.mark.parametrize("giver", REPRESENTATIVES)
    def test_representative_with_child_view_and_bid_is_complete(self, giver: ConsentGiver) -> None:
        complete = grant(given_by=giver, child_view_recorded=True, best_interests_reference=True)

        assert complete.complete_for_a_child() is True

    def test_child_consenting_alone_is_not_complete(self) -> None:
        own = grant(
            given_by=ConsentGiver.DATA_SUBJECT,
            child_view_recorded=True,
            best_interests_reference=True,
        )

        assert own.complete_for_a_child() is False

    def test_missing_child_view_is_not_complete(self) -> None:
        unheard = grant(given_by=ConsentGiver.GUARDIAN, best_interests_reference=True)

        assert unheard.complete_for_a_child() is False

    def test_missing_best_interests_reference_is_not_complete(self) -> None:
        no_bid = grant(given_by=ConsentGiver.GUARDIAN, child_view_recorded=True)

        assert no_bid.complete_for_a_child() is False

    def test_defaults_are_not_complete(self) -> None:
        assert grant().complete_for_a_child() is False
