"""Regenerate ``tests/vectors/bundle-v1.json``, the known-answer vectors of ``avrr-bundle/1``.

Run from the project root::

    .venv/bin/python tests/vectors/make_bundle_vectors.py            # rewrite the file
    .venv/bin/python tests/vectors/make_bundle_vectors.py --check    # exit 1 if the file differs
    .venv/bin/python tests/vectors/make_bundle_vectors.py --reseal   # draw new HPKE ciphertexts

The keys and nodes are those of ``envelope-v1.json`` (``make_vectors.py``). The positive bundle,
from the sender to the recipient, carries two envelopes (the positive envelope of
``envelope-v1.json`` and the second envelope of ``batch-v1.json``, which differs from it only in
its packet id) and one answer: the sender's signed delivery receipt for an envelope the recipient
once sent it (packet ``d0 d1 ... df``, digest the counting bytes ``40 41 ... 5f``; that envelope
is not in these vectors).

As for the envelope vectors, everything follows from the fixed inputs except the HPKE output,
which pyca/cryptography draws under a fresh ephemeral key. So the script keeps each ciphertext
already stored in the file (the positive one, and those of the negatives whose content the sender
sealed itself: counts that do not match, content that is not canonical or not a bundle's, content
sealed under the envelope's context) for as long as it still opens, under its header and the
recipient's key, to the very content it states; it seals afresh only with ``--reseal`` or when
there is no file yet. Everything else (signatures, files, digests, the HPKE key schedule) is
recomputed, and Ed25519 is deterministic, so a regenerated file is identical byte for byte;
``tests/crypto/test_bundle_vectors.py`` checks that.

The expected stage and reason of every negative vector are written here by hand, from the
order of checks in ``docs/protocol.md`` section 6c; they are never computed by the code under test.
No value is real.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import struct
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from crypto import _primitives
from crypto.bundle import (
    BundleRejectReason,
    InvalidBundle,
    SealedBundle,
    open_bundle,
    seal_bundle,
)
from crypto.encoding import b64decode, b64encode, canonical_json
from crypto.keys import SigningKey
from crypto.signed import sign_document
from schemas.envelope import RECEIPT_FORMAT, BundleContent, BundleHeader, DeliveryReceipt

PATH = Path(__file__).with_name("bundle-v1.json")
BATCH_PATH = Path(__file__).with_name("batch-v1.json")


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

# --- Fixed inputs. All synthetic. -----------------------------------------------------------

BUNDLE_ID = bytes(range(0x90, 0xA0)).hex()
SEQUENCE = 3
CREATED_AT = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
ANSWERED_ID = bytes(range(0xD0, 0xE0)).hex()
ANSWERED_DIGEST = bytes(range(0x40, 0x60)).hex()
ANSWERED_AT = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)
KEY_NAMES = (
    "sender_signing",
    "recipient_encryption",
    "recipient_signing",
    "attacker_signing",
    "other_encryption",
)


def signed_message(header: bytes, ciphertext: bytes) -> bytes:
    """The bundle signature input, written out from the protocol rather than imported."""
    return b"avrr-bundle/1 signature\x00" + struct.pack(">I", len(header)) + header + ciphertext


def hpke_info(header: bytes) -> bytes:
    return b"avrr-bundle/1 hpke\x00" + header


def the_header(**changes: Any) -> BundleHeader:
    values: dict[str, Any] = {
        "bundle_id": BUNDLE_ID,
        "sender": V.SENDER,
        "recipient": V.RECIPIENT,
        "sequence": SEQUENCE,
        "created_at": CREATED_AT,
        "envelopes": 2,
        "answers": 1,
        "sender_key_id": V.signing_key("sender_signing").key_id,
        "recipient_key_id": V.encryption_key("recipient_encryption").key_id,
    }
    values.update(changes)
    return BundleHeader(**values)


def header_bytes(header: BundleHeader) -> bytes:
    return canonical_json(header.model_dump(mode="json"))


def the_receipt() -> dict[str, Any]:
    """The payload of the one answer: the sender acknowledging an envelope from the recipient."""
    return DeliveryReceipt(
        packet_id=ANSWERED_ID,
        sender=V.RECIPIENT,
        recipient=V.SENDER,
        envelope_sha256=ANSWERED_DIGEST,
        received_at=ANSWERED_AT,
    ).model_dump(mode="json")


def the_answer() -> dict[str, Any]:
    document = sign_document(the_receipt(), V.signing_key("sender_signing"), context=RECEIPT_FORMAT)
    return {
        "answer": document.model_dump(),
        "envelope_sha256": ANSWERED_DIGEST,
        "packet_id": ANSWERED_ID,
    }


def _stored_envelopes() -> list[dict[str, str]]:
    first = V.load()
    batch = V.load(BATCH_PATH)
    if first is None or batch is None:
        raise SystemExit("run make_vectors.py and make_batch_vectors.py first: the bundle reuses")
    return [first["positive"]["wire"], batch["request"]["envelopes"][1]]


def the_content() -> dict[str, Any]:
    value = {"answers": [the_answer()], "envelopes": _stored_envelopes()}
    content = BundleContent.model_validate(value)
    assert content.model_dump(mode="json") == value
    return value


def answers_only() -> dict[str, Any]:
    """The smaller content of the negatives the sender sealed itself: the answer alone."""
    return {"answers": [the_answer()], "envelopes": []}


# --- Ciphertexts: kept while they still open to what they state. ----------------------------


def _stored_file(stored: dict[str, Any] | None, name: str) -> bytes | None:
    if stored is None:
        return None
    if name == "positive":
        return str(stored["positive"]["file_utf8"]).encode("utf-8")
    for item in stored["negative"]:
        if item["name"] == name:
            return str(item["file_utf8"]).encode("utf-8")
    return None


def _stored_ciphertext(stored: dict[str, Any] | None, name: str) -> bytes | None:
    data = _stored_file(stored, name)
    if data is None:
        return None
    return b64decode(json.loads(data)["ciphertext"])


def _kept(
    stored: dict[str, Any] | None,
    name: str,
    *,
    header: bytes,
    plaintext: bytes,
    info_context: bytes,
    reseal: bool,
) -> bytes:
    """The stored ciphertext of vector ``name`` if it opens to ``plaintext``, else a new seal."""
    recipient = V.encryption_key("recipient_encryption")
    previous = None if reseal else _stored_ciphertext(stored, name)
    if previous is None:
        return _primitives.hpke_seal(
            recipient.public_key().public, plaintext, info_context + header
        )
    try:
        opened = _primitives.hpke_open(recipient.seed, previous, info_context + header)
    except _primitives.PrimitiveFailure:
        opened = None
    if opened != plaintext:
        raise SystemExit(
            f"the stored ciphertext of {name!r} no longer opens to its content under its"
            " header; run with --reseal"
        )
    return previous


def _positive_ciphertext(stored: dict[str, Any] | None, *, reseal: bool) -> bytes:
    header = the_header()
    content = BundleContent.model_validate(the_content())
    recipient = V.encryption_key("recipient_encryption")
    previous = None if reseal else _stored_ciphertext(stored, "positive")
    if previous is None:
        sealed = seal_bundle(
            header,
            content,
            signing_key=V.signing_key("sender_signing"),
            recipient_key=recipient.public_key(),
        )
        return sealed.ciphertext
    # The reference recipient opens it, as an importer would (after the signature, here unused).
    probe = SealedBundle(header, header_bytes(header), previous, b"")
    try:
        opened: BundleContent | None = open_bundle(probe, recipient)
    except InvalidBundle:
        opened = None
    if opened != content:
        raise SystemExit(
            "the stored ciphertext no longer opens to the fixed content under the fixed header;"
            " run with --reseal"
        )
    return previous


# --- Files. ----------------------------------------------------------------------------------


def _wire(header: bytes, ciphertext: bytes, signature: bytes) -> dict[str, str]:
    return {
        "header": b64encode(header),
        "ciphertext": b64encode(ciphertext),
        "signature": b64encode(signature),
    }


def _file(header: bytes, ciphertext: bytes, signature: bytes) -> bytes:
    return canonical_json(_wire(header, ciphertext, signature))


def _sign(key: SigningKey, header: bytes, ciphertext: bytes) -> bytes:
    return key.sign(signed_message(header, ciphertext))


def _flip(data: bytes, index: int, mask: int = 0x01) -> bytes:
    changed = bytearray(data)
    changed[index] ^= mask
    return bytes(changed)


class _Negatives:
    """Builds the negative vectors from the positive one; each names its stage and reason."""

    def __init__(
        self, stored: dict[str, Any] | None, header: bytes, ciphertext: bytes, *, reseal: bool
    ) -> None:
        self.stored = stored
        self.reseal = reseal
        self.header = header
        self.ciphertext = ciphertext
        self.header_json: dict[str, Any] = json.loads(header)
        self.sender = V.signing_key("sender_signing")
        self.attacker = V.signing_key("attacker_signing")
        self.signature = _sign(self.sender, header, ciphertext)
        self.file = _file(header, ciphertext, self.signature)
        self.items: list[dict[str, Any]] = []

    def add(
        self, name: str, description: str, data: bytes, stage: str, reason: BundleRejectReason
    ) -> None:
        item: dict[str, Any] = {"name": name, "description": description}
        try:
            item["file_utf8"] = data.decode("utf-8")
        except UnicodeDecodeError:
            item["file_b64url"] = b64encode(data)
        item["stage"] = stage
        item["expected_reason"] = reason.value
        self.items.append(item)

    def header_with(self, **changes: Any) -> bytes:
        return canonical_json({**self.header_json, **changes})

    def with_header(self, header: bytes, *, signer: SigningKey | None = None) -> bytes:
        signature = self.signature if signer is None else _sign(signer, header, self.ciphertext)
        return _file(header, self.ciphertext, signature)

    def with_ciphertext(self, ciphertext: bytes, *, resign: bool) -> bytes:
        signature = _sign(self.sender, self.header, ciphertext) if resign else self.signature
        return _file(self.header, ciphertext, signature)

    def with_signature(self, signature: bytes) -> bytes:
        return _file(self.header, self.ciphertext, signature)

    def sealed_by_sender(
        self,
        name: str,
        header: bytes,
        plaintext: bytes,
        *,
        info_context: bytes = b"avrr-bundle/1 hpke\x00",
    ) -> bytes:
        """A file whose content the sender sealed and signed itself (its ciphertext is kept)."""
        ciphertext = _kept(
            self.stored,
            name,
            header=header,
            plaintext=plaintext,
            info_context=info_context,
            reseal=self.reseal,
        )
        return _file(header, ciphertext, _sign(self.sender, header, ciphertext))


def _file_vectors(n: _Negatives) -> None:
    f = n.file
    cases: list[tuple[str, str, bytes]] = [
        ("file_empty", "zero bytes", b""),
        ("file_truncated_by_one_byte", "the positive file without its closing '}'", f[:-1]),
        (
            "file_truncated_to_half",
            f"the first {len(f) // 2} bytes of the positive file",
            f[: len(f) // 2],
        ),
        (
            "file_not_utf8",
            "the positive file with its first byte '{' replaced by 0xff",
            b"\xff" + f[1:],
        ),
        ("file_is_an_array", "the three members' values in a JSON array", b'["a","b","c"]'),
        (
            "file_with_unknown_member",
            "the positive file with an extra member 'version'",
            canonical_json({**json.loads(f), "version": "1"}),
        ),
        (
            "file_without_signature",
            "the positive file without its member 'signature'",
            canonical_json({k: v for k, v in json.loads(f).items() if k != "signature"}),
        ),
        (
            "file_with_a_member_twice",
            "the positive file with a second member 'signature' (64 zero bytes) appended",
            f[:-1] + b',"signature":"' + b64encode(bytes(64)).encode("ascii") + b'"}',
        ),
        (
            "signature_with_base64_padding",
            "the signature in base64url with its '==' padding",
            canonical_json(
                {
                    **json.loads(f),
                    "signature": b64encode(n.signature) + "==",
                }
            ),
        ),
        (
            "signature_63_bytes",
            "the last byte of the signature removed",
            n.with_signature(n.signature[:-1]),
        ),
        (
            "signature_65_bytes",
            "a zero byte appended to the signature",
            n.with_signature(n.signature + b"\x00"),
        ),
        (
            "ciphertext_shorter_than_hpke_overhead",
            "the first 47 bytes of the ciphertext only (less than enc and tag), re-signed by the"
            " sender",
            n.with_ciphertext(n.ciphertext[:47], resign=True),
        ),
        (
            "header_with_unknown_member",
            "a member 'note' added to the header, re-signed by the sender",
            n.with_header(n.header_with(note="x"), signer=n.sender),
        ),
        (
            "header_of_the_envelope_format",
            "the header's format set to 'avrr-envelope/1', re-signed by the sender",
            n.with_header(n.header_with(format="avrr-envelope/1"), signer=n.sender),
        ),
        (
            "header_sequence_zero",
            "the header's sequence set to 0 (sequences start at 1), re-signed by the sender",
            n.with_header(n.header_with(sequence=0), signer=n.sender),
        ),
        (
            "header_without_sequence",
            "the header without its member 'sequence', re-signed by the sender",
            n.with_header(
                canonical_json({k: v for k, v in n.header_json.items() if k != "sequence"}),
                signer=n.sender,
            ),
        ),
        (
            "header_with_a_float",
            "the header's sequence written 3.0, re-signed by the sender",
            n.with_header(n.header.replace(b'"sequence":3', b'"sequence":3.0'), signer=n.sender),
        ),
        (
            "an_envelope_is_not_a_bundle",
            "the positive envelope of envelope-v1.json as a file: the same three members, but its"
            " header is not a bundle header",
            canonical_json(_stored_envelopes()[0]),
        ),
    ]
    for name, description, data in cases:
        n.add(name, description, data, "file", BundleRejectReason.MALFORMED)
    spaced = json.dumps(n.header_json, sort_keys=True).encode("utf-8")
    offset = n.header_with(created_at="2026-03-03T09:00:00+01:00")
    not_canonical: list[tuple[str, str, bytes]] = [
        (
            "header_with_whitespace",
            "the header with a space after each ':' and ',', signed by the sender over those bytes",
            spaced,
        ),
        (
            "header_members_reordered",
            "the header's members in reverse order, signed by the sender",
            json.dumps(dict(reversed(n.header_json.items())), separators=(",", ":")).encode(),
        ),
        (
            "header_without_format",
            "the header without its member 'format', signed by the sender: the schema fills in"
            " the only value, so the re-encoded header is not these bytes",
            canonical_json({k: v for k, v in n.header_json.items() if k != "format"}),
        ),
        (
            "header_time_with_offset",
            "created_at spelt '2026-03-03T09:00:00+01:00' (the same instant), signed by the sender",
            offset,
        ),
    ]
    for name, description, header in not_canonical:
        assert header != n.header
        n.add(
            name,
            description,
            n.with_header(header, signer=n.sender),
            "file",
            BundleRejectReason.NOT_CANONICAL,
        )


def _verify_vectors(n: _Negatives) -> None:
    changed: list[tuple[str, str, bytes]] = [
        ("header_sequence_changed", "sequence 3 changed to 4", n.header_with(sequence=4)),
        (
            "header_recipient_changed",
            "recipient changed to 'other-partner.example'",
            n.header_with(recipient="other-partner.example"),
        ),
        ("header_envelopes_changed", "envelopes 2 changed to 1", n.header_with(envelopes=1)),
    ]
    for name, description, header in changed:
        n.add(
            name,
            f"{description}; not re-signed",
            n.with_header(header),
            "verify",
            BundleRejectReason.BAD_SIGNATURE,
        )
    middle = len(n.ciphertext) // 2
    n.add(
        "ciphertext_middle_byte_flipped",
        f"bit 0 of ciphertext byte {middle} flipped; not re-signed",
        n.with_ciphertext(_flip(n.ciphertext, middle), resign=False),
        "verify",
        BundleRejectReason.BAD_SIGNATURE,
    )
    n.add(
        "signature_first_byte_flipped",
        "bit 0 of the first byte of the signature flipped",
        n.with_signature(_flip(n.signature, 0)),
        "verify",
        BundleRejectReason.BAD_SIGNATURE,
    )
    n.add(
        "signed_by_the_attacker",
        "header and ciphertext unchanged, signed with keys.attacker_signing",
        n.with_header(n.header, signer=n.attacker),
        "verify",
        BundleRejectReason.BAD_SIGNATURE,
    )
    envelope_context = b"avrr-envelope/1 signature\x00"
    n.add(
        "signed_under_the_envelope_context",
        "signed by the sender over 'avrr-envelope/1 signature' || 0x00 || u32be(len(H)) || H || C",
        n.with_signature(
            n.sender.sign(
                envelope_context + struct.pack(">I", len(n.header)) + n.header + n.ciphertext
            )
        ),
        "verify",
        BundleRejectReason.BAD_SIGNATURE,
    )
    n.add(
        "sender_key_id_names_the_attackers_key",
        "sender_key_id set to keys.attacker_signing's id, signed by that key: the recipient"
        " knows no such key for the sender",
        n.with_header(
            n.header_with(sender_key_id=n.attacker.key_id),
            signer=n.attacker,
        ),
        "verify",
        BundleRejectReason.UNKNOWN_SIGNING_KEY,
    )
    n.add(
        "signing_key_not_valid_at_creation",
        "created_at set to 2025-12-31T23:00:00Z, before keys.sender_signing.valid_from,"
        " re-signed by the sender",
        n.with_header(n.header_with(created_at="2025-12-31T23:00:00Z"), signer=n.sender),
        "verify",
        BundleRejectReason.SIGNING_KEY_NOT_VALID,
    )


def _open_vectors(n: _Negatives) -> None:
    n.add(
        "header_sequence_changed_and_resigned_by_sender",
        "sequence 3 changed to 4 and re-signed by the sender: the content was sealed under the"
        " other header",
        n.with_header(n.header_with(sequence=4), signer=n.sender),
        "open",
        BundleRejectReason.DECRYPTION_FAILED,
    )
    n.add(
        "ciphertext_tag_last_byte_flipped_and_resigned_by_sender",
        "bit 0 of the last byte of the Poly1305 tag flipped, re-signed by the sender",
        n.with_ciphertext(_flip(n.ciphertext, len(n.ciphertext) - 1), resign=True),
        "open",
        BundleRejectReason.DECRYPTION_FAILED,
    )
    other = V.encryption_key("other_encryption")
    n.add(
        "recipient_key_id_names_another_key",
        "recipient_key_id set to keys.other_encryption's id, re-signed by the sender",
        n.with_header(n.header_with(recipient_key_id=other.key_id), signer=n.sender),
        "open",
        BundleRejectReason.UNKNOWN_RECIPIENT_KEY,
    )
    small = canonical_json(answers_only())
    envelope_info = b"avrr-envelope/1 hpke\x00"
    sealed: list[tuple[str, str, BundleHeader, bytes, bytes, BundleRejectReason]] = [
        (
            "content_sealed_under_the_envelope_context",
            "the answer alone (envelopes 0, answers 1), sealed by the sender with info"
            " 'avrr-envelope/1 hpke' || 0x00 || H, and signed",
            the_header(envelopes=0),
            small,
            envelope_info,
            BundleRejectReason.DECRYPTION_FAILED,
        ),
        (
            "count_of_envelopes_does_not_match",
            "the header states 1 envelope and 1 answer; the content, sealed and signed by the"
            " sender, holds the answer alone",
            the_header(envelopes=1),
            small,
            b"avrr-bundle/1 hpke\x00",
            BundleRejectReason.COUNT_MISMATCH,
        ),
        (
            "count_of_answers_does_not_match",
            "the header states 0 envelopes and 2 answers; the content, sealed and signed by the"
            " sender, holds the answer alone",
            the_header(envelopes=0, answers=2),
            small,
            b"avrr-bundle/1 hpke\x00",
            BundleRejectReason.COUNT_MISMATCH,
        ),
        (
            "content_not_canonical",
            "the answer alone, written with a space after each ':' and ',', sealed and signed"
            " by the sender under a header stating 0 envelopes and 1 answer",
            the_header(envelopes=0),
            json.dumps(answers_only(), sort_keys=True).encode("utf-8"),
            b"avrr-bundle/1 hpke\x00",
            BundleRejectReason.NOT_CANONICAL,
        ),
        (
            "content_with_unknown_member",
            "the answer alone with a member 'note' added to the content, sealed and signed by"
            " the sender under a header stating 0 envelopes and 1 answer",
            the_header(envelopes=0),
            canonical_json({**answers_only(), "note": "x"}),
            b"avrr-bundle/1 hpke\x00",
            BundleRejectReason.MALFORMED,
        ),
    ]
    for name, description, header, plaintext, info_context, reason in sealed:
        data = n.sealed_by_sender(name, header_bytes(header), plaintext, info_context=info_context)
        n.add(name, description, data, "open", reason)


BUILDERS: list[Callable[[_Negatives], None]] = [_file_vectors, _verify_vectors, _open_vectors]

PROCEDURE = [
    "file: read the file as UTF-8 JSON (no member name twice): an object with exactly the"
    " members header, ciphertext and signature, each a string; decode each as unpadded, canonical"
    " base64url (malformed otherwise); read the header bytes as JSON without any floating-point"
    " number (malformed) that is its own RFC 8785 encoding (not_canonical); validate it against"
    " the bundle header schema of docs/protocol.md section 6c (malformed); re-encode the parsed"
    " header and require the same bytes (not_canonical); require a 64-byte signature and a"
    " ciphertext of at least 48 bytes (malformed)",
    "verify: the recipient knows one key for the sender, keys.sender_signing; the header's"
    " sender_key_id must name it (unknown_signing_key); it must be valid at the header's"
    " created_at (signing_key_not_valid); the Ed25519 signature must verify over"
    " 'avrr-bundle/1 signature' || 0x00 || u32be(len(H)) || H || C (bad_signature)",
    "open: the header's recipient_key_id must name keys.recipient_encryption"
    " (unknown_recipient_key); HPKE base-mode open with info = 'avrr-bundle/1 hpke' || 0x00 || H"
    " must succeed (decryption_failed); the content must be JSON without floats (malformed) that"
    " is its own RFC 8785 encoding (not_canonical), a valid bundle content (malformed) that"
    " re-encodes to the same bytes (not_canonical), holding exactly as many envelopes and"
    " answers as the header states (count_mismatch)",
    "A full recipient first checks that the header names it as recipient and looks the sender's"
    " key up by (sender, sender_key_id) in the directory, and after opening applies its import"
    " rules (sequence, replay) and checks each envelope inside as its inbox would; the reasons"
    " here are those of the procedure above",
]


def build(stored: dict[str, Any] | None, *, reseal: bool = False) -> dict[str, Any]:
    """The whole vector document; ``stored`` is the current file, whose ciphertexts are reused."""
    header = the_header()
    encoded = header_bytes(header)
    content = the_content()
    plaintext = canonical_json(content)
    ciphertext = _positive_ciphertext(stored, reseal=reseal)
    sender = V.signing_key("sender_signing")
    signature = _sign(sender, encoded, ciphertext)
    wire = _wire(encoded, ciphertext, signature)
    data = canonical_json(wire)
    info = hpke_info(encoded)
    schedule = V.hpke_base_schedule(
        V.SEEDS["recipient_encryption"], ciphertext[: V.ENC_BYTES], info
    )
    receipt = the_receipt()

    negatives = _Negatives(stored, encoded, ciphertext, reseal=reseal)
    for builder in BUILDERS:
        builder(negatives)
    names = [item["name"] for item in negatives.items]
    assert len(names) == len(set(names)), "negative vector names must be unique"

    return {
        "description": (
            "Known-answer vectors of avrr-bundle/1 (docs/protocol.md, section 6c). All data"
            " synthetic; keys and nodes are those of envelope-v1.json. Regenerate with"
            " tests/vectors/make_bundle_vectors.py: every value is deterministic except the HPKE"
            " outputs, which were sealed once and are kept. Byte strings are hex (*_hex) or"
            " unpadded base64url (*_b64url); files are given as their exact UTF-8 text"
            " (file_utf8), or in base64url (file_b64url) when they are not UTF-8; times are UTC."
        ),
        "format": header.format,
        "suite": header.suite,
        "keys": {name: V._key_entry(name) for name in KEY_NAMES},
        "sender": V.SENDER,
        "recipient": V.RECIPIENT,
        "positive": {
            "header": header.model_dump(mode="json"),
            "header_b64url": b64encode(encoded),
            "content": content,
            "content_from": [
                "envelope-v1.json: positive.wire",
                "batch-v1.json: request.envelopes[1]",
            ],
            "content_utf8": plaintext.decode("utf-8"),
            "content_sha256": hashlib.sha256(plaintext).hexdigest(),
            "hpke": {
                "mode": V.MODE_BASE,
                "kem_id": V.KEM_ID,
                "kdf_id": V.KDF_ID,
                "aead_id": V.AEAD_ID,
                "info_hex": info.hex(),
                "aad_hex": "",
                "enc_hex": ciphertext[: V.ENC_BYTES].hex(),
                "shared_secret_hex": schedule["shared_secret"].hex(),
                "key_hex": schedule["key"].hex(),
                "base_nonce_hex": schedule["base_nonce"].hex(),
            },
            "ciphertext_b64url": b64encode(ciphertext),
            "signed_message_hex": signed_message(encoded, ciphertext).hex(),
            "signature_b64url": b64encode(signature),
            "wire": wire,
            "file_utf8": data.decode("utf-8"),
            "file_sha256": hashlib.sha256(data).hexdigest(),
        },
        "answer": {
            "context": RECEIPT_FORMAT,
            "signer": "sender_signing",
            "payload": receipt,
            "signed_message_hex": (
                RECEIPT_FORMAT.encode("ascii") + b"\x00" + canonical_json(receipt)
            ).hex(),
        },
        "procedure": PROCEDURE,
        "negative": negatives.items,
    }


def render(document: dict[str, Any]) -> str:
    rendered: str = V.render(document)
    return rendered


def load() -> dict[str, Any] | None:
    loaded: dict[str, Any] | None = V.load(PATH)
    return loaded


def main(argv: list[str] | None = None) -> int:
    summary = __doc__.splitlines()[0] if __doc__ else None
    status: int = V.generator_main(
        argv, path=PATH, build=build, script="make_bundle_vectors.py", description=summary
    )
    return status


if __name__ == "__main__":
    raise SystemExit(main())
