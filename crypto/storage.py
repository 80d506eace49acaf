"""Encryption at rest: per-subject data keys, wrapped by a node master key.

Every stored piece of a person's data is sealed under that person's *data key*; the data key is
stored only wrapped (encrypted) under the node's *master key*, which lives outside the database.
Destroying a person's wrapped data key makes every copy of their data unreadable, including the
copies in old backups: crypto-shredding.

Each sealed value starts with a version byte and is bound to a context (for example the table,
the row and the subject), so a ciphertext moved to another row does not open.

The master key is a 32-byte key (``wrap_key``: ChaCha20-Poly1305 here) or an AES key inside a
PKCS#11 token (``wrap_key_in_token``: the token does AES-GCM; only the format, the nonce and the
binding to the subject are decided here). The first byte tells which wrapped a key.

Example::

    >>> master = new_key(); data = new_key()
    >>> wrapped = wrap_key(master, data, subject="s1")
    >>> unwrap_key(master, wrapped, subject="s1") == data
    True
    >>> open_at_rest(data, seal_at_rest(data, b"x", context=b"c"), context=b"c")
    b'x'
"""

from __future__ import annotations

import secrets
from typing import Protocol

from crypto import _primitives

VERSION = b"\x01"
#: The first byte of a data key wrapped by a PKCS#11 token (AES-256-GCM done by the token), so
#: it can never be taken for one wrapped under a master key file (``VERSION``).
TOKEN_VERSION = b"\x02"
TOKEN_NONCE_BYTES = 12
_DATA_KEY_BYTES = 32
_KEY_CONTEXT = b"avrr-data-key/1\x00"
_VALUE_CONTEXT = b"avrr-at-rest/1\x00"


class StoredDataUnreadable(Exception):
    """A stored value or wrapped key does not open: wrong key, wrong context, or altered."""


def new_key() -> bytes:
    return _primitives.new_symmetric_key()


def seal_at_rest(key: bytes, plaintext: bytes, *, context: bytes) -> bytes:
    return VERSION + _primitives.aead_seal(key, plaintext, _VALUE_CONTEXT + context)


def open_at_rest(key: bytes, sealed: bytes, *, context: bytes) -> bytes:
    if not sealed.startswith(VERSION):
        raise StoredDataUnreadable("unknown at-rest format")
    try:
        return _primitives.aead_open(key, sealed[1:], _VALUE_CONTEXT + context)
    except _primitives.PrimitiveFailure as exc:
        raise StoredDataUnreadable("stored value does not open") from exc


def wrap_key(master: bytes, data_key: bytes, *, subject: str) -> bytes:
    return VERSION + _primitives.aead_seal(master, data_key, key_binding(subject))


def key_binding(subject: str) -> bytes:
    """What a wrapped data key is bound to as associated data: this format and its subject, so
    a wrapped key copied to another subject's row does not open."""
    return _KEY_CONTEXT + subject.encode()


def unwrap_key(master: bytes, wrapped: bytes, *, subject: str) -> bytes:
    if not wrapped.startswith(VERSION):
        raise StoredDataUnreadable("unknown wrapped-key format")
    try:
        return _primitives.aead_open(master, wrapped[1:], key_binding(subject))
    except _primitives.PrimitiveFailure as exc:
        raise StoredDataUnreadable("wrapped key does not open") from exc


class TokenCipher(Protocol):
    """AES-GCM done inside a PKCS#11 token with a key that never leaves it (``kit.master_key``).

    ``decrypt`` raises ``StoredDataUnreadable`` when the tag does not check out."""

    def encrypt(self, plaintext: bytes, *, nonce: bytes, aad: bytes) -> bytes: ...

    def decrypt(self, ciphertext: bytes, *, nonce: bytes, aad: bytes) -> bytes: ...


def wrap_key_in_token(token: TokenCipher, data_key: bytes, *, subject: str) -> bytes:
    """``TOKEN_VERSION || nonce || AES-GCM(data key)``, bound to the subject like ``wrap_key``.

    A random 96-bit nonce per wrap is safe far beyond the number of people a node will ever hold
    (the bound for one GCM key is 2**32 wraps)."""
    nonce = secrets.token_bytes(TOKEN_NONCE_BYTES)
    return TOKEN_VERSION + nonce + token.encrypt(data_key, nonce=nonce, aad=key_binding(subject))


def unwrap_key_in_token(token: TokenCipher, wrapped: bytes, *, subject: str) -> bytes:
    if not wrapped.startswith(TOKEN_VERSION) or len(wrapped) <= 1 + TOKEN_NONCE_BYTES:
        raise StoredDataUnreadable("unknown wrapped-key format")
    nonce, body = wrapped[1 : 1 + TOKEN_NONCE_BYTES], wrapped[1 + TOKEN_NONCE_BYTES :]
    key = token.decrypt(body, nonce=nonce, aad=key_binding(subject))
    if len(key) != _DATA_KEY_BYTES:
        raise StoredDataUnreadable("wrapped key does not open")
    return key
