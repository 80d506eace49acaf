"""Routes for consents, withdrawals and consent receipts (caseworkers)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse, JSONResponse

from gateway import idempotency
from gateway.cases.endpoints import ERRORS, CaseId
from gateway.consents import receipt, service
from gateway.deps import CurrentUser, IdempotencyKey, NodeDep, SessionDep
from schemas.common import LanguageCode
from schemas.consent import (
    ConsentCreate,
    ConsentNarrow,
    ConsentRead,
    WithdrawalCreate,
    WithdrawalRead,
)

router = APIRouter(prefix="/api/v1/cases/{case_id}", tags=["consents"])
ConsentId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]


@router.post("/consents", status_code=201, response_model=ConsentRead, responses=ERRORS)
def record_consent(
    case_id: CaseId,
    body: ConsentCreate,
    session: SessionDep,
    node: NodeDep,
    user: CurrentUser,
    key: IdempotencyKey = None,
) -> JSONResponse:
    now = node.clock.now()
    return idempotency.once(
        session,
        principal=user,
        route=f"record_consent:{case_id}",
        key=key,
        request=body,
        now=now,
        create=lambda: service.record_consent(session, node, user, case_id, body, now),
        reread=lambda consent_id: service.read_consent(session, user, case_id, consent_id, now),
    )


@router.get("/consents", responses=ERRORS)
def list_consents(
    case_id: CaseId, session: SessionDep, node: NodeDep, user: CurrentUser
) -> list[ConsentRead]:
    """Every consent of the person with its full history of versions."""
    return service.list_consents(session, user, case_id, node.clock.now())


@router.get("/consents/{consent_id}", responses=ERRORS)
def read_consent(
    case_id: CaseId, consent_id: ConsentId, session: SessionDep, node: NodeDep, user: CurrentUser
) -> ConsentRead:
    return service.read_consent(session, user, case_id, consent_id, node.clock.now())


@router.post(
    "/consents/{consent_id}/narrow",
    status_code=201,
    response_model=WithdrawalRead,
    responses={**ERRORS, 409: ERRORS[422]},
)
def narrow_consent(
    case_id: CaseId,
    consent_id: ConsentId,
    body: ConsentNarrow,
    session: SessionDep,
    node: NodeDep,
    user: CurrentUser,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """Keep only some sections; the others are withdrawn and reach every recipient."""
    now = node.clock.now()
    return idempotency.once(
        session,
        principal=user,
        route=f"narrow:{consent_id}",
        key=key,
        request=body,
        now=now,
        create=lambda: service.narrow(session, node, user, case_id, consent_id, body, now),
        reread=lambda withdrawal_id: service.read_withdrawal(
            session, user, case_id, withdrawal_id, now
        ),
    )


@router.get("/consents/{consent_id}/receipt", responses=ERRORS, response_model=None)
def consent_receipt(
    case_id: CaseId,
    consent_id: ConsentId,
    session: SessionDep,
    node: NodeDep,
    user: CurrentUser,
    format: Annotated[Literal["json", "html"], Query()] = "json",
    lang: Annotated[LanguageCode | None, Query()] = None,
) -> JSONResponse | HTMLResponse:
    """The signed receipt the person keeps: JSON, or printable HTML in their language."""
    doc, body, language = receipt.consent_receipt(
        session, node, user, case_id, consent_id, node.clock.now()
    )
    if format == "html":
        return HTMLResponse(receipt.render_html(doc, body, lang or language))
    return JSONResponse(doc.model_dump(mode="json"))


@router.post("/withdrawals", status_code=201, response_model=WithdrawalRead, responses=ERRORS)
def withdraw(
    case_id: CaseId,
    body: WithdrawalCreate,
    session: SessionDep,
    node: NodeDep,
    user: CurrentUser,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """Withdraw consent: all of it, or for a purpose, a recipient, or some sections."""
    now = node.clock.now()
    return idempotency.once(
        session,
        principal=user,
        route=f"withdraw:{case_id}",
        key=key,
        request=body,
        now=now,
        create=lambda: service.withdraw(session, node, user, case_id, body, now),
        reread=lambda withdrawal_id: service.read_withdrawal(
            session, user, case_id, withdrawal_id, now
        ),
    )


@router.get("/withdrawals", responses=ERRORS)
def list_withdrawals(
    case_id: CaseId, session: SessionDep, node: NodeDep, user: CurrentUser
) -> list[WithdrawalRead]:
    """Each withdrawal, with which recipients confirmed deletion and which are pending."""
    return service.list_withdrawals(session, user, case_id, node.clock.now())
