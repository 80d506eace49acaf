"""The known-answer vectors in ``tests/vectors/batch-v1.json`` against the batch receipt code.

The request body, the receipt's signed message and the signed document are reproduced byte for
byte from the reference sender and recipient; every negative answer is run through the sender's
procedure (stated in the file) and must be refused as a whole.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from crypto.encoding import b64decode, canonical_json
from crypto.envelope import open_sealed, parse, verify
from crypto.errors import InvalidEnvelope, RejectReason
from crypto.keys import EncryptionKey, SigningKey
from gateway.exchange.delivery import batch_body
from partners.errors import DeliveryFailed
from partners.receipts import batch_outcomes, batch_receipt_under, issue_batch_receipt
from schemas.envelope import (
    BATCH_RECEIPT_FORMAT,
    BatchAnswer,
    BatchOutcome,
    BatchReceiptEntry,
    DeliveryReceipt,
    SignedDocument,
    WireEnvelope,
)

VECTORS_DIR = Path(__file__).resolve().parents[1] / "vectors"
BATCH: dict[str, Any] = json.loads((VECTORS_DIR / "batch-v1.json").read_text("utf-8"))
ENVELOPES: dict[str, Any] = json.loads((VECTORS_DIR / "envelope-v1.json").read_text("utf-8"))
SENT = [(s["packet_id"], s["envelope_sha256"]) for s in BATCH["request"]["sent"]]


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_batch_vectors", VECTORS_DIR / "make_batch_vectors.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _signing(name: str, keys: dict[str, Any]) -> SigningKey:
    entry = keys[name]
    return SigningKey(
        bytes.fromhex(entry["seed_hex"]),
        datetime.fromisoformat(entry["valid_from"]),
        datetime.fromisoformat(entry["valid_until"]),
    )


RECIPIENT_KEY = _signing("recipient_signing", BATCH["keys"])


def sender_procedure(answer: dict[str, Any]) -> list[BatchReceiptEntry | BatchOutcome]:
    """The sender's procedure of the vector file, with the recipient's one key known."""
    parsed = BatchAnswer.model_validate(answer)
    receipt = batch_receipt_under(
        parsed.receipt,
        RECIPIENT_KEY.public_key(),
        sender=BATCH["sender"],
        recipient=BATCH["recipient"],
        sent=dict(SENT),
    )
    return batch_outcomes(parsed, receipt, SENT)


class TestVectorFile:
    def test_script_regenerates_the_stored_file_byte_for_byte(self) -> None:
        generator = _load_generator()
        stored = (VECTORS_DIR / "batch-v1.json").read_text("utf-8")
        assert generator.render(generator.build(generator.load())) == stored

    def test_keys_are_those_of_the_envelope_vectors(self) -> None:
        for name, entry in BATCH["keys"].items():
            assert entry == ENVELOPES["keys"][name]

    def test_negative_names_are_unique(self) -> None:
        names = [item["name"] for item in BATCH["negative"]]
        assert len(names) == len(set(names))


class TestRequest:
    def test_body_is_the_canonical_json_of_the_envelopes_and_format(self) -> None:
        request = BATCH["request"]
        body = canonical_json({"envelopes": request["envelopes"], "format": "avrr-batch/1"})
        assert body.decode("ascii") == request["body_utf8"]
        assert hashlib.sha256(body).hexdigest() == request["body_sha256"]

    def test_the_reference_sender_writes_the_same_body(self) -> None:
        wires = [canonical_json(w) for w in BATCH["request"]["envelopes"]]
        assert batch_body(wires).decode("ascii") == BATCH["request"]["body_utf8"]

    def test_first_envelope_is_the_positive_envelope_vector(self) -> None:
        assert BATCH["request"]["envelopes"][0] == ENVELOPES["positive"]["wire"]

    def test_the_first_two_open_and_the_third_is_refused_for_its_signature(self) -> None:
        sender = _signing("sender_signing", ENVELOPES["keys"])
        entry = ENVELOPES["keys"]["recipient_encryption"]
        recipient = EncryptionKey(
            bytes.fromhex(entry["seed_hex"]),
            datetime.fromisoformat(entry["valid_from"]),
            datetime.fromisoformat(entry["valid_until"]),
        )
        plaintext = b64decode(ENVELOPES["positive"]["plaintext_b64url"])
        first, second, third = (
            parse(WireEnvelope.model_validate(w)) for w in BATCH["request"]["envelopes"]
        )
        for sealed in (first, second):
            verify(sealed, sender.public_key())
            assert open_sealed(sealed, recipient) == plaintext
        with pytest.raises(InvalidEnvelope) as refused:
            verify(third, sender.public_key())
        assert refused.value.reason is RejectReason.BAD_SIGNATURE
        assert BATCH["request"]["third_refused_because"] == RejectReason.BAD_SIGNATURE.value

    def test_digests_are_sha256_of_each_canonical_wire_object(self) -> None:
        for wire, (_, digest) in zip(BATCH["request"]["envelopes"], SENT, strict=True):
            assert hashlib.sha256(canonical_json(wire)).hexdigest() == digest


class TestReceipt:
    def test_signed_message_is_context_nul_canonical_payload(self) -> None:
        receipt = BATCH["receipt"]
        message = (
            BATCH_RECEIPT_FORMAT.encode("ascii") + b"\x00" + canonical_json(receipt["payload"])
        )
        assert message.hex() == receipt["signed_message_hex"]
        assert b64decode(receipt["document"]["payload"]) == canonical_json(receipt["payload"])

    def test_the_reference_recipient_signs_the_same_document(self) -> None:
        payload = BATCH["receipt"]["payload"]
        receipts = [
            DeliveryReceipt(
                packet_id=e["packet_id"],
                sender=payload["sender"],
                recipient=payload["recipient"],
                envelope_sha256=e["envelope_sha256"],
                received_at=e["received_at"],
            )
            for e in reversed(payload["receipts"])  # any order in, sorted out
        ]
        document = issue_batch_receipt(
            receipts,
            sender=payload["sender"],
            recipient=payload["recipient"],
            issued_at=datetime.fromisoformat(payload["issued_at"]),
            key=RECIPIENT_KEY,
        )
        assert document.model_dump() == BATCH["receipt"]["document"]

    def test_the_answer_verifies_and_pairs_each_envelope_with_its_result(self) -> None:
        outcomes = sender_procedure(BATCH["answer"])
        assert [o.packet_id if isinstance(o, BatchReceiptEntry) else o for o in outcomes] == [
            SENT[0][0],
            SENT[1][0],
            BatchOutcome.REJECTED,
        ]
        assert [r["outcome"] for r in BATCH["answer"]["results"]] == BATCH["request"][
            "expected_results"
        ]

    def test_a_lone_receipt_does_not_pass_as_a_batch_receipt(self) -> None:
        lone = SignedDocument.model_validate(ENVELOPES["receipt"]["document"])
        with pytest.raises(DeliveryFailed):
            batch_receipt_under(
                lone,
                RECIPIENT_KEY.public_key(),
                sender=BATCH["sender"],
                recipient=BATCH["recipient"],
                sent=dict(SENT),
            )


class TestNegativeAnswers:
    @pytest.mark.parametrize("item", BATCH["negative"], ids=lambda item: item["name"])
    def test_answer_is_refused_as_a_whole(self, item: dict[str, Any]) -> None:
        with pytest.raises(DeliveryFailed) as refused:
            sender_procedure(item["answer"])
        assert refused.value.outcome == item["expected"] == "bad_receipt"

    def test_flipped_bits_foreign_and_missing_envelopes_are_covered(self) -> None:
        names = {item["name"] for item in BATCH["negative"]}
        assert {
            "signature_bit_flipped",
            "payload_bit_flipped",
            "names_an_envelope_not_sent",
            "leaves_out_an_accepted_envelope",
        } <= names
