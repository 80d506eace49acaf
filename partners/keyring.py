"""A node's own private keys, with rotation.

The keyring holds every signing and encryption key the node still needs: the newest valid one is
used for new work; older ones are kept until their ``valid_until`` so packets sealed to them stay
openable. Reading and writing key files is the gateway's job; this is the in-memory view.

Example::

    >>> ring = Keyring(signing=[sk], encryption=[ek])   # doctest: +SKIP
    >>> ring.signing_key_at(now).key_id == sk.key_id    # doctest: +SKIP
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from crypto.keys import EncryptionKey, SigningKey
from partners.errors import NoUsableKey


@dataclass(frozen=True)
class Keyring:
    signing: list[SigningKey] = field(repr=False)
    encryption: list[EncryptionKey] = field(repr=False)

    def signing_key_at(self, now: datetime) -> SigningKey:
        valid = [k for k in self.signing if k.valid_at(now)]
        if not valid:
            raise NoUsableKey("this node has no signing key valid now; rotate keys")
        return max(valid, key=lambda k: k.valid_from)

    def signing_key(self, key_id: str, now: datetime) -> SigningKey:
        """The private signing key with ``key_id`` if it is valid now."""
        for key in self.signing:
            if key.key_id == key_id and key.valid_at(now):
                return key
        raise NoUsableKey("no valid private signing key with that id")

    def encryption_key(self, key_id: str, now: datetime) -> EncryptionKey:
        """The private key with ``key_id`` if it has not reached its end."""
        for key in self.encryption:
            if key.key_id == key_id and now < key.valid_until:
                return key
        raise NoUsableKey("no usable private key with that id")
