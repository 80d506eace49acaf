"""Node keys, key ids and validity periods (``crypto.keys``).

The seed-to-public-key checks use the published test vectors of RFC 8032 (section 7.1, test 1)
and RFC 7748 (section 6.1, Alice), so the primitives are pinned to the standards.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from crypto.encoding import b64decode
from crypto.keys import (
    EncryptionKey,
    KeyUse,
    PublicKey,
    SigningKey,
    key_id_for,
    public_key_text,
)

VALID_FROM = datetime(2026, 1, 1, tzinfo=UTC)
VALID_UNTIL = datetime(2027, 1, 1, tzinfo=UTC)

RFC8032_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
RFC8032_EMPTY_SIGNATURE = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
    "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)
RFC7748_ALICE_PRIVATE = bytes.fromhex(
    "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"
)
RFC7748_ALICE_PUBLIC = bytes.fromhex(
    "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
)


def signing_key(seed: bytes = RFC8032_SEED) -> SigningKey:
    return SigningKey(seed, VALID_FROM, VALID_UNTIL)


def encryption_key(seed: bytes = RFC7748_ALICE_PRIVATE) -> EncryptionKey:
    return EncryptionKey(seed, VALID_FROM, VALID_UNTIL)


class TestKeyId:
    def test_key_id_is_truncated_sha256_of_label_use_and_public_key(self) -> None:
        preimage = b"avrr-key-id/1\x00ed25519-signing\x00" + RFC8032_PUBLIC
        expected = hashlib.sha256(preimage).digest()[:16].hex()
        assert key_id_for(KeyUse.SIGNING, RFC8032_PUBLIC) == expected

    def test_same_bytes_as_signing_and_encryption_key_have_different_ids(self) -> None:
        public = bytes(range(32))
        assert key_id_for(KeyUse.SIGNING, public) != key_id_for(KeyUse.ENCRYPTION, public)

    def test_key_id_is_32_lowercase_hex_digits(self) -> None:
        key_id = signing_key().key_id
        assert len(key_id) == 32
        assert key_id == key_id.lower()
        int(key_id, 16)

    def test_use_labels_are_the_wire_strings(self) -> None:
        assert KeyUse.SIGNING.value == "ed25519-signing"
        assert KeyUse.ENCRYPTION.value == "x25519-encryption"

    def test_private_and_public_key_share_the_id(self) -> None:
        assert signing_key().key_id == signing_key().public_key().key_id
        assert encryption_key().key_id == encryption_key().public_key().key_id


class TestSigningKey:
    def test_public_key_follows_from_the_seed_as_in_rfc_8032(self) -> None:
        public = signing_key().public_key()
        assert public.public == RFC8032_PUBLIC
        assert public.use is KeyUse.SIGNING

    def test_signature_matches_rfc_8032(self) -> None:
        assert signing_key().sign(b"") == RFC8032_EMPTY_SIGNATURE

    def test_public_key_keeps_the_validity_period(self) -> None:
        public = signing_key().public_key()
        assert (public.valid_from, public.valid_until) == (VALID_FROM, VALID_UNTIL)

    @pytest.mark.parametrize("length", [0, 31, 33, 64])
    def test_seed_of_wrong_length_is_refused(self, length: int) -> None:
        with pytest.raises(ValueError, match="32 bytes"):
            SigningKey(bytes(length), VALID_FROM, VALID_UNTIL)

    def test_validity_that_ends_when_it_starts_is_refused(self) -> None:
        with pytest.raises(ValueError, match="end after it starts"):
            SigningKey(RFC8032_SEED, VALID_FROM, VALID_FROM)

    def test_repr_does_not_show_the_seed(self) -> None:
        text = repr(signing_key())
        assert RFC8032_SEED.hex() not in text
        assert "seed" not in text

    def test_generated_keys_differ(self) -> None:
        first = SigningKey.generate(valid_from=VALID_FROM, valid_until=VALID_UNTIL)
        second = SigningKey.generate(valid_from=VALID_FROM, valid_until=VALID_UNTIL)
        assert first.key_id != second.key_id

    def test_private_key_is_valid_from_its_start_until_before_its_end(self) -> None:
        key = signing_key()
        assert key.valid_at(VALID_FROM)
        assert key.valid_at(VALID_UNTIL - timedelta(seconds=1))
        assert not key.valid_at(VALID_UNTIL)
        assert not key.valid_at(VALID_FROM - timedelta(seconds=1))


class TestEncryptionKey:
    def test_public_key_follows_from_the_seed_as_in_rfc_7748(self) -> None:
        public = encryption_key().public_key()
        assert public.public == RFC7748_ALICE_PUBLIC
        assert public.use is KeyUse.ENCRYPTION

    def test_repr_does_not_show_the_seed(self) -> None:
        text = repr(encryption_key())
        assert RFC7748_ALICE_PRIVATE.hex() not in text
        assert "seed" not in text

    def test_seed_of_wrong_length_is_refused(self) -> None:
        with pytest.raises(ValueError, match="32 bytes"):
            EncryptionKey(bytes(16), VALID_FROM, VALID_UNTIL)

    def test_validity_that_ends_before_it_starts_is_refused(self) -> None:
        with pytest.raises(ValueError, match="end after it starts"):
            EncryptionKey(RFC7748_ALICE_PRIVATE, VALID_UNTIL, VALID_FROM)

    def test_generated_keys_differ(self) -> None:
        first = EncryptionKey.generate(valid_from=VALID_FROM, valid_until=VALID_UNTIL)
        second = EncryptionKey.generate(valid_from=VALID_FROM, valid_until=VALID_UNTIL)
        assert first.key_id != second.key_id


class TestPublicKey:
    def test_valid_from_its_start_until_before_its_end(self) -> None:
        key = PublicKey(KeyUse.SIGNING, RFC8032_PUBLIC, VALID_FROM, VALID_UNTIL)
        assert key.valid_at(VALID_FROM)
        assert not key.valid_at(VALID_UNTIL)

    def test_key_id_depends_on_the_use(self) -> None:
        key = PublicKey(KeyUse.SIGNING, RFC8032_PUBLIC, VALID_FROM, VALID_UNTIL)
        assert replace(key, use=KeyUse.ENCRYPTION).key_id != key.key_id

    def test_text_form_is_unpadded_base64url_of_the_raw_key(self) -> None:
        key = signing_key().public_key()
        text = public_key_text(key)
        assert "=" not in text
        assert b64decode(text) == RFC8032_PUBLIC
