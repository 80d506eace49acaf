"""Sealing and opening hand-carried bundles: envelopes and answers for one recipient, in one file.

A bundle goes where no network does, on a USB stick or a laptop, and anyone may carry it. It is
built exactly as an envelope is (``crypto.envelope``), with its own contexts
(``docs/protocol.md`` section 6c has the byte layout, ``tests/vectors/bundle-v1.json`` the
vectors):

- ``H`` = RFC 8785 canonical JSON of the ``BundleHeader``;
- ``C`` = HPKE base-mode seal to the recipient's X25519 key of the canonical JSON of the
  ``BundleContent``, with ``info = "avrr-bundle/1 hpke" || 0x00 || H``, so the content opens only
  under the same header (recipient, sequence and counts cannot be swapped);
- ``S`` = Ed25519 over ``"avrr-bundle/1 signature" || 0x00 || len(H) as u32 big-endian || H || C``,
  by the sender's key named in the header.

The file is the canonical JSON of ``{"ciphertext", "header", "signature"}``, each unpadded
base64url. The contexts differ from the envelope's, so an envelope's signature or ciphertext can
never pass for a bundle's, nor the reverse.

Invariants: a carrier learns what the header says (the two nodes, the time, the sequence, the
counts) and the sizes, nothing else; the header is read from the exact bytes that were signed and
must be their own canonical encoding; the content opens only under the header it was sealed with
and is returned only if it states the counts the header does (callers verify before they open,
as with envelopes). Every failure
raises ``InvalidBundle``, whose ``str()`` is one generic phrase and whose ``reason`` is precise,
for the local log only; no message carries key material or content. The envelopes inside are
not checked here: the importer checks each one as if it had been posted to the inbox.

Example::

    >>> sealed = seal_bundle(header, content, signing_key=sender,
    ...                      recipient_key=recipient_public)                   # doctest: +SKIP
    >>> received = parse_bundle(sealed.file_bytes())                            # doctest: +SKIP
    >>> verify_bundle(received, sender.public_key())                            # doctest: +SKIP
    >>> open_bundle(received, recipient).envelopes                              # doctest: +SKIP
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

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
from crypto.keys import EncryptionKey, KeyUse, PublicKey, SigningKey
from schemas.envelope import BundleContent, BundleHeader, WireBundle

SIGNATURE_CONTEXT = b"avrr-bundle/1 signature\x00"
HPKE_INFO_CONTEXT = b"avrr-bundle/1 hpke\x00"
CONTEXTS = Contexts(hpke_info=HPKE_INFO_CONTEXT, signature=SIGNATURE_CONTEXT)
SIGNATURE_BYTES = 64


class BundleRejectReason(StrEnum):
    """Why a bundle was refused. Logged locally; whoever handed it over learns nothing more."""

    MALFORMED = "malformed"
    NOT_CANONICAL = "not_canonical"
    UNKNOWN_SIGNING_KEY = "unknown_signing_key"
    SIGNING_KEY_NOT_VALID = "signing_key_not_valid"
    BAD_SIGNATURE = "bad_signature"
    UNKNOWN_RECIPIENT_KEY = "unknown_recipient_key"
    DECRYPTION_FAILED = "decryption_failed"
    COUNT_MISMATCH = "count_mismatch"


class InvalidBundle(Exception):
    """A bundle failed a check. ``str()`` is deliberately generic; ``reason`` is precise."""

    def __init__(self, reason: BundleRejectReason) -> None:
        super().__init__("bundle rejected")
        self.reason = reason


@dataclass(frozen=True)
class SealedBundle:
    """A bundle whose header has been parsed; nothing in it is trusted until ``verify_bundle``."""

    header: BundleHeader
    header_bytes: bytes
    ciphertext: bytes
    signature: bytes

    def wire(self) -> WireBundle:
        return WireBundle(
            header=b64encode(self.header_bytes),
            ciphertext=b64encode(self.ciphertext),
            signature=b64encode(self.signature),
        )

    def file_bytes(self) -> bytes:
        """The bundle file: the canonical JSON of the wire form (``ciphertext``, ``header``,
        ``signature``, in that order)."""
        return canonical_json(self.wire().model_dump())


def bundle_header_bytes(header: BundleHeader) -> bytes:
    return canonical_json(header.model_dump(mode="json"))


def content_bytes(content: BundleContent) -> bytes:
    return canonical_json(content.model_dump(mode="json"))


def seal_bundle(
    header: BundleHeader,
    content: BundleContent,
    *,
    signing_key: SigningKey,
    recipient_key: PublicKey,
) -> SealedBundle:
    """Encrypt ``content`` for the recipient and sign the result as the sender."""
    if (
        recipient_key.use is not KeyUse.ENCRYPTION
        or header.recipient_key_id != recipient_key.key_id
    ):
        raise ValueError("the header must name the recipient key used")
    if header.sender_key_id != signing_key.key_id:
        raise ValueError("the header must name the signing key used")
    if (header.envelopes, header.answers) != (len(content.envelopes), len(content.answers)):
        # The recipient would refuse it (count_mismatch): a sender's mistake, caught here.
        raise ValueError("the header must state how many envelopes and answers the content holds")
    encoded = bundle_header_bytes(header)
    ciphertext, signature = seal_and_sign(
        CONTEXTS,
        encoded,
        content_bytes(content),
        signing_key=signing_key,
        recipient_key=recipient_key,
    )
    return SealedBundle(header, encoded, ciphertext, signature)


def _read_json(data: bytes) -> Any:
    """Strict JSON of a file: UTF-8, no member name twice. Raises ``ValueError`` otherwise."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        value = dict(pairs)
        if len(value) != len(pairs):
            raise ValueError("a member appears twice")
        return value

    return json.loads(data.decode("utf-8"), object_pairs_hook=no_duplicates)


def _canonical_value(data: bytes) -> Any:
    """``parse_canonical_json``, with every failure as ``InvalidBundle``."""
    try:
        return parse_canonical_json(data)
    except NotCanonical as exc:
        raise InvalidBundle(BundleRejectReason.NOT_CANONICAL) from exc
    except (ValueError, RecursionError) as exc:
        # Besides EncodingError: an integer too long for int() and nesting too deep for the
        # parser raise these directly.
        raise InvalidBundle(BundleRejectReason.MALFORMED) from exc


def parse_bundle(data: bytes) -> SealedBundle:
    """Read a bundle file and parse its header. Checks form only, not trust.

    The file is any JSON object (whitespace aside) with exactly the members ``header``,
    ``ciphertext`` and ``signature``; the header bytes inside must be canonical. The caller bounds
    the file's size before reading it."""
    try:
        wire = WireBundle.model_validate(_read_json(data))
    except (ValueError, RecursionError) as exc:
        # ValueError covers UnicodeDecodeError, JSONDecodeError and pydantic's ValidationError.
        raise InvalidBundle(BundleRejectReason.MALFORMED) from exc
    try:
        encoded = b64decode(wire.header)
        ciphertext = b64decode(wire.ciphertext)
        signature = b64decode(wire.signature)
    except ValueError as exc:
        raise InvalidBundle(BundleRejectReason.MALFORMED) from exc
    value = _canonical_value(encoded)
    try:
        header = BundleHeader.model_validate(value)
    except (ValidationError, OverflowError) as exc:
        # OverflowError: a time whose UTC equivalent lies beyond what ``datetime`` holds
        # (``0001-01-01T00:00:00+01:00``) escapes the schema's validator as itself.
        raise InvalidBundle(BundleRejectReason.MALFORMED) from exc
    try:
        reencoded = bundle_header_bytes(header)
    except EncodingError as exc:
        # A number the schema read from a string ("sequence": "9007199254740992") can be too
        # large for any canonical form: an integer out of range.
        raise InvalidBundle(BundleRejectReason.MALFORMED) from exc
    if reencoded != encoded:
        # Defaults or normalisation changed the bytes: the sender did not sign what we would read.
        raise InvalidBundle(BundleRejectReason.NOT_CANONICAL)
    if len(signature) != SIGNATURE_BYTES or len(ciphertext) < _primitives.HPKE_OVERHEAD:
        raise InvalidBundle(BundleRejectReason.MALFORMED)
    return SealedBundle(header, encoded, ciphertext, signature)


def verify_bundle(sealed: SealedBundle, sender_key: PublicKey) -> None:
    """Check the sender's signature over header and ciphertext; raise if it does not hold.

    ``sender_key`` is the key the directory lists for ``header.sender`` under
    ``header.sender_key_id``; it must be valid at the header's ``created_at``."""
    if sender_key.use is not KeyUse.SIGNING or sender_key.key_id != sealed.header.sender_key_id:
        raise InvalidBundle(BundleRejectReason.UNKNOWN_SIGNING_KEY)
    if not sender_key.valid_at(sealed.header.created_at):
        raise InvalidBundle(BundleRejectReason.SIGNING_KEY_NOT_VALID)
    try:
        check_signature(
            CONTEXTS, sealed.header_bytes, sealed.ciphertext, sealed.signature, sender_key
        )
    except _primitives.PrimitiveFailure as exc:
        raise InvalidBundle(BundleRejectReason.BAD_SIGNATURE) from exc


def open_bundle(sealed: SealedBundle, key: EncryptionKey) -> BundleContent:
    """Decrypt with the recipient's private key and read the content. Call ``verify_bundle`` first.

    The content must be canonical JSON, re-encode to the same bytes once parsed (as the header
    must), and hold exactly as many envelopes and answers as the header states."""
    if key.key_id != sealed.header.recipient_key_id:
        raise InvalidBundle(BundleRejectReason.UNKNOWN_RECIPIENT_KEY)
    try:
        plaintext = open_with(CONTEXTS, sealed.header_bytes, sealed.ciphertext, key)
    except _primitives.PrimitiveFailure as exc:
        raise InvalidBundle(BundleRejectReason.DECRYPTION_FAILED) from exc
    value = _canonical_value(plaintext)
    try:
        content = BundleContent.model_validate(value)
    except ValidationError as exc:
        raise InvalidBundle(BundleRejectReason.MALFORMED) from exc
    if content_bytes(content) != plaintext:
        raise InvalidBundle(BundleRejectReason.NOT_CANONICAL)
    header = sealed.header
    if (header.envelopes, header.answers) != (len(content.envelopes), len(content.answers)):
        raise InvalidBundle(BundleRejectReason.COUNT_MISMATCH)
    return content
