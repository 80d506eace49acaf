"""The sharing policy a federation starts with keeps the protection rules of DESIGN.md section 4."""

from __future__ import annotations

import pytest

from consent.policy import WITHHELD_FROM_AUTHORITIES
from partners.default_policy import default_policy
from schemas.common import PartnerRole, Purpose, SectionName
from schemas.directory import SharingRule
from tests.partners.builders import directory


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
