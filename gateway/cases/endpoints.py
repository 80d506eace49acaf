"""Routes for cases (caseworkers). Thin: parse, authorise, call one service, return."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse

from gateway import idempotency
from gateway.cases import service
from gateway.deps import CurrentUser, IdempotencyKey, NodeDep, SessionDep
from schemas.api import CaseCreate, CaseRead, ErrorRead

router = APIRouter(prefix="/api/v1/cases", tags=["cases"])
CaseId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorRead} for code in (401, 403, 404, 422)
}


@router.post("", status_code=201, response_model=CaseRead, responses=ERRORS)
def create_case(
    body: CaseCreate,
    session: SessionDep,
    node: NodeDep,
    user: CurrentUser,
    key: IdempotencyKey = None,
) -> JSONResponse:
    now = node.clock.now()
    return idempotency.once(
        session,
        principal=user,
        route="create_case",
        key=key,
        request=body,
        now=now,
        create=lambda: service.create_case(session, node, user, body, now),
        reread=lambda case_id: service.read_case(session, node, user, case_id, now),
    )


@router.get("/{case_id}", responses=ERRORS)
def read_case(case_id: CaseId, session: SessionDep, node: NodeDep, user: CurrentUser) -> CaseRead:
    return service.read_case(session, node, user, case_id, node.clock.now())
