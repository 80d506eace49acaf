"""The data protection officer's reports: what this node processes, sends, still holds, and who looks.

Each report is built by one function from a session, the node and the time, and comes out as
plain rows that the API returns as JSON and the CLI writes as CSV.

Invariants:
- no case content, ever: rows hold ids, codes, counts and dates. Queries select named columns
  only, so no sealed column (case, referral or received section) is even read from the database;
- read-only: builders never add, change or delete a row, and never write the access log (the
  caller logs that a report was produced, if it wants to);
- bounded: every query has a ``LIMIT``. Registers that must be complete (``transfers``,
  ``processing``) read page after page; work lists stop at ``ROW_LIMIT`` rows and say so in
  their title;
- the caller authorises: these functions take no principal, so the route or CLI command in front
  of them must admit the DPO only.

Example::

    >>> report = build("transfers", session, node, now)              # doctest: +SKIP
    >>> report.columns[:3]                                           # doctest: +SKIP
    ['destination_country', 'purpose', 'data_category']
    >>> print(to_csv(report))                                        # doctest: +SKIP
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import and_, distinct, func, or_, select
from sqlalchemy.orm import Session

from consent.errors import RefusalRule
from consent.retention import FALLBACK
from gateway.exchange.inbox.models import ReceivedPacketRow, ReceivedSectionRow
from gateway.exchange.referrals.models import ReferralRow
from gateway.exchange.referrals.repository import DELIVERED
from gateway.kit.errors import NotFound
from gateway.kit.node import Node
from gateway.processes.deletion_proof import DeletionRequest, requests_naming, unproven
from gateway.processes.retention import active_holds
from gateway.records.accesslog.models import AccessEventRow
from gateway.records.accesslog.writer import Action
from gateway.records.consents.models import ConsentRow, RevocationRow, WithdrawalRow
from partners.errors import UnknownNode
from schemas.directory import RetentionRule

#: Most rows a work list shows, and most rows any one query reads.
ROW_LIMIT = 10_000
#: Rows per page where a register reads everything.
PAGE = 10_000
#: How many ids go into one ``IN (...)`` (SQLite caps the number of bound parameters).
IN_CHUNK = 500

DENIED_PERIOD = timedelta(days=90)
UNUSUAL_PERIOD = timedelta(days=30)
#: An actor who opens more distinct people's records than this within one hour is flagged.
SUBJECTS_PER_HOUR = 20
#: An actor refused more often than this within one day (24 hours) is flagged.
DENIALS_PER_DAY = 10

#: The role shown for referrals the current directory's sharing policy no longer describes.
NO_CURRENT_RULE = "(no rule in the current directory)"
#: The country shown for a recipient the current directory no longer lists.
UNKNOWN_COUNTRY = "??"

#: Revocation statuses that are answered by a verified deletion receipt (as ``retention.proof``).
#: Revocation statuses of a withdrawal a recipient has not (fully) confirmed.
_UNCONFIRMED = ("pending", "undeliverable", "held")


@dataclass(frozen=True)
class Report:
    """A report as rows of JSON-able values (str, int, None, list[str]; dates as ISO strings)."""

    name: str
    title: str
    columns: list[str]
    rows: list[dict[str, object]] = field(default_factory=list)


Builder = Callable[[Session, Node, datetime], Report]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _titled(title: str, truncated: bool) -> str:
    return f"{title} (first {ROW_LIMIT} rows only)" if truncated else title


def _chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), IN_CHUNK):
        yield values[start : start + IN_CHUNK]


# -- delivered referrals ---------------------------------------------------------------------------


class _Sent(NamedTuple):
    recipient: str
    purpose: str
    transfer_ground: str
    created_at: datetime
    sections: list[str]


def _delivered(session: Session) -> Iterator[_Sent]:
    """Every referral delivered from this node (sealed content not read), page by page.

    Delivered means the data left the node; queued, dead-lettered and cancelled referrals never
    did. The sections are all that went, including those since withdrawn or expired.
    """
    last = ""
    while True:
        page = session.execute(
            select(
                ReferralRow.id,
                ReferralRow.recipient,
                ReferralRow.purpose,
                ReferralRow.transfer_ground,
                ReferralRow.created_at,
                ReferralRow.sent_sections,
                ReferralRow.withdrawn_sections,
                ReferralRow.expired_sections,
            )
            .where(ReferralRow.status == DELIVERED, ReferralRow.id > last)
            .order_by(ReferralRow.id)
            .limit(PAGE)
        ).all()
        for row in page:
            yield _Sent(
                recipient=row.recipient,
                purpose=row.purpose,
                transfer_ground=row.transfer_ground,
                created_at=row.created_at,
                sections=sorted(
                    {*row.sent_sections, *row.withdrawn_sections, *row.expired_sections}
                ),
            )
        if len(page) < PAGE:
            return
        last = page[-1].id


# -- 1. record of processing activities ------------------------------------------------------------


def _retention_text(rules: Sequence[RetentionRule], purpose: str, sections: Iterable[str]) -> str:
    by_key = {(r.purpose.value, r.section.value): r for r in rules}
    parts = []
    for section in sorted(sections):
        rule = by_key.get((purpose, section))
        if rule is None:
            # What ``consent.retention`` applies to a section no rule names.
            parts.append(f"{section}: {FALLBACK.days} days after referral sent (no rule)")
            continue
        text = f"{section}: {rule.days} days after {rule.event.value.replace('_', ' ')}"
        if rule.child_minimum_days:
            text += f" (at least {rule.child_minimum_days} days for a child)"
        parts.append(text)
    return "; ".join(parts)


def processing(session: Session, node: Node, now: datetime) -> Report:
    """One row per purpose and recipient role of the sharing policy, with this node's use of it.

    A referral counts under each of its recipient's roles that has a rule for its purpose.
    Referrals that no current rule covers (the policy or the directory changed since) are not
    dropped: they get a row of their own per purpose, with ``NO_CURRENT_RULE`` as the role.
    """
    del now  # the directory is checked against the node's clock when it is read
    directory = node.directory().directory
    roles_of = {n.node_id: {role.value for role in n.roles} for n in directory.nodes}
    ruled = {(rule.purpose.value, rule.role.value) for rule in directory.sharing_policy}

    sent: Counter[tuple[str, str]] = Counter()
    unlisted: dict[str, tuple[set[str], set[str]]] = {}  # purpose -> recipients, sections
    for referral in _delivered(session):
        roles = [r for r in roles_of.get(referral.recipient, ()) if (referral.purpose, r) in ruled]
        for role in roles:
            sent[(referral.purpose, role)] += 1
        if not roles:
            sent[(referral.purpose, NO_CURRENT_RULE)] += 1
            to_whom, what = unlisted.setdefault(referral.purpose, (set(), set()))
            to_whom.add(referral.recipient)
            what.update(referral.sections)

    rows: list[dict[str, object]] = []
    for rule in sorted(directory.sharing_policy, key=lambda r: (r.purpose.value, r.role.value)):
        purpose, role = rule.purpose.value, rule.role.value
        sections = sorted(s.value for s in rule.sections)
        rows.append(
            {
                "purpose": purpose,
                "recipient_role": role,
                "data_categories": sections,
                "recipients": sorted(
                    n.node_id
                    for n in directory.nodes
                    if role in roles_of[n.node_id] and n.node_id != node.node_id
                ),
                "retention": _retention_text(directory.retention, purpose, sections),
                "referrals_sent": sent[(purpose, role)],
            }
        )
    for purpose, (to_whom, what) in sorted(unlisted.items()):
        rows.append(
            {
                "purpose": purpose,
                "recipient_role": NO_CURRENT_RULE,
                "data_categories": sorted(what),
                "recipients": sorted(to_whom),
                "retention": _retention_text(directory.retention, purpose, what),
                "referrals_sent": sent[(purpose, NO_CURRENT_RULE)],
            }
        )
    return Report(
        name="processing",
        title="Record of processing activities: sharing by purpose and recipient role",
        columns=[
            "purpose",
            "recipient_role",
            "data_categories",
            "recipients",
            "retention",
            "referrals_sent",
        ],
        rows=rows,
    )


# -- 2. register of cross-border transfers ---------------------------------------------------------


@dataclass
class _Tally:
    packets: int = 0
    first: datetime | None = None
    last: datetime | None = None
    grounds: set[str] = field(default_factory=set)
    recipients: set[str] = field(default_factory=set)


def transfers(session: Session, node: Node, now: datetime) -> Report:
    """Delivered packets by destination country, purpose and data category (section).

    The country is the recipient's in the current directory (``UNKNOWN_COUNTRY`` for a node no
    longer listed). ``gateway.processes.dpo.transfers`` lists the same transfers one by one.
    """
    del now
    view = node.directory()
    countries: dict[str, str] = {}
    tallies: defaultdict[tuple[str, str, str], _Tally] = defaultdict(_Tally)
    for referral in _delivered(session):
        if referral.recipient not in countries:
            try:
                countries[referral.recipient] = view.node(referral.recipient).country
            except UnknownNode:
                countries[referral.recipient] = UNKNOWN_COUNTRY
        country = countries[referral.recipient]
        for section in referral.sections:
            tally = tallies[(country, referral.purpose, section)]
            tally.packets += 1
            at = referral.created_at
            tally.first = at if tally.first is None else min(tally.first, at)
            tally.last = at if tally.last is None else max(tally.last, at)
            tally.grounds.add(referral.transfer_ground)
            tally.recipients.add(referral.recipient)
    rows: list[dict[str, object]] = [
        {
            "destination_country": country,
            "purpose": purpose,
            "data_category": section,
            "packets": tally.packets,
            "first_sent": _iso(tally.first),
            "last_sent": _iso(tally.last),
            "transfer_grounds": sorted(tally.grounds),
            "recipients": sorted(tally.recipients),
        }
        for (country, purpose, section), tally in sorted(tallies.items())
    ]
    return Report(
        name="transfers",
        title="Register of cross-border transfers by destination country and data category",
        columns=[
            "destination_country",
            "purpose",
            "data_category",
            "packets",
            "first_sent",
            "last_sent",
            "transfer_grounds",
            "recipients",
        ],
        rows=rows,
    )


# -- 3. overdue deletions --------------------------------------------------------------------------


def _why_unproven(packet_id: str, requests: Sequence[DeletionRequest]) -> str:
    if not requests:
        return "not_requested"
    last = requests[-1]
    if last.status == "held" and packet_id in last.held:
        return "held_by_recipient"
    return {"pending": "request_pending", "undeliverable": "request_undeliverable"}.get(
        last.status, "partly_proven"
    )


def _overdue_sent(session: Session, now: datetime) -> tuple[list[dict[str, object]], bool]:
    """Delivered packets past their date that no verified deletion receipt fully covers.

    The same rule as ``gateway.processes.deletion_proof.overdue``, without its principal and without
    loading whole referral rows (which carry the sealed content).
    """
    rows = session.execute(
        select(
            ReferralRow.packet_id,
            ReferralRow.case_id,
            ReferralRow.recipient,
            ReferralRow.purpose,
            ReferralRow.delete_by,
            ReferralRow.section_delete_by,
        )
        .where(
            ReferralRow.status == DELIVERED,
            ReferralRow.delete_by <= now,
            ReferralRow.deletion_proven_at.is_(None),
        )
        .order_by(ReferralRow.delete_by, ReferralRow.id)
        .limit(ROW_LIMIT)
    ).all()
    naming = requests_naming(session, (r.case_id for r in rows))
    report: list[dict[str, object]] = []
    for row in rows:
        requests = naming.get(row.packet_id, [])
        still = unproven(row.packet_id, row.section_delete_by, requests)
        if not still:
            continue
        report.append(
            {
                "side": "sent",
                "packet_id": row.packet_id,
                "subject": row.case_id,
                "counterpart": row.recipient,
                "purpose": row.purpose,
                "sections": still,
                "delete_by": _iso(row.delete_by),
                "days_overdue": (now - row.delete_by).days,
                "reason": _why_unproven(row.packet_id, requests),
            }
        )
    return report, len(rows) == ROW_LIMIT


def _overdue_received(session: Session, now: datetime) -> tuple[list[dict[str, object]], bool]:
    """Received sections past their date still stored: the purge is behind, or a hold keeps them."""
    rows = session.execute(
        select(
            ReceivedSectionRow.packet_id,
            ReceivedSectionRow.section,
            ReceivedSectionRow.delete_by,
            ReceivedPacketRow.sender,
            ReceivedPacketRow.purpose,
            ReceivedPacketRow.subject,
        )
        .join(ReceivedPacketRow, ReceivedPacketRow.packet_id == ReceivedSectionRow.packet_id)
        .where(ReceivedSectionRow.delete_by <= now)
        .order_by(
            ReceivedSectionRow.delete_by, ReceivedSectionRow.packet_id, ReceivedSectionRow.section
        )
        .limit(ROW_LIMIT)
    ).all()
    held_subjects, held_packets = active_holds(session, now)
    packets: dict[str, dict[str, object]] = {}
    sections: defaultdict[str, list[str]] = defaultdict(list)
    for row in rows:
        sections[row.packet_id].append(row.section)
        if row.packet_id in packets:
            continue  # rows come earliest date first: the packet's row shows its oldest
        held = row.subject in held_subjects or row.packet_id in held_packets
        packets[row.packet_id] = {
            "side": "received",
            "packet_id": row.packet_id,
            "subject": row.subject,
            "counterpart": row.sender,
            "purpose": row.purpose,
            "sections": sections[row.packet_id],
            "delete_by": _iso(row.delete_by),
            "days_overdue": (now - row.delete_by).days,
            "reason": "legal_hold" if held else "purge_behind",
        }
    for packet_id, names in sections.items():
        packets[packet_id]["sections"] = sorted(names)
    return list(packets.values()), len(rows) == ROW_LIMIT


def overdue_deletions(session: Session, node: Node, now: datetime) -> Report:
    """Data past its delete-by date: sent without proof of deletion, or received and still here.

    ``reason`` says why. Sent side: ``not_requested`` (no deletion receipt asked for yet),
    ``request_pending``, ``request_undeliverable``, ``held_by_recipient`` (the recipient's legal
    hold keeps it), ``partly_proven`` (receipts cover only some sections). Received side:
    ``legal_hold`` (an active hold on the subject or packet keeps it) or ``purge_behind``.
    """
    del node
    sent, sent_cut = _overdue_sent(session, now)
    received, received_cut = _overdue_received(session, now)
    return Report(
        name="overdue-deletions",
        title=_titled(
            "Data past its delete-by date not yet proven deleted", sent_cut or received_cut
        ),
        columns=[
            "side",
            "packet_id",
            "subject",
            "counterpart",
            "purpose",
            "sections",
            "delete_by",
            "days_overdue",
            "reason",
        ],
        rows=sent + received,
    )


# -- 4. withdrawals not yet confirmed --------------------------------------------------------------


def pending_withdrawals(session: Session, node: Node, now: datetime) -> Report:
    """One row per recipient that has not confirmed deleting what a withdrawal revoked, oldest first.

    ``held`` counts as not confirmed: the recipient signed that a legal hold keeps the data.
    """
    del node
    rows = session.execute(
        select(
            WithdrawalRow.id,
            WithdrawalRow.case_id,
            WithdrawalRow.requested_at,
            RevocationRow.recipient,
            RevocationRow.status,
        )
        .join(RevocationRow, RevocationRow.withdrawal_id == WithdrawalRow.id)
        .where(RevocationRow.status.in_(_UNCONFIRMED))
        .order_by(WithdrawalRow.requested_at, WithdrawalRow.id, RevocationRow.recipient)
        .limit(ROW_LIMIT)
    ).all()
    return Report(
        name="pending-withdrawals",
        title=_titled(
            "Withdrawals of consent not yet confirmed by every recipient", len(rows) == ROW_LIMIT
        ),
        columns=["withdrawal_id", "case_id", "requested_at", "recipient", "status", "age_days"],
        rows=[
            {
                "withdrawal_id": row.id,
                "case_id": row.case_id,
                "requested_at": _iso(row.requested_at),
                "recipient": row.recipient,
                "status": row.status,
                "age_days": (now - row.requested_at).days,
            }
            for row in rows
        ],
    )


# -- 5. denied accesses ----------------------------------------------------------------------------


def denied(session: Session, node: Node, now: datetime) -> Report:
    """Denied accesses in the last ``DENIED_PERIOD``, by actor and outcome, most frequent first."""
    del node
    times = func.count().label("times")
    rows = session.execute(
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
            AccessEventRow.at > now - DENIED_PERIOD,
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
        .limit(ROW_LIMIT)
    ).all()
    return Report(
        name="denied",
        title=_titled(
            f"Denied accesses in the last {DENIED_PERIOD.days} days", len(rows) == ROW_LIMIT
        ),
        columns=[
            "actor",
            "actor_org",
            "actor_role",
            "outcome",
            "count",
            "first_at",
            "last_at",
        ],
        rows=[
            {
                "actor": row.actor,
                "actor_org": row.actor_org,
                "actor_role": row.actor_role,
                "outcome": row.outcome,
                "count": int(row.times),
                "first_at": _iso(row.first_at),
                "last_at": _iso(row.last_at),
            }
            for row in rows
        ],
    )


# -- 6. unusual access patterns --------------------------------------------------------------------


class _Who(NamedTuple):
    user: str
    org: str
    role: str


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


def _candidates(
    session: Session, pattern: _Pattern, since: datetime, now: datetime
) -> Sequence[_Who]:
    """Actors whose total over the whole period exceeds the threshold: no one else can in a window."""
    counted = (
        func.count(distinct(AccessEventRow.subject)) if pattern.distinct_subjects else func.count()
    )
    rows = session.execute(
        select(AccessEventRow.actor, AccessEventRow.actor_org, AccessEventRow.actor_role)
        .where(
            AccessEventRow.action.in_(pattern.actions),
            AccessEventRow.at > since,
            AccessEventRow.at <= now,
        )
        .group_by(AccessEventRow.actor, AccessEventRow.actor_org, AccessEventRow.actor_role)
        .having(counted > pattern.threshold)
        .order_by(AccessEventRow.actor, AccessEventRow.actor_org, AccessEventRow.actor_role)
        .limit(ROW_LIMIT)
    ).all()
    return [_Who(*row) for row in rows]


def _entries(
    session: Session, who: _Who, pattern: _Pattern, since: datetime, now: datetime
) -> Iterator[tuple[datetime, str]]:
    """The actor's entries of the pattern in the period, oldest first, page by page.

    Each yields its time and what the window counts: the subject, or the entry itself.
    """
    after: tuple[datetime, int] | None = None
    while True:
        query = select(AccessEventRow.at, AccessEventRow.seq, AccessEventRow.subject).where(
            AccessEventRow.actor == who.user,
            AccessEventRow.actor_org == who.org,
            AccessEventRow.actor_role == who.role,
            AccessEventRow.action.in_(pattern.actions),
            AccessEventRow.at > since,
            AccessEventRow.at <= now,
        )
        if pattern.distinct_subjects:
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
        for row in page:
            yield row.at, (row.subject if pattern.distinct_subjects else str(row.seq)) or ""
        if len(page) < PAGE:
            return
        after = (page[-1].at, page[-1].seq)


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
        candidates = _candidates(session, pattern, since, now)
        truncated = truncated or len(candidates) == ROW_LIMIT
        for who in candidates:
            best, start = _peak(_entries(session, who, pattern, since, now), pattern.window)
            if best > pattern.threshold:
                rows.append(
                    {
                        "actor": who.user,
                        "actor_org": who.org,
                        "actor_role": who.role,
                        "pattern": pattern.name,
                        "window_start": _iso(start),
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
        title=_titled(f"Unusual access patterns in the last {UNUSUAL_PERIOD.days} days", truncated),
        columns=["actor", "actor_org", "actor_role", "pattern", "window_start", "count"],
        rows=rows,
    )


# -- 7. packets cancelled before delivery ---------------------------------------------------------

CANCELLED_PERIOD = timedelta(days=90)


def cancelled(session: Session, node: Node, now: datetime) -> Report:
    """Packets cancelled before they were sent, and the rule that stopped each (last 90 days).

    A withdrawal of consent cancels what still waits; the delivery worker cancels what the
    directory in force at the attempt forbids (a suspension, a member gone, a role changed).
    """
    del node
    rows = session.execute(
        select(
            AccessEventRow.at,
            AccessEventRow.action,
            AccessEventRow.packet_id,
            AccessEventRow.purpose,
            AccessEventRow.sections,
            AccessEventRow.outcome,
            AccessEventRow.actor,
        )
        .where(
            AccessEventRow.action.in_(
                (Action.REFERRAL_CANCELLED.value, Action.DELIVERY_CANCELLED.value)
            ),
            AccessEventRow.at > now - CANCELLED_PERIOD,
            AccessEventRow.at <= now,
        )
        .order_by(AccessEventRow.at.desc(), AccessEventRow.seq.desc())
        .limit(ROW_LIMIT)
    ).all()
    return Report(
        name="cancelled",
        title=_titled(
            f"Packets cancelled before delivery in the last {CANCELLED_PERIOD.days} days",
            len(rows) == ROW_LIMIT,
        ),
        columns=["at", "message", "packet_id", "purpose", "sections", "rule", "by"],
        rows=[
            {
                "at": _iso(row.at),
                "message": "referral" if row.action == Action.REFERRAL_CANCELLED else "other",
                "packet_id": row.packet_id,
                "purpose": row.purpose,
                "sections": row.sections,
                "rule": row.outcome,
                "by": row.actor,
            }
            for row in rows
        ],
    )


# -- 8. children's referrals -----------------------------------------------------------------------

#: Refusals that concern children, shown beside the children's referrals.
CHILD_RULES = (
    RefusalRule.CHILD_CONSENT_INCOMPLETE.value,
    RefusalRule.CHILD_VIEW_NOT_WEIGHED.value,
    RefusalRule.CHILD_CUSTODIAN_REQUIRED.value,
    RefusalRule.CUSTODIAN_REQUIRED.value,
    RefusalRule.HANDOVER_BEFORE_ARRIVAL.value,
)


def _child_consents(session: Session) -> dict[str, dict[str, object]]:
    """Consents recorded for a child (a child's view is recorded only for a child), by id; the
    sealed weighing itself is not read, only whether there is one."""
    rows = session.execute(
        select(
            ConsentRow.id,
            ConsentRow.child_view,
            ConsentRow.best_interests_reference,
            ConsentRow.child_view_weighing.is_not(None).label("weighed"),
        )
        .where(ConsentRow.child_view.is_not(None))
        .limit(ROW_LIMIT)
    ).all()
    return {
        row.id: {
            "child_view": row.child_view,
            "best_interests_reference": row.best_interests_reference,
            "view_weighed": bool(row.weighed),
        }
        for row in rows
    }


def children(session: Session, node: Node, now: datetime) -> Report:
    """Every referral resting on a child's consent, with the child's own view, the best-interests
    determination and whether it states how that view was weighed; and the referrals refused by
    a rule protecting children in the last 90 days. The weighing itself is read one referral at
    a time (``gateway.processes.dpo.child_view``), and that reading is logged."""
    del node
    consents = _child_consents(session)
    rows: list[dict[str, object]] = []
    last = ""
    while len(rows) < ROW_LIMIT:
        page = session.execute(
            select(
                ReferralRow.id,
                ReferralRow.packet_id,
                ReferralRow.created_at,
                ReferralRow.recipient,
                ReferralRow.purpose,
                ReferralRow.status,
                ReferralRow.status_reason,
                ReferralRow.consent_ids,
            )
            .where(ReferralRow.id > last)
            .order_by(ReferralRow.id)
            .limit(PAGE)
        ).all()
        for referral in page:
            child = next((consents[c] for c in referral.consent_ids if c in consents), None)
            if child is not None:
                rows.append(
                    {
                        "at": _iso(referral.created_at),
                        "referral": referral.id,
                        "packet_id": referral.packet_id,
                        "recipient": referral.recipient,
                        "purpose": referral.purpose,
                        "status": referral.status,
                        "reason": referral.status_reason,
                        **child,
                    }
                )
        if len(page) < PAGE:
            break
        last = page[-1].id
    refused = session.execute(
        select(AccessEventRow.at, AccessEventRow.purpose, AccessEventRow.outcome)
        .where(
            AccessEventRow.action.in_((Action.REFERRAL_REFUSED.value, Action.EVENT_REFUSED.value)),
            AccessEventRow.outcome.in_(CHILD_RULES),
            AccessEventRow.at > now - CANCELLED_PERIOD,
            AccessEventRow.at <= now,
        )
        .order_by(AccessEventRow.at.desc(), AccessEventRow.seq.desc())
        .limit(ROW_LIMIT)
    ).all()
    rows.extend(
        {"at": _iso(row.at), "purpose": row.purpose, "status": "refused", "reason": row.outcome}
        for row in refused
    )
    rows = rows[:ROW_LIMIT]
    return Report(
        name="children",
        title=_titled(
            "Children's referrals and refusals that protect children", len(rows) == ROW_LIMIT
        ),
        columns=[
            "at",
            "referral",
            "packet_id",
            "recipient",
            "purpose",
            "status",
            "reason",
            "child_view",
            "best_interests_reference",
            "view_weighed",
        ],
        rows=rows,
    )


# -- the catalogue ---------------------------------------------------------------------------------

REPORTS: dict[str, Builder] = {
    "processing": processing,
    "transfers": transfers,
    "overdue-deletions": overdue_deletions,
    "pending-withdrawals": pending_withdrawals,
    "denied": denied,
    "unusual": unusual,
    "cancelled": cancelled,
    "children": children,
}


def build(name: str, session: Session, node: Node, now: datetime) -> Report:
    """The named report; ``NotFound`` for a name not in ``REPORTS``."""
    try:
        builder = REPORTS[name]
    except KeyError:
        raise NotFound("report") from None
    return builder(session, node, now)


#: A cell starting with one of these is a formula to a spreadsheet (CSV injection); see to_csv.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        value = ";".join(str(item) for item in value)
    if isinstance(value, str):
        # Actor ids come from other organisations' identity providers; a DPO opens this file in a
        # spreadsheet, so a text cell is never let through as a formula.
        return "'" + value if value.startswith(_FORMULA_START) else value
    return str(value)


def to_csv(report: Report) -> str:
    """The report as CSV: a header of its columns, one line per row, lists joined with ``;``."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(report.columns)
    for row in report.rows:
        writer.writerow([_cell(row.get(column)) for column in report.columns])
    return out.getvalue()
