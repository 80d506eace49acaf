"""Digests of bytes for identifying content: a recipe, so nothing outside ``crypto`` touches the
primitives module.

Example::

    >>> sha256_hex(b"")[:16]
    'e3b0c44298fc1c14'
"""

from __future__ import annotations

from crypto import _primitives


def sha256_hex(data: bytes) -> str:
    """SHA-256 of ``data`` as 64 lowercase hex digits."""
    return _primitives.sha256(data).hex()
