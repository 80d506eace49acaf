"""The sharing policy a federation starts with keeps the protection rules of DESIGN.md section 4,
and its retention rules keep each section no longer than the purpose needs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from consent.policy import WITHHELD_FROM_AUTHORITIES
from consent.retention import section_deadlines
from partners.default_policy import DEFAULT_EVENT_HORIZON_DAYS, default_policy, default_retention
from schemas.common import PartnerRole, Purpose, SectionName
from schemas.directory import Directory, RetentionEvent, RetentionRule, SharingRule
from tests.support.builders import NOW, directory


def rule_for(role: PartnerRole, purpose: Purpose) -> SharingRule:
    return next(r for r in default_policy() if r.role == role and r.purpose == purpose)


class TestDefaultPolicy:
    def test_no_rule_for_law_enforcement(self) -> None:
        assert [r for r in default_policy() if r.role is PartnerRole.LAW_ENFORCEMENT] == []

    def test_reception_partner_gets_no_clinical_medical_field(self) -> None:
        rule = rule_for(PartnerRole.RECEPTION_PARTNER, Purpose.ARRIVAL_RECEPTION)

        assert "conditions" not in rule.sections[SectionName.MEDICAL]
        assert "medication" not in rule.sections[SectionName.MEDICAL]
        assert "mobility_needs_on_arrival" in rule.sections[SectionName.MEDICAL]

    def test_reception_partner_gets_no_reintegration_section(self) -> None:
        rule = rule_for(PartnerRole.RECEPTION_PARTNER, Purpose.ARRIVAL_RECEPTION)

        assert SectionName.REINTEGRATION not in rule.sections

    def test_only_the_medical_escort_provider_sees_conditions(self) -> None:
        with_conditions = [
            (r.role, r.purpose)
            for r in default_policy()
            if "conditions" in r.sections.get(SectionName.MEDICAL, [])
        ]

        assert with_conditions == [(PartnerRole.MEDICAL_ESCORT_PROVIDER, Purpose.MEDICAL_ESCORT)]

    def test_government_authority_gets_no_medical_section(self) -> None:
        rules = [r for r in default_policy() if r.role is PartnerRole.GOVERNMENT_AUTHORITY]

        assert rules
        assert all(SectionName.MEDICAL not in r.sections for r in rules)

    def test_government_authority_rules_list_no_withheld_field(self) -> None:
        # The policy engine strips these anyway; the default table should not rely on that.
        for rule in default_policy():
            if rule.role is PartnerRole.GOVERNMENT_AUTHORITY:
                for section, withheld in WITHHELD_FROM_AUTHORITIES.items():
                    assert not withheld & set(rule.sections.get(section, []))

    def test_child_protection_agency_receives_the_custodian(self) -> None:
        # A child handover must name the custodian, so the agency's rule must let it through.
        rule = rule_for(PartnerRole.CHILD_PROTECTION_AGENCY, Purpose.CHILD_HANDOVER)

        assert "child_custodian" in rule.sections[SectionName.ARRIVAL]

    @pytest.mark.parametrize(
        "rule", default_policy(), ids=lambda r: f"{r.role.value}-{r.purpose.value}"
    )
    def test_every_rule_validates(self, rule: SharingRule) -> None:
        assert SharingRule.model_validate(rule.model_dump(mode="json")) == rule

    def test_policy_fits_in_a_directory(self) -> None:
        # The directory refuses two rules for one (role, purpose) and unknown fields.
        assert directory([], sharing_policy=default_policy()).sharing_policy == default_policy()

    def test_every_rule_lists_its_fields_sorted(self) -> None:
        for rule in default_policy():
            for fields in rule.sections.values():
                assert fields == sorted(set(fields))


def retention_for(purpose: Purpose, section: SectionName) -> RetentionRule:
    return next(r for r in default_retention() if r.purpose == purpose and r.section == section)


class TestDefaultRetention:
    def test_every_purpose_and_section_has_exactly_one_rule(self) -> None:
        pairs = [(r.purpose, r.section) for r in default_retention()]

        assert sorted(pairs) == sorted((p, s) for p in Purpose for s in SectionName)

    @pytest.mark.parametrize("purpose", list(Purpose))
    @pytest.mark.parametrize("section", [SectionName.TRAVEL, SectionName.MEDICAL])
    def test_travel_and_medical_data_are_kept_30_days_after_arrival(
        self, purpose: Purpose, section: SectionName
    ) -> None:
        rule = retention_for(purpose, section)

        assert (rule.event, rule.days, rule.child_minimum_days) == (
            RetentionEvent.ARRIVAL,
            30,
            None,
        )

    @pytest.mark.parametrize("purpose", list(Purpose))
    def test_arrival_data_are_kept_90_days_after_arrival(self, purpose: Purpose) -> None:
        rule = retention_for(purpose, SectionName.ARRIVAL)

        assert (rule.event, rule.days, rule.child_minimum_days) == (
            RetentionEvent.ARRIVAL,
            90,
            None,
        )

    @pytest.mark.parametrize("purpose", list(Purpose))
    def test_reintegration_data_are_kept_24_months_after_assistance_starts(
        self, purpose: Purpose
    ) -> None:
        rule = retention_for(purpose, SectionName.REINTEGRATION)

        assert (rule.event, rule.days, rule.child_minimum_days) == (
            RetentionEvent.ASSISTANCE_STARTED,
            730,
            730,
        )

    @pytest.mark.parametrize(
        "rule", default_retention(), ids=lambda r: f"{r.purpose.value}-{r.section.value}"
    )
    def test_every_rule_validates(self, rule: RetentionRule) -> None:
        assert RetentionRule.model_validate(rule.model_dump(mode="json")) == rule

    def test_every_event_has_a_horizon(self) -> None:
        assert set(DEFAULT_EVENT_HORIZON_DAYS) == set(RetentionEvent)
        assert DEFAULT_EVENT_HORIZON_DAYS[RetentionEvent.REFERRAL_SENT] == 0

    def test_retention_and_horizons_fit_in_a_directory(self) -> None:
        # The directory refuses two rules for one (purpose, section) and out-of-range days.
        data = directory([]).model_dump(mode="json")
        data["retention"] = [r.model_dump(mode="json") for r in default_retention()]
        data["event_horizon_days"] = {e.value: d for e, d in DEFAULT_EVENT_HORIZON_DAYS.items()}

        loaded = Directory.model_validate(data)

        assert loaded.retention == default_retention()
        assert loaded.event_horizon_days == DEFAULT_EVENT_HORIZON_DAYS

    def test_default_dates_of_a_referral_sent_now(self) -> None:
        arrival = DEFAULT_EVENT_HORIZON_DAYS[RetentionEvent.ARRIVAL]
        started = DEFAULT_EVENT_HORIZON_DAYS[RetentionEvent.ASSISTANCE_STARTED]

        dates = section_deadlines(
            rules=default_retention(),
            horizons=DEFAULT_EVENT_HORIZON_DAYS,
            purpose=Purpose.REINTEGRATION_ASSISTANCE,
            sections=list(SectionName),
            sent_at=NOW,
            is_child=True,
        )

        assert dates == {
            SectionName.TRAVEL: NOW + timedelta(days=arrival + 30),
            SectionName.MEDICAL: NOW + timedelta(days=arrival + 30),
            SectionName.ARRIVAL: NOW + timedelta(days=arrival + 90),
            SectionName.REINTEGRATION: NOW + timedelta(days=started + 730),
        }
