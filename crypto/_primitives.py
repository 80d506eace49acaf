"""The only module that calls cryptographic primitives. Handle with care.

Everything here is a thin, typed wrapper over pyca/cryptography:
- Ed25519 (RFC 8032) for signatures;
- HPKE (RFC 9180) base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305 for
  encryption to one recipient; the caller's ``info`` is bound into the key schedule, so a ciphertext
  opens only with the exact same ``info`` bytes;
- ChaCha20-Poly1305 (RFC 8439) with a random 96-bit nonce, for data at rest under keys that each
  protect little data (one person's sections), far below the random-nonce limits;
- SHA-256 and HMAC-SHA256.

Callers outside ``crypto/`` use the recipes in ``crypto.envelope`` and ``crypto.signed`` instead.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidSignature as _CryptoInvalidSignature
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)

#: HPKE adds the 32-byte encapsulated key and a 16-byte tag to every plaintext.
HPKE_OVERHEAD = 32 + 16
RAW_KEY_BYTES = 32


class PrimitiveFailure(Exception):
    """A signature did not verify or a ciphertext did not open. Carries no detail on purpose."""


def new_signing_seed() -> bytes:
    return ed25519.Ed25519PrivateKey.generate().private_bytes_raw()


def new_encryption_seed() -> bytes:
    return x25519.X25519PrivateKey.generate().private_bytes_raw()


def signing_public(seed: bytes) -> bytes:
    return ed25519.Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()


def encryption_public(seed: bytes) -> bytes:
    return x25519.X25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()


class Signer:
    """An Ed25519 private key loaded once, for a key that signs many times."""

    __slots__ = ("_key", "public")

    def __init__(self, seed: bytes) -> None:
        self._key = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
        self.public = self._key.public_key().public_bytes_raw()

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def __repr__(self) -> str:
        return "Signer(<private>)"


def signer(seed: bytes) -> Signer:
    return Signer(seed)


def ed25519_verify(public: bytes, signature: bytes, message: bytes) -> None:
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (_CryptoInvalidSignature, ValueError) as exc:
        raise PrimitiveFailure from exc


def hpke_seal(recipient_public: bytes, plaintext: bytes, info: bytes) -> bytes:
    """``enc || ciphertext || tag`` for one recipient, bound to ``info``."""
    public = x25519.X25519PublicKey.from_public_bytes(recipient_public)
    return _SUITE.encrypt(plaintext, public, info=info)


def x25519_key_usable(public: bytes) -> bool:
    """False for what is not an X25519 public key any honest party holds: not 32 bytes, or a
    point of small order (all zeros, say), with which every shared secret is all zeros."""
    try:
        peer = x25519.X25519PublicKey.from_public_bytes(public)
        x25519.X25519PrivateKey.generate().exchange(peer)
    except ValueError:
        return False
    return True


def hpke_open(recipient_seed: bytes, sealed: bytes, info: bytes) -> bytes:
    private = x25519.X25519PrivateKey.from_private_bytes(recipient_seed)
    try:
        return _SUITE.decrypt(sealed, private, info=info)
    except (InvalidTag, ValueError) as exc:
        raise PrimitiveFailure from exc


AEAD_NONCE_BYTES = 12


def new_symmetric_key() -> bytes:
    return ChaCha20Poly1305.generate_key()


def aead_seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """``nonce || ciphertext || tag`` with a fresh random nonce."""
    nonce = os.urandom(AEAD_NONCE_BYTES)
    return nonce + ChaCha20Poly1305(key).encrypt(nonce, plaintext, aad)


def aead_open(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    nonce, body = sealed[:AEAD_NONCE_BYTES], sealed[AEAD_NONCE_BYTES:]
    try:
        return ChaCha20Poly1305(key).decrypt(nonce, body, aad)
    except (InvalidTag, ValueError) as exc:
        raise PrimitiveFailure from exc


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def ed25519_public_key_object(public: bytes) -> ed25519.Ed25519PublicKey:
    """For libraries (JOSE) that want a key object rather than bytes."""
    return ed25519.Ed25519PublicKey.from_public_bytes(public)


def ed25519_private_key_object(seed: bytes) -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.from_private_bytes(seed)


def raw_public(key: ed25519.Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)
