"""Signed-in browsers for the portal: a random token in a cookie, only its hash in the database.

Cookies are ``Secure``, ``HttpOnly``, ``SameSite=Strict`` and scoped to the pages that need them.
A session ends after ``IDLE`` without a request (a shared phone left on the table) and in any
case ``ABSOLUTE`` after it began. Every form carries the session's CSRF token; before signing in,
a separate random cookie is echoed by the form instead (double submit).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from fastapi import Request, Response
from sqlalchemy import delete
from sqlalchemy.orm import Session

from gateway.records.person_access.models import PortalSessionRow

COOKIE = "avrr_portal"
#: Staff sessions (caseworkers, partner officers, DPOs) cover the staff and DPO pages.
STAFF_COOKIE = "avrr_staff"
FORM_COOKIE = "avrr_form"
IDLE = timedelta(minutes=10)
ABSOLUTE = timedelta(hours=1)
#: A member of staff works longer at one desk than a person reads their page: idle time and
#: the longest session (a working day), by the kind of session.
LIMITS = {"person": (IDLE, ABSOLUTE), "staff": (timedelta(minutes=30), timedelta(hours=8))}


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def start(
    db: Session,
    response: Response,
    *,
    kind: str,
    language: str,
    now: datetime,
    path: str,
    case_id: str | None = None,
    card_reference: str | None = None,
    staff_user: str | None = None,
    staff_office: str | None = None,
    staff_role: str | None = None,
    cookie: str = COOKIE,
) -> PortalSessionRow:
    token = secrets.token_urlsafe(32)
    row = PortalSessionRow(
        token_hash=_digest(token),
        kind=kind,
        case_id=case_id,
        card_reference=card_reference,
        staff_user=staff_user,
        staff_office=staff_office,
        staff_role=staff_role,
        language=language,
        csrf=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
    )
    db.add(row)
    response.set_cookie(
        cookie,
        token,
        httponly=True,
        secure=True,
        samesite="strict",
        path=path,
        max_age=int(LIMITS[kind][1].total_seconds()),
    )
    return row


def current(
    db: Session, request: Request, kind: str, now: datetime, cookie: str = COOKIE
) -> PortalSessionRow | None:
    """The signed-in session of this browser, if any and still within its time limits."""
    token = request.cookies.get(cookie)
    if not token:
        return None
    row = db.get(PortalSessionRow, _digest(token))
    if row is None or row.kind != kind:
        return None
    idle, longest = LIMITS[kind]
    if now - row.last_seen_at > idle or now - row.created_at > longest:
        db.delete(row)
        return None
    row.last_seen_at = now
    return row


def end(db: Session, request: Request, response: Response, path: str, cookie: str = COOKIE) -> None:
    token = request.cookies.get(cookie)
    if token:
        db.execute(delete(PortalSessionRow).where(PortalSessionRow.token_hash == _digest(token)))
    response.delete_cookie(cookie, path=path, secure=True, httponly=True, samesite="strict")


def expire_old(db: Session, now: datetime) -> None:
    for kind, (idle, _) in LIMITS.items():
        db.execute(
            delete(PortalSessionRow).where(
                PortalSessionRow.kind == kind, PortalSessionRow.last_seen_at < now - idle
            )
        )


def form_token(request: Request) -> str:
    """The pre-sign-in CSRF token: the browser's own, or a new one."""
    return request.cookies.get(FORM_COOKIE) or secrets.token_urlsafe(32)


def set_form_cookie(response: Response, token: str, path: str) -> None:
    response.set_cookie(
        FORM_COOKIE, token, httponly=True, secure=True, samesite="strict", path=path
    )


def same(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))


def choose_language(row: PortalSessionRow, language: str) -> None:
    """The language the person chose for the pages of this session."""
    row.language = language
