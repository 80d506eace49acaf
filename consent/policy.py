"""The sharing decision: exactly which sections and fields may go to one recipient, or why none.

Pure: every input is an argument, nothing is read from a database or a clock. It fails closed:
no rule, no consent, an expired consent or an empty intersection gives a refusal, never "all".

Rules applied here, in order (DESIGN.md section 4):
1. nothing ever goes to a node holding the ``law_enforcement`` role;
2. nothing goes to a country whose referrals are suspended;
3. the directory's sharing policy for the recipient's roles and the purpose bounds what may go;
4. a valid consent for this purpose and this recipient narrows it to the consented sections.

Example::

    >>> allowance = decide(rules=view_rules, consents=grants, recipient=req, now=now)  # doctest: +SKIP
    >>> allowance.sections[SectionName.ARRIVAL]                                          # doctest: +SKIP
    frozenset({'reception_requested', ...})
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from consent.errors import RefusalRule, SharingRefused
from consent.records import ConsentGrant
from schemas.common import PartnerRole, Purpose, SectionName
from schemas.directory import SharingRule


@dataclass(frozen=True)
class Recipient:
    node_id: str
    roles: frozenset[PartnerRole]
    country: str


@dataclass(frozen=True)
class Allowance:
    """Sections that may go, each with the fields within it that may go. Never empty."""

    sections: Mapping[SectionName, frozenset[str]]
    #: The consents this allowance rests on (their references), for the envelope header.
    consent_refs: tuple[str, ...]

    def section_names(self) -> list[SectionName]:
        return sorted(self.sections)


RuleLookup = Callable[[PartnerRole, Purpose], SharingRule | None]


def decide(
    *,
    rule_for: RuleLookup,
    consents: Sequence[ConsentGrant],
    recipient: Recipient,
    purpose: Purpose,
    suspended_countries: frozenset[str],
    now: datetime,
) -> Allowance:
    if PartnerRole.LAW_ENFORCEMENT in recipient.roles:
        raise SharingRefused(
            RefusalRule.LAW_ENFORCEMENT,
            "voluntary return data is never shared with a law-enforcement body",
        )
    if recipient.country in suspended_countries:
        raise SharingRefused(
            RefusalRule.SUSPENDED_COUNTRY,
            "referrals to this country are suspended by the federation",
        )
    policy = policy_allowance(rule_for, recipient.roles, purpose)
    if not policy:
        raise SharingRefused(
            RefusalRule.NO_POLICY,
            "the federation's sharing policy allows nothing for this recipient and purpose",
        )
    consented: set[SectionName] = set()
    refs: list[str] = []
    for grant in consents:
        if grant.covers(purpose, recipient.node_id, now):
            consented |= grant.sections
            refs.append(grant.ref)
    if not consented:
        raise SharingRefused(
            RefusalRule.NO_CONSENT,
            "there is no valid consent for this purpose and recipient",
        )
    allowed = {s: fields for s, fields in policy.items() if s in consented and fields}
    if not allowed:
        raise SharingRefused(
            RefusalRule.NOTHING_LEFT,
            "the consent and the sharing policy have no section in common",
        )
    return Allowance(allowed, tuple(sorted(refs)))


def policy_allowance(
    rule_for: RuleLookup, roles: frozenset[PartnerRole], purpose: Purpose
) -> dict[SectionName, frozenset[str]]:
    """The union over the recipient's roles of what each role may receive for the purpose."""
    merged: dict[SectionName, frozenset[str]] = {}
    for role in sorted(roles):
        rule = rule_for(role, purpose)
        if rule is None:
            continue
        for section, fields in rule.sections.items():
            merged[section] = merged.get(section, frozenset()) | frozenset(fields)
    return merged
