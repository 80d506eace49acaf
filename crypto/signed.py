"""Signed documents: a canonical-JSON payload and an Ed25519 signature under a named context.

Receipts and the federation directory travel this way. The context string (for example
``avrr-receipt/1``) is part of what is signed, so a signature over one kind of document can never
be passed off as another.

Example::

    >>> doc = sign_document({"a": 1}, key, context="avrr-receipt/1")   # doctest: +SKIP
    >>> verify_document(doc, key.public_key(), context="avrr-receipt/1")  # doctest: +SKIP
    {'a': 1}
"""

from __future__ import annotations

from typing import Any

from crypto import _primitives
from crypto.encoding import (
    EncodingError,
    b64decode,
    b64encode,
    canonical_json,
    parse_canonical_json,
)
from crypto.errors import InvalidSignature
from crypto.keys import KeyUse, PublicKey, SigningKey
from schemas.envelope import SignedDocument


def _message(context: str, payload: bytes) -> bytes:
    return context.encode("ascii") + b"\x00" + payload


def sign_document(payload: Any, key: SigningKey, *, context: str) -> SignedDocument:
    encoded = canonical_json(payload)
    signature = key.sign(_message(context, encoded))
    return SignedDocument(
        payload=b64encode(encoded), key_id=key.key_id, signature=b64encode(signature)
    )


def verify_document(doc: SignedDocument, key: PublicKey, *, context: str) -> Any:
    """Return the payload if ``key`` signed it under ``context``; raise ``InvalidSignature`` if not."""
    if key.use is not KeyUse.SIGNING or key.key_id != doc.key_id:
        raise InvalidSignature("document is signed by another key")
    try:
        payload = b64decode(doc.payload)
        signature = b64decode(doc.signature)
        _primitives.ed25519_verify(key.public, signature, _message(context, payload))
        return parse_canonical_json(payload)
    except (EncodingError, _primitives.PrimitiveFailure) as exc:
        raise InvalidSignature("signature does not verify") from exc
