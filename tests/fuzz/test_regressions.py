"""Every input that once crashed a fuzzing harness, refused as documented; and the targets
themselves, on their seeds and on seeds changed by Hypothesis.

The crashing inputs are written here as the parts they are made of rather than as the fuzzer's
raw files, so each says what it exercises; ``tests.fuzz.targets`` explains the ``SIGNED`` form.
What they found: a node token whose claims nest deeper than the JSON parser goes
(``RecursionError``) or whose protected header is a JSON string or array (``AttributeError``,
``TypeError``), out of ``crypto.jwt``; a time whose UTC equivalent lies beyond what ``datetime``
holds (``OverflowError`` from ``schemas.common``'s validator), out of ``parse``, ``parse_bundle``,
``verify_directory``, ``signed_serial`` and the inbox's content check; a bundle ``sequence``
written as a string beyond 2**53 (``EncodingError``), out of ``parse_bundle``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crypto.encoding import b64decode, b64encode, canonical_json
from crypto.errors import InvalidSignature
from crypto.jwt import verify_jwt
from tests.fuzz import seeds, targets
from tests.fuzz.federation import (
    BUNDLE_VECTORS,
    DIRECTORY,
    ENVELOPE_VECTORS,
    HOST_ID,
    NOW,
    SENDER,
)

TARGETS: dict[str, Callable[[bytes], bool]] = {
    "envelope": targets.envelope,
    "node_token": targets.node_token,
    "directory": targets.directory,
    "bundle": targets.bundle,
}
SEEDS: dict[str, list[bytes]] = {
    "envelope": list(seeds.envelope_seeds()),
    "node_token": list(seeds.token_seeds()),
    "directory": list(seeds.directory_seeds()),
    "bundle": list(seeds.bundle_seeds()),
}

ENVELOPE_HEADER = json.loads(seeds.POSITIVE_HEADER)
BUNDLE_HEADER = b64decode(BUNDLE_VECTORS["positive"]["header_b64url"])
BUNDLE_CONTENT: bytes = BUNDLE_VECTORS["positive"]["content_utf8"].encode()
TOKEN_HEADER = canonical_json({"alg": "Ed25519", "kid": SENDER.key_id, "typ": "JWT"})
#: JSON arrays nested deeper than Python's parser goes (its recursion limit is 1000).
TOO_DEEP = b"[" * 1500 + b"]" * 1500
#: Protected headers that joserfc takes for one (their text contains "alg") but are no object.
NOT_AN_OBJECT_BUT_NAMES_ALG = {"string": b'"{\\"alg"', "array": b'["alg"]'}
#: Times that are valid ISO 8601 but whose UTC equivalent lies outside what ``datetime`` holds.
UNREPRESENTABLE_IN_UTC = ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00")


def _unsigned_token(claims: bytes) -> bytes:
    return f"{b64encode(TOKEN_HEADER)}.{b64encode(claims)}.{b64encode(bytes(64))}".encode()


def _with(document: dict[str, Any], **changes: Any) -> bytes:
    return canonical_json({**document, **changes})


def _envelope_wire(header: bytes) -> bytes:
    """The vector's wire with another header (so it is refused before the signature)."""
    return canonical_json({**ENVELOPE_VECTORS["positive"]["wire"], "header": b64encode(header)})


def _bundle_file(header: bytes) -> bytes:
    return canonical_json({**BUNDLE_VECTORS["positive"]["wire"], "header": b64encode(header)})


def _status_update(occurred_at: str) -> bytes:
    """A status update from the host, signed and sealed, whose event is dated ``occurred_at``."""
    header, plaintext = next(
        (h, p) for h, p in seeds.other_kinds() if json.loads(h)["kind"] == "status_update"
    )
    return seeds.signed_seed(header, _with(json.loads(plaintext), occurred_at=occurred_at))


def _overflowing(when: str) -> list[Any]:
    """Every place a time is read before anything is trusted, with ``when`` in it: each raised
    OverflowError (``schemas.common``'s validator turns it to UTC) instead of the refusal."""
    directory = DIRECTORY.model_dump(mode="json")
    return [
        pytest.param(
            "envelope",
            _envelope_wire(_with(ENVELOPE_HEADER, created_at=when)),
            id=f"envelope-created-at-{when}",
        ),
        pytest.param(
            "envelope",
            seeds.signed_seed(_with(ENVELOPE_HEADER, delete_by=when), seeds.POSITIVE_PLAINTEXT),
            id=f"envelope-signed-delete-by-{when}",
        ),
        pytest.param("envelope", _status_update(when), id=f"status-update-occurred-at-{when}"),
        pytest.param(
            "bundle",
            _bundle_file(_with(json.loads(BUNDLE_HEADER), created_at=when)),
            id=f"bundle-created-at-{when}",
        ),
        pytest.param(
            "directory",
            seeds.signed_seed(_with(directory, issued_at=when)),
            id=f"directory-issued-at-{when}",
        ),
        pytest.param(
            "directory",
            targets.operator_signed(_with(directory, expires_at=when)).model_dump_json().encode(),
            id=f"directory-file-expires-at-{when}",
        ),
    ]


REGRESSIONS = [
    pytest.param(
        "node_token",
        _unsigned_token(TOO_DEEP),
        id="token-claims-nested-too-deep-unsigned",
    ),
    pytest.param(
        "node_token",
        seeds.signed_seed(TOKEN_HEADER, b'{"iss":' + TOO_DEEP + b"}", b""),
        id="token-claims-nested-too-deep-signed",
    ),
    *(case for when in UNREPRESENTABLE_IN_UTC for case in _overflowing(when)),
    *(
        pytest.param("node_token", token, id=f"token-header-{name}-{form}")
        for name, header in NOT_AN_OBJECT_BUT_NAMES_ALG.items()
        for form, token in (
            ("unsigned", f"{b64encode(header)}.{b64encode(b'{}')}.{b64encode(bytes(64))}".encode()),
            ("signed", seeds.signed_seed(header, seeds.token_claims()[1], b"")),
        )
    ),
    pytest.param(
        "bundle",
        _bundle_file(_with(json.loads(BUNDLE_HEADER), sequence=str(2**53))),
        id="bundle-sequence-a-string-beyond-2**53",
    ),
    pytest.param(
        "bundle",
        seeds.signed_seed(_with(json.loads(BUNDLE_HEADER), sequence=str(2**53)), BUNDLE_CONTENT),
        id="bundle-signed-sequence-a-string-beyond-2**53",
    ),
]


@pytest.mark.parametrize(("harness", "data"), REGRESSIONS)
def test_input_that_once_crashed_is_refused(harness: str, data: bytes) -> None:
    assert TARGETS[harness](data) is False


@pytest.mark.parametrize("header", NOT_AN_OBJECT_BUT_NAMES_ALG.values())
def test_a_staff_token_whose_header_is_no_object_does_not_verify(header: bytes) -> None:
    """The same finding on the staff path, which calls ``verify_jwt`` alone."""
    signing_input = f"{b64encode(header)}.{b64encode(b'{}')}"
    token = f"{signing_input}.{b64encode(SENDER.sign(signing_input.encode()))}"
    with pytest.raises(InvalidSignature):
        verify_jwt(token, SENDER.public_key(), audience=HOST_ID, now=NOW)


class TestSeeds:
    @pytest.mark.parametrize("harness", sorted(TARGETS))
    def test_every_seed_is_accepted_or_refused_as_documented(self, harness: str) -> None:
        for seed in SEEDS[harness]:
            TARGETS[harness](seed)

    def test_the_vector_envelope_is_accepted_plain_and_signed(self) -> None:
        assert targets.envelope(canonical_json(ENVELOPE_VECTORS["positive"]["wire"]))
        assert targets.envelope(seeds.signed_seed(seeds.POSITIVE_HEADER, seeds.POSITIVE_PLAINTEXT))

    def test_a_token_the_host_issues_is_accepted_plain_and_signed(self) -> None:
        accepted = [seed for seed in SEEDS["node_token"] if targets.node_token(seed)]
        assert any(seed.startswith(targets.SIGNED) for seed in accepted)
        assert any(not seed.startswith(targets.SIGNED) for seed in accepted)

    def test_the_operators_directory_is_trusted_plain_and_signed(self) -> None:
        payload = canonical_json(DIRECTORY.model_dump(mode="json"))
        assert targets.directory(seeds.signed_seed(payload))
        assert targets.directory(targets.operator_signed(payload).model_dump_json().encode())

    def test_the_vector_bundle_is_opened_plain_and_signed(self) -> None:
        assert targets.bundle(BUNDLE_VECTORS["positive"]["file_utf8"].encode())
        assert targets.bundle(seeds.signed_seed(BUNDLE_HEADER, BUNDLE_CONTENT))


@st.composite
def changed(draw: st.DrawFn, seed: bytes) -> bytes:
    """``seed`` cut short, with bytes replaced, or with bytes inserted, somewhere."""
    at = draw(st.integers(min_value=0, max_value=len(seed)))
    piece = draw(st.binary(min_size=1, max_size=16))
    how = draw(st.sampled_from(["cut", "replace", "insert"]))
    if how == "cut":
        return seed[:at]
    if how == "replace":
        return seed[:at] + piece + seed[at + len(piece) :]
    return seed[:at] + piece + seed[at:]


@pytest.mark.parametrize("harness", sorted(TARGETS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_changed_seed_lets_out_only_the_documented_refusal(
    harness: str, data: st.DataObject
) -> None:
    seed = data.draw(st.sampled_from(SEEDS[harness]))
    TARGETS[harness](data.draw(changed(seed)))
