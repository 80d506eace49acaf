"""Regenerate ``tests/vectors/batch-v1.json``, the known-answer vectors of ``avrr-batch/1`` and
its signed batch receipt ``avrr-batch-receipt/1``.

Run from the project root::

    .venv/bin/python tests/vectors/make_batch_vectors.py            # rewrite the file
    .venv/bin/python tests/vectors/make_batch_vectors.py --check    # exit 1 if the file differs
    .venv/bin/python tests/vectors/make_batch_vectors.py --reseal   # draw a new HPKE ciphertext

The keys, nodes and referral are those of ``envelope-v1.json`` (``make_vectors.py``). The batch
carries three envelopes for the recipient: the positive envelope of ``envelope-v1.json``; a second
referral, the same but for its packet id (``e0 e1 ... ef``), sealed once and kept like the first
(HPKE draws its ephemeral key itself, so only a stored ciphertext makes the file reproducible);
and a third whose header names packet ``b0 b1 ... bf`` under the first envelope's signature, which
the receiver refuses (``bad_signature``). The answer accepts the first two and refuses the third.

Everything else is deterministic (Ed25519 is), so a regenerated file is identical byte for byte;
``tests/partners/test_batch_vectors.py`` checks that, and runs every negative answer through the
sender's procedure. The expected outcome of each negative is written here by hand.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from crypto.encoding import b64decode, b64encode, canonical_json
from crypto.envelope import SealedEnvelope, envelope_digest, header_bytes, open_sealed, seal
from crypto.errors import InvalidEnvelope
from crypto.keys import SigningKey
from crypto.signed import sign_document
from schemas.envelope import BATCH_FORMAT, BATCH_RECEIPT_FORMAT, RECEIPT_FORMAT, WireEnvelope

PATH = Path(__file__).with_name("batch-v1.json")


def _envelope_vectors() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_vectors", Path(__file__).with_name("make_vectors.py")
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


V = _envelope_vectors()

SECOND_ID = bytes(range(0xE0, 0xF0)).hex()
REFUSED_ID = bytes(range(0xB0, 0xC0)).hex()
FOREIGN_ID = bytes(range(0xF0, 0x100)).hex()
ISSUED_AT = V.NOW


def _second_ciphertext(stored: dict[str, Any] | None, *, reseal: bool) -> bytes:
    """The second envelope's C: the stored one while it still opens to the plaintext."""
    header = V.the_header().model_copy(update={"packet_id": SECOND_ID})
    recipient = V.encryption_key("recipient_encryption")
    previous = None
    if stored is not None and not reseal:
        previous = b64decode(stored["request"]["envelopes"][1]["ciphertext"])
    if previous is None:
        sealed = seal(
            header,
            V.the_plaintext(),
            signing_key=V.signing_key("sender_signing"),
            recipient_key=recipient.public_key(),
        )
        return sealed.ciphertext
    probe = SealedEnvelope(header, header_bytes(header), previous, b"")
    try:
        opened = open_sealed(probe, recipient)
    except InvalidEnvelope:
        opened = None
    if opened != V.the_plaintext():
        raise SystemExit("the stored second ciphertext no longer opens; run with --reseal")
    return previous


def _envelopes(stored: dict[str, Any] | None, *, reseal: bool) -> list[dict[str, str]]:
    sender = V.signing_key("sender_signing")
    first = V.load()
    if first is None:
        raise SystemExit("run make_vectors.py first: the batch reuses its positive envelope")
    positive: dict[str, str] = first["positive"]["wire"]
    second_header = header_bytes(V.the_header().model_copy(update={"packet_id": SECOND_ID}))
    second_c = _second_ciphertext(stored, reseal=reseal)
    second = V._wire(second_header, second_c, V.sign_envelope(sender, second_header, second_c))
    refused_header = header_bytes(V.the_header().model_copy(update={"packet_id": REFUSED_ID}))
    refused = {**positive, "header": b64encode(refused_header)}
    return [positive, second, refused]


def _digest(wire: dict[str, str]) -> str:
    return envelope_digest(WireEnvelope.model_validate(wire))


def _receipt_payload(entries: list[tuple[str, str]], **changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "format": BATCH_RECEIPT_FORMAT,
        "sender": V.SENDER,
        "recipient": V.RECIPIENT,
        "issued_at": V._time(ISSUED_AT),
        "receipts": [
            {"packet_id": p, "envelope_sha256": d, "received_at": V._time(V.NOW)}
            for p, d in sorted(entries)
        ],
    }
    payload.update(changes)
    return payload


def _signed(
    payload: Any, key: SigningKey | None = None, context: str = BATCH_RECEIPT_FORMAT
) -> Any:
    signer = key or V.signing_key("recipient_signing")
    return sign_document(payload, signer, context=context).model_dump()


def _flip(text: str, index: int) -> str:
    raw = bytearray(b64decode(text))
    raw[index] ^= 0x01
    return b64encode(bytes(raw))


class _Negatives:
    """Answers the sender must refuse as a whole (``bad_receipt``), built from the positive."""

    def __init__(self, answer: dict[str, Any], entries: list[tuple[str, str]]) -> None:
        self.answer = answer
        self.entries = entries
        self.items: list[dict[str, Any]] = []

    def add(self, name: str, description: str, answer: dict[str, Any]) -> None:
        self.items.append(
            {
                "name": name,
                "description": description,
                "answer": answer,
                "expected": "bad_receipt",
            }
        )

    def with_receipt(self, receipt: Any) -> dict[str, Any]:
        return {**self.answer, "receipt": receipt}

    def resigned(self, payload: Any, **kwargs: Any) -> dict[str, Any]:
        return self.with_receipt(_signed(payload, **kwargs))


def _negatives(n: _Negatives, sent: list[tuple[str, str]]) -> None:
    doc = n.answer["receipt"]
    first, second = n.entries
    n.add(
        "signature_bit_flipped",
        "one bit of the batch receipt's signature flipped",
        n.with_receipt({**doc, "signature": _flip(doc["signature"], 5)}),
    )
    n.add(
        "payload_bit_flipped",
        "one bit of the signed payload flipped (a digest changed), signature kept",
        n.with_receipt({**doc, "payload": _flip(doc["payload"], 40)}),
    )
    n.add(
        "names_an_envelope_not_sent",
        "re-signed by the recipient, the receipt also names a packet the sender never sent",
        n.resigned(_receipt_payload([*n.entries, (FOREIGN_ID, "ab" * 32)])),
    )
    n.add(
        "names_a_sent_packet_with_another_digest",
        "re-signed by the recipient, the receipt names the second packet with a foreign digest",
        n.resigned(_receipt_payload([first, (second[0], "cd" * 32)])),
    )
    n.add(
        "names_the_refused_envelope",
        "re-signed, the receipt names the third envelope too, which the results call refused",
        n.resigned(_receipt_payload([*n.entries, sent[2]])),
    )
    n.add(
        "leaves_out_an_accepted_envelope",
        "re-signed, the receipt leaves out the second envelope, which the results call accepted",
        n.resigned(_receipt_payload([first])),
    )
    n.add(
        "results_call_a_named_envelope_refused",
        "the results call the first envelope refused while the receipt names it",
        {
            **n.answer,
            "results": [{"outcome": "envelope_rejected"}, *n.answer["results"][1:]],
        },
    )
    n.add(
        "one_result_missing",
        "two results for three envelopes",
        {**n.answer, "results": n.answer["results"][:2]},
    )
    n.add(
        "signed_by_another_key",
        "the same payload signed with a key that is not the recipient's",
        n.resigned(_receipt_payload(n.entries), key=V.signing_key("attacker_signing")),
    )
    n.add(
        "signed_under_the_lone_receipt_context",
        "the same payload signed under avrr-receipt/1 instead of avrr-batch-receipt/1",
        n.resigned(_receipt_payload(n.entries), context=RECEIPT_FORMAT),
    )
    n.add(
        "other_sender",
        "re-signed, the receipt names another sender",
        n.resigned(_receipt_payload(n.entries, sender="other-node.example")),
    )
    n.add(
        "other_recipient",
        "re-signed, the receipt names another recipient",
        n.resigned(_receipt_payload(n.entries, recipient="other-partner.example")),
    )
    n.add(
        "issued_after_the_key_expired",
        "re-signed, issued_at after the recipient's signing key's valid_until",
        n.resigned(_receipt_payload(n.entries, issued_at="2027-02-01T00:00:00Z")),
    )
    n.add(
        "entry_twice",
        "re-signed, the first envelope named twice",
        n.resigned(_receipt_payload([*n.entries, first])),
    )
    unsorted = _receipt_payload(n.entries)
    unsorted["receipts"].reverse()
    n.add(
        "entries_not_sorted",
        "re-signed, the entries not in packet_id order",
        n.resigned(unsorted),
    )
    n.add(
        "format_version_2",
        "re-signed, format avrr-batch-receipt/2",
        n.resigned(_receipt_payload(n.entries, format="avrr-batch-receipt/2")),
    )
    n.add(
        "unknown_member",
        "re-signed, with a member the format does not have",
        n.resigned(_receipt_payload(n.entries, note="x")),
    )
    recipient_key = V.signing_key("recipient_signing")
    spaced = json.dumps(_receipt_payload(n.entries), sort_keys=True).encode("utf-8")
    n.add(
        "payload_not_canonical",
        "the payload with whitespace after separators, signed as it is",
        n.with_receipt(
            {
                "payload": b64encode(spaced),
                "key_id": recipient_key.key_id,
                "signature": b64encode(
                    recipient_key.sign(BATCH_RECEIPT_FORMAT.encode("ascii") + b"\x00" + spaced)
                ),
            }
        ),
    )


BUILDERS: list[Callable[[_Negatives, list[tuple[str, str]]], None]] = [_negatives]

PROCEDURE = [
    "sent: the sender posted request.envelopes in this order; for each it knows the packet id "
    "and the envelope digest (request.sent)",
    "results: the answer holds exactly one result per envelope sent, in the same order",
    "key: the receipt's key_id names the recipient's signing key, keys.recipient_signing "
    "(a full sender looks it up among the recipient's signing keys in the directory)",
    "signature: Ed25519 over 'avrr-batch-receipt/1' || 0x00 || payload verifies; the payload is "
    "its own canonical JSON and a valid batch receipt (format avrr-batch-receipt/1, exactly the "
    "members sender, recipient, issued_at, receipts; receipts sorted by packet_id, each packet "
    "once, each entry exactly packet_id, envelope_sha256, received_at)",
    "validity: the key is valid at issued_at",
    "nodes: sender and recipient are the two nodes of the request",
    "sent only: every entry names a packet sent in the batch, with that envelope's digest",
    "agreement: the packets named are exactly those whose result is accepted",
    "any failure refuses the whole answer as bad_receipt: every envelope of the batch is retried",
]


def build(stored: dict[str, Any] | None, *, reseal: bool = False) -> dict[str, Any]:
    wires = _envelopes(stored, reseal=reseal)
    sent = [(json.loads(b64decode(w["header"]))["packet_id"], _digest(w)) for w in wires]
    body = canonical_json({"envelopes": wires, "format": BATCH_FORMAT})
    entries = sent[:2]
    payload = _receipt_payload(entries)
    receipt = _signed(payload)
    answer = {
        "format": BATCH_FORMAT,
        "results": [
            {"outcome": "accepted"},
            {"outcome": "accepted"},
            {"outcome": "envelope_rejected"},
        ],
        "receipt": receipt,
    }
    negatives = _Negatives(answer, entries)
    for builder in BUILDERS:
        builder(negatives, sent)
    names = [item["name"] for item in negatives.items]
    assert len(names) == len(set(names)), "negative vector names must be unique"
    return {
        "description": (
            "Known-answer vectors of avrr-batch/1 and avrr-batch-receipt/1 (docs/protocol.md,"
            " section 6a). All data synthetic; keys, nodes and the referral are those of"
            " envelope-v1.json. Regenerate with tests/vectors/make_batch_vectors.py."
        ),
        "format": BATCH_FORMAT,
        "receipt_format": BATCH_RECEIPT_FORMAT,
        "keys": {name: V._key_entry(name) for name in ("recipient_signing", "attacker_signing")},
        "sender": V.SENDER,
        "recipient": V.RECIPIENT,
        "request": {
            "envelopes": wires,
            "sent": [{"packet_id": p, "envelope_sha256": d} for p, d in sent],
            "body_utf8": body.decode("ascii"),
            "body_sha256": hashlib.sha256(body).hexdigest(),
            "expected_results": ["accepted", "accepted", "envelope_rejected"],
            "third_refused_because": "bad_signature",
        },
        "receipt": {
            "context": BATCH_RECEIPT_FORMAT,
            "signer": "recipient_signing",
            "payload": payload,
            "signed_message_hex": (
                BATCH_RECEIPT_FORMAT.encode("ascii") + b"\x00" + canonical_json(payload)
            ).hex(),
            "document": receipt,
        },
        "answer": answer,
        "procedure": PROCEDURE,
        "negative": negatives.items,
    }


def render(document: dict[str, Any]) -> str:
    rendered: str = _envelope_vectors().render(document)
    return rendered


def load() -> dict[str, Any] | None:
    loaded: dict[str, Any] | None = _envelope_vectors().load(PATH)
    return loaded


def main(argv: list[str] | None = None) -> int:
    summary = __doc__.splitlines()[0] if __doc__ else None
    status: int = _envelope_vectors().generator_main(
        argv, path=PATH, build=build, script="make_batch_vectors.py", description=summary
    )
    return status


if __name__ == "__main__":
    raise SystemExit(main())
