"""Signing staff in to their pages: with the organisation's own identity provider (OpenID
Connect, ``kit.oidc``), or, on a node without one, with a one-time link the operator makes with
``avrr staff link`` (the built-in issuer).

The provider's sign-in is the authorization code flow with PKCE: ``/staff/sign-in/start`` keeps
the state (by hash), the nonce and the verifier (``records.person_access.staff_sign_in``) and a
random cookie that binds them to this browser, and sends the browser to the provider; the
provider sends it back to ``/staff/sign-in/callback``, which finishes only for that browser,
once, within ten minutes. Either way the browser then holds a staff session (``avrr_staff``
cookie: Secure, HttpOnly, SameSite=Strict; 30 minutes idle, 8 hours at most). Because a
SameSite=Strict cookie is not sent on a navigation that began on another site, the callback
answers with a page that moves on to the staff pages by itself (a meta refresh, no script).
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from gateway.kit.auth import SIGN_IN, Principal
from gateway.kit.errors import Forbidden, GatewayError
from gateway.kit.node import Node
from gateway.kit.oidc import StartedSignIn
from gateway.records.accesslog.writer import Action, Actor, deny, record
from gateway.records.person_access import sessions, staff_sign_in
from gateway.records.person_access.models import PortalSessionRow
from gateway.surfaces.api.deps import NodeDep, SessionDep, UnitOfWorkRoute
from gateway.surfaces.portal.i18n import asked_for, supported
from gateway.surfaces.portal.pages import render
from schemas.common import StaffRole

router = APIRouter(prefix="/staff", include_in_schema=False, route_class=UnitOfWorkRoute)
PATH = "/staff"
BROWSER_COOKIE = "avrr_sign_in"
Field = Annotated[str, Form(max_length=200)]
#: Where each role starts.
HOMES = {
    StaffRole.CASEWORKER: "/staff/cases",
    StaffRole.PARTNER_OFFICER: "/staff/inbox",
    StaffRole.DPO: "/dpo/",
    StaffRole.ADMIN: "/staff/sign-in",
}


def language_of(request: Request) -> str:
    return asked_for(request.query_params.get("lang"), request.headers.get("accept-language"))


def signed_in_staff(db: Session, request: Request, node: Node) -> PortalSessionRow | None:
    row = sessions.current(db, request, "staff", node.clock.now(), cookie=sessions.STAFF_COOKIE)
    return row if row is not None and row.staff_role else None


def principal_of(row: PortalSessionRow) -> Principal:
    return Principal(
        user=row.staff_user or "",
        role=StaffRole(row.staff_role or ""),
        office=row.staff_office or "",
    )


def to_sign_in(next_path: str = "") -> RedirectResponse:
    target = f"{PATH}/sign-in" + (f"?next={next_path}" if _local(next_path) else "")
    return RedirectResponse(target, status_code=303)


def _local(path: str) -> bool:
    """Only a path on this node may be where a sign-in returns to (no open redirect)."""
    return path.startswith("/") and not path.startswith("//") and "\\" not in path


def _redirect_uri(request: Request, node: Node) -> str:
    base = node.settings.public_url or str(request.base_url).rstrip("/")
    return f"{base}{PATH}/sign-in/callback"


def _sign_in_page(
    node: Node, language: str, *, status: int = 200, error: str = "", next_path: str = ""
) -> HTMLResponse:
    return render(
        node,
        language,
        "staff_sign_in.html",
        status=status,
        error=error,
        provider=node.oidc.name if node.oidc is not None else "",
        next_path=next_path if _local(next_path) else "",
    )


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request, node: NodeDep, next: str = "") -> Response:
    return _sign_in_page(node, language_of(request), next_path=next)


@router.post("/sign-in/start")
def start(
    request: Request, db: SessionDep, node: NodeDep, language: Field = "", next: Field = ""
) -> Response:
    """Send the browser to the organisation's provider, binding the sign-in to it."""
    if node.oidc is None:
        return _sign_in_page(node, language_of(request), status=404)
    started = node.oidc.start(_redirect_uri(request, node))
    browser = secrets.token_urlsafe(32)
    staff_sign_in.begin(
        db,
        state=started.state,
        browser=browser,
        nonce=started.nonce,
        code_verifier=started.code_verifier,
        language=supported(language) or language_of(request),
        next_path=next if _local(next) else "",
        now=node.clock.now(),
    )
    response = RedirectResponse(started.url, status_code=303)
    response.set_cookie(
        BROWSER_COOKIE,
        browser,
        httponly=True,
        secure=True,
        samesite="lax",  # sent on the provider's redirect back (a top-level GET)
        path=f"{PATH}/sign-in",
        max_age=int(staff_sign_in.PENDING.total_seconds()),
    )
    return response


@router.get("/sign-in/callback", response_class=HTMLResponse)
def callback(
    request: Request,
    db: SessionDep,
    node: NodeDep,
    code: Annotated[str, Query(max_length=2000)] = "",
    state: Annotated[str, Query(max_length=500)] = "",
) -> Response:
    """The provider sends the browser back: finish the sign-in, or say in words why not."""
    now = node.clock.now()
    pending = staff_sign_in.take(
        db, state=state, browser=request.cookies.get(BROWSER_COOKIE), now=now
    )
    language = pending.language if pending else language_of(request)
    if node.oidc is None or pending is None or not code:
        return _sign_in_page(node, language, status=401, error="failed")
    started = StartedSignIn(
        url="", state=state, nonce=pending.nonce, code_verifier=pending.code_verifier
    )
    try:
        principal = node.oidc.finish(
            code=code,
            returned_state=state,
            started=started,
            redirect_uri=_redirect_uri(request, node),
            now=now,
        )
    except Forbidden:
        deny(db, at=now, actor=Actor(user="oidc", org=node.node_id, role="none"), outcome="no_role")
        return _sign_in_page(node, language, status=403, error="no_role")
    except GatewayError:
        return _sign_in_page(node, language, status=401, error="failed")
    return _begin_session(db, node, principal, language, pending.next_path)


@router.get("/sign-in/link", response_class=HTMLResponse)
def link(
    request: Request,
    db: SessionDep,
    node: NodeDep,
    token: Annotated[str, Query(max_length=4000)] = "",
) -> Response:
    """A one-time link from ``avrr staff link``: valid ten minutes, once."""
    now = node.clock.now()
    try:
        principal, claims = node.staff.verify_claims(token.strip(), now=now, use=SIGN_IN)
    except GatewayError:
        return _sign_in_page(node, language_of(request), status=401, error="link")
    if not staff_sign_in.use_link(db, str(claims.get("jti", "")), now):
        return _sign_in_page(node, language_of(request), status=401, error="link")
    return _begin_session(db, node, principal, language_of(request), "")


def _begin_session(
    db: Session, node: Node, principal: Principal, language: str, next_path: str
) -> HTMLResponse:
    now = node.clock.now()
    target = next_path or HOMES.get(principal.role, f"{PATH}/sign-in")
    response = render(node, language, "staff_welcome.html", target=target)
    response.headers["Refresh"] = f"0; url={target}"
    sessions.start(
        db,
        response,
        kind="staff",
        language=language,
        now=now,
        path="/",
        staff_user=principal.user,
        staff_office=principal.office,
        staff_role=principal.role.value,
        cookie=sessions.STAFF_COOKIE,
    )
    response.delete_cookie(BROWSER_COOKIE, path=f"{PATH}/sign-in", secure=True, httponly=True)
    record(db, at=now, actor=Actor.of(principal), action=Action.SIGNED_IN, subject=None)
    return response


@router.post("/sign-out")
def sign_out(request: Request, db: SessionDep, node: NodeDep, csrf: Field) -> Response:
    row = signed_in_staff(db, request, node)
    response: Response = RedirectResponse(f"{PATH}/sign-in", status_code=303)
    if row is not None and sessions.same(row.csrf, csrf):
        ending = node.oidc.end_session_url(_sign_in_url(request, node)) if node.oidc else None
        if ending:
            response = RedirectResponse(ending, status_code=303)
        sessions.end(db, request, response, "/", cookie=sessions.STAFF_COOKIE)
    return response


def _sign_in_url(request: Request, node: Node) -> str:
    base = node.settings.public_url or str(request.base_url).rstrip("/")
    return f"{base}{PATH}/sign-in"


@router.post("/language")
def choose_language(
    request: Request,
    db: SessionDep,
    node: NodeDep,
    csrf: Field,
    language: Annotated[str, Form(max_length=8)],
    back: Field = "",
) -> Response:
    row = signed_in_staff(db, request, node)
    if row is not None and sessions.same(row.csrf, csrf) and (chosen := supported(language)):
        sessions.choose_language(row, chosen)
    return RedirectResponse(back if _local(back) else f"{PATH}/", status_code=303)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, db: SessionDep, node: NodeDep) -> Response:
    row = signed_in_staff(db, request, node)
    if row is None:
        return to_sign_in()
    return RedirectResponse(HOMES.get(principal_of(row).role, "/staff/sign-in"), 303)
