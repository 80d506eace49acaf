"""The known-answer vectors in ``tests/vectors/bundle-v1.json`` against ``crypto.bundle``.

The positive bundle is checked value by value (header bytes, HPKE key schedule, the signed message
and the signature byte for byte, the file, the content it opens to, the envelopes and the answer
inside); every negative vector is run through the recipient's procedure (stated in the file) and
must be refused at the stated stage for the stated reason.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import struct
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from crypto.bundle import (
    HPKE_INFO_CONTEXT,
    SIGNATURE_CONTEXT,
    BundleRejectReason,
    InvalidBundle,
    bundle_header_bytes,
    content_bytes,
    open_bundle,
    parse_bundle,
    seal_bundle,
    verify_bundle,
)
from crypto.encoding import b64decode, b64encode, canonical_json
from crypto.envelope import open_sealed, parse, verify
from crypto.keys import EncryptionKey, SigningKey
from crypto.signed import verify_document
from schemas.envelope import (
    BundleContent,
    BundleHeader,
    DeliveryReceipt,
    SignedDocument,
    WireEnvelope,
)

VECTORS_DIR = Path(__file__).resolve().parents[1] / "vectors"
VECTORS: dict[str, Any] = json.loads((VECTORS_DIR / "bundle-v1.json").read_text("utf-8"))
ENVELOPES: dict[str, Any] = json.loads((VECTORS_DIR / "envelope-v1.json").read_text("utf-8"))
BATCH: dict[str, Any] = json.loads((VECTORS_DIR / "batch-v1.json").read_text("utf-8"))
POSITIVE: dict[str, Any] = VECTORS["positive"]
NEGATIVE: list[dict[str, Any]] = VECTORS["negative"]


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_bundle_vectors", VECTORS_DIR / "make_bundle_vectors.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _key_args(name: str) -> tuple[bytes, datetime, datetime]:
    entry = VECTORS["keys"][name]
    return (
        bytes.fromhex(entry["seed_hex"]),
        datetime.fromisoformat(entry["valid_from"]),
        datetime.fromisoformat(entry["valid_until"]),
    )


SENDER = SigningKey(*_key_args("sender_signing"))
RECIPIENT = EncryptionKey(*_key_args("recipient_encryption"))
HEADER = b64decode(POSITIVE["header_b64url"])
CIPHERTEXT = b64decode(POSITIVE["ciphertext_b64url"])
SIGNATURE = b64decode(POSITIVE["signature_b64url"])
CONTENT = POSITIVE["content_utf8"].encode("utf-8")
FILE = POSITIVE["file_utf8"].encode("utf-8")


class Refused(Exception):
    def __init__(self, stage: str, reason: BundleRejectReason) -> None:
        super().__init__(f"{stage}: {reason.value}")
        self.stage = stage
        self.reason = reason


def run_procedure(data: bytes) -> BundleContent:
    """The recipient's procedure of the vector file; returns the content or raises ``Refused``."""
    stage = "file"
    try:
        sealed = parse_bundle(data)
        stage = "verify"
        verify_bundle(sealed, SENDER.public_key())
        stage = "open"
        return open_bundle(sealed, RECIPIENT)
    except InvalidBundle as exc:
        raise Refused(stage, exc.reason) from exc


def _file_of(item: dict[str, Any]) -> bytes:
    if "file_utf8" in item:
        return str(item["file_utf8"]).encode("utf-8")
    return b64decode(item["file_b64url"])


class TestVectorFile:
    def test_script_regenerates_the_stored_file_byte_for_byte(self) -> None:
        generator = _load_generator()
        stored = (VECTORS_DIR / "bundle-v1.json").read_text("utf-8")
        assert generator.render(generator.build(generator.load())) == stored

    def test_keys_are_those_of_the_envelope_vectors(self) -> None:
        for name, entry in VECTORS["keys"].items():
            assert entry == ENVELOPES["keys"][name]

    def test_negative_names_are_unique(self) -> None:
        names = [item["name"] for item in NEGATIVE]
        assert len(names) == len(set(names))

    def test_every_refusal_reason_is_exercised(self) -> None:
        reasons = {item["expected_reason"] for item in NEGATIVE}
        assert reasons == {reason.value for reason in BundleRejectReason}

    def test_each_negative_gives_its_file_in_exactly_one_form(self) -> None:
        for item in NEGATIVE:
            assert ("file_utf8" in item) != ("file_b64url" in item), item["name"]


class TestPositiveHeader:
    def test_header_model_encodes_to_the_stored_bytes(self) -> None:
        header = BundleHeader.model_validate(POSITIVE["header"])
        assert bundle_header_bytes(header) == HEADER
        assert canonical_json(POSITIVE["header"]) == HEADER

    def test_header_names_the_vector_keys_and_nodes(self) -> None:
        header = POSITIVE["header"]
        assert header["sender_key_id"] == VECTORS["keys"]["sender_signing"]["key_id"]
        assert header["recipient_key_id"] == VECTORS["keys"]["recipient_encryption"]["key_id"]
        assert (header["sender"], header["recipient"]) == (VECTORS["sender"], VECTORS["recipient"])

    def test_header_counts_are_those_of_the_content(self) -> None:
        content = POSITIVE["content"]
        assert POSITIVE["header"]["envelopes"] == len(content["envelopes"]) == 2
        assert POSITIVE["header"]["answers"] == len(content["answers"]) == 1


class TestPositiveBundle:
    def test_stored_file_opens_to_the_stated_content(self) -> None:
        opened = run_procedure(FILE)
        assert content_bytes(opened) == CONTENT
        assert opened.model_dump(mode="json") == POSITIVE["content"]
        assert canonical_json(POSITIVE["content"]) == CONTENT
        assert hashlib.sha256(CONTENT).hexdigest() == POSITIVE["content_sha256"]

    def test_file_is_the_canonical_json_of_the_wire_form(self) -> None:
        assert POSITIVE["wire"] == {
            "header": POSITIVE["header_b64url"],
            "ciphertext": POSITIVE["ciphertext_b64url"],
            "signature": POSITIVE["signature_b64url"],
        }
        assert canonical_json(POSITIVE["wire"]) == FILE
        assert parse_bundle(FILE).file_bytes() == FILE
        assert hashlib.sha256(FILE).hexdigest() == POSITIVE["file_sha256"]

    def test_hpke_info_is_the_bundle_context_then_the_header(self) -> None:
        info = bytes.fromhex(POSITIVE["hpke"]["info_hex"])
        assert info == b"avrr-bundle/1 hpke\x00" + HEADER
        assert info == HPKE_INFO_CONTEXT + HEADER

    def test_signed_message_is_context_length_header_ciphertext(self) -> None:
        message = bytes.fromhex(POSITIVE["signed_message_hex"])
        prefix = b"avrr-bundle/1 signature\x00" + struct.pack(">I", len(HEADER))
        assert message == prefix + HEADER + CIPHERTEXT
        assert message.startswith(SIGNATURE_CONTEXT)

    def test_signature_is_reproduced_byte_for_byte(self) -> None:
        assert SENDER.sign(bytes.fromhex(POSITIVE["signed_message_hex"])) == SIGNATURE

    def test_signature_verifies_under_the_raw_public_key(self) -> None:
        public = bytes.fromhex(VECTORS["keys"]["sender_signing"]["public_hex"])
        message = bytes.fromhex(POSITIVE["signed_message_hex"])
        ed25519.Ed25519PublicKey.from_public_bytes(public).verify(SIGNATURE, message)

    def test_ciphertext_is_enc_then_sealed_content_then_tag(self) -> None:
        assert len(CIPHERTEXT) == 32 + len(CONTENT) + 16
        assert CIPHERTEXT[:32].hex() == POSITIVE["hpke"]["enc_hex"]

    def test_ciphertext_opens_with_the_published_hpke_key_and_nonce(self) -> None:
        hpke = POSITIVE["hpke"]
        aead = ChaCha20Poly1305(bytes.fromhex(hpke["key_hex"]))
        nonce = bytes.fromhex(hpke["base_nonce_hex"])
        assert aead.decrypt(nonce, CIPHERTEXT[32:], bytes.fromhex(hpke["aad_hex"])) == CONTENT

    def test_hpke_key_schedule_follows_rfc_9180_from_enc_and_the_recipient_key(self) -> None:
        hpke = POSITIVE["hpke"]
        assert (hpke["mode"], hpke["kem_id"], hpke["kdf_id"], hpke["aead_id"]) == (0, 32, 1, 3)
        schedule = _load_generator().V.hpke_base_schedule(
            RECIPIENT.seed, CIPHERTEXT[:32], bytes.fromhex(hpke["info_hex"])
        )
        assert schedule["shared_secret"].hex() == hpke["shared_secret_hex"]
        assert schedule["key"].hex() == hpke["key_hex"]
        assert schedule["base_nonce"].hex() == hpke["base_nonce_hex"]

    def test_fresh_seal_of_the_same_inputs_round_trips_and_keeps_the_header_bytes(self) -> None:
        header = BundleHeader.model_validate(POSITIVE["header"])
        content = BundleContent.model_validate(POSITIVE["content"])
        sealed = seal_bundle(
            header, content, signing_key=SENDER, recipient_key=RECIPIENT.public_key()
        )
        assert sealed.header_bytes == HEADER
        # HPKE draws a fresh ephemeral key, which is why the vector stores its ciphertext.
        assert sealed.ciphertext[:32] != CIPHERTEXT[:32]
        assert content_bytes(run_procedure(sealed.file_bytes())) == CONTENT


class TestPositiveContent:
    def test_envelopes_are_those_of_the_envelope_and_batch_vectors(self) -> None:
        assert POSITIVE["content"]["envelopes"] == [
            ENVELOPES["positive"]["wire"],
            BATCH["request"]["envelopes"][1],
        ]

    def test_each_envelope_inside_opens_as_a_posted_one_would(self) -> None:
        plaintext = b64decode(ENVELOPES["positive"]["plaintext_b64url"])
        for wire in run_procedure(FILE).envelopes:
            sealed = parse(WireEnvelope.model_validate(wire.model_dump()))
            verify(sealed, SENDER.public_key())
            assert open_sealed(sealed, RECIPIENT) == plaintext

    def test_answer_is_the_senders_receipt_for_the_packet_it_names(self) -> None:
        stated = VECTORS["answer"]
        (answer,) = POSITIVE["content"]["answers"]
        document = SignedDocument.model_validate(answer["answer"])
        signer = SigningKey(*_key_args(stated["signer"]))
        payload = verify_document(document, signer.public_key(), context=stated["context"])
        assert payload == stated["payload"]
        receipt = DeliveryReceipt.model_validate(payload)
        assert (receipt.packet_id, receipt.envelope_sha256) == (
            answer["packet_id"],
            answer["envelope_sha256"],
        )
        assert (receipt.sender, receipt.recipient) == (VECTORS["recipient"], VECTORS["sender"])

    def test_answer_signed_message_is_context_nul_canonical_payload(self) -> None:
        stated = VECTORS["answer"]
        expected = stated["context"].encode("ascii") + b"\x00" + canonical_json(stated["payload"])
        assert bytes.fromhex(stated["signed_message_hex"]) == expected
        (answer,) = POSITIVE["content"]["answers"]
        assert b64decode(answer["answer"]["payload"]) == canonical_json(stated["payload"])


def _negative_id(item: dict[str, Any]) -> str:
    return str(item["name"])


class TestNegativeVectors:
    @pytest.mark.parametrize("item", NEGATIVE, ids=_negative_id)
    def test_vector_is_refused_at_its_stage_for_its_reason(self, item: dict[str, Any]) -> None:
        with pytest.raises(Refused) as caught:
            run_procedure(_file_of(item))
        assert (caught.value.stage, caught.value.reason.value) == (
            item["stage"],
            item["expected_reason"],
        )

    @pytest.mark.parametrize("item", NEGATIVE, ids=_negative_id)
    def test_refusal_says_nothing_outward(self, item: dict[str, Any]) -> None:
        with pytest.raises(Refused) as caught:
            run_procedure(_file_of(item))
        assert str(caught.value.__cause__) == "bundle rejected"

    @pytest.mark.parametrize(
        "item", [i for i in NEGATIVE if i["stage"] != "file"], ids=_negative_id
    )
    def test_vector_refused_after_reading_the_file_parses_as_described(
        self, item: dict[str, Any]
    ) -> None:
        # Guards the vectors themselves: each must parse, so its refusal is about what it claims.
        sealed = parse_bundle(_file_of(item))
        assert b64encode(sealed.header_bytes) == json.loads(_file_of(item))["header"]
