"""The partner officer's pages (origin country): the referrals received, newest first; one
referral opened (logged and reported to its sender, as through the API) with everything said
about it; the answers (accepted, declined, needs information, met, did not arrive, assistance
delivered, handed over); the reintegration plan; monitoring rounds of the Reintegration
Sustainability Survey; and the people whose scores call for more assistance.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel

from gateway.exchange.followup import service as followup
from gateway.exchange.followup.scoring import load_table
from gateway.exchange.inbox import received
from gateway.kit.errors import GatewayError
from gateway.surfaces.api.deps import NodeDep, SessionDep, UnitOfWorkRoute
from gateway.surfaces.portal.forms import FilledForm, FormField, form_fields
from gateway.surfaces.portal.staff_pages import PAGE, Staff, read_form, staff_as
from schemas.common import Purpose, StaffRole
from schemas.followup import MonitoringCreate, PlanCreate, ReplyCreate

router = APIRouter(prefix="/staff/inbox", include_in_schema=False, route_class=UnitOfWorkRoute)
PacketId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
REPLY_FIELDS = form_fields(ReplyCreate, prefix="reply.")
PLAN_FIELDS = form_fields(PlanCreate, prefix="plan.")
REINTEGRATION = {Purpose.REINTEGRATION_ASSISTANCE.value, Purpose.REINTEGRATION_MONITORING.value}


def _monitoring_fields() -> list[FormField]:
    """A monitoring round: when, which round, and one choice per measurement element, with
    the words of its coding rule (``followup/rss-*.json``)."""
    table = load_table()
    answers = tuple(
        FormField(f"monitoring.answers.{e.element}", e.element, "choice", False, tuple(e.coding))
        for e in table.elements
    )
    base = form_fields(MonitoringCreate, prefix="monitoring.", skip=["answers"])
    return [*base, FormField("monitoring.answers", "answers", "group", True, children=answers)]


MONITORING_FIELDS = _monitoring_fields()
FORMS: dict[str, tuple[type[BaseModel], list[FormField]]] = {
    "reply": (ReplyCreate, REPLY_FIELDS),
    "plan": (PlanCreate, PLAN_FIELDS),
    "monitoring": (MonitoringCreate, MONITORING_FIELDS),
}


def _officer(db: SessionDep, request: Request, node: NodeDep) -> Staff | Response:
    return staff_as(db, request, node, StaffRole.PARTNER_OFFICER)


@router.get("", response_class=HTMLResponse)
def inbox(
    request: Request, db: SessionDep, node: NodeDep, page: Annotated[int, Query(ge=1)] = 1
) -> Response:
    staff = _officer(db, request, node)
    if not isinstance(staff, Staff):
        return staff
    rows = received.list_received(
        db, node, staff.principal, limit=PAGE + 1, offset=(page - 1) * PAGE
    )
    return staff.page("staff_inbox.html", referrals=rows[:PAGE], page=page, more=len(rows) > PAGE)


@router.get("/follow-up", response_class=HTMLResponse)
def needing_assistance(request: Request, db: SessionDep, node: NodeDep) -> Response:
    staff = _officer(db, request, node)
    if not isinstance(staff, Staff):
        return staff
    flagged = followup.flagged(db, node, staff.principal, staff.now)
    return staff.page("staff_flagged.html", rounds=flagged)


@router.get("/{packet_id}", response_class=HTMLResponse)
def referral(packet_id: PacketId, request: Request, db: SessionDep, node: NodeDep) -> Response:
    staff = _officer(db, request, node)
    if not isinstance(staff, Staff):
        return staff
    return _referral_page(staff, packet_id, {})


def _referral_page(
    staff: Staff, packet_id: str, forms: dict[str, FilledForm], status: int = 200
) -> Response:
    """The referral opened (logged), its follow-up, and the forms to answer it."""
    try:
        opened = received.open_received(staff.db, staff.node, staff.principal, packet_id, staff.now)
        said = followup.of_received(staff.db, staff.node, staff.principal, packet_id, staff.now)
    except GatewayError as error:
        return staff.failure(error)
    blank = {name: FilledForm(fields) for name, (_, fields) in FORMS.items()}
    return staff.page(
        "staff_received.html",
        status,
        referral=opened,
        follow_up=said,
        filled={**blank, **forms},
        reintegration=opened.purpose in REINTEGRATION,
        notice=staff.request.query_params.get("notice", ""),
    )


@router.post("/{packet_id}/{what}", response_class=HTMLResponse)
async def answer(
    packet_id: PacketId,
    what: Annotated[str, Path(pattern=r"^(reply|plan|monitoring)$")],
    request: Request,
    db: SessionDep,
    node: NodeDep,
) -> Response:
    """An answer, a plan or a monitoring round, sent signed to the referral's sender."""
    staff = _officer(db, request, node)
    if not isinstance(staff, Staff):
        return staff
    form = await request.form()
    if not staff.csrf_ok(str(form.get("csrf", ""))):
        return RedirectResponse(f"/staff/inbox/{packet_id}", 303)
    model, fields = FORMS[what]
    body, filled = read_form(model, fields, form, staff.zone, prefix=f"{what}.")
    if body is None:
        return _referral_page(staff, packet_id, {what: filled}, status=422)
    try:
        _send(staff, packet_id, what, body)
    except GatewayError as error:
        return staff.failure(error)
    return RedirectResponse(f"/staff/inbox/{packet_id}?notice={what}", 303)


def _send(staff: Staff, packet_id: str, what: str, body: BaseModel) -> None:
    args = (staff.db, staff.node, staff.principal, packet_id)
    if isinstance(body, ReplyCreate):
        followup.reply(*args, body, staff.now)
    elif isinstance(body, PlanCreate):
        followup.plan(*args, body, staff.now)
    elif isinstance(body, MonitoringCreate):
        followup.monitor(*args, body, staff.now)
