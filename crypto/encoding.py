"""Canonical JSON (RFC 8785) and strict base64url, the two encodings the protocol uses.

Invariants: ``canonical_json`` refuses floats (no value in the protocol is one, and JCS number
formatting is where implementations disagree); ``b64decode`` refuses padding, whitespace and any
character outside the URL-safe alphabet, so one byte string has exactly one text form.

Example::

    >>> canonical_json({"b": 1, "a": [True, None]})
    b'{"a":[true,null],"b":1}'
    >>> b64decode(b64encode(b"\\x00\\xff"))
    b'\\x00\\xff'
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

import rfc8785

_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")


class EncodingError(ValueError):
    """Bytes or text that are not in the one form the protocol allows."""


class NotCanonical(EncodingError):
    """Valid JSON or base64url, but not the one canonical form of its value."""


def _refuse_floats(value: Any) -> None:
    if isinstance(value, float):
        raise EncodingError("floats are not allowed in canonical documents")
    if isinstance(value, dict):
        for item in value.values():
            _refuse_floats(item)
    elif isinstance(value, list):
        for item in value:
            _refuse_floats(item)


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 encoding of a JSON value made of dicts, lists, str, int, bool and None."""
    _refuse_floats(value)
    try:
        return bytes(rfc8785.dumps(value))
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise EncodingError("value cannot be canonicalised") from exc


def parse_canonical_json(data: bytes) -> Any:
    """Parse JSON and insist it was canonical: the same value must encode to the same bytes."""
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EncodingError("not JSON") from exc
    if canonical_json(value) != data:
        raise NotCanonical("JSON is not in canonical form")
    return value


def b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64decode(text: str) -> bytes:
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise EncodingError("not unpadded base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise EncodingError("not unpadded base64url") from exc
    if b64encode(data) != text:
        # Non-zero trailing bits would give two texts for one byte string.
        raise NotCanonical("base64url is not in canonical form")
    return data
