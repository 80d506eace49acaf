"""The caseworker's pages (host mission): the office's cases, a new case, consent recorded with
the person and its printed receipt, a referral with a preview of exactly what its recipient
would see, the second approval, the case's timeline, the access card, corrections, and a
withdrawal on the person's behalf. Each page calls the same service as the API route, so it is
scoped to the office and logged the same way.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from consent.errors import SharingRefused
from gateway.exchange.referrals import service as referrals
from gateway.kit.errors import GatewayError
from gateway.processes import timeline as timelines
from gateway.processes import withdrawal
from gateway.records.accesslog.writer import Actor
from gateway.records.cases import repository as case_rows
from gateway.records.cases import service as cases
from gateway.records.consents import consent_receipt as receipts
from gateway.records.consents import service as consents
from gateway.records.person_access import cards, correction_requests
from gateway.surfaces.api.deps import NodeDep, SessionDep, UnitOfWorkRoute
from gateway.surfaces.portal.card_print import printable_card
from gateway.surfaces.portal.forms import FilledForm, FormField, form_fields
from gateway.surfaces.portal.pages import words_for
from gateway.surfaces.portal.receipt_page import CSP, receipt_html
from gateway.surfaces.portal.staff_pages import PAGE, Staff, read_form, staff_as
from schemas.api import CaseCreate, ReferralCreate
from schemas.common import StaffRole
from schemas.consent import ConsentCreate

router = APIRouter(prefix="/staff", include_in_schema=False, route_class=UnitOfWorkRoute)
CaseId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
Csrf = Annotated[str, Form(max_length=200)]
CASE_FIELDS = form_fields(CaseCreate)
CONSENT_FIELDS = form_fields(
    ConsentCreate, skip=["fields", "valid_from", "valid_until", "recipient"]
)


def _caseworker(db: SessionDep, request: Request, node: NodeDep) -> Staff | Response:
    return staff_as(db, request, node, StaffRole.CASEWORKER)


def _recipients(staff: Staff, *, required: bool) -> FormField:
    """The recipient as a choice among the federation's other members, by name."""
    view = staff.node.directory()
    others = tuple(n.node_id for n in view.directory.nodes if n.node_id != staff.node.node_id)
    return FormField("recipient", "recipient", "choice", required, others)


# -- cases --------------------------------------------------------------------------------------


@router.get("/cases", response_class=HTMLResponse)
def case_list(
    request: Request, db: SessionDep, node: NodeDep, page: Annotated[int, Query(ge=1)] = 1
) -> Response:
    """The office's cases, newest first, by reference and date: no names on a list."""
    staff = _caseworker(db, request, node)
    if not isinstance(staff, Staff):
        return staff
    rows = case_rows.of_office(db, staff.principal.office, limit=PAGE + 1, offset=(page - 1) * PAGE)
    return staff.page("staff_cases.html", cases=rows[:PAGE], page=page, more=len(rows) > PAGE)


@router.get("/cases/find")
def find_case(
    request: Request,
    db: SessionDep,
    node: NodeDep,
    reference: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    staff = _caseworker(db, request, node)
    if not isinstance(staff, Staff):
        return staff
    wanted = "".join(c for c in reference.lower() if c in "0123456789abcdef")
    return RedirectResponse(f"/staff/cases/{wanted}" if len(wanted) == 32 else "/staff/cases", 303)


@router.get("/cases/new", response_class=HTMLResponse)
def new_case(request: Request, db: SessionDep, node: NodeDep) -> Response:
    staff = _caseworker(db, request, node)
    if not isinstance(staff, Staff):
        return staff
    return staff.page("staff_case_new.html", form=FilledForm(CASE_FIELDS))


@router.post("/cases/new", response_class=HTMLResponse)
async def create_case(request: Request, db: SessionDep, node: NodeDep) -> Response:
    staff = _caseworker(db, request, node)
    if not isinstance(staff, Staff):
        return staff
    form = await request.form()
    if not staff.csrf_ok(str(form.get("csrf", ""))):
        return RedirectResponse("/staff/cases/new", 303)
    body, filled = read_form(CaseCreate, CASE_FIELDS, form, staff.zone)
    if body is None:
        return staff.page("staff_case_new.html", 422, form=filled)
    made = cases.create_case(db, node, staff.principal, body, staff.now)
    return RedirectResponse(f"/staff/cases/{made.id}", 303)


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(case_id: CaseId, request: Request, db: SessionDep, node: NodeDep) -> Response:
    """The person's file: details (logged as a reading), consents, referrals and their story."""
    staff = _caseworker(db, request, node)
    if not isinstance(staff, Staff):
        return staff
    try:
        case = cases.read_case(db, node, staff.principal, case_id, staff.now)
        story = timelines.timeline(db, node, staff.principal, case_id, staff.now)
        sent = referrals.list_referrals(db, staff.principal, case_id, staff.now)
    except GatewayError as error:
        return staff.failure(error)
    row = case_rows.by_id(db, case_id)
    return staff.page(
        "staff_case.html",
        case=case,
        consents=consents.consents_of_case(db, case_id),
        referrals=sent,
        timeline=story,
        corrections=correction_requests.of_case(db, node, row) if row else [],
        notice=request.query_params.get("notice", ""),
    )


# -- consent ------------------------------------------------------------------------------------


def _consent_fields(staff: Staff) -> list[FormField]:
    return [_recipients(staff, required=False), *CONSENT_FIELDS]


@router.get("/cases/{case_id}/consents/new", response_class=HTMLResponse)
def new_consent(case_id: CaseId, request: Request, db: SessionDep, node: NodeDep) -> Response:
    staff = _caseworker(db, request, node)
    if not isinstance(staff, Staff):
        return staff
    try:
        cases.own_case(db, staff.principal, case_id, staff.now)
    except GatewayError as error:
        return staff.failure(error)
    return staff.page(
        "staff_consent_new.html", case_id=case_id, form=FilledForm(_consent_fields(staff))
    )


@router.post("/cases/{case_id}/consents/new", response_class=HTMLResponse)
async def record_consent(
    case_id: CaseId, request: Request, db: SessionDep, node: NodeDep
) -> Response:
    staff = _caseworker(db, request, node)
    if not isinstance(staff, Staff):
        return staff
    form = await request.form()
    fields = _consent_fields(staff)
    if not staff.csrf_ok(str(form.get("csrf", ""))):
        return RedirectResponse(f"/staff/cases/{case_id}/consents/new", 303)
    body, filled = read_form(ConsentCreate, fields, form, staff.zone)
    if body is None:
        return staff.page("staff_consent_new.html", 422, case_id=case_id, form=filled)
    try:
        consents.record_consent(db, node, staff.principal, case_id, body, staff.now)
    except GatewayError as error:
        return staff.failure(error)
    return RedirectResponse(f"/staff/cases/{case_id}?notice=consent", 303)


@router.get("/cases/{case_id}/consents/{consent_id}/receipt", response_class=HTMLResponse)
def consent_receipt(
    case_id: CaseId,
    consent_id: CaseId,
    request: Request,
    db: SessionDep,
    node: NodeDep,
    lang: Annotated[str, Query(max_length=8)] = "",
) -> Response:
    """The signed receipt to print for the person, in their language (or ``lang``)."""
    staff = _caseworker(db, request, node)
    if not isinstance(staff, Staff):
        return staff
    try:
        doc, body, language = receipts.consent_receipt(
            db, node, staff.principal, case_id, consent_id, staff.now
        )
    except GatewayError as error:
        return staff.failure(error)
    page = HTMLResponse(receipt_html(node, doc, body, lang or language))
    page.headers["Content-Security-Policy"] = CSP
    return page


# -- referrals ----------------------------------------------------------------------------------


def _referral_fields(staff: Staff) -> list[FormField]:
    rest = form_fields(ReferralCreate, skip=["case_id", "recipient"])
    return [_recipients(staff, required=True), *rest]


@router.get("/cases/{case_id}/referrals/new", response_class=HTMLResponse)
def new_referral(case_id: CaseId, request: Request, db: SessionDep, node: NodeDep) -> Response:
    staff = _caseworker(db, request, node)
    if not isinstance(staff, Staff):
        return staff
    try:
        cases.own_case(db, staff.principal, case_id, staff.now)
    except GatewayError as error:
        return staff.failure(error)
    form = FilledForm(_referral_fields(staff))
    return staff.page("staff_referral_new.html", case_id=case_id, form=form, preview=None)


@router.post("/cases/{case_id}/referrals/new", response_class=HTMLResponse)
async def send_referral(
    case_id: CaseId, request: Request, db: SessionDep, node: NodeDep
) -> Response:
    """``action=preview`` shows what the recipient would see, and keeps the form; ``action=send``
    decides again and sends (or holds it for a second approval)."""
    staff = _caseworker(db, request, node)
    if not isinstance(staff, Staff):
        return staff
    form = await request.form()
    fields = _referral_fields(staff)
    if not staff.csrf_ok(str(form.get("csrf", ""))):
        return RedirectResponse(f"/staff/cases/{case_id}/referrals/new", 303)
    body, filled = read_form(ReferralCreate, fields, form, staff.zone, case_id=case_id)
    if body is None:
        return staff.page(
            "staff_referral_new.html", 422, case_id=case_id, form=filled, preview=None
        )
    try:
        if form.get("action") != "send":
            preview = referrals.preview_referral(db, node, staff.principal, body, staff.now)
            return staff.page(
                "staff_referral_new.html", case_id=case_id, form=filled, preview=preview
            )
        made = referrals.create_referral(db, node, staff.principal, body, staff.now)
    except (GatewayError, SharingRefused) as error:
        return staff.failure(error)
    return RedirectResponse(f"/staff/referrals/{made.id}", 303)


@router.get("/referrals/{referral_id}", response_class=HTMLResponse)
def referral_page(referral_id: CaseId, request: Request, db: SessionDep, node: NodeDep) -> Response:
    staff = _caseworker(db, request, node)
    if not isinstance(staff, Staff):
        return staff
    try:
        referral = referrals.read_referral(db, staff.principal, referral_id, staff.now)
    except GatewayError as error:
        return staff.failure(error)
    return staff.page("staff_referral.html", referral=referral)


@router.post("/referrals/{referral_id}/approve")
def approve(
    referral_id: CaseId, request: Request, db: SessionDep, node: NodeDep, csrf: Csrf
) -> Response:
    """The second approval, by another caseworker of the office than the author."""
    staff = _caseworker(db, request, node)
    if not isinstance(staff, Staff):
        return staff
    if staff.csrf_ok(csrf):
        try:
            referrals.approve_referral(db, node, staff.principal, referral_id, staff.now)
        except (GatewayError, SharingRefused) as error:
            return staff.failure(error)
    return RedirectResponse(f"/staff/referrals/{referral_id}", 303)


# -- the card, corrections, withdrawal ----------------------------------------------------------


@router.post("/cases/{case_id}/card", response_class=HTMLResponse)
def issue_card(
    case_id: CaseId,
    request: Request,
    db: SessionDep,
    node: NodeDep,
    csrf: Csrf,
    language: Annotated[str, Form(max_length=8)] = "en",
) -> Response:
    """A new access card to print now (earlier ones stop working); its code shows only here."""
    staff = _caseworker(db, request, node)
    if not isinstance(staff, Staff):
        return staff
    if not staff.csrf_ok(csrf):
        return RedirectResponse(f"/staff/cases/{case_id}", 303)
    try:
        issued = cards.issue_card(db, staff.principal, case_id, language, staff.now)
    except (GatewayError, ValueError) as error:
        if isinstance(error, GatewayError):
            return staff.failure(error)
        return staff.page("staff_message.html", 422, message="unprocessable", detail=str(error))
    own = node.directory().node(node.node_id)
    portal = node.settings.public_url or str(request.base_url)
    words = words_for(node, issued.language)
    page = printable_card(issued, own.organisation, own.country, portal, words)
    return HTMLResponse(page, status_code=201, headers={"Cache-Control": "no-store"})


@router.post("/cases/{case_id}/corrections/{request_id}")
def answer_correction(
    case_id: CaseId,
    request_id: CaseId,
    request: Request,
    db: SessionDep,
    node: NodeDep,
    csrf: Csrf,
    accepted: Annotated[str, Form(max_length=3)],
) -> Response:
    staff = _caseworker(db, request, node)
    if not isinstance(staff, Staff):
        return staff
    if staff.csrf_ok(csrf):
        try:
            case = cases.own_case(db, staff.principal, case_id, staff.now)
            correction_requests.answer(
                db, node, case, request_id, accepted == "yes", Actor.of(staff.principal), staff.now
            )
        except GatewayError as error:
            return staff.failure(error)
    return RedirectResponse(f"/staff/cases/{case_id}", 303)


@router.post("/cases/{case_id}/withdraw")
def withdraw(
    case_id: CaseId,
    request: Request,
    db: SessionDep,
    node: NodeDep,
    csrf: Csrf,
    consent: Annotated[str, Form(max_length=32)],
    sections: Annotated[list[str] | None, Form(max_length=4)] = None,
) -> Response:
    """Withdraw a consent on the person's behalf (they asked the office): whole, or parts."""
    staff = _caseworker(db, request, node)
    if not isinstance(staff, Staff):
        return staff
    if staff.csrf_ok(csrf):
        try:
            case = cases.own_case(db, staff.principal, case_id, staff.now)
            withdrawal.withdraw_consent_for(
                db, node, Actor.of(staff.principal), case, consent, staff.now, sections or ()
            )
        except GatewayError as error:
            return staff.failure(error)
    return RedirectResponse(f"/staff/cases/{case_id}?notice=withdrawn", 303)
