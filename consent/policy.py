"""The sharing decision: exactly which sections and fields may go to one recipient, or why none.

Pure: every input is an argument; nothing is read from a database or a clock. It fails closed: no
rule, no consent, an expired or withdrawn consent, or an empty intersection gives a refusal,
never "everything".

Rules, in the order they apply (DESIGN.md section 4); each raises ``SharingRefused`` naming itself:

1. nothing ever goes to a node holding the ``law_enforcement`` role;
2. nothing goes to a country, or a region (ISO 3166-2), whose referrals are suspended;
3. the directory's sharing policy for the recipient's roles and the purpose bounds what may go;
4. a valid consent for this purpose and this recipient (by name or role) is needed, and narrows it;
5. for a child, only a consent given by a parent, guardian or legal representative, with the
   child's own view and a best-interests determination reference recorded, counts; and where
   the child disagrees (or is of two minds), only if the determination says how it weighed that;
6. on the ground "explicit consent", only consents given after the person was told the risks
   count;
7. a ``government_authority`` never receives diagnosis, medication, protection flags
   (trafficking and asylum history are among the flags) or any free-text field, whatever policy
   and consent say;
8. something must be left.

``check_content`` adds the rules on content: a ``child_handover`` referral, and any travel or
arrival referral for an unaccompanied child (or a person of uncertain age), must name the
custodian. ``check_delivery`` asks rules 1 to 3 and 7 again before each delivery attempt, with the
directory in force at that moment, of what a packet already sealed carries.

Example::

    >>> allowance = decide(rule_for=view.rule, consents=grants, subject=facts,
    ...                    recipient=recipient, purpose=Purpose.ARRIVAL_RECEPTION,
    ...                    ground=TransferGround.EXPLICIT_CONSENT,
    ...                    suspended_countries=frozenset(), suspended_regions=frozenset(),
    ...                    now=now)                                        # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from consent.errors import RefusalRule, SharingRefused
from consent.records import ConsentGrant, SubjectFacts
from schemas.common import PartnerRole, Purpose, SectionName, TransferGround
from schemas.directory import NodeRecord, RetentionEvent, SharingRule
from schemas.sections import WITHHELD_FROM_AUTHORITIES, ReferralContent, section_fields

#: Purposes of a journey or an arrival: for an unaccompanied child, each needs a named custodian.
TRAVEL_OR_ARRIVAL = frozenset(
    {
        Purpose.TRAVEL_ASSISTANCE,
        Purpose.MEDICAL_ESCORT,
        Purpose.ARRIVAL_RECEPTION,
        Purpose.CHILD_HANDOVER,
    }
)

__all__ = [
    "WITHHELD_FROM_AUTHORITIES",
    "Allowance",
    "Recipient",
    "check_content",
    "check_delivery",
    "check_event",
    "decide",
    "policy_allowance",
    "withheld_for",
]


@dataclass(frozen=True)
class Recipient:
    node_id: str
    roles: frozenset[PartnerRole]
    country: str
    #: ISO 3166-2 subdivision the directory lists the recipient in, if any.
    region: str | None = None

    @classmethod
    def of(cls, record: NodeRecord) -> Recipient:
        """The recipient as the directory lists it."""
        return cls(
            node_id=record.node_id,
            roles=frozenset(record.roles),
            country=record.country,
            region=record.region,
        )


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
    suspended_regions: frozenset[str],
    now: datetime,
) -> Allowance:
    _check_destination(recipient, suspended_countries, suspended_regions)
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
        covering = [g for g in covering if g.child_view_answered()]
        if not covering:
            raise SharingRefused(
                RefusalRule.CHILD_VIEW_NOT_WEIGHED,
                "the child does not agree (or is of two minds); the best-interests determination "
                "must state how the child's view was weighed before anything is sent",
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
    withheld = withheld_for(recipient.roles)
    allowed: dict[SectionName, frozenset[str]] = {}
    for section, fields in policy.items():
        if section not in consented:
            continue
        fields &= consented[section]
        fields -= withheld.get(section, frozenset())
        if fields:
            allowed[section] = fields
    if not allowed:
        raise SharingRefused(
            RefusalRule.NOTHING_LEFT,
            "the consent and the sharing policy have no section in common",
        )
    return Allowance(allowed, tuple(sorted(g.ref for g in covering)))


def check_content(content: ReferralContent, purpose: Purpose, subject: SubjectFacts) -> None:
    """Rules on what a referral must contain, whoever receives it.

    ``content`` is what the caseworker entered, before minimisation: the custodian must be
    known to the sender even where the recipient's role does not receive the name.
    """
    named = content.arrival is not None and content.arrival.child_custodian is not None
    if purpose is Purpose.CHILD_HANDOVER and not named:
        raise SharingRefused(
            RefusalRule.CUSTODIAN_REQUIRED,
            "a child handover referral must name the person or agency taking custody "
            "(arrival.child_custodian) before travel is confirmed",
        )
    if purpose in TRAVEL_OR_ARRIVAL and subject.needs_custodian and not named:
        raise SharingRefused(
            RefusalRule.CHILD_CUSTODIAN_REQUIRED,
            "for an unaccompanied or separated child, or a person whose age is uncertain, a "
            "travel or arrival referral must name who takes custody on arrival "
            "(arrival.child_custodian)",
        )


def check_event(
    event: RetentionEvent, subject: SubjectFacts, recorded: Collection[RetentionEvent]
) -> None:
    """May this event in the person's return be recorded, given those already recorded?

    An unaccompanied child (or a person of uncertain age) has arrived only once handed over to
    the custodian named in the referrals: arrival is refused until the handover is recorded.
    """
    if (
        event is RetentionEvent.ARRIVAL
        and subject.needs_custodian
        and RetentionEvent.HANDED_OVER not in recorded
    ):
        raise SharingRefused(
            RefusalRule.HANDOVER_BEFORE_ARRIVAL,
            "for an unaccompanied or separated child, or a person whose age is uncertain, record "
            "the handover to the named custodian (event handed_over) before the arrival",
        )


def check_delivery(
    *,
    rule_for: RuleLookup,
    recipient: Recipient | None,
    purpose: Purpose,
    carried: Mapping[SectionName, frozenset[str]] | None,
    suspended_countries: frozenset[str],
    suspended_regions: frozenset[str],
    never_to_authorities: bool = False,
) -> None:
    """May a packet already sealed still go, under the directory in force now?

    Asked before every delivery attempt of a message that carries personal data. ``recipient``
    is None when the directory no longer lists it. ``carried`` is what the packet holds of a
    referral (sections and their fields), or None for a message bound to a referral but carrying
    none of its content (a status update, an access notice), which needs no sharing rule.
    ``never_to_authorities``: a message a government authority never receives (a plan, a
    monitoring round, free text), whatever its other roles.
    """
    if recipient is None:
        raise SharingRefused(
            RefusalRule.NOT_A_MEMBER, "the recipient is no longer a member of the federation"
        )
    _check_destination(recipient, suspended_countries, suspended_regions)
    if never_to_authorities and PartnerRole.GOVERNMENT_AUTHORITY in recipient.roles:
        raise SharingRefused(
            RefusalRule.NEVER_TO_AUTHORITY,
            "nothing of a reintegration plan, a monitoring round or free text goes to an authority",
        )
    if carried is None:
        return
    policy = policy_allowance(rule_for, recipient.roles, purpose)
    if not policy:
        raise SharingRefused(
            RefusalRule.NO_POLICY,
            "the sharing policy no longer allows this recipient's roles anything for the purpose",
        )
    withheld = withheld_for(recipient.roles)
    for section, fields in carried.items():
        if section not in policy:
            raise SharingRefused(
                RefusalRule.FIELD_NOT_ALLOWED,
                "the packet carries a section the sharing policy no longer allows this recipient",
            )
        allowed = policy[section] - withheld.get(section, frozenset())
        if not fields <= allowed:
            raise SharingRefused(
                RefusalRule.FIELD_NOT_ALLOWED,
                "the packet carries fields the sharing policy no longer allows this recipient",
            )


def withheld_for(roles: frozenset[PartnerRole]) -> Mapping[SectionName, frozenset[str]]:
    """Fields a recipient with these roles never receives, whatever policy and consent say."""
    if PartnerRole.GOVERNMENT_AUTHORITY in roles:
        return WITHHELD_FROM_AUTHORITIES
    return {}


def _check_destination(
    recipient: Recipient, suspended_countries: frozenset[str], suspended_regions: frozenset[str]
) -> None:
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
    if recipient.region is not None and recipient.region in suspended_regions:
        raise SharingRefused(
            RefusalRule.SUSPENDED_REGION,
            "referrals to this region are suspended by the federation",
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
