"""Errors of the consent domain. They know nothing of HTTP."""

from __future__ import annotations

from enum import StrEnum


class RefusalRule(StrEnum):
    """The rule that stopped a referral; shown to the caseworker and kept in the access log."""

    LAW_ENFORCEMENT = "never_to_law_enforcement"
    NOT_A_MEMBER = "recipient_not_in_the_directory"
    SUSPENDED_COUNTRY = "country_suspended"
    SUSPENDED_REGION = "region_suspended"
    NO_POLICY = "no_sharing_rule_for_role_and_purpose"
    FIELD_NOT_ALLOWED = "field_not_allowed_for_role_and_purpose"
    NO_CONSENT = "no_valid_consent_for_purpose_and_recipient"
    CHILD_CONSENT_INCOMPLETE = "child_needs_guardian_consent_child_view_and_best_interests"
    CHILD_VIEW_NOT_WEIGHED = "child_disagrees_and_best_interests_does_not_weigh_their_view"
    CUSTODIAN_REQUIRED = "child_handover_must_name_the_custodian"
    CHILD_CUSTODIAN_REQUIRED = "unaccompanied_child_travel_or_arrival_must_name_the_custodian"
    HANDOVER_BEFORE_ARRIVAL = "unaccompanied_child_arrival_needs_recorded_handover"
    TRANSFER_GROUND = "explicit_consent_ground_without_risk_information"
    NOTHING_LEFT = "nothing_left_after_policy_and_consent"
    SELF_APPROVAL = "second_approval_by_another_staff_member"
    NEVER_TO_AUTHORITY = "never_to_a_government_authority"


class SharingRefused(Exception):
    """The sharing decision says no. ``rule`` names why; ``detail`` explains it to a caseworker."""

    def __init__(self, rule: RefusalRule, detail: str) -> None:
        super().__init__(detail)
        self.rule = rule
        self.detail = detail
