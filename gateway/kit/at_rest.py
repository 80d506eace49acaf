"""A person's data at rest: JSON values sealed under their own data key (``kit.keystore``).

"At rest" is storage; an "envelope" is what travels between nodes (``exchange.outbox.queue``
seals those). Every value is bound to a context and to the person, so it cannot be moved to
another row or another person unnoticed; once the person's key is destroyed (an erasure, or
nothing of theirs left), every copy of the value, backups included, is unreadable.

Example::

    >>> sealed = seal_json(node.keys, case_id, {"given_name": "..."}, context="cases")  # doctest: +SKIP
    >>> open_json(node.keys, case_id, sealed, context="cases")                          # doctest: +SKIP
"""

from __future__ import annotations

import json
from typing import Any

from crypto.storage import StoredDataUnreadable, open_at_rest, seal_at_rest
from gateway.kit.keystore import KeyStore


def seal_json(keys: KeyStore, subject: str, value: Any, *, context: str) -> bytes:
    """A JSON value sealed under the subject's data key, bound to ``context`` and the subject."""
    data = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    return seal_at_rest(keys.data_key(subject), data, context=f"{context}/{subject}".encode())


def open_json(keys: KeyStore, subject: str, sealed: bytes, *, context: str) -> Any:
    """The value, or ``PersonErased`` if the subject's key is gone or the value does not open."""
    try:
        key = keys.existing_key(subject)
        if key is None:
            raise PersonErased
        return json.loads(open_at_rest(key, sealed, context=f"{context}/{subject}".encode()))
    except StoredDataUnreadable as exc:
        raise PersonErased from exc


class PersonErased(Exception):
    """The person's data key is destroyed (erasure or retention): their data cannot be read."""
