"""Purpose-limited retention: the date by which each section of a referral must be deleted.

Pure: the federation's retention rules, the purpose, the sections, when the referral was sent
and whether the person is a child go in; a delete-by date per section comes out. A section with
no rule gets the shortest period (``FALLBACK``), never "forever".

Example::

    >>> deadlines = section_deadlines(rules=rules, horizons={}, purpose=Purpose.ARRIVAL_RECEPTION,
    ...                               sections=[SectionName.TRAVEL], sent_at=t0, is_child=False)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from schemas.common import Purpose, SectionName
from schemas.directory import RetentionEvent, RetentionRule

#: The period for a section the rules do not mention: short, so a gap in policy deletes early.
FALLBACK = timedelta(days=30)


def section_deadlines(
    *,
    rules: Sequence[RetentionRule],
    horizons: Mapping[RetentionEvent, int],
    purpose: Purpose,
    sections: Iterable[SectionName],
    sent_at: datetime,
    is_child: bool,
    events: Mapping[RetentionEvent, datetime] | None = None,
) -> dict[SectionName, datetime]:
    """Each section's delete-by date: its rule's period after its event.

    An event that was reported (``events``: arrival confirmed, assistance started...) counts from
    when it happened; one not yet reported is assumed ``horizons[event]`` days after sending.
    """
    known = dict(events or {})
    known[RetentionEvent.REFERRAL_SENT] = sent_at
    by_key = {(rule.purpose, rule.section): rule for rule in rules}
    deadlines = {}
    for section in sections:
        rule = by_key.get((purpose, section))
        if rule is None:
            deadlines[section] = (sent_at + FALLBACK).replace(microsecond=0)
            continue
        days = rule.days
        if is_child and rule.child_minimum_days:
            days = max(days, rule.child_minimum_days)
        event_at = known.get(rule.event) or sent_at + timedelta(days=horizons.get(rule.event, 0))
        deadlines[section] = (event_at + timedelta(days=days)).replace(microsecond=0)
    return deadlines


def rule_event(
    rules: Sequence[RetentionRule], purpose: Purpose, section: SectionName
) -> RetentionEvent:
    """The event a section's period counts from (sending, for a section no rule names)."""
    for rule in rules:
        if (rule.purpose, rule.section) == (purpose, section):
            return rule.event
    return RetentionEvent.REFERRAL_SENT


def cap_deadlines(
    stated: Mapping[SectionName, datetime], allowed: Mapping[SectionName, datetime]
) -> dict[SectionName, datetime]:
    """A recipient keeps nothing longer than the federation's rules allow, whatever it was told."""
    return {section: min(date, allowed[section]) for section, date in stated.items()}
