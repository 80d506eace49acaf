"""Routes for statistics (role ``dpo``): aggregate counts and score distributions in which no
cell counts fewer people than the node's minimum (``processes.statistics``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import PlainTextResponse

from gateway.processes import statistics
from gateway.processes.audit.reports import to_csv
from gateway.surfaces.api.cases import ERRORS
from gateway.surfaces.api.deps import CallDep, UnitOfWorkRoute

router = APIRouter(prefix="/api/v1/statistics", tags=["statistics"], route_class=UnitOfWorkRoute)
Format = Annotated[Literal["json", "csv"], Query()]
#: The statistics there are, listed in the description; another name is 404.
StatisticName = Annotated[
    str,
    Path(pattern=r"^[a-z-]{1,40}$", json_schema_extra={"enum": sorted(statistics.STATISTICS)}),
]


@router.get("/{name}", responses={**ERRORS, 200: {"content": {"text/csv": {}}}})
def statistic(name: StatisticName, call: CallDep, format: Format = "json") -> Any:
    """One of: monitoring-counts, score-distribution, score-distribution-by-group. Cells under
    the minimum count, and what would reveal them, read ``suppressed``. Producing one is logged."""
    built = statistics.produce(call.session, call.node, call.user, name, call.now)
    if format == "csv":
        return PlainTextResponse(
            to_csv(built),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{built.name}.csv"'},
        )
    return {
        "name": built.name,
        "title": built.title,
        "note": built.note,
        "columns": built.columns,
        "rows": built.rows,
    }
