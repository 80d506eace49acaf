"""Purpose-limited retention: a delete-by date per section (``consent.retention``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from consent.retention import FALLBACK, cap_deadlines, rule_event, section_deadlines
from schemas.common import Purpose, SectionName
from schemas.directory import RetentionEvent, RetentionRule

TRAVEL, MEDICAL = SectionName.TRAVEL, SectionName.MEDICAL
ARRIVAL, REINTEGRATION = SectionName.ARRIVAL, SectionName.REINTEGRATION
SENT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
DAY = timedelta(days=1)

RULES = [
    RetentionRule(
        purpose=Purpose.ARRIVAL_RECEPTION,
        section=TRAVEL,
        event=RetentionEvent.ARRIVAL,
        days=30,
    ),
    RetentionRule(
        purpose=Purpose.ARRIVAL_RECEPTION,
        section=ARRIVAL,
        event=RetentionEvent.ARRIVAL,
        days=90,
    ),
    RetentionRule(
        purpose=Purpose.ARRIVAL_RECEPTION,
        section=MEDICAL,
        event=RetentionEvent.REFERRAL_SENT,
        days=14,
    ),
    RetentionRule(
        purpose=Purpose.REINTEGRATION_ASSISTANCE,
        section=REINTEGRATION,
        event=RetentionEvent.ASSISTANCE_STARTED,
        days=365,
        child_minimum_days=730,
    ),
    RetentionRule(
        purpose=Purpose.REINTEGRATION_ASSISTANCE,
        section=ARRIVAL,
        event=RetentionEvent.ARRIVAL,
        days=120,
        child_minimum_days=60,
    ),
]
HORIZONS = {RetentionEvent.ARRIVAL: 60, RetentionEvent.ASSISTANCE_STARTED: 90}


def deadlines(
    purpose: Purpose,
    sections: Sequence[SectionName],
    *,
    is_child: bool = False,
    sent_at: datetime = SENT,
    rules: Sequence[RetentionRule] = RULES,
    horizons: Mapping[RetentionEvent, int] = HORIZONS,
    events: Mapping[RetentionEvent, datetime] | None = None,
) -> dict[SectionName, datetime]:
    return section_deadlines(
        rules=rules,
        horizons=horizons,
        purpose=purpose,
        sections=sections,
        sent_at=sent_at,
        is_child=is_child,
        events=events,
    )


class TestSectionDeadlines:
    def test_each_section_gets_its_own_rule(self) -> None:
        dates = deadlines(Purpose.ARRIVAL_RECEPTION, [ARRIVAL, MEDICAL, TRAVEL])

        assert dates == {
            ARRIVAL: SENT + (60 + 90) * DAY,
            MEDICAL: SENT + 14 * DAY,
            TRAVEL: SENT + (60 + 30) * DAY,
        }

    def test_only_the_sections_asked_for_are_dated(self) -> None:
        assert list(deadlines(Purpose.ARRIVAL_RECEPTION, [TRAVEL])) == [TRAVEL]
        assert deadlines(Purpose.ARRIVAL_RECEPTION, []) == {}

    def test_the_rule_of_the_purpose_applies_not_that_of_another(self) -> None:
        # The arrival section is kept 90 days after arrival for reception, 120 for reintegration.
        reception = deadlines(Purpose.ARRIVAL_RECEPTION, [ARRIVAL])
        reintegration = deadlines(Purpose.REINTEGRATION_ASSISTANCE, [ARRIVAL])

        assert reception[ARRIVAL] == SENT + (60 + 90) * DAY
        assert reintegration[ARRIVAL] == SENT + (60 + 120) * DAY

    def test_period_counts_from_the_events_assumed_date(self) -> None:
        dates = deadlines(Purpose.REINTEGRATION_ASSISTANCE, [REINTEGRATION])

        assert dates[REINTEGRATION] == SENT + (90 + 365) * DAY

    def test_a_longer_event_horizon_moves_the_date_later(self) -> None:
        near = deadlines(Purpose.ARRIVAL_RECEPTION, [TRAVEL], horizons={RetentionEvent.ARRIVAL: 7})
        far = deadlines(Purpose.ARRIVAL_RECEPTION, [TRAVEL], horizons={RetentionEvent.ARRIVAL: 70})

        assert near[TRAVEL] == SENT + (7 + 30) * DAY
        assert far[TRAVEL] == SENT + (70 + 30) * DAY

    def test_an_event_without_a_horizon_is_assumed_at_sending(self) -> None:
        dates = deadlines(Purpose.ARRIVAL_RECEPTION, [ARRIVAL, TRAVEL], horizons={})

        assert dates == {ARRIVAL: SENT + 90 * DAY, TRAVEL: SENT + 30 * DAY}

    def test_referral_sent_counts_from_sending_whatever_other_horizons_say(self) -> None:
        dates = deadlines(Purpose.ARRIVAL_RECEPTION, [MEDICAL])

        assert dates[MEDICAL] == SENT + 14 * DAY

    def test_a_reported_event_counts_from_when_it_happened_not_from_the_horizon(self) -> None:
        arrived = SENT + 5 * DAY
        dates = deadlines(
            Purpose.ARRIVAL_RECEPTION,
            [ARRIVAL, MEDICAL, TRAVEL],
            events={RetentionEvent.ARRIVAL: arrived},
        )

        assert dates == {
            ARRIVAL: arrived + 90 * DAY,
            MEDICAL: SENT + 14 * DAY,
            TRAVEL: arrived + 30 * DAY,
        }

    def test_a_late_event_moves_the_date_later_than_assumed(self) -> None:
        arrived = SENT + 100 * DAY
        dates = deadlines(
            Purpose.ARRIVAL_RECEPTION, [TRAVEL], events={RetentionEvent.ARRIVAL: arrived}
        )

        assert dates[TRAVEL] == arrived + 30 * DAY

    def test_a_reported_event_of_another_kind_changes_nothing(self) -> None:
        started = SENT + 3 * DAY
        dates = deadlines(
            Purpose.ARRIVAL_RECEPTION,
            [ARRIVAL, TRAVEL],
            events={RetentionEvent.ASSISTANCE_STARTED: started},
        )

        assert dates == deadlines(Purpose.ARRIVAL_RECEPTION, [ARRIVAL, TRAVEL])

    def test_a_child_minimum_still_applies_from_a_reported_event(self) -> None:
        started = SENT + 10 * DAY
        dates = deadlines(
            Purpose.REINTEGRATION_ASSISTANCE,
            [REINTEGRATION],
            is_child=True,
            events={RetentionEvent.ASSISTANCE_STARTED: started},
        )

        assert dates[REINTEGRATION] == started + 730 * DAY

    def test_the_event_of_a_section_is_its_rules(self) -> None:
        assert rule_event(RULES, Purpose.ARRIVAL_RECEPTION, TRAVEL) is RetentionEvent.ARRIVAL
        assert (
            rule_event(RULES, Purpose.REINTEGRATION_ASSISTANCE, REINTEGRATION)
            is RetentionEvent.ASSISTANCE_STARTED
        )
        # No rule: the fallback counts from sending.
        assert rule_event(RULES, Purpose.MEDICAL_ESCORT, TRAVEL) is RetentionEvent.REFERRAL_SENT

    def test_child_is_kept_at_least_the_child_minimum(self) -> None:
        adult = deadlines(Purpose.REINTEGRATION_ASSISTANCE, [REINTEGRATION])
        child = deadlines(Purpose.REINTEGRATION_ASSISTANCE, [REINTEGRATION], is_child=True)

        assert adult[REINTEGRATION] == SENT + (90 + 365) * DAY
        assert child[REINTEGRATION] == SENT + (90 + 730) * DAY

    def test_child_minimum_shorter_than_the_period_never_shortens_it(self) -> None:
        child = deadlines(Purpose.REINTEGRATION_ASSISTANCE, [ARRIVAL], is_child=True)

        assert child[ARRIVAL] == SENT + (60 + 120) * DAY

    def test_rule_without_a_child_minimum_treats_a_child_like_an_adult(self) -> None:
        sections = [ARRIVAL, MEDICAL, TRAVEL]

        assert deadlines(Purpose.ARRIVAL_RECEPTION, sections, is_child=True) == deadlines(
            Purpose.ARRIVAL_RECEPTION, sections
        )

    def test_section_without_a_rule_gets_the_30_day_fallback(self) -> None:
        dates = deadlines(Purpose.ARRIVAL_RECEPTION, [REINTEGRATION])

        assert FALLBACK == 30 * DAY
        assert dates[REINTEGRATION] == SENT + 30 * DAY

    def test_fallback_ignores_horizons_and_childhood(self) -> None:
        dates = deadlines(
            Purpose.CHILD_HANDOVER,
            [ARRIVAL, TRAVEL],
            is_child=True,
            horizons={RetentionEvent.ARRIVAL: 365},
        )

        assert dates == {ARRIVAL: SENT + 30 * DAY, TRAVEL: SENT + 30 * DAY}

    def test_no_rules_at_all_means_every_section_falls_back(self) -> None:
        dates = deadlines(Purpose.ARRIVAL_RECEPTION, list(SectionName), rules=[])

        assert dates == dict.fromkeys(SectionName, SENT + 30 * DAY)

    def test_dates_are_whole_seconds(self) -> None:
        sent = SENT + timedelta(microseconds=999_999)
        dates = deadlines(
            Purpose.ARRIVAL_RECEPTION, [ARRIVAL, MEDICAL, REINTEGRATION, TRAVEL], sent_at=sent
        )

        assert all(d.microsecond == 0 for d in dates.values())
        assert dates[MEDICAL] == SENT + 14 * DAY
        assert dates[REINTEGRATION] == SENT + 30 * DAY

    def test_dates_keep_the_time_zone_of_the_sending_time(self) -> None:
        local = SENT.astimezone(timezone(timedelta(hours=2)))
        dates = deadlines(Purpose.ARRIVAL_RECEPTION, [ARRIVAL], sent_at=local)

        assert dates[ARRIVAL] == SENT + 150 * DAY
        assert dates[ARRIVAL].utcoffset() == timedelta(hours=2)

    @given(
        days=st.integers(1, 3650),
        child=st.none() | st.integers(1, 3650),
        horizon=st.integers(0, 3650),
        is_child=st.booleans(),
    )
    def test_every_date_is_after_sending(
        self, days: int, child: int | None, horizon: int, is_child: bool
    ) -> None:
        rule = RetentionRule(
            purpose=Purpose.ARRIVAL_RECEPTION,
            section=ARRIVAL,
            event=RetentionEvent.ARRIVAL,
            days=days,
            child_minimum_days=child,
        )
        dates = deadlines(
            Purpose.ARRIVAL_RECEPTION,
            [ARRIVAL],
            is_child=is_child,
            rules=[rule],
            horizons={RetentionEvent.ARRIVAL: horizon},
        )

        assert dates[ARRIVAL] >= SENT + (horizon + days) * DAY
        assert dates[ARRIVAL] > SENT


class TestCapDeadlines:
    ALLOWED = {ARRIVAL: SENT + 90 * DAY, TRAVEL: SENT + 30 * DAY}

    def test_date_within_the_allowance_is_kept(self) -> None:
        stated = {ARRIVAL: SENT + 10 * DAY, TRAVEL: SENT + 30 * DAY}

        assert cap_deadlines(stated, self.ALLOWED) == stated

    def test_date_beyond_the_allowance_is_cut_to_it(self) -> None:
        stated = {ARRIVAL: SENT + 400 * DAY, TRAVEL: SENT + 31 * DAY}

        assert cap_deadlines(stated, self.ALLOWED) == self.ALLOWED

    def test_each_section_is_capped_by_its_own_allowance(self) -> None:
        # A date the arrival section may keep is still too long for the travel section.
        stated = {ARRIVAL: SENT + 60 * DAY, TRAVEL: SENT + 60 * DAY}

        assert cap_deadlines(stated, self.ALLOWED) == {
            ARRIVAL: SENT + 60 * DAY,
            TRAVEL: SENT + 30 * DAY,
        }

    def test_only_the_stated_sections_come_out(self) -> None:
        assert cap_deadlines({TRAVEL: SENT + DAY}, self.ALLOWED) == {TRAVEL: SENT + DAY}
        assert cap_deadlines({}, self.ALLOWED) == {}

    @given(
        stated=st.lists(st.integers(1, 10_000), min_size=4, max_size=4),
        allowed=st.lists(st.integers(1, 10_000), min_size=4, max_size=4),
    )
    def test_capping_never_lengthens_a_date(self, stated: list[int], allowed: list[int]) -> None:
        sections = list(SectionName)
        told = {s: SENT + timedelta(hours=h) for s, h in zip(sections, stated, strict=True)}
        rule = {s: SENT + timedelta(hours=h) for s, h in zip(sections, allowed, strict=True)}

        capped = cap_deadlines(told, rule)

        assert capped.keys() == told.keys()
        for section, date in capped.items():
            assert date <= told[section]
            assert date <= rule[section]
            assert date in (told[section], rule[section])
