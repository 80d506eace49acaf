"""What the sharing decision needs to know about consents and about the person, as plain values.

The gateway stores consents (with their full history) in its database and hands the *current*
version of each to the policy as a ``ConsentGrant``.

Example::

    >>> grant.covers(Purpose.ARRIVAL_RECEPTION, recipient, now)   # doctest: +SKIP
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from schemas.common import ConsentGiver, PartnerRole, Purpose, SectionName, VulnerabilityFlag
from schemas.consent import ChildView

ADULT_AGE = 18
#: Flags that make a referral need a second staff member's approval before it is sealed.
GRAVEST_FLAGS = frozenset(
    {VulnerabilityFlag.VICTIM_OF_TRAFFICKING, VulnerabilityFlag.ASYLUM_HISTORY}
)
#: A child's views that the best-interests determination must say how it weighed.
VIEWS_TO_WEIGH = frozenset({ChildView.DISAGREES, ChildView.MIXED})


@dataclass(frozen=True)
class SubjectFacts:
    """What the rules need to know about the person: whether a child, and protection flags."""

    is_child: bool
    flags: frozenset[VulnerabilityFlag] = frozenset()
    age_uncertain: bool = False

    @property
    def needs_custodian(self) -> bool:
        """An unaccompanied or separated child, or a person whose age is uncertain (who gets the
        benefit of the doubt): someone must be named to take custody on arrival."""
        return (
            self.age_uncertain or VulnerabilityFlag.UNACCOMPANIED_OR_SEPARATED_CHILD in self.flags
        )

    @property
    def needs_second_approval(self) -> bool:
        """A victim of trafficking or a person with an asylum history: the gravest harm if a
        referral goes wrong, so two staff members must agree before it is sealed."""
        return bool(self.flags & GRAVEST_FLAGS)

    @classmethod
    def from_birth(
        cls,
        *,
        date_of_birth: date | None,
        age_uncertain: bool,
        today: date,
        flags: frozenset[VulnerabilityFlag] = frozenset(),
    ) -> SubjectFacts:
        """A child unless known to be 18 or over: an uncertain age gets the benefit of the doubt."""
        if age_uncertain or date_of_birth is None:
            return cls(is_child=True, flags=flags, age_uncertain=True)
        birthday_passed = (today.month, today.day) >= (date_of_birth.month, date_of_birth.day)
        age = today.year - date_of_birth.year - (0 if birthday_passed else 1)
        child = age < ADULT_AGE or VulnerabilityFlag.UNACCOMPANIED_OR_SEPARATED_CHILD in flags
        return cls(is_child=child, flags=flags)


@dataclass(frozen=True)
class ConsentGrant:
    """The current version of one consent: share ``sections`` for ``purpose`` with a recipient.

    The recipient is a named node (``recipient``) or any node holding ``recipient_role``.
    ``fields`` narrows sections to named fields; a section absent from it is consented whole.
    """

    ref: str
    purpose: Purpose
    sections: frozenset[SectionName]
    valid_from: datetime
    valid_until: datetime | None
    recipient: str | None = None
    recipient_role: PartnerRole | None = None
    fields: Mapping[SectionName, frozenset[str]] = field(default_factory=dict)
    withdrawn_at: datetime | None = None
    given_by: ConsentGiver = ConsentGiver.DATA_SUBJECT
    child_view_recorded: bool = False
    best_interests_reference: bool = False
    informed_of_risks: bool = False
    child_view: ChildView | None = None
    #: Whether the best-interests determination states, in its own field, how the child's view
    #: was weighed.
    child_view_weighed: bool = False

    def covers(
        self, purpose: Purpose, recipient: str, roles: frozenset[PartnerRole], now: datetime
    ) -> bool:
        if self.purpose != purpose:
            return False
        if self.recipient is not None and self.recipient != recipient:
            return False
        if self.recipient is None and self.recipient_role not in roles:
            return False
        if self.withdrawn_at is not None and self.withdrawn_at <= now:
            return False
        if now < self.valid_from:
            return False
        return self.valid_until is None or now < self.valid_until

    def complete_for_a_child(self) -> bool:
        """A guardian (not the child alone) consented, the child's view and a BID are recorded."""
        return (
            self.given_by is not ConsentGiver.DATA_SUBJECT
            and self.child_view_recorded
            and self.best_interests_reference
        )

    def child_view_answered(self) -> bool:
        """A child's disagreement (or mixed view) counts only once the BID says how it weighed it."""
        return self.child_view not in VIEWS_TO_WEIGH or self.child_view_weighed
