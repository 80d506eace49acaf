"""Structure-aware mutations: change JSON values, also inside base64url members, not only bytes.

The formats read here are JSON inside base64url inside JSON (an envelope's header, a bundle's
header, a directory's payload, a token's claims), under canonical-form checks and signatures,
and most of their validation is pydantic's compiled code, which gives coverage no foothold: no
sequence of byte flips with a coverage gain at each step leads from ``"2026-03-02T09:30:00Z"`` to
``"0001-01-01T00:00:00+01:00"``. So every other mutation is made here instead, on the parsed
structure: a value replaced by one from the edges of its kind (times at the ends of what
``datetime`` holds, with offsets, at the acceptance window's bounds; integers at JSON's and
Python's limits; arrays nested past the parser's depth), a member removed or added, an element
dropped or repeated, bytes inside a base64url member changed and the member re-encoded, so the
result still reaches the check after the one it exercises. The input is re-encoded canonically
(most often) or not. Anything that does not parse gets libFuzzer's own byte mutation
(``fallback``), which also applies the dictionary.

Every choice comes from ``random.Random(seed)``, libFuzzer's seed, so a run can be repeated.

Example::

    >>> mutate(b'{"a":1}', 64, 7, fallback=lambda data, size: data)   # doctest: +SKIP
    b'{"a":9007199254740993}'
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from tests.fuzz.federation import NOW
from tests.fuzz.targets import PART, SIGNED

Fallback = Callable[[bytes, int], bytes]
#: A JSON value as ``json.loads`` returns it.
Json = Any

_TIME = re.compile(r"^\d{4}-\d\d-\d\dT")
_BASE64URL = re.compile(r"^[A-Za-z0-9_-]{4,}$")


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


#: Times at the edges: of ``datetime`` (with offsets that cross them), of the acceptance window
#: and clock skew around ``NOW``, and spellings a canonical form refuses.
TIMES = [
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+01:00",
    "0001-01-01T00:59:59+01:00",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-01:00",
    "9999-12-31T23:00:00-23:59",
    _stamp(NOW),
    _stamp(NOW + timedelta(minutes=5)),
    _stamp(NOW + timedelta(minutes=5, seconds=1)),
    _stamp(NOW - timedelta(days=14)),
    _stamp(NOW - timedelta(days=14, seconds=1)),
    "2026-03-02T10:30:00",
    "2026-03-02T10:30:00.5Z",
    "2026-03-02T10:30:00+00:00",
    "2026-03-02T10:30:00+14:00",
    "2026-03-02T10:30:00-12:00",
    "2026-02-29T00:00:00Z",
    "2026-03-02T24:00:00Z",
    "2026-03-02 10:30:00Z",
    "1773570600",
]
_NOW_SECONDS = int(NOW.timestamp())
#: Numbers at JSON's and Python's edges, and around ``NOW`` as node tokens state times.
NUMBERS: list[Json] = [
    0,
    1,
    -1,
    2**31,
    2**53 - 1,
    2**53,
    2**63,
    -(2**63),
    10**30,
    1.5,
    -0.0,
    True,
    False,
    None,
    _NOW_SECONDS,
    _NOW_SECONDS + 30,
    _NOW_SECONDS + 31,
    _NOW_SECONDS - 30,
    _NOW_SECONDS - 31,
    _NOW_SECONDS + 120,
    _NOW_SECONDS + 121,
]
STRINGS: list[Json] = ["", "a", "a" * 65, "\u0000", "\ud800", "\u00e9", "\u202e", "x" * 4096]
#: Stands for an array nested deeper than Python's JSON parser goes (its recursion limit is
#: 1000), which the standard library cannot write: ``_serialised`` writes the brackets itself.
TOO_DEEP = "\u0000too deep\u0000"
_TOO_DEEP_JSON = json.dumps(TOO_DEEP).encode("ascii")
_DEEP_BRACKETS = b"[" * 1100 + b"]" * 1100


def _nodes(value: Json, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Json]]:
    """Every value inside ``value`` with its path, ``value`` itself first."""
    found = [(path, value)]
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(_nodes(item, (*path, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_nodes(item, (*path, index)))
    return found


def _replace(value: Json, path: tuple[Any, ...], new: Json) -> Json:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replace(value[head], rest, new)}
    copy = list(value)
    copy[head] = _replace(copy[head], rest, new)
    return copy


def _names(value: Json) -> list[str]:
    return sorted({key for _, node in _nodes(value) if isinstance(node, dict) for key in node})


def _decoded(text: str) -> bytes | None:
    if not _BASE64URL.fullmatch(text) or len(text) % 4 == 1:
        return None
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def _encoded(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _changed_bytes(data: bytes, rng: random.Random) -> bytes:
    """A small change to decoded bytes (a ciphertext, a signature): one byte, or the length."""
    if not data or rng.random() < 0.3:
        return data[: rng.randrange(len(data) + 1)] + bytes(rng.randrange(3))
    at = rng.randrange(len(data))
    return data[:at] + bytes([rng.randrange(256)]) + data[at + 1 :]


def _changed_string(text: str, rng: random.Random, fallback: Fallback) -> Json:
    inner = _decoded(text)
    if inner is not None:
        nested = _json(inner)
        changed = (
            _serialised(_changed_value(nested, rng, fallback), rng)
            if nested is not _NOT_JSON
            else _changed_bytes(inner, rng)
        )
        return _encoded(changed)
    if _TIME.match(text) or rng.random() < 0.2:
        return rng.choice(TIMES)
    choice = rng.random()
    if choice < 0.4:
        return rng.choice(STRINGS)
    if choice < 0.7:
        raw = fallback(text.encode("utf-8", "surrogatepass"), len(text) + 8)
        return raw.decode("utf-8", "replace")
    return text.upper() if rng.random() < 0.5 else text[: rng.randrange(len(text) + 1)]


def _changed_node(node: Json, whole: Json, rng: random.Random, fallback: Fallback) -> Json:
    """One change to one value; ``whole`` lends member names to add."""
    choice = rng.random()
    if choice < 0.05:
        return TOO_DEEP
    if choice < 0.15:
        return rng.choice([*NUMBERS, *STRINGS, [], {}, [node], {"": node}])
    if isinstance(node, str):
        return _changed_string(node, rng, fallback)
    if isinstance(node, bool) or node is None or isinstance(node, float):
        return rng.choice(NUMBERS)
    if isinstance(node, int):
        return rng.choice([*NUMBERS, node + 1, node - 1, -node, str(node)])
    if isinstance(node, list):
        if not node:
            return [rng.choice([*NUMBERS, *STRINGS, *TIMES])]
        at = rng.randrange(len(node))
        operation = rng.random()
        if operation < 0.4:
            return node[:at] + node[at + 1 :]
        if operation < 0.8:
            return [*node[:at], node[at], *node[at:]]
        return list(reversed(node))
    if isinstance(node, dict):
        names = list(node)
        if names and rng.random() < 0.5:
            gone = rng.choice(names)
            return {key: item for key, item in node.items() if key != gone}
        name = rng.choice(_names(whole) or ["format"])
        return {**node, name: rng.choice([*NUMBERS, *STRINGS, *TIMES, None])}
    return node


def _changed_value(value: Json, rng: random.Random, fallback: Fallback) -> Json:
    path, node = rng.choice(_nodes(value))
    return _replace(value, path, _changed_node(node, value, rng, fallback))


_NOT_JSON = object()


def _json(data: bytes) -> Json:
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return _NOT_JSON


def _serialised(value: Json, rng: random.Random) -> bytes:
    """Canonical JSON mostly (what the checks after the canonical-form check need), else not."""
    if rng.random() < 0.85:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    else:
        text = json.dumps(value, indent=rng.choice([None, 1]), ensure_ascii=rng.random() < 0.5)
    return text.encode("utf-8", "surrogatepass").replace(_TOO_DEEP_JSON, _DEEP_BRACKETS)


def _changed_token(line: bytes, rng: random.Random, fallback: Fallback) -> bytes | None:
    """A compact JWS with one of its parts changed as a base64url member is."""
    pieces = line.split(b".")
    if len(pieces) != 3:
        return None
    at = rng.randrange(3)
    try:
        text = pieces[at].decode("ascii")
    except UnicodeDecodeError:
        return None
    pieces[at] = str(_changed_string(text, rng, fallback)).encode("utf-8", "surrogatepass")
    return b".".join(pieces)


def _changed_blob(data: bytes, rng: random.Random, fallback: Fallback) -> bytes | None:
    value = _json(data)
    if value is not _NOT_JSON:
        return _serialised(_changed_value(value, rng, fallback), rng)
    first, newline, rest = data.partition(b"\n")
    token = _changed_token(first, rng, fallback)
    return None if token is None else token + newline + rest


def mutate(data: bytes, max_size: int, seed: int, *, fallback: Fallback) -> bytes:
    """One mutation of ``data``: structured half the time (when it parses), else ``fallback``."""
    rng = random.Random(seed)
    if rng.random() < 0.5:
        return fallback(data, max_size)
    try:
        result = _structured(data, rng, fallback)
    except RecursionError:
        # A value nested nearly as deep as the parser goes is too deep to walk here.
        result = None
    if result is None or len(result) > max_size:
        return fallback(data, max_size)
    return result


def _structured(data: bytes, rng: random.Random, fallback: Fallback) -> bytes | None:
    if not data.startswith(SIGNED):
        return _changed_blob(data, rng, fallback)
    parts = data[1:].split(PART)
    at = rng.randrange(len(parts))
    changed = _changed_blob(parts[at], rng, fallback)
    if changed is None:
        return None
    return SIGNED + PART.join([*parts[:at], changed, *parts[at + 1 :]])
