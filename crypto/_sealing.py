"""The one construction envelopes and bundles share: header bytes ``H`` bound into an HPKE seal to
the recipient, and an Ed25519 signature over both (``docs/protocol.md``, sections 5 and 6c).

Each format brings its own two context strings, so a signature or a ciphertext of one can never
pass for the other. Failures raise ``_primitives.PrimitiveFailure``; the callers turn them into
their format's refusal.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from crypto import _primitives
from crypto.keys import EncryptionKey, KeyUse, PublicKey, SigningKey


@dataclass(frozen=True)
class Contexts:
    #: Prefixes the HPKE ``info`` (then ``H``).
    hpke_info: bytes
    #: Prefixes the signed message (then ``u32be(len(H)) || H || C``).
    signature: bytes

    def signed_message(self, header: bytes, ciphertext: bytes) -> bytes:
        return self.signature + struct.pack(">I", len(header)) + header + ciphertext


def seal_and_sign(
    contexts: Contexts,
    header: bytes,
    plaintext: bytes,
    *,
    signing_key: SigningKey,
    recipient_key: PublicKey,
) -> tuple[bytes, bytes]:
    """``(C, S)``: ``plaintext`` sealed to ``recipient_key`` under ``header``, and the sender's
    signature over both."""
    if recipient_key.use is not KeyUse.ENCRYPTION:
        raise ValueError("sealing needs an encryption key")
    ciphertext = _primitives.hpke_seal(recipient_key.public, plaintext, contexts.hpke_info + header)
    return ciphertext, signing_key.sign(contexts.signed_message(header, ciphertext))


def check_signature(
    contexts: Contexts, header: bytes, ciphertext: bytes, signature: bytes, key: PublicKey
) -> None:
    """Raise ``PrimitiveFailure`` unless ``key`` signed ``header`` and ``ciphertext``."""
    _primitives.ed25519_verify(key.public, signature, contexts.signed_message(header, ciphertext))


def open_with(contexts: Contexts, header: bytes, ciphertext: bytes, key: EncryptionKey) -> bytes:
    """The plaintext, if ``ciphertext`` opens under ``header`` with ``key``; else
    ``PrimitiveFailure``."""
    return _primitives.hpke_open(key.seed, ciphertext, contexts.hpke_info + header)
