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


#: The largest magnitude RFC 8785 (I-JSON) writes as an exact integer, as ``rfc8785`` checks it.
_EXACT_INT = 2**53 - 1


def _plain(value: Any) -> bool:
    """Whether ``value`` is built only of the types for which ``json.dumps`` writes RFC 8785.

    That is: ``dict`` (exactly, not a subclass) whose keys are ``str`` of ASCII characters only,
    ``list``, ``str``, ``bool``, ``None``, and ``int`` within +-(2**53 - 1); exact types, so no
    enum, tuple or other subclass, whose encoding could differ, takes this path.
    """
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return bool(-_EXACT_INT <= value <= _EXACT_INT)
    if kind is list:
        return all(_plain(item) for item in value)
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not key.isascii() or not _plain(item):
                return False
        return True
    return False


def _fast_canonical_json(value: Any) -> bytes | None:
    r"""RFC 8785 bytes of a ``_plain`` value from the standard library's C encoder; None when
    ``value`` is not plain or holds a lone surrogate (then the reference encoder decides).

    Why the bytes are the same as ``rfc8785.dumps`` (RFC 8785 section 3.2), for a plain value,
    with ``json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))``
    encoded to UTF-8:

    - whitespace: none between tokens in either (the separators carry no space);
    - literals: ``None``, ``True``, ``False`` are ``null``, ``true``, ``false`` in both;
    - numbers: only ``int`` (no ``float``: the caller refuses floats), exact type, within
      +-(2**53 - 1), where RFC 8785's ECMAScript number form and Python's ``repr`` are the same
      decimal digits with a leading ``-`` and no exponent (an exponent starts at 1e21);
      anything outside that range goes to ``rfc8785``, which refuses it;
    - strings: both escape exactly ``"``, ``\``, and U+0000..U+001F (``\b \f \n \r \t``
      in short form, the others as ``\u00xx`` in lower-case hex: ``rfc8785`` uses the same
      table as ``json``) and write every other character as itself in UTF-8 (``ensure_ascii``
      off); a lone surrogate cannot be encoded to UTF-8, so the fast path gives up and the
      reference encoder refuses it;
    - member order: RFC 8785 sorts names by their UTF-16 code units, ``sort_keys`` by code
      points; the two orders differ only between a character above U+FFFF and one in
      U+E000..U+FFFF, so for ASCII names (all that a plain value may have) they are the same;
      names are unique in a ``dict``, so the sort's stability does not matter;
    - containers: ``[]`` and ``{}`` for empty ones, elements in list order, in both.

    ``tests/crypto/test_encoding.py`` checks the equality on generated documents with
    Hypothesis, against ``rfc8785`` itself.
    """
    if not _plain(value):
        return None
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return None


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 encoding of a JSON value made of dicts, lists, str, int, bool and None.

    The common case (``_fast_canonical_json``) uses the standard library's C encoder, where its
    output is provably the RFC 8785 one; anything else goes to the ``rfc8785`` package."""
    fast = _fast_canonical_json(value)
    if fast is not None:
        return fast
    _refuse_floats(value)
    try:
        return bytes(rfc8785.dumps(value))
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise EncodingError("value cannot be canonicalised") from exc


def parse_canonical_json(data: bytes) -> Any:
    """Parse JSON and insist it was canonical: the same value must encode to the same bytes."""
    try:
        value = json.loads(data.decode("utf-8"))
        encoded = canonical_json(value)
    except EncodingError:
        raise
    except (ValueError, TypeError, RecursionError) as exc:
        # Not UTF-8, not JSON, an integer too long to read, nesting too deep, or a value
        # (NaN, Infinity) that has no canonical form: all one refusal.
        raise EncodingError("not JSON") from exc
    if encoded != data:
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
