"""Sealing and opening envelopes: one packet, one recipient, one sender's signature.

Construction (``docs/protocol.md`` has the byte layout and test vectors):

- ``H`` = RFC 8785 canonical JSON of the header;
- ``C`` = HPKE base-mode seal to the recipient's X25519 key, with
  ``info = "avrr-envelope/1 hpke" || 0x00 || H``, so the ciphertext opens only under the same header
  (purpose, recipient, deadline cannot be swapped);
- ``S`` = Ed25519 over ``"avrr-envelope/1 signature" || 0x00 || len(H) as u32 big-endian || H || C``,
  by the sender's key named in the header; the header names the recipient, so a recipient cannot
  pass a signed packet to a third party as if it came from the sender.

The wire form carries ``H``, ``C`` and ``S`` in base64url: a receiver verifies the exact header
bytes, then parses them, and refuses a header that is not canonical.

Every failure raises ``InvalidEnvelope`` with a precise ``reason`` for the local log.

Example::

    >>> sealed = seal(header, b"{}", signing_key=sender, recipient_key=recipient_public)  # doctest: +SKIP
    >>> verify(parse(sealed.wire()), sender.public_key())                                # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import ValidationError

from crypto import _primitives
from crypto._sealing import Contexts, check_signature, open_with, seal_and_sign
from crypto.encoding import (
    EncodingError,
    NotCanonical,
    b64decode,
    b64encode,
    canonical_json,
    parse_canonical_json,
)
from crypto.errors import InvalidEnvelope, RejectReason
from crypto.keys import EncryptionKey, KeyUse, PublicKey, SigningKey
from schemas.envelope import EnvelopeHeader, WireEnvelope

SIGNATURE_CONTEXT = b"avrr-envelope/1 signature\x00"
HPKE_INFO_CONTEXT = b"avrr-envelope/1 hpke\x00"
CONTEXTS = Contexts(hpke_info=HPKE_INFO_CONTEXT, signature=SIGNATURE_CONTEXT)


@dataclass(frozen=True)
class SealedEnvelope:
    """An envelope whose header has been parsed; nothing about it is trusted until ``verify``."""

    header: EnvelopeHeader
    header_bytes: bytes
    ciphertext: bytes
    signature: bytes

    def wire(self) -> WireEnvelope:
        return WireEnvelope(
            header=b64encode(self.header_bytes),
            ciphertext=b64encode(self.ciphertext),
            signature=b64encode(self.signature),
        )

    def digest(self) -> str:
        """SHA-256 of the canonical wire form, hex: what a receipt acknowledges."""
        return envelope_digest(self.wire())


def envelope_digest(wire: WireEnvelope) -> str:
    return _primitives.sha256(canonical_json(wire.model_dump())).hex()


def header_bytes(header: EnvelopeHeader) -> bytes:
    return canonical_json(header.model_dump(mode="json"))


def seal(
    header: EnvelopeHeader,
    plaintext: bytes,
    *,
    signing_key: SigningKey,
    recipient_key: PublicKey,
) -> SealedEnvelope:
    """Encrypt ``plaintext`` for the recipient and sign the result as the sender."""
    if (
        recipient_key.use is not KeyUse.ENCRYPTION
        or header.recipient_key_id != recipient_key.key_id
    ):
        raise ValueError("the header must name the recipient key used")
    if header.sender_key_id != signing_key.key_id:
        raise ValueError("the header must name the signing key used")
    encoded = header_bytes(header)
    ciphertext, signature = seal_and_sign(
        CONTEXTS, encoded, plaintext, signing_key=signing_key, recipient_key=recipient_key
    )
    return SealedEnvelope(header, encoded, ciphertext, signature)


def parse(wire: WireEnvelope) -> SealedEnvelope:
    """Decode the wire form and parse the header. Checks form only, not trust."""
    try:
        encoded = b64decode(wire.header)
        ciphertext = b64decode(wire.ciphertext)
        signature = b64decode(wire.signature)
    except EncodingError as exc:
        raise InvalidEnvelope(RejectReason.MALFORMED) from exc
    try:
        value = parse_canonical_json(encoded)
    except NotCanonical as exc:
        raise InvalidEnvelope(RejectReason.NOT_CANONICAL) from exc
    except EncodingError as exc:
        raise InvalidEnvelope(RejectReason.MALFORMED) from exc
    try:
        header = EnvelopeHeader.model_validate(value)
    except (ValidationError, OverflowError) as exc:
        # OverflowError: a time whose UTC equivalent lies beyond what ``datetime`` holds
        # (``0001-01-01T00:00:00+01:00``) escapes the schema's validator as itself.
        raise InvalidEnvelope(RejectReason.MALFORMED) from exc
    if header_bytes(header) != encoded:
        # Defaults or normalisation changed the bytes: the sender did not sign what we would read.
        raise InvalidEnvelope(RejectReason.NOT_CANONICAL)
    if len(signature) != 64 or len(ciphertext) < _primitives.HPKE_OVERHEAD:
        raise InvalidEnvelope(RejectReason.MALFORMED)
    return SealedEnvelope(header, encoded, ciphertext, signature)


def verify(sealed: SealedEnvelope, sender_key: PublicKey) -> None:
    """Check the sender's signature over header and ciphertext; raise if it does not hold."""
    if sender_key.use is not KeyUse.SIGNING or sender_key.key_id != sealed.header.sender_key_id:
        raise InvalidEnvelope(RejectReason.UNKNOWN_SIGNING_KEY)
    if not sender_key.valid_at(sealed.header.created_at):
        raise InvalidEnvelope(RejectReason.SIGNING_KEY_NOT_VALID)
    try:
        check_signature(
            CONTEXTS, sealed.header_bytes, sealed.ciphertext, sealed.signature, sender_key
        )
    except _primitives.PrimitiveFailure as exc:
        raise InvalidEnvelope(RejectReason.BAD_SIGNATURE) from exc


def check_times(
    header: EnvelopeHeader, *, now: datetime, window: timedelta, skew: timedelta
) -> None:
    """Freshness: created within ``window`` before ``now`` (allowing clock ``skew``), not expired."""
    if header.created_at > now + skew:
        raise InvalidEnvelope(RejectReason.FROM_THE_FUTURE)
    if header.created_at < now - window:
        raise InvalidEnvelope(RejectReason.STALE)
    if header.delete_by <= now:
        raise InvalidEnvelope(RejectReason.PAST_DELETE_BY)


def open_sealed(sealed: SealedEnvelope, key: EncryptionKey) -> bytes:
    """Decrypt with the recipient's private key. Call ``verify`` first."""
    if key.key_id != sealed.header.recipient_key_id:
        raise InvalidEnvelope(RejectReason.UNKNOWN_RECIPIENT_KEY)
    try:
        return open_with(CONTEXTS, sealed.header_bytes, sealed.ciphertext, key)
    except _primitives.PrimitiveFailure as exc:
        raise InvalidEnvelope(RejectReason.DECRYPTION_FAILED) from exc
