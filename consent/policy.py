"""The sharing decision: exactly which sections and fields may go to one recipient, or why none.

Pure: every input is an argument; nothing is read from a database or a clock. It fails closed: no
rule, no consent, an expired or withdrawn consent, or an empty intersection gives a refusal,
never "everything".

Rules, in the order they apply (DESIGN.md section 4); each raises ``SharingRefused`` naming itself:

1. nothing ever goes to a node holding the ``law_enforcement`` role;
2. nothing goes to a country whose referrals are suspended;
3. the directory's sharing policy for the recipient's roles and the purpose bounds what may go;
4. a valid consent for this purpose and this recipient (by name or role) is needed, and narrows it;
5. for a child, only a consent given by a parent, guardian or legal representative, with the
   child's own view and a best-interests determination reference recorded, counts;
6. on the ground "explicit consent", only consents given after the person was told the risks
   count;
7. a ``government_authority`` never receives diagnosis, medication or protection flags
   (trafficking and asylum history are among the flags), whatever policy and consent say;
8. something must be left.

``check_content`` adds the rule on content: a ``child_handover`` referral must name the custodian.

Example::

    >>> allowance = decide(rule_for=view.rule, consents=grants, subject=facts,
    ...                    recipient=recipient, purpose=Purpose.ARRIVAL_RECEPTION,
    ...                    ground=TransferGround.EXPLICIT_CONSENT,
    ...                    suspended_countries=frozenset(), now=now)       # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from consent.errors import RefusalRule, SharingRefused
from consent.records import ConsentGrant, SubjectFacts
from schemas.common import PartnerRole, Purpose, SectionName, TransferGround
from schemas.directory import SharingRule
from schemas.sections import ReferralContent, section_fields

#: Fields that never reach a government authority: diagnosis, medication, protection flags.
WITHHELD_FROM_AUTHORITIES: Mapping[SectionName, frozenset[str]] = {
    SectionName.MEDICAL: frozenset({"conditions", "medication"}),
    SectionName.ARRIVAL: frozenset({"protection_needs"}),
}


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
    subject: SubjectFacts,
    recipient: Recipient,
    purpose: Purpose,
    ground: TransferGround,
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
    covering = [g for g in consents if g.covers(purpose, recipient.node_id, recipient.roles, now)]
    if not covering:
        raise SharingRefused(
            RefusalRule.NO_CONSENT, "there is no valid consent for this purpose and recipient"
        )
    if subject.is_child:
        covering = [g for g in covering if g.complete_for_a_child()]
        if not covering:
            raise SharingRefused(
                RefusalRule.CHILD_CONSENT_INCOMPLETE,
                "for a child, consent must come from a parent, guardian or legal representative, "
                "with the child's own view and a best-interests determination reference recorded",
            )
    if ground is TransferGround.EXPLICIT_CONSENT:
        # Only what the person agreed to after being told the risks may go on this ground.
        covering = [g for g in covering if g.informed_of_risks]
    if not covering:
        raise SharingRefused(
            RefusalRule.TRANSFER_GROUND,
            "explicit consent as the transfer ground needs a consent given after the person "
            "was told the risks of the transfer",
        )
    consented = _consent_allowance(covering)
    allowed: dict[SectionName, frozenset[str]] = {}
    for section, fields in policy.items():
        if section not in consented:
            continue
        fields &= consented[section]
        if PartnerRole.GOVERNMENT_AUTHORITY in recipient.roles:
            fields -= WITHHELD_FROM_AUTHORITIES.get(section, frozenset())
        if fields:
            allowed[section] = fields
    if not allowed:
        raise SharingRefused(
            RefusalRule.NOTHING_LEFT,
            "the consent and the sharing policy have no section in common",
        )
    return Allowance(allowed, tuple(sorted(g.ref for g in covering)))


def check_content(content: ReferralContent, purpose: Purpose) -> None:
    """Rules on what a referral must contain, whoever receives it."""
    if purpose is Purpose.CHILD_HANDOVER and (
        content.arrival is None or content.arrival.child_custodian is None
    ):
        raise SharingRefused(
            RefusalRule.CUSTODIAN_REQUIRED,
            "a child handover referral must name the person or agency taking custody "
            "(arrival.child_custodian) before travel is confirmed",
        )


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


def _consent_allowance(grants: Sequence[ConsentGrant]) -> dict[SectionName, frozenset[str]]:
    """The union of what the covering consents allow; a section without named fields is whole."""
    whole: set[SectionName] = set()
    named: dict[SectionName, frozenset[str]] = {}
    for grant in grants:
        for section in grant.sections:
            if section in grant.fields:
                named[section] = named.get(section, frozenset()) | grant.fields[section]
            else:
                whole.add(section)
    allowed = {section: section_fields(section) for section in whole}
    for section, fields in named.items():
        allowed.setdefault(section, fields)
    return allowed
