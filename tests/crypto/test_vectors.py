"""The known-answer vectors in ``tests/vectors/envelope-v1.json`` against the crypto layer.

The positive vector is checked value by value (key ids, header bytes, pseudonym, HPKE key schedule,
signature byte for byte, plaintext); every negative vector is run through the receiver's procedure
(stated in the file) and must be refused at the stated stage for the stated reason.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import struct
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from pydantic import ValidationError

from crypto.encoding import b64decode, b64encode, canonical_json
from crypto.envelope import (
    HPKE_INFO_CONTEXT,
    SIGNATURE_CONTEXT,
    check_times,
    envelope_digest,
    header_bytes,
    open_sealed,
    parse,
    seal,
    verify,
)
from crypto.errors import InvalidEnvelope, RejectReason
from crypto.keys import EncryptionKey, KeyUse, PublicKey, SigningKey, key_id_for
from crypto.pseudonym import subject_pseudonym
from crypto.signed import sign_document, verify_document
from schemas.envelope import EnvelopeHeader, SignedDocument, WireEnvelope
from schemas.sections import ReferralContent

VECTORS_DIR = Path(__file__).resolve().parents[1] / "vectors"
VECTORS: dict[str, Any] = json.loads((VECTORS_DIR / "envelope-v1.json").read_text("utf-8"))
POSITIVE: dict[str, Any] = VECTORS["positive"]
NEGATIVE: list[dict[str, Any]] = VECTORS["negative"]
HEADER_FIELDS = list(EnvelopeHeader.model_fields)


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_vectors", VECTORS_DIR / "make_vectors.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _seed(name: str) -> bytes:
    return bytes.fromhex(VECTORS["keys"][name]["seed_hex"])


def _validity(name: str) -> tuple[datetime, datetime]:
    entry = VECTORS["keys"][name]
    return _time(entry["valid_from"]), _time(entry["valid_until"])


def _signing(name: str) -> SigningKey:
    return SigningKey(_seed(name), *_validity(name))


def _encryption(name: str) -> EncryptionKey:
    return EncryptionKey(_seed(name), *_validity(name))


SENDER = _signing("sender_signing")
RECIPIENT = _encryption("recipient_encryption")
HEADER = b64decode(POSITIVE["header_b64url"])
CIPHERTEXT = b64decode(POSITIVE["ciphertext_b64url"])
SIGNATURE = b64decode(POSITIVE["signature_b64url"])
PLAINTEXT = b64decode(POSITIVE["plaintext_b64url"])


def run_procedure(wire: dict[str, Any], now: datetime) -> tuple[str, bytes]:
    """The receiver's procedure of the vector file; returns the plaintext or raises ``Refused``."""
    acceptance = VECTORS["acceptance"]
    stage = "body"
    try:
        envelope = WireEnvelope.model_validate(wire)
        stage = "parse"
        sealed = parse(envelope)
        stage = "verify"
        verify(sealed, SENDER.public_key())
        stage = "times"
        check_times(
            sealed.header,
            now=now,
            window=timedelta(seconds=acceptance["window_seconds"]),
            skew=timedelta(seconds=acceptance["skew_seconds"]),
        )
        stage = "open"
        return stage, open_sealed(sealed, RECIPIENT)
    except ValidationError as exc:
        # As the inbox does: a body that is not a wire envelope is malformed.
        raise Refused(stage, RejectReason.MALFORMED) from exc
    except InvalidEnvelope as exc:
        raise Refused(stage, exc.reason) from exc


class Refused(Exception):
    def __init__(self, stage: str, reason: RejectReason) -> None:
        super().__init__(f"{stage}: {reason.value}")
        self.stage = stage
        self.reason = reason


class TestVectorFile:
    def test_script_regenerates_the_stored_file_byte_for_byte(self) -> None:
        generator = _load_generator()
        stored_text = (VECTORS_DIR / "envelope-v1.json").read_text("utf-8")
        assert generator.render(generator.build(VECTORS)) == stored_text

    def test_every_header_field_has_a_tampering_vector(self) -> None:
        names = {item["name"] for item in NEGATIVE}
        for field in HEADER_FIELDS:
            assert f"header_{field}_changed" in names
            assert f"header_{field}_changed_and_resigned_by_sender" in names

    def test_every_reason_a_lone_envelope_can_earn_is_exercised(self) -> None:
        reasons = {item["expected_reason"] for item in NEGATIVE}
        assert reasons == {
            RejectReason.MALFORMED.value,
            RejectReason.NOT_CANONICAL.value,
            RejectReason.UNKNOWN_SIGNING_KEY.value,
            RejectReason.SIGNING_KEY_NOT_VALID.value,
            RejectReason.BAD_SIGNATURE.value,
            RejectReason.FROM_THE_FUTURE.value,
            RejectReason.STALE.value,
            RejectReason.PAST_DELETE_BY.value,
            RejectReason.UNKNOWN_RECIPIENT_KEY.value,
            RejectReason.DECRYPTION_FAILED.value,
        }

    def test_transfer_ground_rules_have_vectors(self) -> None:
        by_name = {item["name"]: item for item in NEGATIVE}
        expected = {
            "referral_without_transfer_ground": ("parse", RejectReason.MALFORMED),
            "referral_with_null_transfer_ground": ("parse", RejectReason.MALFORMED),
            "non_referral_without_transfer_ground_member": ("parse", RejectReason.NOT_CANONICAL),
            "header_transfer_ground_changed": ("verify", RejectReason.BAD_SIGNATURE),
            "header_transfer_ground_changed_and_resigned_by_sender": (
                "open",
                RejectReason.DECRYPTION_FAILED,
            ),
        }
        for name, (stage, reason) in expected.items():
            assert (by_name[name]["stage"], by_name[name]["expected_reason"]) == (
                stage,
                reason.value,
            )

    def test_section_delete_by_rules_have_vectors(self) -> None:
        by_name = {item["name"]: item for item in NEGATIVE}
        expected = {
            "referral_without_section_delete_by": ("parse", RejectReason.MALFORMED),
            "referral_with_null_section_delete_by": ("parse", RejectReason.MALFORMED),
            "section_delete_by_missing_a_section": ("parse", RejectReason.MALFORMED),
            "section_delete_by_keys_not_matching_sections": ("parse", RejectReason.MALFORMED),
            "section_delete_by_with_a_section_not_sent": ("parse", RejectReason.MALFORMED),
            "section_delete_by_at_created_at": ("parse", RejectReason.MALFORMED),
            "delete_by_not_the_latest_section_date": ("parse", RejectReason.MALFORMED),
            "section_delete_by_time_with_fraction": ("parse", RejectReason.NOT_CANONICAL),
            "non_referral_without_section_delete_by_member": (
                "parse",
                RejectReason.NOT_CANONICAL,
            ),
            "non_referral_with_null_section_delete_by_resigned_by_sender": (
                "open",
                RejectReason.DECRYPTION_FAILED,
            ),
            "section_delete_by_date_tampered": ("verify", RejectReason.BAD_SIGNATURE),
            "header_section_delete_by_changed": ("verify", RejectReason.BAD_SIGNATURE),
            "header_section_delete_by_changed_and_resigned_by_sender": (
                "open",
                RejectReason.DECRYPTION_FAILED,
            ),
        }
        for name, (stage, reason) in expected.items():
            assert (by_name[name]["stage"], by_name[name]["expected_reason"]) == (
                stage,
                reason.value,
            )

    def test_negative_vector_names_are_unique(self) -> None:
        names = [item["name"] for item in NEGATIVE]
        assert len(names) == len(set(names))


class TestPositiveVectorKeys:
    @pytest.mark.parametrize("name", sorted(VECTORS["keys"]))
    def test_public_key_follows_from_the_seed(self, name: str) -> None:
        entry = VECTORS["keys"][name]
        seed = bytes.fromhex(entry["seed_hex"])
        if entry["use"] == KeyUse.SIGNING.value:
            public = (
                ed25519.Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
            )
        else:
            public = (
                x25519.X25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
            )
        assert public.hex() == entry["public_hex"]

    @pytest.mark.parametrize("name", sorted(VECTORS["keys"]))
    def test_key_id_is_the_labelled_truncated_sha256(self, name: str) -> None:
        entry = VECTORS["keys"][name]
        public = bytes.fromhex(entry["public_hex"])
        preimage = b"avrr-key-id/1\x00" + entry["use"].encode("ascii") + b"\x00" + public
        assert hashlib.sha256(preimage).digest()[:16].hex() == entry["key_id"]
        assert key_id_for(KeyUse(entry["use"]), public) == entry["key_id"]


class TestPositiveVector:
    def test_header_model_encodes_to_the_stored_bytes(self) -> None:
        header = EnvelopeHeader.model_validate(POSITIVE["header"])
        assert header_bytes(header) == HEADER
        assert canonical_json(POSITIVE["header"]) == HEADER

    def test_referral_header_states_its_transfer_ground(self) -> None:
        assert POSITIVE["header"]["kind"] == "referral"
        assert POSITIVE["header"]["transfer_ground"] == "explicit_consent_informed_of_risks"

    def test_referral_header_dates_each_section_and_delete_by_is_the_latest(self) -> None:
        header = POSITIVE["header"]
        dates = header["section_delete_by"]
        assert sorted(dates) == header["sections"] == ["arrival", "travel"]
        assert len(set(dates.values())) == 2, "the vector gives its sections different dates"
        assert max(_time(d) for d in dates.values()) == _time(header["delete_by"])
        assert all(_time(d) > _time(header["created_at"]) for d in dates.values())

    def test_header_names_the_vector_keys(self) -> None:
        header = POSITIVE["header"]
        assert header["sender_key_id"] == VECTORS["keys"]["sender_signing"]["key_id"]
        assert header["recipient_key_id"] == VECTORS["keys"]["recipient_encryption"]["key_id"]

    def test_subject_is_the_pseudonym_of_the_stored_inputs(self) -> None:
        entry = VECTORS["pseudonym"]
        secret = bytes.fromhex(entry["secret_hex"])
        pseudonym = subject_pseudonym(
            secret, subject_id=entry["subject_id"], recipient=entry["recipient"]
        )
        assert pseudonym == entry["pseudonym_hex"] == POSITIVE["header"]["subject"]
        assert entry["recipient"] == POSITIVE["header"]["recipient"]
        message = entry["message_utf8"].encode("utf-8")
        assert canonical_json(["avrr-pseudonym/1", entry["subject_id"], entry["recipient"]]) == (
            message
        )

    def test_hpke_info_is_the_context_then_the_header(self) -> None:
        info = bytes.fromhex(POSITIVE["hpke"]["info_hex"])
        assert info == b"avrr-envelope/1 hpke\x00" + HEADER
        assert info == HPKE_INFO_CONTEXT + HEADER

    def test_signed_message_is_context_length_header_ciphertext(self) -> None:
        expected = b"avrr-envelope/1 signature\x00" + struct.pack(">I", len(HEADER)) + HEADER
        message = bytes.fromhex(POSITIVE["signed_message_hex"])
        assert message == expected + CIPHERTEXT
        assert message.startswith(SIGNATURE_CONTEXT)

    def test_signature_over_header_and_ciphertext_is_reproduced_byte_for_byte(self) -> None:
        message = bytes.fromhex(POSITIVE["signed_message_hex"])
        assert SENDER.sign(message) == SIGNATURE

    def test_signature_verifies_under_the_raw_public_key(self) -> None:
        public = bytes.fromhex(VECTORS["keys"]["sender_signing"]["public_hex"])
        message = bytes.fromhex(POSITIVE["signed_message_hex"])
        ed25519.Ed25519PublicKey.from_public_bytes(public).verify(SIGNATURE, message)

    def test_wire_carries_the_three_byte_strings(self) -> None:
        assert POSITIVE["wire"] == {
            "header": POSITIVE["header_b64url"],
            "ciphertext": POSITIVE["ciphertext_b64url"],
            "signature": POSITIVE["signature_b64url"],
        }

    def test_stored_envelope_opens_to_the_exact_plaintext(self) -> None:
        stage, plaintext = run_procedure(POSITIVE["wire"], _time(VECTORS["acceptance"]["now"]))
        assert stage == "open"
        assert plaintext == PLAINTEXT
        assert plaintext.decode("utf-8") == POSITIVE["plaintext_utf8"]

    @pytest.mark.parametrize("now", POSITIVE["accepted_at"])
    def test_stored_envelope_is_accepted_at_each_listed_time(self, now: str) -> None:
        assert run_procedure(POSITIVE["wire"], _time(now))[1] == PLAINTEXT

    def test_plaintext_is_a_referral_with_the_headers_sections(self) -> None:
        content = ReferralContent.model_validate_json(PLAINTEXT)
        assert sorted(content.section_names()) == POSITIVE["header"]["sections"]
        assert canonical_json(content.to_wire()) == PLAINTEXT

    def test_ciphertext_is_enc_then_sealed_plaintext_then_tag(self) -> None:
        assert len(CIPHERTEXT) == 32 + len(PLAINTEXT) + 16
        assert CIPHERTEXT[:32].hex() == POSITIVE["hpke"]["enc_hex"]

    def test_ciphertext_opens_with_the_published_hpke_key_and_nonce(self) -> None:
        hpke = POSITIVE["hpke"]
        aead = ChaCha20Poly1305(bytes.fromhex(hpke["key_hex"]))
        nonce = bytes.fromhex(hpke["base_nonce_hex"])
        assert aead.decrypt(nonce, CIPHERTEXT[32:], bytes.fromhex(hpke["aad_hex"])) == PLAINTEXT

    def test_hpke_key_schedule_follows_rfc_9180_from_enc_and_the_recipient_key(self) -> None:
        hpke = POSITIVE["hpke"]
        assert (hpke["mode"], hpke["kem_id"], hpke["kdf_id"], hpke["aead_id"]) == (0, 32, 1, 3)
        schedule = _load_generator().hpke_base_schedule(
            _seed("recipient_encryption"), CIPHERTEXT[:32], bytes.fromhex(hpke["info_hex"])
        )
        assert schedule["shared_secret"].hex() == hpke["shared_secret_hex"]
        assert schedule["key"].hex() == hpke["key_hex"]
        assert schedule["base_nonce"].hex() == hpke["base_nonce_hex"]

    def test_envelope_digest_is_sha256_of_the_canonical_wire_json(self) -> None:
        wire = POSITIVE["wire"]
        assert hashlib.sha256(canonical_json(wire)).hexdigest() == POSITIVE["envelope_sha256"]
        assert envelope_digest(WireEnvelope.model_validate(wire)) == POSITIVE["envelope_sha256"]

    def test_fresh_seal_of_the_same_inputs_round_trips_and_keeps_the_header_bytes(self) -> None:
        header = EnvelopeHeader.model_validate(POSITIVE["header"])
        sealed = seal(header, PLAINTEXT, signing_key=SENDER, recipient_key=RECIPIENT.public_key())
        assert sealed.header_bytes == HEADER
        # HPKE draws a fresh ephemeral key, which is why the vector stores its ciphertext.
        assert sealed.ciphertext[:32] != CIPHERTEXT[:32]
        wire = sealed.wire().model_dump()
        assert run_procedure(wire, _time(VECTORS["acceptance"]["now"]))[1] == PLAINTEXT


class TestReceiptVector:
    def _recipient_public(self) -> PublicKey:
        return _signing(VECTORS["receipt"]["signer"]).public_key()

    def test_receipt_acknowledges_the_positive_envelope(self) -> None:
        payload = VECTORS["receipt"]["payload"]
        assert payload["envelope_sha256"] == POSITIVE["envelope_sha256"]
        assert payload["packet_id"] == POSITIVE["header"]["packet_id"]

    def test_receipt_signature_is_reproduced_byte_for_byte(self) -> None:
        receipt = VECTORS["receipt"]
        key = _signing(receipt["signer"])
        document = sign_document(receipt["payload"], key, context=receipt["context"])
        assert document.model_dump() == receipt["document"]

    def test_receipt_signed_message_is_context_nul_canonical_payload(self) -> None:
        receipt = VECTORS["receipt"]
        payload = b64decode(receipt["document"]["payload"])
        assert payload == canonical_json(receipt["payload"])
        expected = receipt["context"].encode("ascii") + b"\x00" + payload
        assert bytes.fromhex(receipt["signed_message_hex"]) == expected

    def test_receipt_verifies_and_yields_its_payload(self) -> None:
        receipt = VECTORS["receipt"]
        document = SignedDocument.model_validate(receipt["document"])
        payload = verify_document(document, self._recipient_public(), context=receipt["context"])
        assert payload == receipt["payload"]


def _negative_id(item: dict[str, Any]) -> str:
    return str(item["name"])


class TestNegativeVectors:
    @pytest.mark.parametrize("item", NEGATIVE, ids=_negative_id)
    def test_vector_is_refused_at_its_stage_for_its_reason(self, item: dict[str, Any]) -> None:
        now = _time(item.get("now", VECTORS["acceptance"]["now"]))
        with pytest.raises(Refused) as caught:
            run_procedure(item["wire"], now)
        assert (caught.value.stage, caught.value.reason.value) == (
            item["stage"],
            item["expected_reason"],
        )

    @pytest.mark.parametrize(
        "item",
        [i for i in NEGATIVE if i["stage"] == "body" and set(i["wire"]) == set(POSITIVE["wire"])],
        ids=_negative_id,
    )
    def test_bad_base64url_is_refused_by_parse_even_without_the_wire_schema(
        self, item: dict[str, Any]
    ) -> None:
        unchecked = WireEnvelope.model_construct(**item["wire"])
        with pytest.raises(InvalidEnvelope) as caught:
            parse(unchecked)
        assert caught.value.reason is RejectReason.MALFORMED

    @pytest.mark.parametrize("item", NEGATIVE, ids=_negative_id)
    def test_refusal_says_nothing_outward(self, item: dict[str, Any]) -> None:
        now = _time(item.get("now", VECTORS["acceptance"]["now"]))
        with pytest.raises(Refused) as caught:
            run_procedure(item["wire"], now)
        cause = caught.value.__cause__
        if isinstance(cause, InvalidEnvelope):
            assert str(cause) == "envelope rejected"

    @pytest.mark.parametrize(
        "item",
        [i for i in NEGATIVE if i["stage"] not in ("body", "parse")],
        ids=_negative_id,
    )
    def test_vector_refused_after_parsing_differs_from_the_positive_only_as_described(
        self, item: dict[str, Any]
    ) -> None:
        # Guards the vectors themselves: each must parse, so its refusal is about what it claims.
        sealed = parse(WireEnvelope.model_validate(item["wire"]))
        assert b64encode(sealed.header_bytes) == item["wire"]["header"]
