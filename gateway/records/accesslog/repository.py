"""Reading the access log for the DPO's reports, searches and checks: every query on its entries
outside the writer, the Merkle tree (``tree``), a person's history (``history``) and the whole
log's verification (``verify``), which own theirs.

Two functions build conditions other domains use to reconcile their tables with the log
without querying it themselves: ``logged_for`` (an entry of this action names the packet in
that column) and ``count_for`` (how many such entries do).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, and_, distinct, exists, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from gateway.records.accesslog.models import AccessEventRow, CheckpointRow, LogStateRow
from gateway.records.accesslog.writer import Action

PAGE = 10_000


@dataclass(frozen=True)
class Search:
    """Filters of a search of the log: each given one must hold; at most ``limit`` entries."""

    subject: str | None = None
    organisation: str | None = None
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 200


def logged_for(action: Action) -> Callable[[InstrumentedAttribute[str]], ColumnElement[bool]]:
    """A condition: some ``action`` entry names the packet id held in the given column."""

    def condition(packet: InstrumentedAttribute[str]) -> ColumnElement[bool]:
        return exists().where(
            AccessEventRow.action == action.value, AccessEventRow.packet_id == packet
        )

    return condition


def count_for(action: Action) -> Callable[[InstrumentedAttribute[str]], ScalarSelect[int]]:
    """A value: how many ``action`` entries name the packet id held in the given column."""

    def counted(packet: InstrumentedAttribute[str]) -> ScalarSelect[int]:
        return (
            select(func.count())
            .where(AccessEventRow.action == action.value, AccessEventRow.packet_id == packet)
            .scalar_subquery()
        )

    return counted


def search(session: Session, query: Search, most: int) -> Sequence[AccessEventRow]:
    """Entries matching every given filter, newest first: ``query.limit``, at most ``most``."""
    statement = select(AccessEventRow)
    if query.subject:
        statement = statement.where(AccessEventRow.subject == query.subject)
    if query.organisation:
        statement = statement.where(AccessEventRow.actor_org == query.organisation)
    if query.actor:
        statement = statement.where(AccessEventRow.actor == query.actor)
    if query.action:
        statement = statement.where(AccessEventRow.action == query.action)
    if query.since:
        statement = statement.where(AccessEventRow.at >= query.since)
    if query.until:
        statement = statement.where(AccessEventRow.at < query.until)
    return session.scalars(
        statement.order_by(AccessEventRow.at.desc(), AccessEventRow.seq.desc()).limit(
            min(query.limit, most)
        )
    ).all()


def unplaced(session: Session) -> int:
    """Entries written but not yet placed in the Merkle tree."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(AccessEventRow)
            .where(AccessEventRow.leaf_index.is_(None))
        )
        or 0
    )


def checkpoints(session: Session) -> Sequence[CheckpointRow]:
    return session.scalars(select(CheckpointRow).order_by(CheckpointRow.size)).all()


def checkpoint_sizes(session: Session, sizes: Collection[int]) -> set[int]:
    return set(session.scalars(select(CheckpointRow.size).where(CheckpointRow.size.in_(sizes))))


def recent(
    session: Session,
    actions: Collection[Action],
    *,
    since: datetime,
    now: datetime,
    limit: int,
    outcomes: Collection[str] | None = None,
) -> Sequence[Any]:
    """Entries of these actions (and outcomes) since ``since``, newest first, as named columns."""
    query = select(
        AccessEventRow.at,
        AccessEventRow.action,
        AccessEventRow.packet_id,
        AccessEventRow.purpose,
        AccessEventRow.sections,
        AccessEventRow.outcome,
        AccessEventRow.actor,
        AccessEventRow.actor_org,
    ).where(
        AccessEventRow.action.in_([a.value for a in actions]),
        AccessEventRow.at > since,
        AccessEventRow.at <= now,
    )
    if outcomes is not None:
        query = query.where(AccessEventRow.outcome.in_(outcomes))
    return session.execute(
        query.order_by(AccessEventRow.at.desc(), AccessEventRow.seq.desc()).limit(limit)
    ).all()


def denials_by_actor(
    session: Session, *, since: datetime, now: datetime, limit: int
) -> Sequence[Any]:
    """Denied accesses grouped by actor and outcome: how many, first and last; most first."""
    times = func.count().label("times")
    return session.execute(
        select(
            AccessEventRow.actor,
            AccessEventRow.actor_org,
            AccessEventRow.actor_role,
            AccessEventRow.outcome,
            times,
            func.min(AccessEventRow.at).label("first_at"),
            func.max(AccessEventRow.at).label("last_at"),
        )
        .where(
            AccessEventRow.action == Action.ACCESS_DENIED.value,
            AccessEventRow.at > since,
            AccessEventRow.at <= now,
        )
        .group_by(
            AccessEventRow.actor,
            AccessEventRow.actor_org,
            AccessEventRow.actor_role,
            AccessEventRow.outcome,
        )
        .order_by(
            times.desc(),
            AccessEventRow.actor,
            AccessEventRow.actor_org,
            AccessEventRow.actor_role,
            AccessEventRow.outcome,
        )
        .limit(limit)
    ).all()


def actors_over(
    session: Session,
    actions: Collection[str],
    *,
    distinct_subjects: bool,
    threshold: int,
    since: datetime,
    now: datetime,
    limit: int,
) -> Sequence[tuple[str, str, str]]:
    """Actors (user, organisation, role) with more than ``threshold`` entries of these actions
    (or distinct subjects) in the period."""
    counted = func.count(distinct(AccessEventRow.subject)) if distinct_subjects else func.count()
    rows = session.execute(
        select(AccessEventRow.actor, AccessEventRow.actor_org, AccessEventRow.actor_role)
        .where(
            AccessEventRow.action.in_(actions),
            AccessEventRow.at > since,
            AccessEventRow.at <= now,
        )
        .group_by(AccessEventRow.actor, AccessEventRow.actor_org, AccessEventRow.actor_role)
        .having(counted > threshold)
        .order_by(AccessEventRow.actor, AccessEventRow.actor_org, AccessEventRow.actor_role)
        .limit(limit)
    ).all()
    return [(row[0], row[1], row[2]) for row in rows]


def entries_of(
    session: Session,
    who: tuple[str, str, str],
    actions: Collection[str],
    *,
    with_subject: bool,
    since: datetime,
    now: datetime,
) -> Iterator[Any]:
    """One actor's entries of these actions in the period (time, seq, subject), oldest first,
    page by page."""
    user, org, role = who
    after: tuple[datetime, int] | None = None
    while True:
        query = select(AccessEventRow.at, AccessEventRow.seq, AccessEventRow.subject).where(
            AccessEventRow.actor == user,
            AccessEventRow.actor_org == org,
            AccessEventRow.actor_role == role,
            AccessEventRow.action.in_(actions),
            AccessEventRow.at > since,
            AccessEventRow.at <= now,
        )
        if with_subject:
            query = query.where(AccessEventRow.subject.is_not(None))
        if after is not None:
            query = query.where(
                or_(
                    AccessEventRow.at > after[0],
                    and_(AccessEventRow.at == after[0], AccessEventRow.seq > after[1]),
                )
            )
        page = session.execute(
            query.order_by(AccessEventRow.at, AccessEventRow.seq).limit(PAGE)
        ).all()
        yield from page
        if len(page) < PAGE:
            return
        after = (page[-1].at, page[-1].seq)


def openings_since(session: Session, since: datetime, limit: int) -> Sequence[Any]:
    """Who opened this node's packets (organisation) and when, since ``since``."""
    return session.execute(
        select(AccessEventRow.actor_org, AccessEventRow.at)
        .where(AccessEventRow.action == Action.OPENED.value, AccessEventRow.at >= since)
        .limit(limit)
    ).all()


@dataclass(frozen=True)
class CheckpointBacklog:
    """Entries no signed checkpoint covers yet, and when the oldest of them was written."""

    waiting: int
    oldest_at: datetime | None


def checkpoint_backlog(session: Session) -> CheckpointBacklog:
    """Entries not yet covered by the latest checkpoint: those placed in the tree after it, and
    those not placed at all. Index lookups only (``leaf_index`` is unique), no table scan."""
    # The one state row (``tree.STATE_ID``), read without its lock: a scrape never waits.
    size = session.scalar(select(LogStateRow.size).where(LogStateRow.id == 1)) or 0
    signed = session.scalar(select(func.max(CheckpointRow.size))) or 0
    waiting = int(size) - int(signed) + unplaced(session)
    if waiting <= 0:
        return CheckpointBacklog(0, None)
    times = [
        session.scalar(
            select(func.min(AccessEventRow.at)).where(AccessEventRow.leaf_index.is_(None))
        ),
        session.scalar(
            select(func.min(AccessEventRow.at)).where(AccessEventRow.leaf_index >= signed)
        ),
    ]
    known = [t for t in times if t is not None]
    return CheckpointBacklog(waiting, min(known) if known else None)
