"""Access cards: how a person without an email address signs in to see their own data.

A caseworker issues a card at counselling. It carries a reference (printed, not secret) and a
secret code of 117 bits from an alphabet without look-alike characters, shown once. The node
keeps only an argon2id hash of the code. Cards can be revoked; issuing a new card for the same
person revokes the old ones.

Signing in is throttled twice, and every failure is logged (``access_denied``):
- per card: after ``CARD_FAILURES`` wrong codes in a row the card locks for ``CARD_LOCK``, and
  each further lock doubles (up to a day);
- per client address: more than ``CLIENT_FAILURES`` failures within ``CLIENT_WINDOW`` (a sliding
  window) lock that address out for ``CLIENT_LOCK``, whatever the card. The address is stored
  only as a keyed hash. Behind a reverse proxy, the proxy must pass the client's address and
  the node's ``trusted_proxies`` setting name the proxy, or every person shares one.
An unknown, revoked or wrong card all get the same answer and take the same time.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from gateway.kit.auth import Principal
from gateway.kit.db import insert_absent
from gateway.kit.errors import NotFound
from gateway.kit.node import Node
from gateway.records.accesslog.writer import Action, Actor, deny, record
from gateway.records.cases import repository as cases_repository
from gateway.records.cases.models import CaseRow
from gateway.records.cases.service import own_case
from gateway.records.person_access.models import AccessCardRow, PortalSessionRow, SignInThrottleRow

#: No 0/O, 1/I/L, U or V/W pairs: easy to read aloud and to type from paper.
ALPHABET = "ABCDEFGHJKMNPQRSTWXYZ23456789"
CODE_LENGTH = 24  # 24 * log2(29) = 116.6 bits
REFERENCE_LENGTH = 10
CARD_FAILURES = 5
CARD_LOCK = timedelta(minutes=15)
CARD_LOCK_MAX = timedelta(days=1)
CLIENT_FAILURES = 20
CLIENT_WINDOW = timedelta(minutes=15)
CLIENT_LOCK = timedelta(minutes=15)

#: argon2id with the RFC 9106 "second recommended" parameters (64 MiB, 3 passes).
_HASHER = PasswordHasher()


@functools.cache
def decoy_hash() -> str:
    """Verified against when no card matches, so an unknown card takes as long as a wrong code.

    Made once per process on first use, not at import: a command of the CLI never needs it. The
    app makes it when it is created (``surfaces.app``), so no sign-in waits for it.
    """
    return _HASHER.hash(secrets.token_hex(16))


class SignIn(StrEnum):
    OK = "ok"
    REFUSED = "refused"
    LOCKED = "locked"


@dataclass(frozen=True)
class IssuedCard:
    reference: str
    code: str
    language: str
    issued_at: datetime


@dataclass(frozen=True)
class Attempt:
    outcome: SignIn
    card: AccessCardRow | None = None


def _random(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def grouped(value: str, size: int = 4) -> str:
    """``ABCDEFGH`` -> ``ABCD-EFGH``: how codes and references are printed."""
    return "-".join(value[i : i + size] for i in range(0, len(value), size))


def normalise(typed: str) -> str:
    """What a person typed, without spaces or dashes, upper case."""
    return "".join(ch for ch in typed.upper() if ch not in " -\t")


def issue_card(
    session: Session,
    principal: Principal,
    case_id: str,
    language: str,
    now: datetime,
) -> IssuedCard:
    """A new card for the person; any earlier card of theirs stops working."""
    case = own_case(session, principal, case_id, now)
    revoke_all_cards(session, case.id, now)
    code = _random(CODE_LENGTH)
    reference = _random(REFERENCE_LENGTH)
    session.add(
        AccessCardRow(
            reference=reference,
            case_id=case.id,
            code_hash=_HASHER.hash(code),
            language=language,
            issued_at=now,
            issued_by=principal.user,
            revoked_at=None,
            failed_attempts=0,
            locked_until=None,
            last_used_at=None,
        )
    )
    record(
        session,
        at=now,
        actor=Actor.of(principal),
        action=Action.CARD_ISSUED,
        subject=case.id,
    )
    return IssuedCard(reference=reference, code=code, language=language, issued_at=now)


def revoke_cards(session: Session, principal: Principal, case_id: str, now: datetime) -> int:
    case = own_case(session, principal, case_id, now)
    revoked = revoke_all_cards(session, case.id, now)
    record(session, at=now, actor=Actor.of(principal), action=Action.CARD_REVOKED, subject=case.id)
    return revoked


def revoke_all_cards(session: Session, case_id: str, now: datetime) -> int:
    """Stop the person's cards, and sign out every browser signed in with one of them."""
    live = session.scalars(
        select(AccessCardRow).where(
            AccessCardRow.case_id == case_id, AccessCardRow.revoked_at.is_(None)
        )
    ).all()
    for card in live:
        card.revoked_at = now
    if live:
        session.execute(
            delete(PortalSessionRow).where(
                PortalSessionRow.card_reference.in_([card.reference for card in live])
            )
        )
    return len(live)


def person_actor(node: Node, reference: str) -> Actor:
    """How the person appears in the log: by their card reference, never by name."""
    return Actor(user=f"person:{reference}", org=node.node_id, role="data_subject")


def _client_key(node: Node, address: str) -> str:
    return hmac.new(
        node.pseudonym_secret, b"sign-in-throttle\x00" + address.encode(), hashlib.sha256
    ).hexdigest()


def sign_in(
    session: Session, node: Node, *, reference: str, code: str, address: str, now: datetime
) -> Attempt:
    """Check a card; count and log a failure. The caller commits in every case."""
    client = session.get(SignInThrottleRow, _client_key(node, address))
    if client is not None and client.locked_until is not None and client.locked_until > now:
        _deny(session, node, None, "client_locked_out", now)
        return Attempt(SignIn.LOCKED)
    card = session.get(AccessCardRow, normalise(reference)[:20])
    if card is not None and card.locked_until is not None and card.locked_until > now:
        _deny(session, node, card, "card_locked", now)
        _client_failed(session, node, address, now)
        return Attempt(SignIn.LOCKED, card)
    usable = card is not None and card.revoked_at is None
    matched = _matches(card.code_hash if usable and card else decoy_hash(), normalise(code))
    if card is None or not usable or not matched:
        outcome = "card_unknown" if card is None else "card_revoked" if not usable else "wrong_code"
        _deny(session, node, card, outcome, now)
        if card is not None and usable:
            # Counted in the database, not read and written back: two wrong codes at the same
            # instant must count as two, or guessing in parallel would dodge the lock.
            failed = session.execute(
                update(AccessCardRow)
                .where(AccessCardRow.reference == card.reference)
                .values(failed_attempts=AccessCardRow.failed_attempts + 1)
                .returning(AccessCardRow.failed_attempts)
                .execution_options(synchronize_session=False)
            ).scalar_one()
            if failed % CARD_FAILURES == 0:
                doublings = min(failed // CARD_FAILURES - 1, 10)
                card.locked_until = now + min(CARD_LOCK * 2**doublings, CARD_LOCK_MAX)
        locked = _client_failed(session, node, address, now)
        return Attempt(SignIn.LOCKED if locked else SignIn.REFUSED, card)
    card.failed_attempts, card.locked_until, card.last_used_at = 0, None, now
    record(
        session,
        at=now,
        actor=person_actor(node, card.reference),
        action=Action.SIGNED_IN,
        subject=card.case_id,
    )
    return Attempt(SignIn.OK, card)


def _matches(code_hash: str, code: str) -> bool:
    try:
        return _HASHER.verify(code_hash, code)
    except (VerificationError, InvalidHashError):
        return False


def _deny(
    session: Session, node: Node, card: AccessCardRow | None, outcome: str, now: datetime
) -> None:
    actor = (
        person_actor(node, card.reference)
        if card
        else Actor(user="person:unknown", org=node.node_id, role="data_subject")
    )
    deny(session, at=now, actor=actor, outcome=outcome, subject=card.case_id if card else None)


def _client_failed(session: Session, node: Node, address: str, now: datetime) -> bool:
    """Count a failure from this address; True if it is now locked out.

    A sliding window, estimated from two fixed ones: the failures of the current window plus
    those of the previous one, weighted by how much of it still lies within ``CLIENT_WINDOW``.
    """
    key = _client_key(node, address)
    # Two first failures from a new address may arrive at once: the row is created unless it
    # exists, then read locked (PostgreSQL locks the row; on SQLite the insert already took the
    # database's one write lock), so concurrent failures are all counted, one after the other.
    fresh = {"window_start": now, "failures": 0, "previous_failures": 0, "locked_until": None}
    session.execute(insert_absent(session, SignInThrottleRow, {"client": key, **fresh}))
    row = session.get(SignInThrottleRow, key, with_for_update=True, populate_existing=True)
    if row is None:  # pragma: no cover - just inserted or already there, in this transaction
        raise RuntimeError("the sign-in throttle row vanished")
    elapsed = now - row.window_start
    if elapsed >= CLIENT_WINDOW:
        row.previous_failures = row.failures if elapsed < 2 * CLIENT_WINDOW else 0
        row.failures = 0
        row.window_start = row.window_start + CLIENT_WINDOW * int(elapsed / CLIENT_WINDOW)
        elapsed = now - row.window_start
    row.failures += 1
    overlap = max(0.0, 1 - elapsed / CLIENT_WINDOW)
    if row.failures + row.previous_failures * overlap > CLIENT_FAILURES:
        row.locked_until = now + CLIENT_LOCK
        return True
    return False


def card_of(session: Session, reference: str) -> AccessCardRow:
    card = session.get(AccessCardRow, reference)
    if card is None:
        raise NotFound("card")
    return card


def case_of(session: Session, card: AccessCardRow) -> CaseRow:
    case = cases_repository.by_id(session, card.case_id)
    if case is None:
        raise NotFound("case")
    return case


def forget_throttles(session: Session, now: datetime) -> None:
    """Drop address records whose window and lock are over (called now and then)."""
    for row in session.scalars(
        select(SignInThrottleRow).where(SignInThrottleRow.window_start <= now - CLIENT_WINDOW)
    ):
        if row.locked_until is None or row.locked_until <= now:
            session.delete(row)
