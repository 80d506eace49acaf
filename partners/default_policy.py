"""The sharing policy a new federation starts with; the operator can replace it.

Minimal by design: each role gets only what its job for the purpose needs. A reception partner
learns that the person "needs a wheelchair on arrival", never the diagnosis; only a medical-escort
provider sees clinical fields; nothing at all is listed for ``law_enforcement``, and the policy
engine refuses that role whatever this table says.
"""

from __future__ import annotations

from schemas.common import PartnerRole, Purpose, SectionName
from schemas.directory import RetentionEvent, RetentionRule, SharingRule
from schemas.sections import section_fields

TRAVEL, MEDICAL = SectionName.TRAVEL, SectionName.MEDICAL
ARRIVAL, REINTEGRATION = SectionName.ARRIVAL, SectionName.REINTEGRATION


def _all(section: SectionName) -> list[str]:
    return sorted(section_fields(section))


def default_policy() -> list[SharingRule]:
    rules = [
        (
            PartnerRole.RECEPTION_PARTNER,
            Purpose.ARRIVAL_RECEPTION,
            {
                TRAVEL: ["traveller_name", "arrival", "escort", "assistance_at_arrival"],
                MEDICAL: ["equipment", "mobility_needs_on_arrival"],
                ARRIVAL: _all(ARRIVAL),
            },
        ),
        (
            PartnerRole.MEDICAL_ESCORT_PROVIDER,
            Purpose.MEDICAL_ESCORT,
            {
                TRAVEL: [
                    "traveller_name",
                    "traveller_date_of_birth",
                    "departure",
                    "transit_points",
                    "arrival",
                    "escort",
                ],
                MEDICAL: _all(MEDICAL),
            },
        ),
        (
            PartnerRole.TRANSIT_OFFICE,
            Purpose.TRAVEL_ASSISTANCE,
            {
                TRAVEL: [
                    "traveller_name",
                    "departure",
                    "transit_points",
                    "arrival",
                    "escort",
                    "assistance_in_transit",
                ],
                MEDICAL: ["equipment", "mobility_needs_on_arrival"],
            },
        ),
        (
            PartnerRole.REINTEGRATION_PARTNER,
            Purpose.REINTEGRATION_ASSISTANCE,
            {
                ARRIVAL: ["contact_language", "final_destination"],
                REINTEGRATION: _all(REINTEGRATION),
            },
        ),
        (
            PartnerRole.REINTEGRATION_PARTNER,
            Purpose.REINTEGRATION_MONITORING,
            {
                ARRIVAL: ["contact_language", "final_destination"],
                REINTEGRATION: ["needs", "plan", "grant_type"],
            },
        ),
        (
            PartnerRole.CHILD_PROTECTION_AGENCY,
            Purpose.CHILD_HANDOVER,
            {
                TRAVEL: ["traveller_name", "traveller_date_of_birth", "arrival", "escort"],
                MEDICAL: ["equipment", "mobility_needs_on_arrival", "medication"],
                ARRIVAL: _all(ARRIVAL),
            },
        ),
        (
            PartnerRole.GOVERNMENT_AUTHORITY,
            Purpose.TRAVEL_ASSISTANCE,
            {
                TRAVEL: ["traveller_name", "traveller_date_of_birth", "travel_document_status"],
            },
        ),
    ]
    return [
        SharingRule(
            role=role, purpose=purpose, sections={s: sorted(f) for s, f in sections.items()}
        )
        for role, purpose, sections in rules
    ]


#: Assumed days from sending a referral until an event is reported (travel is usually planned
#: within weeks; assistance starts soon after arrival).
DEFAULT_EVENT_HORIZON_DAYS = {
    RetentionEvent.REFERRAL_SENT: 0,
    RetentionEvent.ARRIVAL: 60,
    # A child is handed over to the custodian on the day they arrive.
    RetentionEvent.HANDED_OVER: 60,
    RetentionEvent.ASSISTANCE_STARTED: 90,
    # Reintegration support and its monitoring run up to about a year after return.
    RetentionEvent.CASE_CLOSED: 365,
}


def default_retention() -> list[RetentionRule]:
    """Retention that fits the IOM texts: travel and medical data 30 days after arrival, arrival
    data 90 days after arrival, reintegration 24 months after assistance starts (never less for a
    child, whose follow-up lasts at least 24 months)."""
    periods = {
        TRAVEL: (RetentionEvent.ARRIVAL, 30, None),
        MEDICAL: (RetentionEvent.ARRIVAL, 30, None),
        ARRIVAL: (RetentionEvent.ARRIVAL, 90, None),
        REINTEGRATION: (RetentionEvent.ASSISTANCE_STARTED, 730, 730),
    }
    return [
        RetentionRule(
            purpose=purpose, section=section, event=event, days=days, child_minimum_days=child
        )
        for purpose in Purpose
        for section, (event, days, child) in periods.items()
    ]
