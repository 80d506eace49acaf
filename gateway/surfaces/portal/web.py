"""The person's portal: server-rendered pages, no JavaScript, in the person's language.

Routes take nothing from the URL that names a person: who is asking comes only from the signed-in
session, and everything shown belongs to that session's case.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from gateway.kit.errors import GatewayError, Unprocessable
from gateway.kit.node import Node
from gateway.processes.withdrawal import withdraw_consent_for
from gateway.records.accesslog.history import subject_history
from gateway.records.accesslog.writer import Action, Actor, record
from gateway.records.cases import repository as cases
from gateway.records.cases.models import CaseRow
from gateway.records.cases.service import person
from gateway.records.consents import consent_receipt as receipt
from gateway.records.consents import repository as consent_rows
from gateway.records.consents.service import consents_of_case
from gateway.records.person_access import cards, correction_requests, questions, sessions
from gateway.records.person_access.models import PortalSessionRow
from gateway.surfaces.api.deps import NodeDep, SessionDep, UnitOfWorkRoute
from gateway.surfaces.portal import person as mine
from gateway.surfaces.portal.i18n import DEFAULT, asked_for, supported
from gateway.surfaces.portal.pages import render
from gateway.surfaces.portal.receipt_page import CSP, receipt_html
from schemas.consent import ConsentStatus

router = APIRouter(prefix="/portal", include_in_schema=False, route_class=UnitOfWorkRoute)
PATH = "/portal"
Field = Annotated[str, Form(max_length=200)]
LongField = Annotated[str, Form(max_length=4000)]


def _guest_language(request: Request) -> str:
    return asked_for(request.query_params.get("lang"), request.headers.get("accept-language"))


def _signed_in(db: Session, request: Request, node: Node) -> PortalSessionRow | None:
    return sessions.current(db, request, "person", node.clock.now())


def _person(
    db: Session, request: Request, node: Node, csrf: str | None = None
) -> tuple[PortalSessionRow, CaseRow] | None:
    """The signed-in session and its case; None if there is none, or a form's CSRF is wrong."""
    row = _signed_in(db, request, node)
    case = cases.by_id(db, row.case_id) if row and row.case_id else None
    if row is None or case is None:
        return None
    if csrf is not None and not sessions.same(row.csrf, csrf):
        return None
    return row, case


def _actor(node: Node, row: PortalSessionRow) -> Actor:
    return cards.person_actor(node, row.card_reference or "unknown")


def _to_sign_in() -> RedirectResponse:
    return RedirectResponse(f"{PATH}/", status_code=303)


# -- signing in and out -------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def sign_in_page(request: Request, db: SessionDep, node: NodeDep) -> Response:
    if _signed_in(db, request, node) is not None:
        return RedirectResponse(f"{PATH}/home", status_code=303)
    token = sessions.form_token(request)
    chosen = supported(request.query_params.get("lang")) or ""
    typed = cards.normalise(request.query_params.get("ref", ""))
    reference = cards.grouped("".join(c for c in typed if c.isascii() and c.isalnum())[:20])
    response = render(
        node,
        _guest_language(request),
        "sign_in.html",
        form_token=token,
        chosen=chosen,
        reference=reference,
    )
    sessions.set_form_cookie(response, token, PATH)
    return response


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(
    request: Request,
    db: SessionDep,
    node: NodeDep,
    reference: Field,
    code: Field,
    form_token: Field,
    language: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    now = node.clock.now()
    shown = supported(language) or _guest_language(request)
    if not sessions.same(request.cookies.get(sessions.FORM_COOKIE), form_token):
        return render(node, shown, "message.html", status=400, message="form_expired")
    address = request.client.host if request.client else "unknown"
    attempt = cards.sign_in(db, node, reference=reference, code=code, address=address, now=now)
    if attempt.outcome is not cards.SignIn.OK or attempt.card is None:
        locked = attempt.outcome is cards.SignIn.LOCKED
        return render(
            node,
            shown,
            "sign_in.html",
            status=429 if locked else 401,
            form_token=form_token,
            chosen=supported(language) or "",
            error="locked" if locked else "refused",
        )
    response = RedirectResponse(f"{PATH}/home", status_code=303)
    sessions.start(
        db,
        response,
        kind="person",
        language=supported(language) or attempt.card.language,
        now=now,
        path=PATH,
        case_id=attempt.card.case_id,
        card_reference=attempt.card.reference,
    )
    return response


@router.post("/sign-out")
def sign_out(request: Request, db: SessionDep, node: NodeDep, csrf: Field) -> Response:
    row = _signed_in(db, request, node)
    response = _to_sign_in()
    if row is not None and sessions.same(row.csrf, csrf):
        sessions.end(db, request, response, PATH)
    return response


@router.post("/language")
def choose_language(
    request: Request,
    db: SessionDep,
    node: NodeDep,
    csrf: Field,
    language: Annotated[str, Form(max_length=8)],
) -> Response:
    row = _signed_in(db, request, node)
    if row is None:
        return RedirectResponse(f"{PATH}/?lang={supported(language) or DEFAULT}", status_code=303)
    if sessions.same(row.csrf, csrf) and (chosen := supported(language)):
        sessions.choose_language(row, chosen)
    return RedirectResponse(f"{PATH}/home", status_code=303)


# -- the person's pages -------------------------------------------------------------------------


@router.get("/home", response_class=HTMLResponse)
def home(request: Request, db: SessionDep, node: NodeDep) -> Response:
    if (signed := _person(db, request, node)) is None:
        return _to_sign_in()
    row, case = signed
    now = node.clock.now()
    record(db, at=now, actor=_actor(node, row), action=Action.PORTAL_VIEWED, subject=case.id)
    db.flush()
    try:
        details = person(node, case).model_dump(mode="json")
    except GatewayError:
        return render(node, row.language, "message.html", status=410, message="erased")
    return render(
        node,
        row.language,
        "home.html",
        csrf=row.csrf,
        details=details,
        shared=mine.shared(db, node, case),
        consents=consents_of_case(db, case.id),
        history=subject_history(db, case.id),
        corrections=correction_requests.of_case(db, node, case),
        questions=questions.of_case(db, node, case.id),
        notice=request.query_params.get("notice", ""),
        withdrawn=ConsentStatus.WITHDRAWN,
    )


@router.post("/withdraw")
def withdraw(
    request: Request,
    db: SessionDep,
    node: NodeDep,
    csrf: Field,
    consent: Field,
    sections: Annotated[list[str] | None, Form(max_length=4)] = None,
    confirmed: Annotated[str, Form(max_length=3)] = "",
) -> Response:
    """Withdraw one consent: whole, or only the parts ticked on the form. The first post shows
    what will happen and asks to confirm; only the confirmed post withdraws."""
    if (signed := _person(db, request, node, csrf)) is None:
        return _to_sign_in()
    row, case = signed
    found = next((c for c in consents_of_case(db, case.id) if c.id == consent), None)
    if found is None:
        return render(node, row.language, "message.html", status=404, message="not_found")
    if confirmed != "yes":
        return render(
            node,
            row.language,
            "withdraw_confirm.html",
            csrf=row.csrf,
            consent=found,
            sections=sorted(set(sections or ()) & set(found.sections)) or sorted(found.sections),
            everything=not sections,
            holders=mine.holders(db, case, consent),
        )
    try:
        withdraw_consent_for(
            db, node, _actor(node, row), case, consent, node.clock.now(), sections or ()
        )
    except Unprocessable:
        return RedirectResponse(f"{PATH}/home", status_code=303)  # already withdrawn
    return RedirectResponse(f"{PATH}/home?notice=withdrawn", status_code=303)


@router.post("/corrections")
def correction(
    request: Request, db: SessionDep, node: NodeDep, csrf: Field, text: LongField
) -> Response:
    if (signed := _person(db, request, node, csrf)) is None:
        return _to_sign_in()
    row, case = signed
    try:
        correction_requests.request(db, node, case, _actor(node, row), text, node.clock.now())
    except Unprocessable:
        return RedirectResponse(f"{PATH}/home#correction", status_code=303)  # nothing written
    return RedirectResponse(f"{PATH}/home?notice=correction", status_code=303)


@router.post("/questions")
def question(
    request: Request, db: SessionDep, node: NodeDep, csrf: Field, text: LongField
) -> Response:
    """The person writes to the DPO; the message never leaves this node."""
    if (signed := _person(db, request, node, csrf)) is None:
        return _to_sign_in()
    row, case = signed
    try:
        questions.ask(db, node, case, _actor(node, row), text, node.clock.now())
    except Unprocessable:
        return RedirectResponse(f"{PATH}/home#question", status_code=303)  # nothing written
    return RedirectResponse(f"{PATH}/home?notice=question", status_code=303)


@router.get("/consents/{consent_id}/receipt", response_class=HTMLResponse)
def consent_receipt(consent_id: str, request: Request, db: SessionDep, node: NodeDep) -> Response:
    if (signed := _person(db, request, node)) is None:
        return _to_sign_in()
    row, case = signed
    if consent_rows.consent_of_case(db, case.id, consent_id) is None:
        return render(node, row.language, "message.html", status=404, message="not_found")
    doc, body, _ = receipt.receipt_for(
        db, node, case, consent_id, _actor(node, row), node.clock.now()
    )
    page = HTMLResponse(receipt_html(node, doc, body, row.language))
    page.headers["Content-Security-Policy"] = CSP
    return page


@router.get("/export.json")
def export_json(request: Request, db: SessionDep, node: NodeDep) -> Response:
    if (signed := _person(db, request, node)) is None:
        return _to_sign_in()
    row, case = signed
    data = mine.export(db, node, case, _actor(node, row), node.clock.now())
    return JSONResponse(
        data.model_dump(mode="json"),
        headers={"Content-Disposition": 'attachment; filename="my-data.json"'},
    )


@router.get("/export.html", response_class=HTMLResponse)
def export_html(request: Request, db: SessionDep, node: NodeDep) -> Response:
    if (signed := _person(db, request, node)) is None:
        return _to_sign_in()
    row, case = signed
    data = mine.export(db, node, case, _actor(node, row), node.clock.now())
    return render(node, row.language, "export.html", data=data)
