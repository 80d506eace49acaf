"""Regenerate ``tests/vectors/envelope-v1.json``, the known-answer vectors of ``avrr-envelope/1``.

Run from the project root::

    .venv/bin/python tests/vectors/make_vectors.py            # rewrite the file
    .venv/bin/python tests/vectors/make_vectors.py --check    # exit 1 if the file differs
    .venv/bin/python tests/vectors/make_vectors.py --reseal   # draw a new HPKE ciphertext

Every value in the file follows from the fixed, synthetic inputs below (key seeds such as
``bytes(range(32))``, one header, one plaintext), with one exception: the HPKE output. HPKE
(RFC 9180) encrypts under a fresh ephemeral X25519 key, and pyca/cryptography draws that key
inside the library with no way to fix it, so sealing twice gives two different ciphertexts. The
script therefore keeps the ciphertext already stored in the file for as long as it still opens,
under the fixed header and recipient key, to the fixed plaintext; it seals afresh only with
``--reseal`` or when there is no file yet. Everything derived from the ciphertext (signatures,
the envelope digest, the receipt, the HPKE key schedule values) is recomputed every time, and
since Ed25519 (RFC 8032) is deterministic a regenerated file is identical to the stored one byte
for byte. ``tests/crypto/test_vectors.py`` checks exactly that.

The expected reason of every negative vector is written here by hand, from the protocol's order of
checks; it is never computed by running the code under test.

No value is real: the keys are counting bytes, the nodes are ``.example`` names, and the referral
describes nobody.
"""

from __future__ import annotations

import argparse
import base64
import json
import struct
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from crypto.encoding import b64decode, b64encode, canonical_json
from crypto.envelope import (
    SealedEnvelope,
    envelope_digest,
    header_bytes,
    open_sealed,
    seal,
)
from crypto.errors import InvalidEnvelope, RejectReason
from crypto.keys import EncryptionKey, SigningKey
from crypto.pseudonym import subject_pseudonym
from crypto.signed import sign_document
from schemas.envelope import RECEIPT_FORMAT, DeliveryReceipt, EnvelopeHeader, WireEnvelope
from schemas.sections import ReferralContent

PATH = Path(__file__).with_name("envelope-v1.json")

# --- Fixed inputs. All synthetic. -----------------------------------------------------------

VALID_FROM = datetime(2026, 1, 1, tzinfo=UTC)
VALID_UNTIL = datetime(2027, 1, 1, tzinfo=UTC)

SEEDS: dict[str, bytes] = {
    "sender_signing": bytes(range(0, 32)),
    "recipient_encryption": bytes(range(32, 64)),
    "recipient_signing": bytes(range(64, 96)),
    "attacker_signing": bytes(range(96, 128)),
    "other_encryption": bytes(range(128, 160)),
}
PSEUDONYM_SECRET = bytes(range(160, 192))
SUBJECT_ID = "synthetic-case-0001"

SENDER = "host-mission.example"
RECIPIENT = "reception-partner.example"
PACKET_ID = bytes(range(0xA0, 0xB0)).hex()
CONSENT_REF = bytes(range(0xC0, 0xD0)).hex()
TRANSFER_GROUND = "explicit_consent_informed_of_risks"
CREATED_AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
DELETE_BY = CREATED_AT + timedelta(days=10)
#: Each section's own delete-by date; the latest of them is ``DELETE_BY``.
SECTION_DELETE_BY = {"arrival": DELETE_BY, "travel": CREATED_AT + timedelta(days=7)}

# The receiver's clock and limits for the positive vector (the defaults of partners.inbound).
NOW = CREATED_AT + timedelta(hours=1)
WINDOW = timedelta(days=14)
SKEW = timedelta(minutes=5)

CONTENT: dict[str, Any] = {
    "arrival": {
        "contact_language": "en",
        "reception_requested": True,
        "temporary_accommodation_nights": 2,
    },
    "travel": {
        "assistance_at_arrival": True,
        "escort": "none",
        "travel_document_status": "emergency_travel_document",
    },
}

# HPKE (RFC 9180) identifiers of the suite, and the base mode.
KEM_ID, KDF_ID, AEAD_ID, MODE_BASE = 0x0020, 0x0001, 0x0003, 0x00
ENC_BYTES, TAG_BYTES = 32, 16


def _time(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def signing_key(name: str) -> SigningKey:
    return SigningKey(SEEDS[name], VALID_FROM, VALID_UNTIL)


def encryption_key(name: str) -> EncryptionKey:
    return EncryptionKey(SEEDS[name], VALID_FROM, VALID_UNTIL)


def signed_message(header: bytes, ciphertext: bytes) -> bytes:
    """The envelope signature input, written out from the protocol rather than imported."""
    return b"avrr-envelope/1 signature\x00" + struct.pack(">I", len(header)) + header + ciphertext


def hpke_info(header: bytes) -> bytes:
    return b"avrr-envelope/1 hpke\x00" + header


def sign_envelope(key: SigningKey, header: bytes, ciphertext: bytes) -> bytes:
    return key.sign(signed_message(header, ciphertext))


def the_header() -> EnvelopeHeader:
    return EnvelopeHeader(
        kind="referral",
        packet_id=PACKET_ID,
        sender=SENDER,
        recipient=RECIPIENT,
        purpose="arrival_reception",
        subject=subject_pseudonym(PSEUDONYM_SECRET, subject_id=SUBJECT_ID, recipient=RECIPIENT),
        consent_ref=CONSENT_REF,
        transfer_ground=TRANSFER_GROUND,
        sections=["arrival", "travel"],
        created_at=CREATED_AT,
        delete_by=DELETE_BY,
        section_delete_by=SECTION_DELETE_BY,
        sender_key_id=signing_key("sender_signing").key_id,
        recipient_key_id=encryption_key("recipient_encryption").key_id,
    )


def the_plaintext() -> bytes:
    return canonical_json(ReferralContent.model_validate(CONTENT).to_wire())


# --- An independent reading of RFC 9180 (receiver side), to publish the key schedule. -------


def _extract(salt: bytes, ikm: bytes) -> bytes:
    mac = hmac.HMAC(salt or bytes(32), hashes.SHA256())
    mac.update(ikm)
    return mac.finalize()


def _labeled_extract(suite_id: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return _extract(salt, b"HPKE-v1" + suite_id + label + ikm)


def _labeled_expand(suite_id: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    labeled = struct.pack(">H", length) + b"HPKE-v1" + suite_id + label + info
    return HKDFExpand(hashes.SHA256(), length, labeled).derive(prk)


def hpke_base_schedule(recipient_seed: bytes, enc: bytes, info: bytes) -> dict[str, bytes]:
    """Decap and KeySchedule of RFC 9180 sections 4.1 and 5.1, mode_base, for this suite."""
    private = x25519.X25519PrivateKey.from_private_bytes(recipient_seed)
    recipient_public = private.public_key().public_bytes_raw()
    dh = private.exchange(x25519.X25519PublicKey.from_public_bytes(enc))
    kem_suite = b"KEM" + struct.pack(">H", KEM_ID)
    eae_prk = _labeled_extract(kem_suite, b"", b"eae_prk", dh)
    shared_secret = _labeled_expand(
        kem_suite, eae_prk, b"shared_secret", enc + recipient_public, 32
    )
    suite = b"HPKE" + struct.pack(">HHH", KEM_ID, KDF_ID, AEAD_ID)
    context = (
        bytes([MODE_BASE])
        + _labeled_extract(suite, b"", b"psk_id_hash", b"")
        + _labeled_extract(suite, b"", b"info_hash", info)
    )
    secret = _labeled_extract(suite, shared_secret, b"secret", b"")
    return {
        "shared_secret": shared_secret,
        "key": _labeled_expand(suite, secret, b"key", context, 32),
        "base_nonce": _labeled_expand(suite, secret, b"base_nonce", context, 12),
    }


# --- The document. ---------------------------------------------------------------------------


def _key_entry(name: str) -> dict[str, str]:
    key: SigningKey | EncryptionKey = (
        signing_key(name) if name.endswith("_signing") else encryption_key(name)
    )
    public = key.public_key()
    return {
        "use": public.use.value,
        "seed_hex": key.seed.hex(),
        "public_hex": public.public.hex(),
        "key_id": public.key_id,
        "valid_from": _time(key.valid_from),
        "valid_until": _time(key.valid_until),
    }


def _stored_ciphertext(stored: dict[str, Any] | None) -> bytes | None:
    if stored is None:
        return None
    return b64decode(stored["positive"]["ciphertext_b64url"])


def _ciphertext(stored: dict[str, Any] | None, *, reseal: bool) -> bytes:
    header, plaintext = the_header(), the_plaintext()
    recipient = encryption_key("recipient_encryption")
    previous = None if reseal else _stored_ciphertext(stored)
    if previous is None:
        sealed = seal(
            header,
            plaintext,
            signing_key=signing_key("sender_signing"),
            recipient_key=recipient.public_key(),
        )
        return sealed.ciphertext
    encoded = header_bytes(header)
    probe = SealedEnvelope(header, encoded, previous, b"")
    try:
        opened = open_sealed(probe, recipient)
    except InvalidEnvelope:
        opened = None
    if opened != plaintext:
        raise SystemExit(
            "the stored ciphertext no longer opens to the fixed plaintext under the fixed header;"
            " run with --reseal"
        )
    return previous


def _wire(header: bytes, ciphertext: bytes, signature: bytes) -> dict[str, str]:
    return {
        "header": b64encode(header),
        "ciphertext": b64encode(ciphertext),
        "signature": b64encode(signature),
    }


def _flip(data: bytes, index: int, mask: int = 0x01) -> bytes:
    changed = bytearray(data)
    changed[index] ^= mask
    return bytes(changed)


class _Negatives:
    """Builds the negative vectors from the positive one; each names its stage and reason."""

    def __init__(self, header: bytes, ciphertext: bytes) -> None:
        self.header = header
        self.ciphertext = ciphertext
        self.header_json: dict[str, Any] = json.loads(header)
        self.sender = signing_key("sender_signing")
        self.attacker = signing_key("attacker_signing")
        self.signature = sign_envelope(self.sender, header, ciphertext)
        self.items: list[dict[str, Any]] = []

    def add(
        self,
        name: str,
        description: str,
        wire: dict[str, Any],
        stage: str,
        reason: RejectReason,
        now: datetime | None = None,
    ) -> None:
        item: dict[str, Any] = {"name": name, "description": description, "wire": wire}
        if now is not None:
            item["now"] = _time(now)
        item["stage"] = stage
        item["expected_reason"] = reason.value
        self.items.append(item)

    def header_with(self, **changes: Any) -> bytes:
        return canonical_json({**self.header_json, **changes})

    def with_header(self, header: bytes, *, signer: SigningKey | None = None) -> dict[str, str]:
        signature = (
            self.signature if signer is None else sign_envelope(signer, header, self.ciphertext)
        )
        return _wire(header, self.ciphertext, signature)

    def with_ciphertext(self, ciphertext: bytes, *, resign: bool) -> dict[str, str]:
        signature = (
            sign_envelope(self.sender, self.header, ciphertext) if resign else self.signature
        )
        return _wire(self.header, ciphertext, signature)

    def with_signature(self, signature: bytes) -> dict[str, str]:
        return _wire(self.header, self.ciphertext, signature)


# For each header field: a value that still satisfies the schema (where the schema allows any other
# value at all), and the reason when the header is changed without re-signing. ``format`` and
# ``suite`` admit exactly one value, so any change is malformed; a changed ``sender_key_id`` no
# longer names the sender's key, which is refused before the signature is even checked.
_OTHER_RECIPIENT = "other-partner.example"
FIELD_CHANGES: dict[str, tuple[Any, str, RejectReason]] = {
    "format": ("avrr-envelope/2", "parse", RejectReason.MALFORMED),
    "suite": (
        "HPKE-base-X25519-HKDFSHA256-AES256GCM/Ed25519",
        "parse",
        RejectReason.MALFORMED,
    ),
    "kind": ("status_update", "verify", RejectReason.BAD_SIGNATURE),
    "packet_id": (bytes(range(0xB0, 0xC0)).hex(), "verify", RejectReason.BAD_SIGNATURE),
    "sender": ("other-node.example", "verify", RejectReason.BAD_SIGNATURE),
    "recipient": (_OTHER_RECIPIENT, "verify", RejectReason.BAD_SIGNATURE),
    "purpose": ("reintegration_assistance", "verify", RejectReason.BAD_SIGNATURE),
    "subject": (
        subject_pseudonym(PSEUDONYM_SECRET, subject_id=SUBJECT_ID, recipient=_OTHER_RECIPIENT),
        "verify",
        RejectReason.BAD_SIGNATURE,
    ),
    "consent_ref": (bytes(range(0xD0, 0xE0)).hex(), "verify", RejectReason.BAD_SIGNATURE),
    "transfer_ground": ("vital_interests", "verify", RejectReason.BAD_SIGNATURE),
    "sections": (["arrival"], "verify", RejectReason.BAD_SIGNATURE),
    "created_at": (_time(CREATED_AT - timedelta(hours=1)), "verify", RejectReason.BAD_SIGNATURE),
    "delete_by": (_time(DELETE_BY + timedelta(days=30)), "verify", RejectReason.BAD_SIGNATURE),
    "section_delete_by": (
        {"arrival": _time(DELETE_BY), "travel": _time(CREATED_AT + timedelta(days=3))},
        "verify",
        RejectReason.BAD_SIGNATURE,
    ),
    "sender_key_id": (
        signing_key("attacker_signing").key_id,
        "verify",
        RejectReason.UNKNOWN_SIGNING_KEY,
    ),
    "recipient_key_id": (
        encryption_key("other_encryption").key_id,
        "verify",
        RejectReason.BAD_SIGNATURE,
    ),
}

# A referral's section_delete_by must name exactly its sections, and delete_by must be the latest of
# those dates: a change to ``sections`` or ``delete_by`` alone would make the header malformed, so
# these changes carry the matching section_delete_by along (the header stays schema-valid).
ALSO_CHANGED: dict[str, dict[str, Any]] = {
    "sections": {"section_delete_by": {"arrival": _time(DELETE_BY)}},
    "delete_by": {
        "section_delete_by": {
            "arrival": _time(DELETE_BY + timedelta(days=30)),
            "travel": _time(SECTION_DELETE_BY["travel"]),
        }
    },
}

# The same changes, re-signed by the genuine sender key: the signature now holds, so what refuses
# the packet is the binding of the header into the encryption (HPKE ``info``), or an earlier check.
RESIGNED_OUTCOME: dict[str, tuple[str, RejectReason]] = {
    "format": ("parse", RejectReason.MALFORMED),
    "suite": ("parse", RejectReason.MALFORMED),
    "sender_key_id": ("verify", RejectReason.UNKNOWN_SIGNING_KEY),
    "recipient_key_id": ("open", RejectReason.UNKNOWN_RECIPIENT_KEY),
}


def _changed(field: str, value: Any) -> tuple[dict[str, Any], str]:
    """The changes for a field (with what must change along) and how the description says so."""
    also = ALSO_CHANGED.get(field, {})
    said = "".join(f" (and {name!r} set to {other!r} to match)" for name, other in also.items())
    return {field: value, **also}, f"header field {field!r} set to {value!r}{said}"


def _header_vectors(n: _Negatives) -> None:
    for field, (value, stage, reason) in FIELD_CHANGES.items():
        changes, said = _changed(field, value)
        n.add(
            f"header_{field}_changed",
            f"{said}; header, ciphertext and signature otherwise as in the positive vector (not"
            " re-signed)",
            n.with_header(n.header_with(**changes)),
            stage,
            reason,
        )
    for field, (value, _, _) in FIELD_CHANGES.items():
        changes, said = _changed(field, value)
        header = n.header_with(**changes)
        stage, reason = RESIGNED_OUTCOME.get(field, ("open", RejectReason.DECRYPTION_FAILED))
        n.add(
            f"header_{field}_changed_and_resigned_by_sender",
            f"{said} and signed again with the genuine sender key over the original ciphertext:"
            " the signature holds, the header no longer matches the HPKE info the ciphertext was"
            " sealed under",
            n.with_header(header, signer=n.sender),
            stage,
            reason,
        )
    n.add(
        "attacker_resigns_changed_header_keeping_sender_key_id",
        "purpose changed to 'reintegration_assistance' and signed with a key the sender does not"
        " hold (keys.attacker_signing); the header still names the sender's key id",
        n.with_header(n.header_with(purpose="reintegration_assistance"), signer=n.attacker),
        "verify",
        RejectReason.BAD_SIGNATURE,
    )
    n.add(
        "attacker_resigns_naming_own_key",
        "sender_key_id set to the attacker's key id and signed with keys.attacker_signing: the"
        " receiver knows no such key for this sender",
        n.with_header(n.header_with(sender_key_id=n.attacker.key_id), signer=n.attacker),
        "verify",
        RejectReason.UNKNOWN_SIGNING_KEY,
    )
    n.add(
        "attacker_resigns_unchanged_envelope",
        "the positive header and ciphertext, signed with keys.attacker_signing instead",
        n.with_header(n.header, signer=n.attacker),
        "verify",
        RejectReason.BAD_SIGNATURE,
    )
    n.add(
        "signing_key_not_valid_at_creation",
        "created_at set to 2025-12-31T23:00:00Z, before keys.sender_signing.valid_from, and"
        " re-signed by the sender",
        n.with_header(n.header_with(created_at="2025-12-31T23:00:00Z"), signer=n.sender),
        "verify",
        RejectReason.SIGNING_KEY_NOT_VALID,
    )


def _ciphertext_vectors(n: _Negatives) -> None:
    c = n.ciphertext
    flips = {
        "enc_first_byte": (0, "bit 0 of the first byte of enc (the ephemeral public key)"),
        "middle_byte": (len(c) // 2, f"bit 0 of byte {len(c) // 2}, in the AEAD ciphertext"),
        "tag_last_byte": (len(c) - 1, "bit 0 of the last byte of the Poly1305 tag"),
    }
    for label, (index, what) in flips.items():
        flipped = _flip(c, index)
        n.add(
            f"ciphertext_{label}_flipped",
            f"{what} flipped; not re-signed",
            n.with_ciphertext(flipped, resign=False),
            "verify",
            RejectReason.BAD_SIGNATURE,
        )
        n.add(
            f"ciphertext_{label}_flipped_and_resigned_by_sender",
            f"{what} flipped and re-signed by the sender: the AEAD tag refuses it",
            n.with_ciphertext(flipped, resign=True),
            "open",
            RejectReason.DECRYPTION_FAILED,
        )
    n.add(
        "ciphertext_truncated_by_one_byte",
        "the last byte of the tag removed; not re-signed",
        n.with_ciphertext(c[:-1], resign=False),
        "verify",
        RejectReason.BAD_SIGNATURE,
    )
    n.add(
        "ciphertext_truncated_by_one_byte_and_resigned_by_sender",
        "the last byte of the tag removed and re-signed by the sender",
        n.with_ciphertext(c[:-1], resign=True),
        "open",
        RejectReason.DECRYPTION_FAILED,
    )
    n.add(
        "ciphertext_only_enc_and_tag_resigned_by_sender",
        "exactly 48 bytes (enc and the last 16 bytes as a tag), re-signed by the sender",
        n.with_ciphertext(c[:ENC_BYTES] + c[-TAG_BYTES:], resign=True),
        "open",
        RejectReason.DECRYPTION_FAILED,
    )
    n.add(
        "ciphertext_shorter_than_hpke_overhead",
        "the first 47 bytes only (less than enc and tag), re-signed by the sender",
        n.with_ciphertext(c[: ENC_BYTES + TAG_BYTES - 1], resign=True),
        "parse",
        RejectReason.MALFORMED,
    )
    n.add(
        "ciphertext_empty",
        "an empty ciphertext, re-signed by the sender",
        n.with_ciphertext(b"", resign=True),
        "parse",
        RejectReason.MALFORMED,
    )
    n.add(
        "ciphertext_extended_by_one_byte",
        "a zero byte appended; not re-signed",
        n.with_ciphertext(c + b"\x00", resign=False),
        "verify",
        RejectReason.BAD_SIGNATURE,
    )


def _signature_vectors(n: _Negatives) -> None:
    s = n.signature
    n.add(
        "signature_first_byte_flipped",
        "bit 0 of the first byte of the signature (in R) flipped",
        n.with_signature(_flip(s, 0)),
        "verify",
        RejectReason.BAD_SIGNATURE,
    )
    n.add(
        "signature_last_byte_flipped",
        "bit 0 of the last byte of the signature (in S) flipped",
        n.with_signature(_flip(s, len(s) - 1)),
        "verify",
        RejectReason.BAD_SIGNATURE,
    )
    n.add(
        "signature_all_zero",
        "64 zero bytes",
        n.with_signature(bytes(64)),
        "verify",
        RejectReason.BAD_SIGNATURE,
    )
    n.add(
        "signature_63_bytes",
        "the last byte of the signature removed",
        n.with_signature(s[:-1]),
        "parse",
        RejectReason.MALFORMED,
    )
    n.add(
        "signature_65_bytes",
        "a zero byte appended to the signature",
        n.with_signature(s + b"\x00"),
        "parse",
        RejectReason.MALFORMED,
    )
    n.add(
        "signature_empty",
        "an empty signature",
        n.with_signature(b""),
        "parse",
        RejectReason.MALFORMED,
    )


def _noncanonical_header_vectors(n: _Negatives) -> None:
    """Headers that are not the one canonical encoding, each signed by the sender over its bytes."""
    h = n.header_json
    created = h["created_at"]
    assert created.endswith("Z")
    spaced = json.dumps(h, sort_keys=True, ensure_ascii=False).encode()
    reordered = json.dumps(dict(reversed(h.items())), separators=(",", ":")).encode()
    duplicated = n.header[:-1] + b',"sender":' + json.dumps(h["sender"]).encode() + b"}"
    escaped = n.header.replace(b'"sender":"h', b'"sender":"\\u0068', 1)
    cases: list[tuple[str, str, bytes, str, RejectReason]] = [
        (
            "header_with_whitespace",
            "the header JSON with a space after every ':' and ','",
            spaced,
            "parse",
            RejectReason.NOT_CANONICAL,
        ),
        (
            "header_with_trailing_newline",
            "the canonical header followed by a newline (0x0a)",
            n.header + b"\n",
            "parse",
            RejectReason.NOT_CANONICAL,
        ),
        (
            "header_with_keys_reordered",
            "the header's members in reverse order, no whitespace",
            reordered,
            "parse",
            RejectReason.NOT_CANONICAL,
        ),
        (
            "header_with_duplicate_member",
            "the member 'sender' repeated at the end with the same value",
            duplicated,
            "parse",
            RejectReason.NOT_CANONICAL,
        ),
        (
            "header_with_escaped_ascii",
            "the first letter of 'sender' written as the escape \\u0068",
            escaped,
            "parse",
            RejectReason.NOT_CANONICAL,
        ),
        (
            "header_time_with_utc_offset_instead_of_z",
            "created_at written with '+00:00' instead of 'Z' (same instant)",
            n.header_with(created_at=created[:-1] + "+00:00"),
            "parse",
            RejectReason.NOT_CANONICAL,
        ),
        (
            "header_time_with_other_offset",
            "created_at written as the same instant at '+01:00'",
            n.header_with(created_at=_time(CREATED_AT + timedelta(hours=1))[:-1] + "+01:00"),
            "parse",
            RejectReason.NOT_CANONICAL,
        ),
        (
            "header_time_with_fraction",
            "created_at written with '.000' fractional seconds",
            n.header_with(created_at=created[:-1] + ".000Z"),
            "parse",
            RejectReason.NOT_CANONICAL,
        ),
        (
            "header_with_unknown_field",
            "a canonical header with an extra member 'note'",
            n.header_with(note="synthetic"),
            "parse",
            RejectReason.MALFORMED,
        ),
        (
            "header_missing_a_field",
            "a canonical header without 'consent_ref'",
            canonical_json({k: v for k, v in h.items() if k != "consent_ref"}),
            "parse",
            RejectReason.MALFORMED,
        ),
        (
            "header_sections_not_sorted",
            "sections listed as ['travel', 'arrival']",
            n.header_with(sections=["travel", "arrival"]),
            "parse",
            RejectReason.MALFORMED,
        ),
        (
            "header_delete_by_before_created_at",
            "delete_by one second before created_at",
            n.header_with(delete_by=_time(CREATED_AT - timedelta(seconds=1))),
            "parse",
            RejectReason.MALFORMED,
        ),
        (
            "header_with_float_member",
            "the member '\"z\":1.0' added before the closing brace: any float makes the header"
            " malformed (RFC 8785 alone would re-encode it as 1 and call the bytes non-canonical)",
            n.header[:-1] + b',"z":1.0}',
            "parse",
            RejectReason.MALFORMED,
        ),
        (
            "header_with_exponent_number",
            "the member '\"z\":1E2' added before the closing brace (a JSON number with an"
            " exponent is read as a float)",
            n.header[:-1] + b',"z":1E2}',
            "parse",
            RejectReason.MALFORMED,
        ),
        (
            "header_is_a_json_array",
            'the header is the canonical JSON array ["avrr-envelope/1"]',
            canonical_json(["avrr-envelope/1"]),
            "parse",
            RejectReason.MALFORMED,
        ),
        (
            "header_not_utf8",
            "the canonical header with byte 0xff inserted inside the 'sender' string",
            n.header.replace(b'"sender":"h', b'"sender":"\xffh', 1),
            "parse",
            RejectReason.MALFORMED,
        ),
        (
            "header_truncated_json",
            "the canonical header without its closing brace",
            n.header[:-1],
            "parse",
            RejectReason.MALFORMED,
        ),
    ]
    for name, description, header, stage, reason in cases:
        assert header != n.header
        n.add(name, description, n.with_header(header, signer=n.sender), stage, reason)


def _transfer_ground_vectors(n: _Negatives) -> None:
    """The legal ground of the transfer: required in a referral, ``null`` in any other kind."""
    h = n.header_json
    without = {k: v for k, v in h.items() if k != "transfer_ground"}
    cases: list[tuple[str, str, bytes, str, RejectReason]] = [
        (
            "referral_without_transfer_ground",
            "a referral header without the member 'transfer_ground', canonical and signed by the"
            " sender: a referral must state the legal ground of the transfer",
            canonical_json(without),
            "parse",
            RejectReason.MALFORMED,
        ),
        (
            "referral_with_null_transfer_ground",
            "a referral header with 'transfer_ground': null, canonical and signed by the sender",
            n.header_with(transfer_ground=None),
            "parse",
            RejectReason.MALFORMED,
        ),
        (
            "transfer_ground_not_a_known_ground",
            "'transfer_ground' set to 'legitimate_interests', which is not one of the three"
            " grounds, and signed by the sender",
            n.header_with(transfer_ground="legitimate_interests"),
            "parse",
            RejectReason.MALFORMED,
        ),
        (
            "non_referral_without_transfer_ground_member",
            "kind 'status_update' and no member 'transfer_ground', signed by the sender: the"
            " schema allows the ground to be absent for this kind, but the re-encoded header"
            " carries 'transfer_ground': null, so these bytes are not the canonical header",
            canonical_json({**without, "kind": "status_update"}),
            "parse",
            RejectReason.NOT_CANONICAL,
        ),
        (
            "non_referral_with_null_transfer_ground_resigned_by_sender",
            "kind 'status_update' with 'transfer_ground': null, signed by the sender: a valid"
            " header for that kind, which passes every check up to decryption and fails there,"
            " because the ciphertext was sealed under the referral header",
            n.header_with(kind="status_update", transfer_ground=None),
            "open",
            RejectReason.DECRYPTION_FAILED,
        ),
    ]
    for name, description, header, stage, reason in cases:
        assert header != n.header
        n.add(name, description, n.with_header(header, signer=n.sender), stage, reason)


def _section_delete_by_vectors(n: _Negatives) -> None:
    """Each section's delete-by date: required in a referral, for exactly its sections, with
    ``delete_by`` the latest of them; ``null`` in any other kind. Signed like the rest."""
    h = n.header_json
    arrival, travel = _time(DELETE_BY), _time(SECTION_DELETE_BY["travel"])
    without = {k: v for k, v in h.items() if k != "section_delete_by"}
    status_update = {**without, "kind": "status_update", "transfer_ground": None}
    signed: list[tuple[str, str, bytes, str, RejectReason]] = [
        (
            "referral_without_section_delete_by",
            "a referral header without the member 'section_delete_by', canonical and signed by the"
            " sender: a referral must state a delete-by date for each of its sections",
            canonical_json(without),
            "parse",
            RejectReason.MALFORMED,
        ),
        (
            "referral_with_null_section_delete_by",
            "a referral header with 'section_delete_by': null, canonical and signed by the sender",
            n.header_with(section_delete_by=None),
            "parse",
            RejectReason.MALFORMED,
        ),
        (
            "section_delete_by_missing_a_section",
            "'section_delete_by' dates only 'arrival' while 'sections' is ['arrival', 'travel'];"
            " signed by the sender",
            n.header_with(section_delete_by={"arrival": arrival}),
            "parse",
            RejectReason.MALFORMED,
        ),
        (
            "section_delete_by_keys_not_matching_sections",
            "'section_delete_by' dates 'arrival' and 'medical' while 'sections' is ['arrival',"
            " 'travel']; signed by the sender",
            n.header_with(section_delete_by={"arrival": arrival, "medical": travel}),
            "parse",
            RejectReason.MALFORMED,
        ),
        (
            "section_delete_by_with_a_section_not_sent",
            "'section_delete_by' also dates 'medical', which is not in 'sections'; signed by the"
            " sender",
            n.header_with(
                section_delete_by={"arrival": arrival, "medical": travel, "travel": travel}
            ),
            "parse",
            RejectReason.MALFORMED,
        ),
        (
            "section_delete_by_at_created_at",
            "the travel section's delete-by date set to created_at; signed by the sender",
            n.header_with(section_delete_by={"arrival": arrival, "travel": _time(CREATED_AT)}),
            "parse",
            RejectReason.MALFORMED,
        ),
        (
            "delete_by_not_the_latest_section_date",
            "the arrival section's delete-by date set one day before delete_by, so delete_by is"
            " no longer the latest section date; signed by the sender",
            n.header_with(
                section_delete_by={
                    "arrival": _time(DELETE_BY - timedelta(days=1)),
                    "travel": travel,
                }
            ),
            "parse",
            RejectReason.MALFORMED,
        ),
        (
            "section_delete_by_time_with_fraction",
            "the travel section's delete-by date written with '.000' fractional seconds (same"
            " instant); signed by the sender",
            n.header_with(section_delete_by={"arrival": arrival, "travel": travel[:-1] + ".000Z"}),
            "parse",
            RejectReason.NOT_CANONICAL,
        ),
        (
            "non_referral_without_section_delete_by_member",
            "kind 'status_update', 'transfer_ground': null and no member 'section_delete_by',"
            " signed by the sender: the schema allows the dates to be absent for this kind, but"
            " the re-encoded header carries 'section_delete_by': null, so these bytes are not the"
            " canonical header",
            canonical_json(status_update),
            "parse",
            RejectReason.NOT_CANONICAL,
        ),
        (
            "non_referral_with_null_section_delete_by_resigned_by_sender",
            "kind 'status_update' with 'transfer_ground' and 'section_delete_by' null, signed by"
            " the sender: a valid header for that kind, which fails only at decryption, because"
            " the ciphertext was sealed under the referral header",
            canonical_json({**status_update, "section_delete_by": None}),
            "open",
            RejectReason.DECRYPTION_FAILED,
        ),
    ]
    for name, description, header, stage, reason in signed:
        assert header != n.header
        n.add(name, description, n.with_header(header, signer=n.sender), stage, reason)
    extended = n.header_with(section_delete_by={"arrival": arrival, "travel": arrival})
    n.add(
        "section_delete_by_date_tampered",
        f"the travel section's delete-by date extended from {travel!r} to {arrival!r} (still a"
        " valid header); header, ciphertext and signature otherwise as in the positive vector"
        " (not re-signed)",
        n.with_header(extended),
        "verify",
        RejectReason.BAD_SIGNATURE,
    )


_B64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _with_a_trailing_bit(text: str) -> str:
    """``text`` with the lowest unused bit of its last character set: same bytes, other text."""
    assert len(text) % 4 in (2, 3), "the byte string leaves no unused bits"
    index = _B64URL_ALPHABET.index(text[-1])
    assert index & 1 == 0
    changed = text[:-1] + _B64URL_ALPHABET[index | 1]
    assert base64.urlsafe_b64decode(changed + "=" * (-len(changed) % 4)) == b64decode(text)
    return changed


def _base64_vectors(n: _Negatives) -> None:
    good = _wire(n.header, n.ciphertext, n.signature)
    padded = base64.urlsafe_b64encode(n.signature).decode("ascii")
    assert padded.endswith("==")
    standard = base64.b64encode(n.ciphertext).decode("ascii")
    assert standard != good["ciphertext"], "the stored ciphertext happens to avoid '+' and '/'"
    trailing = _with_a_trailing_bit(good["signature"])
    header_trailing = _with_a_trailing_bit(good["header"])
    wrapped = good["ciphertext"][:64] + "\n" + good["ciphertext"][64:]
    cases: list[tuple[str, str, dict[str, Any]]] = [
        (
            "signature_with_base64_padding",
            "the signature in base64url with its '==' padding",
            {**good, "signature": padded},
        ),
        (
            "ciphertext_in_standard_base64_alphabet",
            "the ciphertext in the standard alphabet ('+' and '/'), unpadded",
            {**good, "ciphertext": standard.rstrip("=")},
        ),
        (
            "header_with_invalid_character",
            "'*' appended to the header text",
            {**good, "header": good["header"] + "*"},
        ),
        (
            "ciphertext_with_line_break",
            "a newline inserted after the 64th character of the ciphertext text",
            {**good, "ciphertext": wrapped},
        ),
        (
            "signature_with_non_zero_trailing_bits",
            "the last character of the signature text raised by one: it decodes to the same"
            " bytes but sets an unused trailing bit, so it is not the one canonical text",
            {**good, "signature": trailing},
        ),
        (
            "header_with_non_zero_trailing_bits",
            "the last character of the header text changed so that it sets an unused trailing"
            " bit: it decodes to the same header bytes, but it is not their canonical text",
            {**good, "header": header_trailing},
        ),
        (
            "header_length_one_mod_four",
            "'A' appended to the header text (no byte string encodes to that length)",
            {**good, "header": good["header"] + "A"},
        ),
        (
            "wire_with_unknown_member",
            "the wire object with an extra member 'version'",
            {**good, "version": 1},
        ),
        (
            "wire_without_signature",
            "the wire object without 'signature'",
            {k: v for k, v in good.items() if k != "signature"},
        ),
    ]
    # These two use only the base64url alphabet, so the JSON body's schema lets them through and
    # the strict decoder refuses them; the others already fail the body's schema.
    decoder_only = {
        "signature_with_non_zero_trailing_bits",
        "header_with_non_zero_trailing_bits",
        "header_length_one_mod_four",
    }
    for name, description, wire in cases:
        stage = "parse" if name in decoder_only else "body"
        n.add(name, description, wire, stage, RejectReason.MALFORMED)


def _time_vectors(n: _Negatives) -> None:
    good = _wire(n.header, n.ciphertext, n.signature)
    n.add(
        "created_in_the_future_beyond_skew",
        "the positive envelope, received one second more than the allowed skew before created_at",
        good,
        "times",
        RejectReason.FROM_THE_FUTURE,
        now=CREATED_AT - SKEW - timedelta(seconds=1),
    )
    n.add(
        "older_than_acceptance_window",
        "the positive envelope, received one second after created_at + window (it is also past"
        " delete_by: freshness is checked first)",
        good,
        "times",
        RejectReason.STALE,
        now=CREATED_AT + WINDOW + timedelta(seconds=1),
    )
    n.add(
        "received_at_delete_by",
        "the positive envelope, received at exactly delete_by",
        good,
        "times",
        RejectReason.PAST_DELETE_BY,
        now=DELETE_BY,
    )


BUILDERS: list[Callable[[_Negatives], None]] = [
    _header_vectors,
    _ciphertext_vectors,
    _signature_vectors,
    _noncanonical_header_vectors,
    _transfer_ground_vectors,
    _section_delete_by_vectors,
    _base64_vectors,
    _time_vectors,
]

PROCEDURE = [
    "body: read 'wire' as the JSON body of an inbox request: an object with exactly the members"
    " header, ciphertext and signature, each a string over [A-Za-z0-9_-]; otherwise malformed",
    "parse: decode each string as unpadded, canonical base64url (malformed otherwise); read the"
    " header bytes as UTF-8 JSON without any floating-point number (malformed) that is its own"
    " RFC 8785 encoding (header_not_canonical); validate it against the header schema of"
    " docs/protocol.md section 4, under which a referral must name a transfer_ground and a"
    " section_delete_by whose members are exactly its sections, each a whole second after"
    " created_at, the latest equal to delete_by (malformed); re-encode the parsed header, in"
    " which an absent transfer_ground or section_delete_by becomes null, and require the same"
    " bytes (header_not_canonical); require a 64-byte"
    " signature and a ciphertext of at least 48 bytes (malformed)",
    "verify: the receiver knows one key for the sender, keys.sender_signing; the header's"
    " sender_key_id must name it (unknown_signing_key); it must be valid at the header's"
    " created_at (signing_key_not_valid_at_creation); the Ed25519 signature must verify over"
    " 'avrr-envelope/1 signature' || 0x00 || u32be(len(H)) || H || C (bad_signature)",
    "times: with now (the vector's, else acceptance.now), window and skew from 'acceptance':"
    " created_at > now + skew is created_in_the_future; created_at < now - window is"
    " older_than_acceptance_window; delete_by <= now is past_delete_by",
    "open: the header's recipient_key_id must name keys.recipient_encryption"
    " (unknown_recipient_key); HPKE base-mode open with info = 'avrr-envelope/1 hpke' || 0x00"
    " || H must succeed (decryption_failed)",
    "A full receiver (partners/inbound.py) first checks that the header names it as recipient"
    " and looks the sender's key up by (sender, sender_key_id) in the directory, so it may refuse"
    " some of these vectors earlier with wrong_recipient, unknown_sender or unknown_signing_key;"
    " the reasons here are those of the procedure above",
]


def build(stored: dict[str, Any] | None, *, reseal: bool = False) -> dict[str, Any]:
    """The whole vector document; ``stored`` is the current file, whose ciphertext is reused."""
    header = the_header()
    encoded = header_bytes(header)
    plaintext = the_plaintext()
    ciphertext = _ciphertext(stored, reseal=reseal)
    sender = signing_key("sender_signing")
    signature = sign_envelope(sender, encoded, ciphertext)
    wire = _wire(encoded, ciphertext, signature)
    digest = envelope_digest(WireEnvelope.model_validate(wire))
    info = hpke_info(encoded)
    schedule = hpke_base_schedule(SEEDS["recipient_encryption"], ciphertext[:ENC_BYTES], info)

    receipt = DeliveryReceipt(
        packet_id=header.packet_id,
        sender=header.sender,
        recipient=header.recipient,
        envelope_sha256=digest,
        received_at=NOW,
    ).model_dump(mode="json")
    receipt_doc = sign_document(receipt, signing_key("recipient_signing"), context=RECEIPT_FORMAT)
    receipt_payload = canonical_json(receipt)

    negatives = _Negatives(encoded, ciphertext)
    for builder in BUILDERS:
        builder(negatives)
    names = [item["name"] for item in negatives.items]
    assert len(names) == len(set(names)), "negative vector names must be unique"

    return {
        "description": (
            "Known-answer vectors of avrr-envelope/1 (docs/protocol.md). All data synthetic."
            " Regenerate with tests/vectors/make_vectors.py: every value is deterministic except"
            " the HPKE output, which was sealed once and is kept (HPKE draws a random ephemeral"
            " key). Byte strings are hex (*_hex) or unpadded base64url (*_b64url); times are UTC."
        ),
        "format": "avrr-envelope/1",
        "suite": header.suite,
        "keys": {name: _key_entry(name) for name in SEEDS},
        "pseudonym": {
            "secret_hex": PSEUDONYM_SECRET.hex(),
            "subject_id": SUBJECT_ID,
            "recipient": RECIPIENT,
            "message_utf8": canonical_json(["avrr-pseudonym/1", SUBJECT_ID, RECIPIENT]).decode(
                "utf-8"
            ),
            "pseudonym_hex": header.subject,
        },
        "acceptance": {
            "now": _time(NOW),
            "window_seconds": int(WINDOW.total_seconds()),
            "skew_seconds": int(SKEW.total_seconds()),
        },
        "positive": {
            "header": header.model_dump(mode="json"),
            "header_b64url": b64encode(encoded),
            "plaintext_utf8": plaintext.decode("utf-8"),
            "plaintext_b64url": b64encode(plaintext),
            "hpke": {
                "mode": MODE_BASE,
                "kem_id": KEM_ID,
                "kdf_id": KDF_ID,
                "aead_id": AEAD_ID,
                "info_hex": info.hex(),
                "aad_hex": "",
                "enc_hex": ciphertext[:ENC_BYTES].hex(),
                "shared_secret_hex": schedule["shared_secret"].hex(),
                "key_hex": schedule["key"].hex(),
                "base_nonce_hex": schedule["base_nonce"].hex(),
            },
            "ciphertext_b64url": b64encode(ciphertext),
            "signed_message_hex": signed_message(encoded, ciphertext).hex(),
            "signature_b64url": b64encode(signature),
            "wire": wire,
            "envelope_sha256": digest,
            "accepted_at": [
                _time(CREATED_AT - SKEW),
                _time(NOW),
                _time(DELETE_BY - timedelta(seconds=1)),
            ],
        },
        "receipt": {
            "context": RECEIPT_FORMAT,
            "signer": "recipient_signing",
            "payload": receipt,
            "signed_message_hex": (
                RECEIPT_FORMAT.encode("ascii") + b"\x00" + receipt_payload
            ).hex(),
            "document": receipt_doc.model_dump(),
        },
        "procedure": PROCEDURE,
        "negative": negatives.items,
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=True) + "\n"


def load(path: Path = PATH) -> dict[str, Any] | None:
    """The vectors stored at ``path``, or None before the first run."""
    if not path.exists():
        return None
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def generator_main(
    argv: list[str] | None,
    *,
    path: Path,
    build: Callable[..., dict[str, Any]],
    script: str,
    description: str | None,
) -> int:
    """The command line of a vector generator: write ``path``, or ``--check`` it; ``--reseal``
    draws a new HPKE ciphertext (everything else is fixed by the inputs)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true", help="compare with the file, write nothing")
    parser.add_argument("--reseal", action="store_true", help="draw a new HPKE ciphertext")
    args = parser.parse_args(argv)
    text = render(build(load(path), reseal=args.reseal))
    if args.check:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            sys.stderr.write(f"{path} is not what {script} produces\n")
            return 1
        return 0
    path.write_text(text, encoding="utf-8")
    return 0


def main(argv: list[str] | None = None) -> int:
    summary = __doc__.splitlines()[0] if __doc__ else None
    return generator_main(
        argv, path=PATH, build=build, script="make_vectors.py", description=summary
    )


if __name__ == "__main__":
    raise SystemExit(main())
