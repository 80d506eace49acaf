"""The sharing decision: each protection rule refuses on its own, and consent only ever narrows.

Each refusal test sets up a case that every *other* rule would allow, so that removing the rule
under test makes that test fail.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consent.errors import RefusalRule, SharingRefused
from consent.policy import Allowance, Recipient, RuleLookup, decide, policy_allowance
from consent.records import ConsentGrant
from schemas.common import PartnerRole, Purpose, SectionName
from schemas.directory import SharingRule
from schemas.sections import section_fields

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PARTNER = "reception.example"
OTHER = "transit.example"

RECEPTION = PartnerRole.RECEPTION_PARTNER
ARRIVAL_RECEPTION = Purpose.ARRIVAL_RECEPTION
TRAVEL, MEDICAL = SectionName.TRAVEL, SectionName.MEDICAL
ARRIVAL, REINTEGRATION = SectionName.ARRIVAL, SectionName.REINTEGRATION


def rule(
    role: PartnerRole, purpose: Purpose, sections: Mapping[SectionName, Iterable[str]]
) -> SharingRule:
    return SharingRule(
        role=role, purpose=purpose, sections={s: sorted(f) for s, f in sections.items()}
    )


def lookup(*rules: SharingRule) -> RuleLookup:
    table = {(r.role, r.purpose): r for r in rules}
    return lambda role, purpose: table.get((role, purpose))


RECEPTION_RULE = rule(
    RECEPTION,
    ARRIVAL_RECEPTION,
    {
        TRAVEL: ["arrival", "escort"],
        MEDICAL: ["mobility_needs_on_arrival"],
        ARRIVAL: ["reception_requested", "contact_language"],
    },
)


def grant(
    ref: str = "c-1",
    *,
    purpose: Purpose = ARRIVAL_RECEPTION,
    recipient: str = PARTNER,
    sections: Iterable[SectionName] = (ARRIVAL, MEDICAL),
    valid_from: datetime = NOW - timedelta(days=1),
    valid_until: datetime | None = NOW + timedelta(days=90),
    withdrawn_at: datetime | None = None,
) -> ConsentGrant:
    return ConsentGrant(
        ref=ref,
        purpose=purpose,
        recipient=recipient,
        sections=frozenset(sections),
        valid_from=valid_from,
        valid_until=valid_until,
        withdrawn_at=withdrawn_at,
    )


def recipient(*roles: PartnerRole, country: str = "SN", node_id: str = PARTNER) -> Recipient:
    return Recipient(node_id=node_id, roles=frozenset(roles or (RECEPTION,)), country=country)


def decide_for(
    *,
    rules: Sequence[SharingRule] = (RECEPTION_RULE,),
    consents: Sequence[ConsentGrant] = (),
    to: Recipient | None = None,
    purpose: Purpose = ARRIVAL_RECEPTION,
    suspended: Iterable[str] = (),
    now: datetime = NOW,
) -> Allowance:
    return decide(
        rule_for=lookup(*rules),
        consents=consents,
        recipient=to or recipient(),
        purpose=purpose,
        suspended_countries=frozenset(suspended),
        now=now,
    )


def refusal(**options: object) -> RefusalRule:
    with pytest.raises(SharingRefused) as exc_info:
        decide_for(**options)  # type: ignore[arg-type]
    assert exc_info.value.detail
    return exc_info.value.rule


class TestProtectionRules:
    def test_baseline_case_is_allowed(self) -> None:
        # The case every refusal below starts from: if this fails, those prove nothing.
        assert decide_for(consents=[grant()]).section_names() == [ARRIVAL, MEDICAL]

    def test_law_enforcement_is_refused_despite_rule_and_consent(self) -> None:
        rules = [
            rule(PartnerRole.LAW_ENFORCEMENT, ARRIVAL_RECEPTION, {ARRIVAL: ["reception_requested"]})
        ]

        assert (
            refusal(rules=rules, consents=[grant()], to=recipient(PartnerRole.LAW_ENFORCEMENT))
            is RefusalRule.LAW_ENFORCEMENT
        )

    def test_law_enforcement_among_several_roles_is_refused(self) -> None:
        to = recipient(RECEPTION, PartnerRole.LAW_ENFORCEMENT)

        assert refusal(consents=[grant()], to=to) is RefusalRule.LAW_ENFORCEMENT

    def test_suspended_country_is_refused(self) -> None:
        assert refusal(consents=[grant()], suspended=["ML", "SN"]) is RefusalRule.SUSPENDED_COUNTRY

    def test_other_suspended_country_does_not_refuse(self) -> None:
        assert decide_for(consents=[grant()], suspended=["ML"]).section_names() == [
            ARRIVAL,
            MEDICAL,
        ]

    def test_no_rule_for_role_and_purpose_is_refused(self) -> None:
        other_purpose = grant(purpose=Purpose.CHILD_HANDOVER)

        assert (
            refusal(consents=[other_purpose], purpose=Purpose.CHILD_HANDOVER)
            is RefusalRule.NO_POLICY
        )

    def test_rule_for_another_role_does_not_count(self) -> None:
        to = recipient(PartnerRole.TRANSIT_OFFICE)

        assert refusal(consents=[grant()], to=to) is RefusalRule.NO_POLICY

    def test_rule_without_sections_is_refused(self) -> None:
        empty = rule(RECEPTION, ARRIVAL_RECEPTION, {})

        assert refusal(rules=[empty], consents=[grant()]) is RefusalRule.NO_POLICY

    def test_no_consent_is_refused(self) -> None:
        assert refusal(consents=[]) is RefusalRule.NO_CONSENT

    def test_consent_for_another_recipient_does_not_count(self) -> None:
        assert refusal(consents=[grant(recipient=OTHER)]) is RefusalRule.NO_CONSENT

    def test_consent_for_another_purpose_does_not_count(self) -> None:
        assert refusal(consents=[grant(purpose=Purpose.MEDICAL_ESCORT)]) is RefusalRule.NO_CONSENT

    def test_expired_consent_yields_nothing(self) -> None:
        expired = grant(valid_from=NOW - timedelta(days=90), valid_until=NOW)

        assert refusal(consents=[expired]) is RefusalRule.NO_CONSENT

    def test_withdrawn_consent_yields_nothing(self) -> None:
        assert refusal(consents=[grant(withdrawn_at=NOW)]) is RefusalRule.NO_CONSENT

    def test_consent_withdrawn_in_the_future_still_counts(self) -> None:
        later = grant(withdrawn_at=NOW + timedelta(seconds=1))

        assert decide_for(consents=[later]).consent_refs == ("c-1",)

    def test_not_yet_valid_consent_yields_nothing(self) -> None:
        early = grant(valid_from=NOW + timedelta(seconds=1))

        assert refusal(consents=[early]) is RefusalRule.NO_CONSENT

    def test_consent_without_end_counts(self) -> None:
        assert decide_for(consents=[grant(valid_until=None)]).consent_refs == ("c-1",)

    def test_nothing_in_common_is_refused(self) -> None:
        only_reintegration = grant(sections=[REINTEGRATION])

        assert refusal(consents=[only_reintegration]) is RefusalRule.NOTHING_LEFT


class TestAllowance:
    def test_allowance_is_the_intersection_of_policy_and_consent(self) -> None:
        allowance = decide_for(consents=[grant(sections=[ARRIVAL, REINTEGRATION])])

        assert allowance.sections == {
            ARRIVAL: frozenset({"reception_requested", "contact_language"})
        }

    def test_consent_never_widens_the_fields_of_a_section(self) -> None:
        allowance = decide_for(consents=[grant(sections=[MEDICAL])])

        assert allowance.sections == {MEDICAL: frozenset({"mobility_needs_on_arrival"})}

    def test_several_roles_union_their_rules(self) -> None:
        reintegration = PartnerRole.REINTEGRATION_PARTNER
        rules = [
            rule(RECEPTION, ARRIVAL_RECEPTION, {ARRIVAL: ["reception_requested"]}),
            rule(
                reintegration,
                ARRIVAL_RECEPTION,
                {ARRIVAL: ["final_destination"], TRAVEL: ["escort"]},
            ),
        ]
        consent = grant(sections=[ARRIVAL, TRAVEL])

        allowance = decide_for(
            rules=rules, consents=[consent], to=recipient(RECEPTION, reintegration)
        )

        assert allowance.sections == {
            ARRIVAL: frozenset({"reception_requested", "final_destination"}),
            TRAVEL: frozenset({"escort"}),
        }

    def test_several_consents_union_their_sections(self) -> None:
        consents = [grant("c-2", sections=[TRAVEL]), grant("c-1", sections=[ARRIVAL])]

        assert decide_for(consents=consents).section_names() == [ARRIVAL, TRAVEL]

    def test_consent_refs_list_only_the_covering_consents(self) -> None:
        consents = [
            grant("c-3", sections=[TRAVEL]),
            grant("c-9", recipient=OTHER),
            grant("c-7", withdrawn_at=NOW - timedelta(days=1)),
            grant("c-1", sections=[ARRIVAL]),
        ]

        assert decide_for(consents=consents).consent_refs == ("c-1", "c-3")

    def test_section_with_no_allowed_field_is_left_out(self) -> None:
        rules = [rule(RECEPTION, ARRIVAL_RECEPTION, {ARRIVAL: ["reception_requested"], TRAVEL: []})]

        allowance = decide_for(rules=rules, consents=[grant(sections=[ARRIVAL, TRAVEL])])

        assert allowance.sections == {ARRIVAL: frozenset({"reception_requested"})}


class TestPolicyAllowance:
    def test_roles_without_a_rule_add_nothing(self) -> None:
        merged = policy_allowance(
            lookup(RECEPTION_RULE),
            frozenset({RECEPTION, PartnerRole.HOST_MISSION}),
            ARRIVAL_RECEPTION,
        )

        assert merged == {s: frozenset(f) for s, f in RECEPTION_RULE.sections.items()}

    def test_no_rule_at_all_gives_an_empty_allowance(self) -> None:
        assert policy_allowance(lookup(), frozenset({RECEPTION}), ARRIVAL_RECEPTION) == {}


# Property: whatever the policy, consents and recipient, an allowance is never wider than either.

NODES = (PARTNER, OTHER)
COUNTRIES = ("SN", "ML", "GH")
OFFSETS = st.integers(min_value=-3, max_value=3).map(lambda days: NOW + timedelta(days=days))


@st.composite
def section_map(draw: st.DrawFn) -> dict[SectionName, list[str]]:
    chosen = draw(st.sets(st.sampled_from(list(SectionName))))
    return {
        section: draw(st.lists(st.sampled_from(sorted(section_fields(section))), unique=True))
        for section in chosen
    }


@st.composite
def policies(draw: st.DrawFn) -> list[SharingRule]:
    pairs = draw(
        st.sets(
            st.tuples(st.sampled_from(list(PartnerRole)), st.sampled_from(list(Purpose))),
            max_size=12,
        )
    )
    return [rule(role, purpose, draw(section_map())) for role, purpose in sorted(pairs)]


@st.composite
def consent_grants(draw: st.DrawFn) -> ConsentGrant:
    valid_from = draw(OFFSETS)
    return ConsentGrant(
        ref=f"c-{draw(st.integers(min_value=0, max_value=99))}",
        purpose=draw(st.sampled_from(list(Purpose))),
        recipient=draw(st.sampled_from(NODES)),
        sections=frozenset(draw(st.sets(st.sampled_from(list(SectionName))))),
        valid_from=valid_from,
        valid_until=draw(st.none() | OFFSETS.filter(lambda t: t > valid_from)),
        withdrawn_at=draw(st.none() | OFFSETS),
    )


recipients = st.builds(
    Recipient,
    node_id=st.sampled_from(NODES),
    roles=st.frozensets(st.sampled_from(list(PartnerRole)), min_size=1, max_size=3),
    country=st.sampled_from(COUNTRIES),
)


def covering(
    consents: Sequence[ConsentGrant], purpose: Purpose, node_id: str
) -> list[ConsentGrant]:
    """The consents that count, restated from DESIGN.md rather than calling ``covers``."""
    return [
        c
        for c in consents
        if c.purpose == purpose
        and c.recipient == node_id
        and c.valid_from <= NOW
        and (c.valid_until is None or c.valid_until > NOW)
        and (c.withdrawn_at is None or c.withdrawn_at > NOW)
    ]


class TestDecideProperties:
    @given(
        rules=policies(),
        consents=st.lists(consent_grants(), max_size=5),
        to=recipients,
        purpose=st.sampled_from(list(Purpose)),
        suspended=st.frozensets(st.sampled_from(COUNTRIES), max_size=1),
    )
    def test_allowance_is_never_wider_than_policy_or_consent(
        self,
        rules: list[SharingRule],
        consents: list[ConsentGrant],
        to: Recipient,
        purpose: Purpose,
        suspended: frozenset[str],
    ) -> None:
        try:
            allowance = decide(
                rule_for=lookup(*rules),
                consents=consents,
                recipient=to,
                purpose=purpose,
                suspended_countries=suspended,
                now=NOW,
            )
        except SharingRefused:
            return
        policy: dict[SectionName, set[str]] = {}
        for r in rules:
            if r.role in to.roles and r.purpose == purpose:
                for section, fields in r.sections.items():
                    policy.setdefault(section, set()).update(fields)
        counted = covering(consents, purpose, to.node_id)
        consented = set().union(*(c.sections for c in counted))

        assert PartnerRole.LAW_ENFORCEMENT not in to.roles
        assert to.country not in suspended
        assert allowance.sections
        for section, allowed in allowance.sections.items():
            assert allowed
            assert section in consented
            assert allowed <= policy.get(section, set())
        assert allowance.consent_refs == tuple(sorted(c.ref for c in counted))

    @given(
        rules=policies(),
        consents=st.lists(consent_grants(), max_size=5),
        to=recipients,
        purpose=st.sampled_from(list(Purpose)),
    )
    def test_allowance_is_given_whenever_policy_and_consent_meet(
        self,
        rules: list[SharingRule],
        consents: list[ConsentGrant],
        to: Recipient,
        purpose: Purpose,
    ) -> None:
        # The converse: decide does not refuse more than the rules say (fails closed, not shut).
        expected: dict[SectionName, frozenset[str]] = {}
        consented = set().union(*(c.sections for c in covering(consents, purpose, to.node_id)))
        for r in rules:
            if r.role in to.roles and r.purpose == purpose:
                for section, fields in r.sections.items():
                    if section in consented and fields:
                        expected[section] = expected.get(section, frozenset()) | frozenset(fields)

        try:
            allowance = decide(
                rule_for=lookup(*rules),
                consents=consents,
                recipient=to,
                purpose=purpose,
                suspended_countries=frozenset(),
                now=NOW,
            )
        except SharingRefused:
            assert PartnerRole.LAW_ENFORCEMENT in to.roles or not expected
            return
        assert dict(allowance.sections) == expected
