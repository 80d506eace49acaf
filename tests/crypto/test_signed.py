"""Signed documents: receipts and directories (``crypto.signed``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from crypto.encoding import b64decode, b64encode, canonical_json
from crypto.errors import InvalidSignature
from crypto.keys import EncryptionKey, SigningKey
from crypto.signed import sign_document, verify_document
from schemas.envelope import SignedDocument

VALID_FROM = datetime(2026, 1, 1, tzinfo=UTC)
VALID_UNTIL = datetime(2027, 1, 1, tzinfo=UTC)
SIGNER = SigningKey(bytes([5]) * 32, VALID_FROM, VALID_UNTIL)
OTHER = SigningKey(bytes([6]) * 32, VALID_FROM, VALID_UNTIL)
RECEIPT = "avrr-receipt/1"
DIRECTORY = "avrr-directory/1"
#: Every kind of signed document: receipts, deletion receipts, consent receipts, the directory.
CONTEXTS = [RECEIPT, "avrr-deletion-receipt/1", "avrr-consent-receipt/1", DIRECTORY]
PAYLOAD: dict[str, Any] = {"packet_id": "00" * 16, "received_at": "2026-06-01T12:00:00Z", "n": 3}


def with_fields(doc: SignedDocument, **changes: str) -> SignedDocument:
    return SignedDocument.model_validate({**doc.model_dump(), **changes})


def raw_signed(
    payload: bytes, *, context: str = RECEIPT, key: SigningKey = SIGNER
) -> SignedDocument:
    """A document over exact payload bytes, canonical or not."""
    signature = key.sign(context.encode("ascii") + b"\x00" + payload)
    return SignedDocument(
        payload=b64encode(payload), key_id=key.key_id, signature=b64encode(signature)
    )


DOC = sign_document(PAYLOAD, SIGNER, context=RECEIPT)


class TestSignDocument:
    def test_payload_is_the_canonical_json_in_base64url(self) -> None:
        assert b64decode(DOC.payload) == canonical_json(PAYLOAD)

    def test_key_id_names_the_signing_key(self) -> None:
        assert DOC.key_id == SIGNER.key_id

    def test_signature_is_ed25519_over_context_nul_payload(self) -> None:
        message = b"avrr-receipt/1\x00" + canonical_json(PAYLOAD)
        public = ed25519.Ed25519PublicKey.from_public_bytes(SIGNER.public_key().public)
        public.verify(b64decode(DOC.signature), message)

    def test_signing_is_deterministic(self) -> None:
        assert sign_document(PAYLOAD, SIGNER, context=RECEIPT) == DOC

    def test_payload_with_a_float_cannot_be_signed(self) -> None:
        with pytest.raises(ValueError, match="floats are not allowed"):
            sign_document({"a": 0.5}, SIGNER, context=RECEIPT)


class TestVerifyDocument:
    def test_document_verifies_and_yields_its_payload(self) -> None:
        assert verify_document(DOC, SIGNER.public_key(), context=RECEIPT) == PAYLOAD

    def test_document_of_another_context_is_refused(self) -> None:
        with pytest.raises(InvalidSignature, match="signature does not verify"):
            verify_document(DOC, SIGNER.public_key(), context=DIRECTORY)

    def test_document_verified_with_another_key_is_refused(self) -> None:
        with pytest.raises(InvalidSignature, match="signed by another key"):
            verify_document(DOC, OTHER.public_key(), context=RECEIPT)

    def test_key_id_claiming_another_key_does_not_help_a_forger(self) -> None:
        forged = with_fields(sign_document(PAYLOAD, OTHER, context=RECEIPT), key_id=SIGNER.key_id)
        with pytest.raises(InvalidSignature, match="signature does not verify"):
            verify_document(forged, SIGNER.public_key(), context=RECEIPT)

    def test_encryption_key_is_refused(self) -> None:
        key = EncryptionKey(bytes([5]) * 32, VALID_FROM, VALID_UNTIL).public_key()
        with pytest.raises(InvalidSignature, match="signed by another key"):
            verify_document(with_fields(DOC, key_id=key.key_id), key, context=RECEIPT)

    def test_changed_payload_is_refused(self) -> None:
        changed = with_fields(DOC, payload=b64encode(canonical_json({**PAYLOAD, "n": 4})))
        with pytest.raises(InvalidSignature, match="signature does not verify"):
            verify_document(changed, SIGNER.public_key(), context=RECEIPT)

    def test_flipped_signature_bit_is_refused(self) -> None:
        signature = bytearray(b64decode(DOC.signature))
        signature[0] ^= 0x01
        with pytest.raises(InvalidSignature, match="signature does not verify"):
            verify_document(
                with_fields(DOC, signature=b64encode(bytes(signature))),
                SIGNER.public_key(),
                context=RECEIPT,
            )

    def test_signature_of_wrong_length_is_refused(self) -> None:
        short = b64encode(b64decode(DOC.signature)[:63])
        with pytest.raises(InvalidSignature, match="signature does not verify"):
            verify_document(with_fields(DOC, signature=short), SIGNER.public_key(), context=RECEIPT)

    def test_non_canonical_payload_is_refused_even_when_signed(self) -> None:
        doc = raw_signed(b'{"n": 3}')
        with pytest.raises(InvalidSignature, match="signature does not verify"):
            verify_document(doc, SIGNER.public_key(), context=RECEIPT)

    def test_payload_in_base64url_with_non_zero_trailing_bits_is_refused(self) -> None:
        doc = raw_signed(b"{}")  # "e30" encodes b"{}"; "e31" decodes the same with a stray bit.
        assert doc.payload == "e30"
        with pytest.raises(InvalidSignature, match="signature does not verify"):
            verify_document(with_fields(doc, payload="e31"), SIGNER.public_key(), context=RECEIPT)

    @pytest.mark.parametrize("signed_as", CONTEXTS)
    @pytest.mark.parametrize("checked_as", CONTEXTS)
    def test_each_document_kind_verifies_only_as_itself(
        self, signed_as: str, checked_as: str
    ) -> None:
        doc = sign_document(PAYLOAD, SIGNER, context=signed_as)
        if signed_as == checked_as:
            assert verify_document(doc, SIGNER.public_key(), context=checked_as) == PAYLOAD
        else:
            with pytest.raises(InvalidSignature, match="signature does not verify"):
                verify_document(doc, SIGNER.public_key(), context=checked_as)

    def test_envelope_signature_context_is_not_a_document_context(self) -> None:
        # A document signed under the envelope's context string still verifies only under it.
        doc = sign_document(PAYLOAD, SIGNER, context="avrr-envelope/1 signature")
        with pytest.raises(InvalidSignature, match="signature does not verify"):
            verify_document(doc, SIGNER.public_key(), context=RECEIPT)
