"""Encryption at rest: per-subject data keys wrapped by the node master key (``crypto.storage``).

The layout is checked against pyca/cryptography's ChaCha20-Poly1305 directly, so the format
(version byte, 96-bit random nonce, ciphertext and tag, labelled associated data) is pinned.
"""

from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.storage import (
    TOKEN_VERSION,
    VERSION,
    StoredDataUnreadable,
    key_binding,
    new_key,
    open_at_rest,
    seal_at_rest,
    unwrap_key,
    unwrap_key_in_token,
    wrap_key,
    wrap_key_in_token,
)

MASTER = bytes(range(32))
OTHER_MASTER = bytes(range(1, 33))
DATA_KEY = bytes(range(32, 64))
OTHER_DATA_KEY = bytes(range(64, 96))
SUBJECT = "596ecd254dd02f0a72fb74f1797cc43b26e6e1c63526d5fee9912d15874f2251"
OTHER_SUBJECT = "0" * 64
CONTEXT = b"received_sections/a0a1a2a3a4a5a6a7a8a9aaabacadaeaf/arrival"
PLAINTEXT = b'{"contact_language":"en","reception_requested":true}'
NONCE_BYTES, TAG_BYTES = 12, 16


def flip(data: bytes, index: int, mask: int = 0x01) -> bytes:
    changed = bytearray(data)
    changed[index] ^= mask
    return bytes(changed)


class TestNewKey:
    def test_keys_are_32_random_bytes(self) -> None:
        first, second = new_key(), new_key()
        assert len(first) == len(second) == 32
        assert first != second


class TestSealAtRest:
    def test_sealed_value_round_trips(self) -> None:
        sealed = seal_at_rest(DATA_KEY, PLAINTEXT, context=CONTEXT)
        assert open_at_rest(DATA_KEY, sealed, context=CONTEXT) == PLAINTEXT

    def test_empty_value_round_trips(self) -> None:
        sealed = seal_at_rest(DATA_KEY, b"", context=CONTEXT)
        assert open_at_rest(DATA_KEY, sealed, context=CONTEXT) == b""

    def test_layout_is_version_nonce_ciphertext_tag(self) -> None:
        sealed = seal_at_rest(DATA_KEY, PLAINTEXT, context=CONTEXT)
        assert VERSION == b"\x01"
        assert sealed[:1] == VERSION
        assert len(sealed) == 1 + NONCE_BYTES + len(PLAINTEXT) + TAG_BYTES

    def test_format_is_chacha20_poly1305_with_the_labelled_context_as_aad(self) -> None:
        sealed = seal_at_rest(DATA_KEY, PLAINTEXT, context=CONTEXT)
        nonce, body = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
        aad = b"avrr-at-rest/1\x00" + CONTEXT
        assert ChaCha20Poly1305(DATA_KEY).decrypt(nonce, body, aad) == PLAINTEXT

    def test_two_seals_of_the_same_value_use_different_nonces(self) -> None:
        first = seal_at_rest(DATA_KEY, PLAINTEXT, context=CONTEXT)
        second = seal_at_rest(DATA_KEY, PLAINTEXT, context=CONTEXT)
        assert first[1 : 1 + NONCE_BYTES] != second[1 : 1 + NONCE_BYTES]
        assert first != second

    def test_wrong_key_does_not_open(self) -> None:
        sealed = seal_at_rest(DATA_KEY, PLAINTEXT, context=CONTEXT)
        with pytest.raises(StoredDataUnreadable, match="does not open"):
            open_at_rest(OTHER_DATA_KEY, sealed, context=CONTEXT)

    def test_key_of_the_wrong_length_does_not_open(self) -> None:
        sealed = seal_at_rest(DATA_KEY, PLAINTEXT, context=CONTEXT)
        with pytest.raises(StoredDataUnreadable, match="does not open"):
            open_at_rest(DATA_KEY[:16], sealed, context=CONTEXT)

    @pytest.mark.parametrize(
        "context",
        [
            b"received_sections/a0a1a2a3a4a5a6a7a8a9aaabacadaeaf/travel",
            b"received_sections/b0b1b2b3b4b5b6b7b8b9babbbcbdbebf/arrival",
            CONTEXT + b"\x00",
            b"",
        ],
        ids=["other-section", "other-packet", "extended", "empty"],
    )
    def test_value_moved_to_another_context_does_not_open(self, context: bytes) -> None:
        sealed = seal_at_rest(DATA_KEY, PLAINTEXT, context=CONTEXT)
        with pytest.raises(StoredDataUnreadable, match="does not open"):
            open_at_rest(DATA_KEY, sealed, context=context)

    @pytest.mark.parametrize(
        "index",
        [1, 1 + NONCE_BYTES, 1 + NONCE_BYTES + 10, -1],
        ids=["nonce", "first-ciphertext-byte", "middle", "tag"],
    )
    def test_flipped_bit_does_not_open(self, index: int) -> None:
        sealed = seal_at_rest(DATA_KEY, PLAINTEXT, context=CONTEXT)
        with pytest.raises(StoredDataUnreadable, match="does not open"):
            open_at_rest(DATA_KEY, flip(sealed, index), context=CONTEXT)

    @pytest.mark.parametrize("version", [b"\x00", b"\x02", b"\xff"])
    def test_unknown_version_byte_is_refused(self, version: bytes) -> None:
        sealed = seal_at_rest(DATA_KEY, PLAINTEXT, context=CONTEXT)
        with pytest.raises(StoredDataUnreadable, match="unknown at-rest format"):
            open_at_rest(DATA_KEY, version + sealed[1:], context=CONTEXT)

    @pytest.mark.parametrize("length", [0, 1, 1 + NONCE_BYTES, 1 + NONCE_BYTES + TAG_BYTES - 1])
    def test_truncated_value_is_refused(self, length: int) -> None:
        sealed = seal_at_rest(DATA_KEY, PLAINTEXT, context=CONTEXT)
        with pytest.raises(StoredDataUnreadable):
            open_at_rest(DATA_KEY, sealed[:length], context=CONTEXT)

    def test_value_sealed_at_rest_does_not_open_as_a_wrapped_key(self) -> None:
        # The two uses carry different labels, so one can never stand in for the other.
        sealed = seal_at_rest(MASTER, DATA_KEY, context=SUBJECT.encode())
        with pytest.raises(StoredDataUnreadable, match="does not open"):
            unwrap_key(MASTER, sealed, subject=SUBJECT)

    @settings(max_examples=50, deadline=None)
    @given(plaintext=st.binary(max_size=4096), context=st.binary(max_size=128))
    def test_any_value_round_trips_under_any_context(
        self, plaintext: bytes, context: bytes
    ) -> None:
        sealed = seal_at_rest(DATA_KEY, plaintext, context=context)
        assert open_at_rest(DATA_KEY, sealed, context=context) == plaintext

    @settings(max_examples=100, deadline=None)
    @given(position=st.integers(0, 10**6), bit=st.integers(0, 7))
    def test_any_single_bit_flip_is_refused(self, position: int, bit: int) -> None:
        sealed = seal_at_rest(DATA_KEY, PLAINTEXT, context=CONTEXT)
        tampered = flip(sealed, position % len(sealed), 1 << bit)
        with pytest.raises(StoredDataUnreadable):
            open_at_rest(DATA_KEY, tampered, context=CONTEXT)


class TestWrapKey:
    def test_wrapped_key_round_trips(self) -> None:
        wrapped = wrap_key(MASTER, DATA_KEY, subject=SUBJECT)
        assert unwrap_key(MASTER, wrapped, subject=SUBJECT) == DATA_KEY

    def test_wrapped_key_is_version_nonce_and_sealed_key(self) -> None:
        wrapped = wrap_key(MASTER, DATA_KEY, subject=SUBJECT)
        assert wrapped[:1] == VERSION
        assert len(wrapped) == 1 + NONCE_BYTES + 32 + TAG_BYTES
        nonce, body = wrapped[1 : 1 + NONCE_BYTES], wrapped[1 + NONCE_BYTES :]
        aad = b"avrr-data-key/1\x00" + SUBJECT.encode()
        assert ChaCha20Poly1305(MASTER).decrypt(nonce, body, aad) == DATA_KEY

    def test_two_wraps_of_the_same_key_use_different_nonces(self) -> None:
        first = wrap_key(MASTER, DATA_KEY, subject=SUBJECT)
        second = wrap_key(MASTER, DATA_KEY, subject=SUBJECT)
        assert first[1 : 1 + NONCE_BYTES] != second[1 : 1 + NONCE_BYTES]

    def test_wrong_master_key_does_not_unwrap(self) -> None:
        wrapped = wrap_key(MASTER, DATA_KEY, subject=SUBJECT)
        with pytest.raises(StoredDataUnreadable, match="wrapped key does not open"):
            unwrap_key(OTHER_MASTER, wrapped, subject=SUBJECT)

    def test_key_wrapped_for_one_subject_does_not_unwrap_for_another(self) -> None:
        wrapped = wrap_key(MASTER, DATA_KEY, subject=SUBJECT)
        with pytest.raises(StoredDataUnreadable, match="wrapped key does not open"):
            unwrap_key(MASTER, wrapped, subject=OTHER_SUBJECT)

    def test_flipped_bit_in_a_wrapped_key_is_refused(self) -> None:
        wrapped = wrap_key(MASTER, DATA_KEY, subject=SUBJECT)
        with pytest.raises(StoredDataUnreadable, match="wrapped key does not open"):
            unwrap_key(MASTER, flip(wrapped, len(wrapped) // 2), subject=SUBJECT)

    def test_unknown_version_byte_is_refused(self) -> None:
        wrapped = wrap_key(MASTER, DATA_KEY, subject=SUBJECT)
        with pytest.raises(StoredDataUnreadable, match="unknown wrapped-key format"):
            unwrap_key(MASTER, b"\x02" + wrapped[1:], subject=SUBJECT)

    def test_wrapped_key_does_not_open_as_a_stored_value(self) -> None:
        wrapped = wrap_key(MASTER, DATA_KEY, subject=SUBJECT)
        with pytest.raises(StoredDataUnreadable, match="stored value does not open"):
            open_at_rest(MASTER, wrapped, context=SUBJECT.encode())

    def test_data_key_opens_only_what_was_sealed_under_it(self) -> None:
        # Crypto-shredding in miniature: without the unwrapped key, the value cannot be read.
        wrapped = wrap_key(MASTER, DATA_KEY, subject=SUBJECT)
        sealed = seal_at_rest(
            unwrap_key(MASTER, wrapped, subject=SUBJECT), PLAINTEXT, context=CONTEXT
        )
        assert open_at_rest(DATA_KEY, sealed, context=CONTEXT) == PLAINTEXT
        other = wrap_key(MASTER, OTHER_DATA_KEY, subject=SUBJECT)
        with pytest.raises(StoredDataUnreadable):
            open_at_rest(unwrap_key(MASTER, other, subject=SUBJECT), sealed, context=CONTEXT)


class ReferenceToken:
    """What a PKCS#11 token does with its AES key (CKM_AES_GCM, 128-bit tag), done here with
    pyca/cryptography so the wrapped layout is pinned without a token."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def encrypt(self, plaintext: bytes, *, nonce: bytes, aad: bytes) -> bytes:
        return self._aead.encrypt(nonce, plaintext, aad)

    def decrypt(self, ciphertext: bytes, *, nonce: bytes, aad: bytes) -> bytes:
        try:
            return self._aead.decrypt(nonce, ciphertext, aad)
        except InvalidTag as exc:
            raise StoredDataUnreadable("wrapped key does not open") from exc


class TestWrappingInAToken:
    def test_the_layout_is_marker_nonce_and_aes_gcm_bound_to_the_subject(self) -> None:
        wrapped = wrap_key_in_token(ReferenceToken(MASTER), DATA_KEY, subject=SUBJECT)
        assert wrapped[:1] == TOKEN_VERSION != VERSION
        nonce, body = wrapped[1:13], wrapped[13:]
        aad = b"avrr-data-key/1\x00" + SUBJECT.encode()
        assert key_binding(SUBJECT) == aad
        assert AESGCM(MASTER).decrypt(nonce, body, aad) == DATA_KEY
        assert unwrap_key_in_token(ReferenceToken(MASTER), wrapped, subject=SUBJECT) == DATA_KEY

    def test_a_key_wrapped_for_one_subject_does_not_open_for_another(self) -> None:
        wrapped = wrap_key_in_token(ReferenceToken(MASTER), DATA_KEY, subject=SUBJECT)
        with pytest.raises(StoredDataUnreadable):
            unwrap_key_in_token(ReferenceToken(MASTER), wrapped, subject=OTHER_SUBJECT)
        with pytest.raises(StoredDataUnreadable):
            unwrap_key_in_token(ReferenceToken(OTHER_MASTER), wrapped, subject=SUBJECT)

    def test_a_key_wrapped_under_a_master_file_is_refused_before_the_token_sees_it(self) -> None:
        with pytest.raises(StoredDataUnreadable, match="format"):
            unwrap_key_in_token(
                ReferenceToken(MASTER), wrap_key(MASTER, DATA_KEY, subject=SUBJECT), subject=SUBJECT
            )
        with pytest.raises(StoredDataUnreadable, match="format"):
            unwrap_key_in_token(ReferenceToken(MASTER), TOKEN_VERSION + bytes(12), subject=SUBJECT)

    def test_a_flipped_bit_does_not_open(self) -> None:
        wrapped = bytearray(wrap_key_in_token(ReferenceToken(MASTER), DATA_KEY, subject=SUBJECT))
        wrapped[-1] ^= 1
        with pytest.raises(StoredDataUnreadable):
            unwrap_key_in_token(ReferenceToken(MASTER), bytes(wrapped), subject=SUBJECT)

    def test_every_wrap_takes_a_fresh_nonce(self) -> None:
        token = ReferenceToken(MASTER)
        first = wrap_key_in_token(token, DATA_KEY, subject=SUBJECT)
        assert first[1:13] != wrap_key_in_token(token, DATA_KEY, subject=SUBJECT)[1:13]
