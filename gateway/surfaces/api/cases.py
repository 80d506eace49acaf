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

Responses = dict[int | str, dict[str, Any]]


def error_answer(description: str) -> dict[str, Any]:
    return {"model": ErrorRead, "description": description}


UNAUTHORISED = error_answer(
    "no staff token, an expired one, or one for another node (`unauthorised`)"
)
UNPROCESSABLE = error_answer(
    "`invalid_request`: the request breaks a rule of this description (`detail` names each "
    "field, never its value); or the node will not do it: `unprocessable` (what the request "
    "names does not fit what the node holds), `sharing_refused` (`rule` says which rule), "
    "`nothing_to_send`"
)
UNAVAILABLE = {
    "model": ErrorRead,
    "description": "the node cannot serve now (its database is unreachable or failing "
    "over, or it has no valid directory); nothing was changed; try again after Retry-After",
    "headers": _RETRY_AFTER,
}
TOO_LARGE = error_answer("the body is over the node's limit; not read (`too_large`)")
#: The answers every API route may give besides its own, for the OpenAPI description.
ERRORS: Responses = {
    401: UNAUTHORISED,
    403: error_answer("the caller's role may not do this (`forbidden`)"),
    404: error_answer("no such object, or one of another office or partner (`not_found`)"),
    413: TOO_LARGE,
    422: UNPROCESSABLE,
    429: {
        "description": "too many requests: sent by a rate-limiting proxy in front of the "
        "node, never by the node itself; wait for Retry-After, as for 503",
        "headers": _RETRY_AFTER,
    },
    503: UNAVAILABLE,
}
#: For a route about a person, whose data may have been erased, or a referral, which may have
#: been deleted or passed its date.
GONE: Responses = {
    410: error_answer(
        "the person's data was erased, or the referral deleted or past its date (`gone`)"
    )
}
#: For a route whose object must be in a certain state (awaiting approval, declined, active).
CONFLICT: Responses = {
    409: error_answer("the object is not in the state this call needs (`conflict`)")
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


@router.get("/{case_id}", responses={**ERRORS, **GONE})
def read_case(case_id: CaseId, call: CallDep) -> CaseRead:
    return service.read_case(call.session, call.node, call.user, case_id, call.now)


@router.put("/{case_id}", responses={**ERRORS, **GONE})
def correct_case(case_id: CaseId, body: CaseCreate, call: CallDep) -> CaseRead:
    """Correct the person's details (all of them are sent; the access log names no values)."""
    return service.correct_case(call.session, call.node, call.user, case_id, body, call.now)


@router.post("/{case_id}/events", status_code=201, responses={**ERRORS, **GONE})
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
