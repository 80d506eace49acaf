"""Encryption at rest: per-subject data keys, wrapped by a node master key.

Every stored piece of a person's data is sealed under that person's *data key*; the data key is
stored only wrapped (encrypted) under the node's *master key*, which lives outside the database.
Destroying a person's wrapped data key makes every copy of their data unreadable, including the
copies in old backups: crypto-shredding.

Each sealed value starts with a version byte and is bound to a context (for example the table,
the row and the subject), so a ciphertext moved to another row does not open.

Example::

    >>> master = new_key(); data = new_key()
    >>> wrapped = wrap_key(master, data, subject="s1")
    >>> unwrap_key(master, wrapped, subject="s1") == data
    True
    >>> open_at_rest(data, seal_at_rest(data, b"x", context=b"c"), context=b"c")
    b'x'
"""

from __future__ import annotations

from crypto import _primitives

VERSION = b"\x01"
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
    return VERSION + _primitives.aead_seal(master, data_key, _KEY_CONTEXT + subject.encode())


def unwrap_key(master: bytes, wrapped: bytes, *, subject: str) -> bytes:
    if not wrapped.startswith(VERSION):
        raise StoredDataUnreadable("unknown wrapped-key format")
    try:
        return _primitives.aead_open(master, wrapped[1:], _KEY_CONTEXT + subject.encode())
    except _primitives.PrimitiveFailure as exc:
        raise StoredDataUnreadable("wrapped key does not open") from exc
