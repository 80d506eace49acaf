"""Statistics that cannot single anyone out: who was monitored, and how their reintegration
scores fall, by country of return, monitoring round, sex and age band.

Every table has margins (row totals, column totals, the grand total). A table by round counts
monitoring rounds, each person at most once per round (their latest record of it), so a total
over rounds counts a person once per round; a table without the round counts each person once,
at their latest round. Every cell, margins included, that holds from 1 to ``min_count - 1``
different people is suppressed (primary suppression), whatever its count; then,
until nothing changes, any row or column in which exactly one value is suppressed gets a second
one suppressed, the smallest positive value left in it (or its total), so that no suppressed
value can be worked out from its line's total (secondary suppression). Zero cells show: nobody
is in them. ``docs/statistics.md`` states the method and its limits.

Building a table reads the monitoring rounds and the people's details (sealed at rest) in
memory; only the counts leave this module. Producing one is logged.

Example::

    >>> built = build("score-distribution", session, node, now)      # doctest: +SKIP
    >>> built.rows[-1]["country_of_return"]                          # doctest: +SKIP
    'all'
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from gateway.exchange.followup import repository as followup
from gateway.exchange.referrals import repository as referrals
from gateway.kit.auth import Principal
from gateway.kit.errors import NotFound
from gateway.kit.node import Node
from gateway.processes.audit.reports.report import Report
from gateway.records.accesslog.writer import Action, Actor, record
from gateway.records.cases import repository as cases
from gateway.records.cases.service import person
from partners.errors import UnknownNode
from schemas.common import StaffRole

ALL = "all"
TOTAL = "total"
#: Most monitoring rounds read for one table.
LIMIT = 100_000
AGE_BANDS = ("0-17", "18-24", "25-34", "35-49", "50+", "unknown")
#: What a suppressed cell reads: the same for a small cell and for one hidden to protect it, so
#: that neither can be told from the other.
SUPPRESSED = "suppressed"
SCORE_BANDS = ("0-0.25", "0.25-0.5", "0.5-0.75", "0.75-1", "not scored")


@dataclass(frozen=True)
class Observation:
    """One monitoring round of one person, as statistics see it: no name, and the person's
    case id only to count people (it never leaves this module)."""

    person: str
    conducted: date
    country: str
    round_months: int
    sex: str
    age_band: str
    score_band: str


def age_band(date_of_birth: date | None, uncertain: bool, on: date) -> str:
    if date_of_birth is None or uncertain:
        return "unknown"
    years = (
        on.year
        - date_of_birth.year
        - ((on.month, on.day) < (date_of_birth.month, date_of_birth.day))
    )
    for limit, band in ((18, "0-17"), (25, "18-24"), (35, "25-34"), (50, "35-49")):
        if years < limit:
            return band
    return "50+"


def score_band(composite: int | None) -> str:
    """The band of a composite score given in parts per ten thousand."""
    if composite is None:
        return "not scored"
    for limit, band in ((2500, "0-0.25"), (5000, "0.25-0.5"), (7500, "0.5-0.75")):
        if composite < limit:
            return band
    return "0.75-1"


def observations(session: Session, node: Node) -> list[Observation]:
    """Every monitoring round received here, reduced to what the tables count."""
    rows = followup.received_monitoring(session, LIMIT)
    if not rows:
        return []
    view = node.directory()
    sent = {
        r.packet_id: r
        for r in referrals.by_packet_ids(session, {r.referral_packet_id for r in rows})
    }
    found = []
    for row in rows:
        content = followup.opened(node, row)
        referral = sent.get(row.referral_packet_id)
        case = cases.by_id(session, row.subject_ref)
        if content is None or referral is None or case is None:
            continue  # the person was erased, or the referral is gone: nobody to count
        try:
            country = view.node(referral.recipient).country
        except UnknownNode:
            country = "??"
        details = person(node, case)
        conducted = date.fromisoformat(content["conducted_on"])
        found.append(
            Observation(
                person=case.id,
                conducted=conducted,
                country=country,
                round_months=int(content["round_months"]),
                sex=details.sex.value,
                age_band=age_band(details.date_of_birth, details.age_uncertain, conducted),
                score_band=score_band(content["scores"]["composite"]),
            )
        )
    return latest(found, key=lambda o: (o.person, o.round_months))


def latest(
    found: list[Observation], key: Callable[[Observation], tuple[str | int, ...]]
) -> list[Observation]:
    """The latest observation (by round, then date) of each ``key``: one per person and round,
    or one per person."""
    kept: dict[tuple[str | int, ...], Observation] = {}
    for o in found:
        now = kept.get(key(o))
        if now is None or (o.round_months, o.conducted) > (now.round_months, now.conducted):
            kept[key(o)] = o
    return list(kept.values())


# -- tables with margins, suppressed ----------------------------------------------------------------

Key = tuple[tuple[str, ...], str]


@dataclass(frozen=True)
class Table:
    """Counts by row and column, with margins; ``None`` where a value is suppressed."""

    rows: list[tuple[str, ...]]
    columns: list[str]
    values: dict[Key, int | None]


def table(
    counts: Counter[tuple[tuple[str, ...], str]],
    rows: Sequence[tuple[str, ...]],
    columns: Sequence[str],
    min_count: int,
    width: int,
    members: dict[Key, set[str]] | None = None,
) -> Table:
    """The table of ``counts`` (rows of ``width`` labels) with its margins, primary and
    secondary suppression applied. ``members`` names who is counted in each cell, where one
    person can count in several (rounds): a cell is then small by its number of people."""
    all_row = tuple(ALL for _ in range(width))
    full: dict[Key, int] = {}
    for r in rows:
        for c in columns:
            full[(r, c)] = counts[(r, c)]
        full[(r, TOTAL)] = sum(full[(r, c)] for c in columns)
    for c in [*columns, TOTAL]:
        full[(all_row, c)] = sum(full[(r, c)] for r in rows)
    people = _people(members, rows, columns, all_row) if members is not None else full
    suppressed = {key for key, value in full.items() if value > 0 and people[key] < min_count}
    lines = [[(r, c) for c in [*columns, TOTAL]] for r in [*rows, all_row]] + [
        [(r, c) for r in [*rows, all_row]] for c in [*columns, TOTAL]
    ]
    changed = True
    while changed:
        changed = False
        for line in lines:
            hidden = [key for key in line if key in suppressed]
            if len(hidden) != 1:
                continue
            suppressed.add(_second(line, full, suppressed))
            changed = True
    values: dict[Key, int | None] = {
        key: (None if key in suppressed else value) for key, value in full.items()
    }
    return Table(rows=[*rows, all_row], columns=[*columns, TOTAL], values=values)


def _people(
    members: dict[Key, set[str]],
    rows: Sequence[tuple[str, ...]],
    columns: Sequence[str],
    all_row: tuple[str, ...],
) -> dict[Key, int]:
    """How many different people each cell of the table, margins included, counts."""
    found: dict[Key, set[str]] = {}
    for r in [*rows, all_row]:
        for c in [*columns, TOTAL]:
            found[(r, c)] = set().union(
                *(
                    members.get((r2, c2), set())
                    for r2 in (rows if r == all_row else [r])
                    for c2 in (columns if c == TOTAL else [c])
                )
            )
    return {key: len(who) for key, who in found.items()}


def _second(line: list[Key], full: dict[Key, int], suppressed: set[Key]) -> Key:
    """What to hide besides the one value hidden in a line: its smallest positive cell, or
    failing one, its total (the line's last value)."""
    candidates = [key for key in line[:-1] if key not in suppressed and full[key] > 0]
    if candidates:
        return min(candidates, key=lambda key: (full[key], str(key)))
    return line[-1]


def recoverable(built: Table) -> list[Key]:
    """Hidden values a reader could work out from one line's total: must be empty."""
    found = []
    for r in built.rows:
        line = [(r, c) for c in built.columns]
        found.extend(_alone(line, built))
    for c in built.columns:
        line = [(r, c) for r in built.rows]
        found.extend(_alone(line, built))
    return found


def _alone(line: list[Key], built: Table) -> list[Key]:
    hidden = [key for key in line if built.values[key] is None]
    return hidden if len(hidden) == 1 else []


# -- the statistics ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Statistic:
    title: str
    row_names: list[str]
    row_of: Callable[[Observation], tuple[str, ...]]
    columns: Sequence[str]
    column_of: Callable[[Observation], str]
    #: Without the round among the rows, each person counts once, at their latest round.
    by_round: bool = True


STATISTICS: dict[str, Statistic] = {
    "monitoring-counts": Statistic(
        title="People monitored, by country of return, round, sex and age band",
        row_names=["country_of_return", "round_months", "sex"],
        row_of=lambda o: (o.country, str(o.round_months), o.sex),
        columns=AGE_BANDS,
        column_of=lambda o: o.age_band,
    ),
    "score-distribution": Statistic(
        title="Composite reintegration scores, by country of return and round",
        row_names=["country_of_return", "round_months"],
        row_of=lambda o: (o.country, str(o.round_months)),
        columns=SCORE_BANDS,
        column_of=lambda o: o.score_band,
    ),
    "score-distribution-by-group": Statistic(
        title="Composite reintegration scores, by sex and age band",
        row_names=["sex", "age_band"],
        row_of=lambda o: (o.sex, o.age_band),
        columns=SCORE_BANDS,
        column_of=lambda o: o.score_band,
        by_round=False,
    ),
}


def build(name: str, session: Session, node: Node, now: datetime) -> Report:
    """The named statistic as a report: suppressed cells read ``suppressed``."""
    del now
    try:
        statistic = STATISTICS[name]
    except KeyError:
        raise NotFound("statistic") from None
    found = observations(session, node)
    if not statistic.by_round:
        found = latest(found, key=lambda o: (o.person,))
    counts: Counter[Key] = Counter()
    members: dict[Key, set[str]] = {}
    for o in found:
        key = (statistic.row_of(o), statistic.column_of(o))
        counts[key] += 1
        members.setdefault(key, set()).add(o.person)
    rows = sorted({statistic.row_of(o) for o in found})
    min_count = node.settings.statistics_min_count
    width = len(statistic.row_names)
    built = table(counts, rows, list(statistic.columns), min_count, width, members)
    return Report(
        name=name,
        title=statistic.title,
        note=(
            (
                "Counts are monitoring rounds: a person counts once in each round, so a total over "
                "rounds may count them more than once. "
                if statistic.by_round
                else "Each person counts once, at their latest monitoring round. "
            )
            + f"A cell of fewer than {min_count} different people, and any cell that would let "
            "one be worked out from a total, reads 'suppressed'."
        ),
        columns=[*statistic.row_names, *built.columns],
        rows=[
            {
                **dict(zip(statistic.row_names, r, strict=True)),
                **{
                    c: (SUPPRESSED if built.values[(r, c)] is None else built.values[(r, c)])
                    for c in built.columns
                },
            }
            for r in built.rows
        ],
    )


def produce(session: Session, node: Node, principal: Principal, name: str, now: datetime) -> Report:
    """A statistic for the DPO (and, through them, donors); producing it is logged."""
    principal.require(StaffRole.DPO)
    built = build(name, session, node, now)
    record(
        session,
        at=now,
        actor=Actor.of(principal),
        action=Action.STATISTICS_PRODUCED,
        subject=None,
        outcome=f"statistic:{name}",
    )
    return built
