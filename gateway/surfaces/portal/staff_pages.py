"""What every staff page shares: who is signed in (and with which role), drawing a page with
the staff menu, reading a form into a model (keeping what was typed when it fails), and
turning the services' refusals into a page that says what went wrong, never a stack trace.

Every page goes through the same services as the API, so it is authorised, scoped to the
office or partner and logged exactly as the API is.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from consent.errors import SharingRefused
from gateway.kit.auth import Principal
from gateway.kit.errors import Conflict, Forbidden, GatewayError, Gone, NotFound
from gateway.kit.node import Node
from gateway.records.accesslog.writer import Actor, deny
from gateway.records.person_access import sessions
from gateway.records.person_access.models import PortalSessionRow
from gateway.surfaces.portal.forms import FilledForm, FormField, flat_values, parsed, problems
from gateway.surfaces.portal.pages import render
from gateway.surfaces.portal.staff_auth import principal_of, signed_in_staff, to_sign_in
from schemas.common import StaffRole

M = TypeVar("M", bound=BaseModel)
#: Rows a list page shows at once.
PAGE = 25


class Staff:
    """A signed-in member of staff on one request: their session, who they are, and how to
    draw a page for them."""

    def __init__(self, node: Node, db: Session, request: Request, row: PortalSessionRow) -> None:
        self.node, self.db, self.request, self.row = node, db, request, row
        self.principal: Principal = principal_of(row)

    @property
    def now(self) -> datetime:
        return self.node.clock.now()

    @property
    def zone(self) -> ZoneInfo:
        """The node's time zone: what a date and time typed in a form is in."""
        return ZoneInfo(self.node.settings.time_zone)

    def page(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        return render(
            self.node,
            self.row.language,
            template,
            status=status,
            csrf=self.row.csrf,
            role=self.principal.role.value,
            back_path=self.request.url.path,
            **context,
        )

    def csrf_ok(self, given: str) -> bool:
        return sessions.same(self.row.csrf, given)

    def failure(self, error: GatewayError | SharingRefused) -> HTMLResponse:
        """A refusal as a page: not found (or another office's: the same answer), gone, not
        allowed, or the rule that said no, in words."""
        if isinstance(error, SharingRefused):
            return self.page("staff_message.html", 422, message="refused", rule=error.rule.value)
        status = 404 if isinstance(error, NotFound) else 410 if isinstance(error, Gone) else None
        if status is not None:
            return self.page("staff_message.html", status, message="not_found")
        if isinstance(error, Forbidden):
            return self.page("staff_message.html", 403, message="forbidden")
        code = 409 if isinstance(error, Conflict) else 422
        return self.page("staff_message.html", code, message="unprocessable", detail=str(error))


def staff_as(db: Session, request: Request, node: Node, role: StaffRole) -> Staff | Response:
    """The signed-in member of staff if their role is ``role``; otherwise to the sign-in page
    (coming back here), or a page saying this is not for their role (and the refusal logged)."""
    row = signed_in_staff(db, request, node)
    if row is None:
        return to_sign_in(request.url.path)
    staff = Staff(node, db, request, row)
    if staff.principal.role is not role:
        deny(db, at=staff.now, actor=Actor.of(staff.principal), outcome="wrong_role")
        return staff.page("staff_message.html", 403, message="forbidden")
    return staff


def read_form(
    model: type[M],
    fields: list[FormField],
    form: Any,
    zone: ZoneInfo,
    *,
    prefix: str = "",
    **extra: Any,
) -> tuple[M | None, FilledForm]:
    """The model a posted form makes, or ``None`` with the form filled in again and its
    problems next to their fields (whose names start with ``prefix``)."""
    filled = FilledForm(fields=fields, values=flat_values(form))
    try:
        return model.model_validate({**parsed(fields, form, zone), **extra}), filled
    except ValidationError as error:
        filled.errors, filled.general = problems(error, prefix)
        return None, filled
