"""Unusual access patterns: is anyone looking at more records than their work explains?"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from gateway.kit.node import Node
from gateway.processes.audit.reports.report import ROW_LIMIT, Report, iso, titled
from gateway.records.accesslog import repository as accesslog
from gateway.records.accesslog.writer import Action

UNUSUAL_PERIOD = timedelta(days=30)
#: An actor who opens more distinct people's records than this within one hour is flagged.
SUBJECTS_PER_HOUR = 20
#: An actor refused more often than this within one day (24 hours) is flagged.
DENIALS_PER_DAY = 10

#: An actor: user id, organisation, role.
Who = tuple[str, str, str]


@dataclass(frozen=True)
class _Pattern:
    name: str
    actions: tuple[str, ...]
    window: timedelta
    threshold: int
    #: Count distinct subjects in the window (True) or entries (False).
    distinct_subjects: bool


PATTERNS = (
    _Pattern(
        name="many_subjects_per_hour",
        actions=(Action.OPENED.value, Action.CASE_VIEWED.value),
        window=timedelta(hours=1),
        threshold=SUBJECTS_PER_HOUR,
        distinct_subjects=True,
    ),
    _Pattern(
        name="many_denials_per_day",
        actions=(Action.ACCESS_DENIED.value,),
        window=timedelta(days=1),
        threshold=DENIALS_PER_DAY,
        distinct_subjects=False,
    ),
)


def _entries(
    session: Session, who: Who, pattern: _Pattern, since: datetime, now: datetime
) -> Iterator[tuple[datetime, str]]:
    """The actor's entries of the pattern, oldest first: each entry's time and what the window
    counts (the subject, or the entry itself)."""
    for row in accesslog.entries_of(
        session,
        who,
        pattern.actions,
        with_subject=pattern.distinct_subjects,
        since=since,
        now=now,
    ):
        yield row.at, (row.subject if pattern.distinct_subjects else str(row.seq)) or ""


def _peak(
    entries: Iterable[tuple[datetime, str]], window: timedelta
) -> tuple[int, datetime | None]:
    """The most distinct keys inside any window shorter than ``window``, and where it starts.

    Two pointers over entries in time order: the right one takes each entry in, the left one
    lets out those a full window older. Memory is what one window holds.
    """
    inside: deque[tuple[datetime, str]] = deque()
    keys: Counter[str] = Counter()
    best, start = 0, None
    for at, key in entries:
        inside.append((at, key))
        keys[key] += 1
        while inside[0][0] <= at - window:
            _, old = inside.popleft()
            keys[old] -= 1
            if not keys[old]:
                del keys[old]
        if len(keys) > best:
            best, start = len(keys), inside[0][0]
    return best, start


def unusual(session: Session, node: Node, now: datetime) -> Report:
    """Actors whose access in the last ``UNUSUAL_PERIOD`` passes a threshold, at their peak window.

    ``many_subjects_per_hour``: more than ``SUBJECTS_PER_HOUR`` distinct people's records opened
    or viewed within one hour. ``many_denials_per_day``: more than ``DENIALS_PER_DAY`` denied
    accesses within 24 hours. ``window_start`` is the first entry of the busiest window, ``count``
    what it holds.
    """
    del node
    since = now - UNUSUAL_PERIOD
    rows: list[dict[str, object]] = []
    truncated = False
    for pattern in PATTERNS:
        candidates = accesslog.actors_over(
            session,
            pattern.actions,
            distinct_subjects=pattern.distinct_subjects,
            threshold=pattern.threshold,
            since=since,
            now=now,
            limit=ROW_LIMIT,
        )
        truncated = truncated or len(candidates) == ROW_LIMIT
        for who in candidates:
            best, start = _peak(_entries(session, who, pattern, since, now), pattern.window)
            if best > pattern.threshold:
                rows.append(
                    {
                        "actor": who[0],
                        "actor_org": who[1],
                        "actor_role": who[2],
                        "pattern": pattern.name,
                        "window_start": iso(start),
                        "count": best,
                    }
                )
    rows.sort(
        key=lambda r: (
            str(r["actor"]),
            str(r["actor_org"]),
            str(r["actor_role"]),
            str(r["pattern"]),
        )
    )
    return Report(
        name="unusual",
        title=titled(f"Unusual access patterns in the last {UNUSUAL_PERIOD.days} days", truncated),
        columns=["actor", "actor_org", "actor_role", "pattern", "window_start", "count"],
        rows=rows,
    )
