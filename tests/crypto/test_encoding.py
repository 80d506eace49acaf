"""Canonical JSON (RFC 8785) and strict unpadded base64url (``crypto.encoding``)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import rfc8785
from hypothesis import assume, given
from hypothesis import strategies as st

from crypto import encoding
from crypto.encoding import (
    EncodingError,
    NotCanonical,
    b64decode,
    b64encode,
    canonical_json,
    parse_canonical_json,
)

# JSON values the protocol may carry: no floats, integers within I-JSON's exact range.
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.text(alphabet=st.characters(exclude_categories=["Cs"])),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.text(alphabet=st.characters(exclude_categories=["Cs"])), children, max_size=4
        )
    ),
    max_leaves=12,
)

# Anything JSON-like, and beyond: any character (lone surrogates too) in names and text, names
# above U+FFFF that sort differently by UTF-16 code units, integers past the exact range,
# tuples, so both sides of the fast path's conditions come up.
ANY_TEXT = st.text(alphabet=st.characters(codec=None), max_size=6) | st.sampled_from(
    ["a", "b", "\ue000", "\U0001f600", "\x7f", "\u2028", "\ud800", "\\", '"', "\x00"]
)
ANY_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**54), 2**54)
    | st.sampled_from([2**53 - 1, -(2**53 - 1), 2**53, -(2**53), 0])
    | ANY_TEXT,
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.dictionaries(ANY_TEXT, children, max_size=5)
    ),
    max_leaves=16,
)

B64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


class TestCanonicalJson:
    def test_members_are_sorted_and_whitespace_is_dropped(self) -> None:
        assert canonical_json({"b": 1, "a": [True, None, "x"]}) == b'{"a":[true,null,"x"],"b":1}'

    def test_members_are_sorted_by_utf16_code_units(self) -> None:
        # RFC 8785 section 3.2.3: U+1F600 is D83D DE00 in UTF-16, so it sorts before U+E000
        # although its code point is larger; sorting by code point would put it last.
        assert canonical_json({"\ue000": 2, "\U0001f600": 1}) == (
            '{"\U0001f600":1,"\ue000":2}'.encode()
        )

    def test_non_ascii_text_is_utf8_not_escaped(self) -> None:
        assert canonical_json("é") == '"é"'.encode()

    def test_control_characters_are_escaped(self) -> None:
        assert canonical_json("a\nb\x1f") == b'"a\\nb\\u001f"'

    @pytest.mark.parametrize(
        "value",
        [1.0, 0.5, float("nan"), float("inf"), [1, 2.5], {"a": {"b": -0.0}}],
        ids=["one", "half", "nan", "inf", "in-list", "nested"],
    )
    def test_floats_are_refused(self, value: Any) -> None:
        with pytest.raises(EncodingError, match="floats are not allowed"):
            canonical_json(value)

    def test_integers_beyond_exact_double_range_are_refused(self) -> None:
        with pytest.raises(EncodingError, match="cannot be canonicalised"):
            canonical_json(2**53)

    def test_largest_exact_integer_is_allowed(self) -> None:
        assert canonical_json(2**53 - 1) == b"9007199254740991"

    def test_non_string_member_names_are_refused(self) -> None:
        with pytest.raises(EncodingError, match="cannot be canonicalised"):
            canonical_json({1: "a"})

    def test_bytes_are_refused(self) -> None:
        with pytest.raises(EncodingError, match="cannot be canonicalised"):
            canonical_json(b"raw")

    def test_lone_surrogate_is_refused(self) -> None:
        with pytest.raises(EncodingError, match="cannot be canonicalised"):
            canonical_json("\ud800")

    def test_encoding_error_is_a_value_error(self) -> None:
        assert issubclass(EncodingError, ValueError)

    @given(JSON_VALUES)
    def test_any_protocol_value_parses_back_from_its_encoding(self, value: Any) -> None:
        assert parse_canonical_json(canonical_json(value)) == value


class TestFastPath:
    """The standard library's encoder is used only where its bytes are RFC 8785's."""

    @given(ANY_VALUES)
    def test_fast_path_gives_the_reference_bytes_or_steps_aside(self, value: Any) -> None:
        try:
            reference: bytes | None = bytes(rfc8785.dumps(value))
        except (rfc8785.CanonicalizationError, TypeError, ValueError):
            reference = None  # refused (a name with a lone surrogate fails in UTF-16 sorting)
        fast = encoding._fast_canonical_json(value)
        if fast is not None:
            assert fast == reference
        if reference is not None:
            assert canonical_json(value) == reference
        else:
            with pytest.raises(EncodingError):
                canonical_json(value)

    @given(JSON_VALUES)
    def test_protocol_values_with_ascii_names_take_the_fast_path(self, value: Any) -> None:
        assume(encoding._plain(value))
        assert encoding._fast_canonical_json(value) == bytes(rfc8785.dumps(value))

    @pytest.mark.parametrize(
        "value",
        [
            {"\ue000": 2, "\U0001f600": 1},
            2**53,
            (1, 2),
            {"a": "\ud800"},
            {1: "a"},
            [True, 1.5],
        ],
        ids=["astral-name", "big-int", "tuple", "lone-surrogate", "int-name", "float"],
    )
    def test_what_it_cannot_prove_goes_to_the_reference_encoder(self, value: Any) -> None:
        assert encoding._fast_canonical_json(value) is None


class TestParseCanonicalJson:
    def test_canonical_bytes_parse_to_their_value(self) -> None:
        assert parse_canonical_json(b'{"a":[1,"x"],"b":null}') == {"a": [1, "x"], "b": None}

    @pytest.mark.parametrize(
        "data",
        [
            b'{ "a":1}',
            b'{"a": 1}',
            b'{"a":1}\n',
            b' {"a":1}',
            b'{"b":1,"a":2}',
            b'{"a":1,"a":1}',
            b'["\\u0061"]',
            b'["\\/"]',
            b"-0",
        ],
        ids=[
            "space-after-brace",
            "space-after-colon",
            "trailing-newline",
            "leading-space",
            "unsorted",
            "duplicate-member",
            "escaped-ascii",
            "escaped-solidus",
            "negative-zero",
        ],
    )
    def test_non_canonical_json_is_refused(self, data: bytes) -> None:
        with pytest.raises(NotCanonical, match="not in canonical form"):
            parse_canonical_json(data)

    @pytest.mark.parametrize(
        "data", [b"1.0", b"1E2", b"NaN", b"Infinity", b'{"a":0.5}', b'{ "a":1.0}']
    )
    def test_float_literals_are_refused_as_not_json_of_the_protocol(self, data: bytes) -> None:
        # A float is an encoding error, never "merely not canonical", even amid other flaws.
        with pytest.raises(EncodingError, match="floats are not allowed") as caught:
            parse_canonical_json(data)
        assert not isinstance(caught.value, NotCanonical)

    def test_integer_beyond_exact_range_is_refused_as_not_json_of_the_protocol(self) -> None:
        with pytest.raises(EncodingError, match="cannot be canonicalised") as caught:
            parse_canonical_json(b"9007199254740992")
        assert not isinstance(caught.value, NotCanonical)

    def test_not_canonical_is_an_encoding_error(self) -> None:
        assert issubclass(NotCanonical, EncodingError)

    @pytest.mark.parametrize(
        "data",
        [b"\xff", b'"\xc3"', b"\xef\xbb\xbf{}", b"", b"{", b"{'a':1}"],
        ids=["invalid-utf8", "truncated-utf8", "byte-order-mark", "empty", "truncated", "quotes"],
    )
    def test_bytes_that_are_not_json_are_refused(self, data: bytes) -> None:
        with pytest.raises(EncodingError, match="not JSON") as caught:
            parse_canonical_json(data)
        assert not isinstance(caught.value, NotCanonical)


class TestB64Encode:
    def test_encoding_is_urlsafe_without_padding(self) -> None:
        assert b64encode(b"\xfb\xff") == "-_8"

    def test_empty_bytes_encode_to_empty_text(self) -> None:
        assert b64encode(b"") == ""

    @given(st.binary(max_size=256))
    def test_encoding_is_the_standard_urlsafe_encoding_stripped(self, data: bytes) -> None:
        assert b64encode(data) == base64.urlsafe_b64encode(data).decode().rstrip("=")


class TestB64Decode:
    @given(st.binary(max_size=256))
    def test_any_bytes_round_trip(self, data: bytes) -> None:
        assert b64decode(b64encode(data)) == data

    def test_empty_text_is_empty_bytes(self) -> None:
        assert b64decode("") == b""

    @pytest.mark.parametrize("text", ["AA==", "AAA=", "AA=", "=", "AAAA===="])
    def test_padding_is_refused(self, text: str) -> None:
        with pytest.raises(EncodingError, match="not unpadded base64url"):
            b64decode(text)

    @pytest.mark.parametrize("text", ["+_8", "-/8", "ab+c"])
    def test_standard_alphabet_is_refused(self, text: str) -> None:
        with pytest.raises(EncodingError, match="not unpadded base64url"):
            b64decode(text)

    @pytest.mark.parametrize(
        "text",
        ["AAAA\n", "AAA\n", "AA\n", " AA", "AA AA", "AA\r\n", "AA\t"],
        ids=[
            "newline-after-4",
            "newline-after-3",
            "newline-after-2",
            "leading",
            "inner",
            "crlf",
            "tab",
        ],
    )
    def test_whitespace_is_refused(self, text: str) -> None:
        with pytest.raises(EncodingError, match="not unpadded base64url"):
            b64decode(text)

    @pytest.mark.parametrize("text", ["A", "AAAAA", "AAAAAAAAA"])
    def test_length_one_more_than_a_multiple_of_four_is_refused(self, text: str) -> None:
        with pytest.raises(EncodingError, match="not unpadded base64url"):
            b64decode(text)

    @pytest.mark.parametrize("text", ["AB", "AP", "AAF", "AAB"])
    def test_non_zero_trailing_bits_are_refused(self, text: str) -> None:
        # "AB" would decode to b"\x00" like "AA": two texts for one byte string.
        with pytest.raises(NotCanonical, match="not in canonical form"):
            b64decode(text)

    @pytest.mark.parametrize("text", ["AA==", "+_8", "AA\n", "A", "ÀA"])
    def test_text_outside_base64url_is_not_reported_as_merely_non_canonical(
        self, text: str
    ) -> None:
        with pytest.raises(EncodingError) as caught:
            b64decode(text)
        assert not isinstance(caught.value, NotCanonical)

    @pytest.mark.parametrize("text", ["ÀA", "AA\u00a0", "A\u0660AA"])
    def test_non_ascii_characters_are_refused(self, text: str) -> None:
        with pytest.raises(EncodingError, match="not unpadded base64url"):
            b64decode(text)

    # Half the draws are encodings of bytes, half any text of the alphabet: most of the latter
    # are refused (length or trailing bits), which ``assume`` sets aside rather than passing.
    @given(
        st.one_of(
            st.binary(max_size=48).map(b64encode),
            st.text(alphabet=B64URL_ALPHABET, max_size=64),
        )
    )
    def test_any_accepted_text_is_the_one_encoding_of_its_bytes(self, text: str) -> None:
        try:
            data = b64decode(text)
        except EncodingError:
            data = None
        # Texts that are not an encoding at all say nothing here; hypothesis draws others instead.
        assume(data is not None)
        assert data is not None
        assert b64encode(data) == text


@pytest.mark.parametrize(
    "data",
    [b"1" * 5000, b"[" * 100_000 + b"]" * 100_000, b"NaN", b'{"a":Infinity}', b"\xff"],
)
def test_unreadable_json_is_one_refusal(data: bytes) -> None:
    with pytest.raises(EncodingError):
        parse_canonical_json(data)
