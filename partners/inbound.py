"""Accepting an envelope from another node: every check, in order, failing closed.

``accept_envelope`` is what an inbox calls before it stores anything. It either returns the
verified header and plaintext or raises ``InvalidEnvelope`` with the precise reason, which the
caller logs locally and never sends back. Replay (a reused packet id) is checked by the caller
against its store, since that needs state.

Order of checks: form and canonical header; addressed to us; sender and its key in the directory;
signature; sender matches the authenticated caller; times; our private key; decryption; the
plaintext matches the header and the sharing policy for our roles.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from crypto.envelope import SealedEnvelope, check_times, open_sealed, parse, verify
from crypto.errors import InvalidEnvelope, RejectReason
from partners.directory import FederationView
from partners.errors import NoUsableKey, UnknownNode
from partners.keyring import Keyring
from schemas.envelope import WireEnvelope

#: Checks a decrypted plaintext against its header; raises InvalidEnvelope on mismatch.
ContentCheck = Callable[[SealedEnvelope, bytes], None]


@dataclass(frozen=True)
class AcceptancePolicy:
    """Time limits for incoming packets."""

    window: timedelta = timedelta(days=14)
    skew: timedelta = timedelta(minutes=5)


@dataclass(frozen=True)
class AcceptedEnvelope:
    sealed: SealedEnvelope
    plaintext: bytes


def accept_envelope(
    wire: WireEnvelope,
    *,
    self_id: str,
    caller: str,
    view: FederationView,
    keyring: Keyring,
    now: datetime,
    check_content: ContentCheck,
    limits: AcceptancePolicy = AcceptancePolicy(),
) -> AcceptedEnvelope:
    sealed = parse(wire)
    header = sealed.header
    if header.recipient != self_id:
        raise InvalidEnvelope(RejectReason.WRONG_RECIPIENT)
    try:
        sender_key = view.signing_key(header.sender, header.sender_key_id)
    except UnknownNode as exc:
        raise InvalidEnvelope(RejectReason.UNKNOWN_SENDER) from exc
    except NoUsableKey as exc:
        raise InvalidEnvelope(RejectReason.UNKNOWN_SIGNING_KEY) from exc
    verify(sealed, sender_key)
    if header.sender != caller:
        raise InvalidEnvelope(RejectReason.SENDER_MISMATCH)
    check_times(header, now=now, window=limits.window, skew=limits.skew)
    try:
        private = keyring.encryption_key(header.recipient_key_id, now)
    except NoUsableKey as exc:
        raise InvalidEnvelope(RejectReason.UNKNOWN_RECIPIENT_KEY) from exc
    plaintext = open_sealed(sealed, private)
    try:
        check_content(sealed, plaintext)
    except (ValueError, OverflowError) as exc:
        # A content check refuses with InvalidEnvelope; a plaintext that trips a model's
        # validator another way (a time whose UTC equivalent lies beyond what ``datetime``
        # holds raises OverflowError) is refused the same, failing closed.
        raise InvalidEnvelope(RejectReason.CONTENT_MISMATCH) from exc
    return AcceptedEnvelope(sealed, plaintext)
