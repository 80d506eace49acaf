"""Caseworker routes for the person's access card and their correction requests."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse

from gateway.records.accesslog.writer import Action, Actor, record
from gateway.records.cases.service import own_case
from gateway.records.person_access import cards, correction_requests
from gateway.surfaces.api.cases import CONFLICT, ERRORS, CaseId
from gateway.surfaces.api.deps import CallDep, UnitOfWorkRoute
from gateway.surfaces.portal.card_print import printable_card
from gateway.surfaces.portal.pages import words_for
from schemas.api import CardCreate, CardIssued, CorrectionAnswer
from schemas.audit import CorrectionRead

router = APIRouter(
    prefix="/api/v1/cases/{case_id}",
    tags=["access cards and corrections"],
    route_class=UnitOfWorkRoute,
)
RequestId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]


@router.post(
    "/cards",
    status_code=201,
    responses={**ERRORS, 201: {"model": CardIssued, "content": {"text/html": {}}}},
    response_model=None,
)
def issue_card(
    case_id: CaseId,
    body: CardCreate,
    call: CallDep,
    request: Request,
    format: Annotated[Literal["json", "html"], Query()] = "json",
) -> Any:
    """A new access card (earlier ones stop working). The code is shown here once only.
    ``?format=html`` is the printable card: the portal's address (the node's ``public_url``,
    else the address of this request), a QR code opening it, the code in groups."""
    issued = cards.issue_card(call.session, call.user, case_id, body.language, call.now)
    if format == "html":
        node = call.node
        portal = node.settings.public_url or str(request.base_url)
        own = node.directory().node(node.node_id)
        words = words_for(node, issued.language)
        page = printable_card(issued, own.organisation, own.country, portal, words)
        return HTMLResponse(page, status_code=201, headers={"Cache-Control": "no-store"})
    card = CardIssued(
        reference=cards.grouped(issued.reference),
        code=cards.grouped(issued.code),
        language=issued.language,
        issued_at=issued.issued_at,
    )
    return JSONResponse(
        card.model_dump(mode="json"), status_code=201, headers={"Cache-Control": "no-store"}
    )


@router.post("/cards/revoke", responses=ERRORS)
def revoke_cards(case_id: CaseId, call: CallDep) -> dict[str, int]:
    """Stop every card of the person (lost, stolen, or seen by someone else)."""
    return {"revoked": cards.revoke_cards(call.session, call.user, case_id, call.now)}


@router.get("/corrections", responses=ERRORS)
def corrections(case_id: CaseId, call: CallDep) -> list[CorrectionRead]:
    """What the person asked to have corrected, and the answers."""
    case = own_case(call.session, call.user, case_id, call.now)
    record(
        call.session,
        at=call.now,
        actor=Actor.of(call.user),
        action=Action.CASE_VIEWED,
        subject=case.id,
        outcome="correction_requests",
    )
    return correction_requests.of_case(call.session, call.node, case)


@router.post("/corrections/{request_id}/answer", responses={**ERRORS, **CONFLICT})
def answer_correction(
    case_id: CaseId, request_id: RequestId, body: CorrectionAnswer, call: CallDep
) -> CorrectionRead:
    """Accept or refuse a correction request. Accepting it, correct the case (``PUT``)."""
    case = own_case(call.session, call.user, case_id, call.now)
    return correction_requests.answer(
        call.session, call.node, case, request_id, body.accepted, Actor.of(call.user), call.now
    )
