"""Routes of the access-log audit (role ``dpo``): read-only, never any case content."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import PlainTextResponse

from gateway.processes.audit import reports, service
from gateway.surfaces.api.cases import ERRORS
from gateway.surfaces.api.deps import CallDep, UnitOfWorkRoute
from schemas.audit import AuditProblem, AuditReport, ConsistencyRead, LogEntry, SubjectHistory
from schemas.common import AwareDatetime
from schemas.envelope import SignedDocument

router = APIRouter(
    prefix="/api/v1/audit",
    tags=["audit (data protection officer)"],
    route_class=UnitOfWorkRoute,
)
Subject = Annotated[str, Path(pattern=r"^[0-9a-f]{32,64}$")]
#: The largest size a log can have: what the database stores a size in (64 bits, signed).
MAX_LOG_SIZE = 2**63 - 1
#: Printable text: no control characters (PostgreSQL takes no NUL in a query either).
_PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
_SINCE = "Entries at or after this time (RFC 3339, with its offset: `2026-03-02T10:00:00Z`)."
_UNTIL = "Entries before this time (RFC 3339, with its offset)."
_SIZE = "The size of a signed checkpoint (`GET /api/v1/audit/checkpoints`); `old` not above `new`."
Format = Annotated[Literal["json", "csv"], Query()]
#: The reports there are, listed in the description; another name is 404, as before the list.
ReportName = Annotated[
    str, Path(pattern=r"^[a-z-]{1,40}$", json_schema_extra={"enum": sorted(reports.REPORTS)})
]


@router.get("/entries", responses=ERRORS)
def search(
    call: CallDep,
    subject: Annotated[str | None, Query(pattern=r"^[0-9a-f]{32,64}$")] = None,
    organisation: Annotated[str | None, Query(max_length=64, pattern=_PRINTABLE)] = None,
    actor: Annotated[str | None, Query(max_length=128, pattern=_PRINTABLE)] = None,
    action: Annotated[str | None, Query(pattern=r"^[a-z_]{1,40}$")] = None,
    since: Annotated[AwareDatetime | None, Query(description=_SINCE)] = None,
    until: Annotated[AwareDatetime | None, Query(description=_UNTIL)] = None,
    limit: Annotated[int, Query(ge=1, le=service.SEARCH_LIMIT)] = 200,
) -> list[LogEntry]:
    """Search the log by person (case id or pseudonym), organisation, user, action and time."""
    query = service.Search(subject, organisation, actor, action, since, until, limit)
    return service.search(call.session, call.user, query, call.now)


@router.get("/subjects/{subject}/history", responses=ERRORS)
def history(subject: Subject, call: CallDep) -> SubjectHistory:
    """A person's entries, each with its proof against the latest signed checkpoint."""
    return service.history(call.session, call.user, subject, call.now)


@router.get("/checkpoints", responses=ERRORS)
def checkpoints(call: CallDep) -> list[SignedDocument]:
    """Every signed checkpoint; keep a copy elsewhere to catch a later rewrite."""
    return service.checkpoints(call.session, call.user)


@router.get("/consistency", responses=ERRORS)
def consistency(
    call: CallDep,
    old: Annotated[int, Query(ge=1, le=MAX_LOG_SIZE, description=_SIZE)],
    new: Annotated[int, Query(ge=1, le=MAX_LOG_SIZE, description=_SIZE)],
) -> ConsistencyRead:
    """Proof that the log at checkpoint ``new`` only appended to the log at checkpoint ``old``."""
    return service.consistency(call.session, call.user, old, new)


@router.get("/verify", responses=ERRORS)
def verify(call: CallDep) -> AuditReport:
    """Recompute the whole log and check every checkpoint (as ``avrr audit verify``)."""
    return service.verify(call.session, call.node, call.user, call.now)


@router.get("/reconcile", responses=ERRORS)
def reconcile(call: CallDep) -> list[AuditProblem]:
    """Deliveries, receipts, openings and deletions in the service's tables without an entry."""
    return service.unlogged(call.session, call.user)


@router.get("/reports/{name}", responses={**ERRORS, 200: {"content": {"text/csv": {}}}})
def report(name: ReportName, call: CallDep, format: Format = "json") -> Any:
    """One of: processing, transfers, overdue-deletions, pending-withdrawals, denied, unusual,
    cancelled (packets cancelled before delivery, with the rule), children (children's
    referrals with the child's view and its weighing, and refusals that protect children)."""
    built = service.report(call.session, call.node, call.user, name, call.now)
    if format == "csv":
        return PlainTextResponse(
            reports.to_csv(built),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{built.name}.csv"'},
        )
    return {"name": built.name, "title": built.title, "columns": built.columns, "rows": built.rows}
