"""Routes for consents, withdrawals and consent receipts (caseworkers)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse, JSONResponse

from gateway.kit import idempotency
from gateway.processes import withdrawal
from gateway.records.consents import consent_receipt as receipt
from gateway.records.consents import service
from gateway.surfaces.api.cases import CONFLICT, ERRORS, GONE, CaseId
from gateway.surfaces.api.deps import Call, CallDep, IdempotencyKey, UnitOfWorkRoute
from gateway.surfaces.portal.receipt_page import CSP, receipt_html
from schemas.common import LanguageCode
from schemas.consent import (
    ConsentCreate,
    ConsentNarrow,
    ConsentRead,
    WithdrawalCreate,
    WithdrawalRead,
)
from schemas.envelope import SignedDocument

router = APIRouter(prefix="/api/v1/cases/{case_id}", tags=["consents"], route_class=UnitOfWorkRoute)
ConsentId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]


@router.post("/consents", status_code=201, response_model=ConsentRead, responses={**ERRORS, **GONE})
def record_consent(
    case_id: CaseId, body: ConsentCreate, call: CallDep, key: IdempotencyKey = None
) -> JSONResponse:
    return idempotency.once(
        call,
        key=key,
        route=f"record_consent:{case_id}",
        request=body,
        create=lambda: service.record_consent(
            call.session, call.node, call.user, case_id, body, call.now
        ),
        reread=lambda consent_id: service.read_consent(
            call.session, call.user, case_id, consent_id, call.now
        ),
    )


@router.get("/consents", responses=ERRORS)
def list_consents(case_id: CaseId, call: CallDep) -> list[ConsentRead]:
    """Every consent of the person with its full history of versions."""
    return service.list_consents(call.session, call.user, case_id, call.now)


@router.get("/consents/{consent_id}", responses=ERRORS)
def read_consent(case_id: CaseId, consent_id: ConsentId, call: CallDep) -> ConsentRead:
    return service.read_consent(call.session, call.user, case_id, consent_id, call.now)


def _reread_withdrawal(call: Call, case_id: str) -> Callable[[str], WithdrawalRead]:
    return lambda withdrawal_id: withdrawal.read_withdrawal(
        call.session, call.user, case_id, withdrawal_id, call.now
    )


@router.post(
    "/consents/{consent_id}/narrow",
    status_code=201,
    response_model=WithdrawalRead,
    responses={**ERRORS, **CONFLICT},
)
def narrow_consent(
    case_id: CaseId,
    consent_id: ConsentId,
    body: ConsentNarrow,
    call: CallDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """Keep only some sections; the others are withdrawn and reach every recipient."""
    return idempotency.once(
        call,
        key=key,
        route=f"narrow:{consent_id}",
        request=body,
        create=lambda: withdrawal.narrow(
            call.session, call.node, call.user, case_id, consent_id, body, call.now
        ),
        reread=_reread_withdrawal(call, case_id),
    )


@router.get(
    "/consents/{consent_id}/receipt",
    responses={**ERRORS, **GONE, 200: {"model": SignedDocument, "content": {"text/html": {}}}},
    response_model=None,
)
def consent_receipt(
    case_id: CaseId,
    consent_id: ConsentId,
    call: CallDep,
    format: Annotated[Literal["json", "html"], Query()] = "json",
    lang: Annotated[LanguageCode | None, Query()] = None,
) -> JSONResponse | HTMLResponse:
    """The signed receipt the person keeps: JSON, or printable HTML in their language."""
    doc, body, language = receipt.consent_receipt(
        call.session, call.node, call.user, case_id, consent_id, call.now
    )
    if format == "html":
        page = receipt_html(call.node, doc, body, lang or language)
        return HTMLResponse(page, headers={"Content-Security-Policy": CSP})
    return JSONResponse(doc.model_dump(mode="json"))


@router.post("/withdrawals", status_code=201, response_model=WithdrawalRead, responses=ERRORS)
def withdraw(
    case_id: CaseId, body: WithdrawalCreate, call: CallDep, key: IdempotencyKey = None
) -> JSONResponse:
    """Withdraw consent: all of it, or for a purpose, a recipient, or some sections."""
    return idempotency.once(
        call,
        key=key,
        route=f"withdraw:{case_id}",
        request=body,
        create=lambda: withdrawal.withdraw(
            call.session, call.node, call.user, case_id, body, call.now
        ),
        reread=_reread_withdrawal(call, case_id),
    )


@router.get("/withdrawals", responses=ERRORS)
def list_withdrawals(case_id: CaseId, call: CallDep) -> list[WithdrawalRead]:
    """Each withdrawal, with which recipients confirmed deletion and which are pending."""
    return withdrawal.list_withdrawals(call.session, call.user, case_id, call.now)
