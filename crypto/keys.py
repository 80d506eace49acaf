"""Node keys: Ed25519 for signing, X25519 for encryption, each with a key id and a validity period.

A key id is the first 16 bytes of SHA-256 over a label and the raw public key, in hex; the label
keeps a signing key and an encryption key from ever sharing an id. Private parts never appear in a
``repr`` and are only written by ``gateway`` into files readable by the node's user alone.

Example::

    >>> from datetime import datetime, UTC
    >>> k = SigningKey.generate(valid_from=datetime(2026, 1, 1, tzinfo=UTC),
    ...                         valid_until=datetime(2027, 1, 1, tzinfo=UTC))
    >>> len(k.key_id)
    32
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cached_property

from crypto import _primitives
from crypto.encoding import b64encode


class KeyUse(StrEnum):
    SIGNING = "ed25519-signing"
    ENCRYPTION = "x25519-encryption"


def key_id_for(use: KeyUse, public: bytes) -> str:
    return _primitives.sha256(b"avrr-key-id/1\x00" + use.value.encode() + b"\x00" + public)[
        :16
    ].hex()


@dataclass(frozen=True)
class PublicKey:
    """A public key as the directory lists it."""

    use: KeyUse
    public: bytes
    valid_from: datetime
    valid_until: datetime

    @property
    def key_id(self) -> str:
        return key_id_for(self.use, self.public)

    def valid_at(self, when: datetime) -> bool:
        return self.valid_from <= when < self.valid_until

    @property
    def usable(self) -> bool:
        """Whether the bytes can be this use's key: an encryption key must be an X25519 point
        of full order (sealing to a small-order point would leak everything)."""
        if len(self.public) != _primitives.RAW_KEY_BYTES:
            return False
        return self.use is not KeyUse.ENCRYPTION or _primitives.x25519_key_usable(self.public)


@dataclass(frozen=True)
class _PrivateKey:
    seed: bytes = field(repr=False)
    valid_from: datetime
    valid_until: datetime

    def __post_init__(self) -> None:
        if len(self.seed) != _primitives.RAW_KEY_BYTES:
            raise ValueError("a private key seed is 32 bytes")
        if self.valid_until <= self.valid_from:
            raise ValueError("a key's validity must end after it starts")

    def valid_at(self, when: datetime) -> bool:
        return self.valid_from <= when < self.valid_until


@dataclass(frozen=True)
class SigningKey(_PrivateKey):
    """An Ed25519 private key with its validity period."""

    @classmethod
    def generate(cls, *, valid_from: datetime, valid_until: datetime) -> SigningKey:
        return cls(_primitives.new_signing_seed(), valid_from, valid_until)

    @cached_property
    def _signer(self) -> _primitives.Signer:
        # Loading the key from its seed costs as much as a signature; do it once per key.
        return _primitives.signer(self.seed)

    def public_key(self) -> PublicKey:
        public = self._signer.public
        return PublicKey(KeyUse.SIGNING, public, self.valid_from, self.valid_until)

    @property
    def key_id(self) -> str:
        return self.public_key().key_id

    def sign(self, message: bytes) -> bytes:
        return self._signer.sign(message)


@dataclass(frozen=True)
class EncryptionKey(_PrivateKey):
    """An X25519 private key with its validity period."""

    @classmethod
    def generate(cls, *, valid_from: datetime, valid_until: datetime) -> EncryptionKey:
        return cls(_primitives.new_encryption_seed(), valid_from, valid_until)

    def public_key(self) -> PublicKey:
        public = _primitives.encryption_public(self.seed)
        return PublicKey(KeyUse.ENCRYPTION, public, self.valid_from, self.valid_until)

    @property
    def key_id(self) -> str:
        return self.public_key().key_id


def public_key_text(key: PublicKey) -> str:
    return b64encode(key.public)
