"""The data protection officer's pages: the audit reports as tables, two charts, and the log's
verification, for a DPO who would rather look at a page than read JSON. No case content.

The DPO signs in by pasting a staff token (the same one the API takes); the page keeps a short
session like the person's portal (``gateway.records.person_access.sessions``). Taking a report out is logged
(``exported``) exactly as through the API.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from gateway.exchange.inbox import repository as inbox
from gateway.exchange.referrals import repository as referrals
from gateway.kit.auth import Principal
from gateway.kit.errors import GatewayError
from gateway.kit.node import Node
from gateway.processes import statistics
from gateway.processes.audit import reports
from gateway.processes.audit import service as audit
from gateway.records.accesslog import repository as accesslog
from gateway.records.accesslog.writer import Actor, deny
from gateway.records.person_access import sessions
from gateway.records.person_access.models import PortalSessionRow
from gateway.surfaces.api.deps import NodeDep, SessionDep, UnitOfWorkRoute
from gateway.surfaces.portal.labels import N_
from gateway.surfaces.portal.pages import render, words_for
from gateway.surfaces.portal.staff_auth import principal_of as staff_principal
from gateway.surfaces.portal.staff_auth import signed_in_staff, to_sign_in
from schemas.common import StaffRole

router = APIRouter(prefix="/dpo", include_in_schema=False, route_class=UnitOfWorkRoute)
PATH = "/dpo"
WEEKS = 8
ReportName = Annotated[str, Path(pattern=r"^[a-z-]{1,40}(\.csv)?$")]
#: Report columns holding ids or references: shown as they are, left to right.
IDS = frozenset(
    {
        "packet_id",
        "case_id",
        "subject",
        "withdrawal_id",
        "referral",
        "actor",
        "by",
        "best_interests_reference",
    }
)
#: How to read a statistic (k: the minimum count).
NOTES = {
    "by_round": N_(
        "Counts are monitoring rounds: a person counts once in each round, so a total over "
        "rounds may count them more than once. A cell of fewer than %(k)s different people, "
        "and any cell that would let one be worked out from a total, reads “suppressed”."
    ),
    "per_person": N_(
        "Each person counts once, at their latest monitoring round. A cell of fewer than "
        "%(k)s different people, and any cell that would let one be worked out from a total, "
        "reads “suppressed”."
    ),
}


def principal_of(row: PortalSessionRow) -> Principal:
    return staff_principal(row)


def signed_in_dpo(db: Session, request: Request, node: Node) -> PortalSessionRow | None:
    """The browser's staff session, if its member of staff is a DPO."""
    row = signed_in_staff(db, request, node)
    return row if row is not None and row.staff_role == StaffRole.DPO else None


def refused(db: Session, request: Request, node: Node) -> Response:
    """Not signed in: to the staff sign-in, coming back here. Signed in with another role: a
    page saying so, and the refusal in the access log."""
    row = signed_in_staff(db, request, node)
    if row is None:
        return to_sign_in(request.url.path)
    deny(db, at=node.clock.now(), actor=Actor.of(staff_principal(row)), outcome="wrong_role")
    return render(node, row.language, "message.html", status=403, message="not_dpo")


def _to_sign_in() -> RedirectResponse:
    return to_sign_in(f"{PATH}/")


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, db: SessionDep, node: NodeDep) -> Response:
    row = signed_in_dpo(db, request, node)
    if row is None:
        return refused(db, request, node)
    now = node.clock.now()
    return render(
        node,
        row.language,
        "dpo_overview.html",
        csrf=row.csrf,
        accesses=accesses_per_partner(db, now),
        due=deletions_due(db, now),
        reports=sorted(reports.REPORTS),
        statistics=sorted(statistics.STATISTICS),
        scores=scores_chart(db, node),
        unplaced=accesslog.unplaced(db),
    )


@router.post("/verify", response_class=HTMLResponse)
def verify(
    request: Request, db: SessionDep, node: NodeDep, csrf: Annotated[str, Form(max_length=200)]
) -> Response:
    row = signed_in_dpo(db, request, node)
    if row is None or not sessions.same(row.csrf, csrf):
        return _to_sign_in()
    result = audit.verify(db, node, principal_of(row), node.clock.now())
    return render(node, row.language, "dpo_verify.html", csrf=row.csrf, result=result)


@router.get("/reports/{name}", response_class=HTMLResponse)
def report(name: ReportName, request: Request, db: SessionDep, node: NodeDep) -> Response:
    row = signed_in_dpo(db, request, node)
    if row is None:
        return refused(db, request, node)
    if name.endswith(".csv"):
        built = _report(db, node, row, name.removesuffix(".csv"))
        return PlainTextResponse(
            reports.to_csv(built),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{built.name}.csv"'},
        )
    built = _report(db, node, row, name)
    return render(node, row.language, "dpo_report.html", csrf=row.csrf, **_table(node, built))


@router.get("/statistics/{name}", response_class=HTMLResponse)
def statistic(name: ReportName, request: Request, db: SessionDep, node: NodeDep) -> Response:
    """A statistic as a table (or CSV): every suppressed cell reads ``suppressed``."""
    row = signed_in_dpo(db, request, node)
    if row is None:
        return refused(db, request, node)
    built = statistics.produce(
        db, node, principal_of(row), name.removesuffix(".csv"), node.clock.now()
    )
    if name.endswith(".csv"):
        return PlainTextResponse(
            reports.to_csv(built),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{built.name}.csv"'},
        )
    by_round = statistics.STATISTICS[built.name].by_round
    note = words_for(node, row.language)(
        NOTES["by_round" if by_round else "per_person"], k=node.settings.statistics_min_count
    )
    return render(
        node,
        row.language,
        "dpo_report.html",
        csrf=row.csrf,
        kind="statistics",
        note=note,
        **_table(node, built),
    )


def _table(node: Node, built: reports.Report) -> dict[str, Any]:
    """What a report's page needs besides the report: which columns are ids (shown as they
    are), the retention rules (to say the processing register's periods in words)."""
    try:
        rules = list(node.directory().directory.retention)
    except GatewayError:
        rules = []
    return {"report": built, "ids": IDS, "rules": rules, "row_limit": reports.ROW_LIMIT}


def _report(db: Session, node: Node, row: PortalSessionRow, name: str) -> reports.Report:
    return audit.report(db, node, principal_of(row), name, node.clock.now())


# -- the two charts -----------------------------------------------------------------------------


def _week(moment: datetime) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def accesses_per_partner(db: Session, now: datetime) -> dict[str, Any]:
    """Openings of this node's packets by other organisations, per week, last ``WEEKS`` weeks."""
    since = now - timedelta(weeks=WEEKS)
    rows = accesslog.openings_since(db, since, 100_000)
    weeks = [_week(now - timedelta(weeks=k)) for k in range(WEEKS - 1, -1, -1)]
    counts: Counter[tuple[str, str]] = Counter((org, _week(at)) for org, at in rows)
    partners = sorted({org for org, _ in counts})
    return {
        "weeks": weeks,
        "partners": partners,
        "counts": counts,
        "peak": max(counts.values(), default=0),
    }


def scores_chart(db: Session, node: Node) -> dict[str, Any]:
    """Composite reintegration scores of everyone monitored, by band: the statistic's totals
    row, suppressed cells left as they are (drawn empty, labelled ``suppressed``). Not logged: it
    shows nothing the statistic would not."""
    built = statistics.build("score-distribution", db, node, node.clock.now())
    totals = built.rows[-1] if built.rows else {}
    bands = list(statistics.SCORE_BANDS)
    counts = {band: totals.get(band, 0) for band in bands}
    numbers = [v for v in counts.values() if isinstance(v, int)]
    return {"bands": bands, "counts": counts, "peak": max(numbers, default=0)}


def deletions_due(db: Session, now: datetime) -> dict[str, Any]:
    """Sections this node must delete, per coming week: what it sent and what it received."""
    until = now + timedelta(weeks=WEEKS)
    sent = referrals.next_deletions_before(db, until, 100_000)
    received = inbox.deletions_before(db, until, 100_000)
    weeks = [_week(now + timedelta(weeks=k)) for k in range(WEEKS)]
    overdue = sum(1 for d in [*sent, *received] if d is not None and d <= now)
    counts = Counter(_week(d) for d in [*sent, *received] if d is not None and d > now)
    return {
        "weeks": weeks,
        "counts": counts,
        "overdue": overdue,
        "peak": max([*counts.values(), overdue], default=0),
    }
