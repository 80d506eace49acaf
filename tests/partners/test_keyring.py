"""A node's own keys: the newest valid signing key signs; an encryption key opens until its end."""

from __future__ import annotations

from datetime import timedelta

import pytest

from partners.errors import NoUsableKey
from partners.keyring import Keyring
from tests.support.builders import NOW, encryption_key, signing_key


class TestSigningKeyAt:
    def test_newest_valid_signing_key_is_chosen(self) -> None:
        older = signing_key(
            valid_from=NOW - timedelta(days=200), valid_until=NOW + timedelta(days=10)
        )
        newest = signing_key(valid_from=NOW - timedelta(days=1))
        upcoming = signing_key(valid_from=NOW + timedelta(seconds=1))
        ring = Keyring(signing=[older, upcoming, newest], encryption=[])

        assert ring.signing_key_at(NOW) is newest

    def test_expired_signing_key_is_not_chosen(self) -> None:
        current = signing_key(valid_from=NOW - timedelta(days=200))
        expired = signing_key(valid_from=NOW - timedelta(days=30), valid_until=NOW)
        ring = Keyring(signing=[expired, current], encryption=[])

        assert ring.signing_key_at(NOW) is current

    def test_no_valid_signing_key_raises_no_usable_key(self) -> None:
        expired = signing_key(valid_from=NOW - timedelta(days=30), valid_until=NOW)
        upcoming = signing_key(valid_from=NOW + timedelta(days=1))
        ring = Keyring(signing=[expired, upcoming], encryption=[])

        with pytest.raises(NoUsableKey):
            ring.signing_key_at(NOW)

    def test_empty_keyring_raises_no_usable_key(self) -> None:
        with pytest.raises(NoUsableKey):
            Keyring(signing=[], encryption=[]).signing_key_at(NOW)


class TestSigningKeyById:
    def test_valid_signing_key_is_found_by_id(self) -> None:
        key = signing_key()
        ring = Keyring(signing=[signing_key(), key], encryption=[])

        assert ring.signing_key(key.key_id, NOW) is key

    def test_signing_key_past_its_end_is_not_found(self) -> None:
        ended = signing_key(valid_from=NOW - timedelta(days=30), valid_until=NOW)
        ring = Keyring(signing=[signing_key(), ended], encryption=[])

        with pytest.raises(NoUsableKey):
            ring.signing_key(ended.key_id, NOW)

    def test_unknown_signing_key_id_is_not_found(self) -> None:
        ring = Keyring(signing=[signing_key()], encryption=[])

        with pytest.raises(NoUsableKey):
            ring.signing_key(signing_key().key_id, NOW)


class TestEncryptionKey:
    def test_key_is_found_by_id(self) -> None:
        key = encryption_key()
        ring = Keyring(signing=[], encryption=[encryption_key(), key])

        assert ring.encryption_key(key.key_id, NOW) is key

    def test_unknown_key_id_raises_no_usable_key(self) -> None:
        ring = Keyring(signing=[], encryption=[encryption_key()])

        with pytest.raises(NoUsableKey):
            ring.encryption_key(encryption_key().key_id, NOW)

    def test_rotated_out_key_stays_usable_until_its_end(self) -> None:
        # A newer key exists, but packets already sealed to the old one must still open.
        old = encryption_key(
            valid_from=NOW - timedelta(days=90), valid_until=NOW + timedelta(days=7)
        )
        new = encryption_key(valid_from=NOW - timedelta(days=1))
        ring = Keyring(signing=[], encryption=[new, old])

        assert ring.encryption_key(old.key_id, old.valid_until - timedelta(seconds=1)) is old

    def test_key_is_not_usable_at_its_end(self) -> None:
        old = encryption_key(
            valid_from=NOW - timedelta(days=90), valid_until=NOW + timedelta(days=7)
        )
        ring = Keyring(signing=[], encryption=[encryption_key(), old])

        with pytest.raises(NoUsableKey):
            ring.encryption_key(old.key_id, old.valid_until)

    def test_key_is_not_usable_after_its_end(self) -> None:
        old = encryption_key(
            valid_from=NOW - timedelta(days=90), valid_until=NOW - timedelta(days=1)
        )
        ring = Keyring(signing=[], encryption=[encryption_key(), old])

        with pytest.raises(NoUsableKey):
            ring.encryption_key(old.key_id, NOW)

    def test_private_keys_do_not_appear_in_repr(self) -> None:
        key = encryption_key()
        ring = Keyring(signing=[signing_key()], encryption=[key])

        assert key.seed.hex() not in repr(ring)
        assert "seed" not in repr(ring)
