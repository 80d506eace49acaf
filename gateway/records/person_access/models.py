"""Tables of access cards, portal sessions, sign-in throttling, correction requests, and the
person's questions and complaints to the DPO.

Nothing here holds a secret or a person's data in the clear: a card's code only as an argon2id
hash, a session only as the SHA-256 of its token, a correction request's text sealed under the
person's data key (``gateway.kit.keystore``), so erasing the person erases it too.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.kit.db import Base, UTCDateTime
from gateway.records.cases import models as _cases  # noqa: F401  (the cards -> cases foreign key
from schemas.audit import CorrectionStatus


class AccessCardRow(Base):
    __tablename__ = "access_cards"

    #: What is printed on the card and typed to sign in; not secret, not personal.
    reference: Mapped[str] = mapped_column(String(20), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    #: argon2id of the secret code (PHC string with its parameters and salt).
    code_hash: Mapped[str] = mapped_column(String(200))
    #: The language the portal opens in for this card.
    language: Mapped[str] = mapped_column(String(8))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    issued_by: Mapped[str] = mapped_column(String(128))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class PortalSessionRow(Base):
    """A signed-in browser: the person's (``kind`` "person", ``case_id``) or a member of staff's
    (``kind`` "staff": user, role and office as their sign-in proved them)."""

    __tablename__ = "portal_sessions"

    #: SHA-256 of the cookie's token, hex.
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    case_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    card_reference: Mapped[str | None] = mapped_column(String(20), nullable=True)
    staff_user: Mapped[str | None] = mapped_column(String(128), nullable=True)
    staff_office: Mapped[str | None] = mapped_column(String(128), nullable=True)
    staff_role: Mapped[str | None] = mapped_column(String(20), nullable=True)
    language: Mapped[str] = mapped_column(String(8))
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class SignInThrottleRow(Base):
    """Failed sign-ins from one client address in the current window."""

    __tablename__ = "sign_in_throttle"

    #: A keyed hash of the client address, so the table keeps no IP address.
    client: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    failures: Mapped[int] = mapped_column(Integer, default=0)
    #: Failures in the window before, for the sliding-window estimate.
    previous_failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class CorrectionRequestRow(Base):
    """The person asks for a correction; a caseworker answers."""

    __tablename__ = "correction_requests"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: What the person wrote, sealed under their data key.
    sealed_text: Mapped[bytes] = mapped_column(LargeBinary())
    status: Mapped[CorrectionStatus] = mapped_column(String(12))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    answered_by: Mapped[str | None] = mapped_column(String(128), nullable=True)


class PersonQuestionRow(Base):
    """The person writes to the DPO (a question or a complaint); the DPO answers. Never sent to
    another node."""

    __tablename__ = "person_questions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    #: What the person wrote, sealed under their data key.
    sealed_text: Mapped[bytes] = mapped_column(LargeBinary())
    #: The DPO's answer, sealed under the person's data key; none until answered.
    sealed_answer: Mapped[bytes | None] = mapped_column(LargeBinary(), nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    answered_by: Mapped[str | None] = mapped_column(String(128), nullable=True)


class StaffSignInRow(Base):
    """A sign-in under way at the organisation's identity provider: what the browser must bring
    back (``state``, by its hash), and what only this node knows (the nonce the ID token must
    carry, the PKCE verifier). Lives ten minutes; used once."""

    __tablename__ = "staff_sign_ins"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: The hash of a random cookie of the browser that started it: only that browser finishes
    #: it (no sign-in forced on someone else's browser).
    browser_hash: Mapped[str] = mapped_column(String(64))
    nonce: Mapped[str] = mapped_column(String(128))
    code_verifier: Mapped[str] = mapped_column(String(128))
    language: Mapped[str] = mapped_column(String(8))
    next_path: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class UsedSignInLinkRow(Base):
    """A one-time sign-in link of the built-in issuer that was used (its token id, hashed):
    a second use is refused."""

    __tablename__ = "used_sign_in_links"

    jti_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    used_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
