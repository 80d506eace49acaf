"""Routes for cases (caseworkers). Thin: parse, authorise, call one service, return."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse

from gateway.kit import idempotency
from gateway.processes import status as events
from gateway.processes import timeline as cases_timeline
from gateway.records.cases import service
from gateway.surfaces.api.deps import CallDep, IdempotencyKey, UnitOfWorkRoute
from schemas.api import CaseCreate, CaseEventRead, CaseRead, ErrorRead, TimelineEntry
from schemas.status import CaseEventCreate

router = APIRouter(prefix="/api/v1/cases", tags=["cases"], route_class=UnitOfWorkRoute)
CaseId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
_RETRY_AFTER = {
    "Retry-After": {
        "description": "seconds to wait before trying again",
        "schema": {"type": "integer"},
    }
}
#: The answers every API route may give besides its own, for the OpenAPI description.
ERRORS: dict[int | str, dict[str, Any]] = {
    **{code: {"model": ErrorRead} for code in (401, 403, 404, 422)},
    413: {"model": ErrorRead, "description": "the body is over the node's limit; not read"},
    429: {
        "description": "too many requests: sent by a rate-limiting proxy in front of the "
        "node, never by the node itself; wait for Retry-After, as for 503",
        "headers": _RETRY_AFTER,
    },
    503: {
        "model": ErrorRead,
        "description": "the node cannot serve now (its database is unreachable or failing "
        "over, or it has no valid directory); nothing was changed; try again after Retry-After",
        "headers": _RETRY_AFTER,
    },
}


@router.post("", status_code=201, response_model=CaseRead, responses=ERRORS)
def create_case(body: CaseCreate, call: CallDep, key: IdempotencyKey = None) -> JSONResponse:
    return idempotency.once(
        call,
        key=key,
        route="create_case",
        request=body,
        create=lambda: service.create_case(call.session, call.node, call.user, body, call.now),
        reread=lambda case_id: service.read_case(
            call.session, call.node, call.user, case_id, call.now
        ),
    )


@router.get("/{case_id}", responses=ERRORS)
def read_case(case_id: CaseId, call: CallDep) -> CaseRead:
    return service.read_case(call.session, call.node, call.user, case_id, call.now)


@router.put("/{case_id}", responses={**ERRORS, 410: ERRORS[404]})
def correct_case(case_id: CaseId, body: CaseCreate, call: CallDep) -> CaseRead:
    """Correct the person's details (all of them are sent; the access log names no values)."""
    return service.correct_case(call.session, call.node, call.user, case_id, body, call.now)


@router.post("/{case_id}/events", status_code=201, responses=ERRORS)
def record_event(case_id: CaseId, body: CaseEventCreate, call: CallDep) -> CaseEventRead:
    """Report an event of the person's return (arrival, start of assistance, case closed).

    Retention dates that count from it move here and, by signed status update, on every
    recipient.
    """
    return events.record_case_event(call.session, call.node, call.user, case_id, body, call.now)


@router.get("/{case_id}/timeline", responses=ERRORS)
def timeline(case_id: CaseId, call: CallDep) -> list[TimelineEntry]:
    """Every referral about the person and what became of it, with each partner's replies, plan
    and monitoring rounds, in the order it happened (reading it is logged)."""
    return cases_timeline.timeline(call.session, call.node, call.user, case_id, call.now)
