"""Per-recipient subject pseudonyms.

A recipient knows a person only by ``HMAC-SHA256(node secret, "avrr-pseudonym/1" | subject | recipient)``:
stable for that recipient (so its updates refer to the same person), different for every other
recipient (so two partners cannot join their records), and meaningless without the sending node's
secret.

Example::

    >>> a = subject_pseudonym(b"k" * 32, subject_id="s1", recipient="node-a")
    >>> a == subject_pseudonym(b"k" * 32, subject_id="s1", recipient="node-b")
    False
"""

from __future__ import annotations

from crypto import _primitives
from crypto.encoding import canonical_json

PSEUDONYM_SECRET_BYTES = 32


def subject_pseudonym(secret: bytes, *, subject_id: str, recipient: str) -> str:
    if len(secret) < PSEUDONYM_SECRET_BYTES:
        raise ValueError("the pseudonym secret must be at least 32 bytes")
    message = canonical_json(["avrr-pseudonym/1", subject_id, recipient])
    return _primitives.hmac_sha256(secret, message).hex()
