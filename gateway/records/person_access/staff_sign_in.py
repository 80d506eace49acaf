"""Signing staff in to the pages: sign-ins under way at the organisation's identity provider,
and the built-in issuer's one-time sign-in links.

A sign-in at the provider is kept for ``PENDING`` at most, found by the hash of its ``state``,
and finished only by the browser that started it (a random cookie, compared by hash), once. A
sign-in link's token id is kept, hashed, once used, so the link cannot be used again.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.records.person_access.models import StaffSignInRow, UsedSignInLinkRow

PENDING = timedelta(minutes=10)
#: How long a used link's id is remembered: longer than any link lives.
LINK_MEMORY = timedelta(days=2)


@dataclass(frozen=True)
class Pending:
    nonce: str
    code_verifier: str
    language: str
    next_path: str


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()


def begin(
    db: Session,
    *,
    state: str,
    browser: str,
    nonce: str,
    code_verifier: str,
    language: str,
    next_path: str,
    now: datetime,
) -> None:
    db.execute(delete(StaffSignInRow).where(StaffSignInRow.created_at < now - PENDING))
    db.add(
        StaffSignInRow(
            state_hash=_digest(state),
            browser_hash=_digest(browser),
            nonce=nonce,
            code_verifier=code_verifier,
            language=language,
            next_path=next_path,
            created_at=now,
        )
    )


def take(db: Session, *, state: str, browser: str | None, now: datetime) -> Pending | None:
    """The sign-in this ``state`` belongs to, if this browser started it and it is recent;
    gone afterwards either way."""
    row = db.get(StaffSignInRow, _digest(state))
    if row is None:
        return None
    db.delete(row)
    fresh = now - row.created_at <= PENDING
    same = browser is not None and hmac.compare_digest(row.browser_hash, _digest(browser))
    if not (fresh and same):
        return None
    return Pending(row.nonce, row.code_verifier, row.language, row.next_path)


def use_link(db: Session, jti: str, now: datetime) -> bool:
    """Record that a sign-in link was used; False if it already was."""
    db.execute(delete(UsedSignInLinkRow).where(UsedSignInLinkRow.used_at < now - LINK_MEMORY))
    try:
        with db.begin_nested():
            db.add(UsedSignInLinkRow(jti_hash=_digest(jti), used_at=now))
    except IntegrityError:
        return False
    return True
