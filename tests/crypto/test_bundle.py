"""Sealing, parsing, verifying and opening hand-carried bundles (``crypto.bundle``)."""

from __future__ import annotations

import json
import struct
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from crypto import _primitives
from crypto.bundle import (
    HPKE_INFO_CONTEXT,
    SIGNATURE_CONTEXT,
    BundleRejectReason,
    InvalidBundle,
    SealedBundle,
    bundle_header_bytes,
    content_bytes,
    open_bundle,
    parse_bundle,
    seal_bundle,
    verify_bundle,
)
from crypto.encoding import b64decode, b64encode, canonical_json
from crypto.envelope import HPKE_INFO_CONTEXT as ENVELOPE_HPKE_INFO_CONTEXT
from crypto.envelope import SIGNATURE_CONTEXT as ENVELOPE_SIGNATURE_CONTEXT
from crypto.envelope import seal
from crypto.keys import EncryptionKey, SigningKey
from crypto.signed import sign_document
from schemas.envelope import (
    RECEIPT_FORMAT,
    BundleContent,
    BundleHeader,
    CarriedAnswer,
    DeliveryReceipt,
    EnvelopeHeader,
    WireEnvelope,
)

VALID_FROM = datetime(2026, 1, 1, tzinfo=UTC)
VALID_UNTIL = datetime(2027, 1, 1, tzinfo=UTC)
CREATED = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

SENDER = SigningKey(bytes([1]) * 32, VALID_FROM, VALID_UNTIL)
RECIPIENT = EncryptionKey(bytes([2]) * 32, VALID_FROM, VALID_UNTIL)
OTHER_SIGNER = SigningKey(bytes([3]) * 32, VALID_FROM, VALID_UNTIL)
OTHER_RECIPIENT = EncryptionKey(bytes([4]) * 32, VALID_FROM, VALID_UNTIL)
#: The bundle's recipient signs the receipts it answers with, carried back in another bundle.
RECIPIENT_SIGNER = SigningKey(bytes([5]) * 32, VALID_FROM, VALID_UNTIL)

SENDER_NODE = "host.example"
RECIPIENT_NODE = "partner.example"
MARKER = "MARKER-synthetic-person-Qx7"
ALL_REASONS = {
    "malformed",
    "not_canonical",
    "unknown_signing_key",
    "signing_key_not_valid",
    "bad_signature",
    "unknown_recipient_key",
    "decryption_failed",
    "count_mismatch",
}


def make_envelope(packet_id: str, plaintext: bytes) -> WireEnvelope:
    """A real envelope from the bundle's sender to its recipient, as the inbox would take it."""
    header = EnvelopeHeader(
        kind="referral",
        packet_id=packet_id,
        sender=SENDER_NODE,
        recipient=RECIPIENT_NODE,
        purpose="arrival_reception",
        subject="ab" * 32,
        consent_ref="fedcba9876543210fedcba9876543210",
        transfer_ground="explicit_consent_informed_of_risks",
        sections=["arrival"],
        created_at=CREATED,
        delete_by=CREATED + timedelta(days=30),
        section_delete_by={"arrival": CREATED + timedelta(days=30)},
        sender_key_id=SENDER.key_id,
        recipient_key_id=RECIPIENT.key_id,
    )
    sealed = seal(header, plaintext, signing_key=SENDER, recipient_key=RECIPIENT.public_key())
    return sealed.wire()


def make_answer(packet_id: str, digest: str) -> CarriedAnswer:
    """The bundle's sender acknowledging an envelope the bundle's recipient sent it."""
    receipt = DeliveryReceipt(
        packet_id=packet_id,
        sender=RECIPIENT_NODE,
        recipient=SENDER_NODE,
        envelope_sha256=digest,
        received_at=CREATED,
    ).model_dump(mode="json")
    document = sign_document(receipt, SENDER, context=RECEIPT_FORMAT)
    return CarriedAnswer(packet_id=packet_id, envelope_sha256=digest, answer=document)


ENVELOPES = [
    make_envelope("11" * 16, json.dumps({"note": MARKER}).encode()),
    make_envelope("22" * 16, b'{"arrival":{"reception_requested":true}}'),
]
ANSWERS = [
    make_answer("33" * 16, "cd" * 32),
    CarriedAnswer(packet_id="44" * 16, envelope_sha256="ef" * 32),
]
CONTENT = BundleContent(envelopes=ENVELOPES, answers=ANSWERS)


def make_header(content: BundleContent = CONTENT, **changes: Any) -> BundleHeader:
    values: dict[str, Any] = {
        "bundle_id": "0123456789abcdef0123456789abcdef",
        "sender": SENDER_NODE,
        "recipient": RECIPIENT_NODE,
        "sequence": 7,
        "created_at": CREATED,
        "envelopes": len(content.envelopes),
        "answers": len(content.answers),
        "sender_key_id": SENDER.key_id,
        "recipient_key_id": RECIPIENT.key_id,
    }
    values.update(changes)
    return BundleHeader(**values)


def make_sealed(content: BundleContent = CONTENT, **changes: Any) -> SealedBundle:
    return seal_bundle(
        make_header(content, **changes),
        content,
        signing_key=SENDER,
        recipient_key=RECIPIENT.public_key(),
    )


def signed_message(header: bytes, ciphertext: bytes) -> bytes:
    return b"avrr-bundle/1 signature\x00" + struct.pack(">I", len(header)) + header + ciphertext


def flip(data: bytes, index: int, mask: int = 0x01) -> bytes:
    changed = bytearray(data)
    changed[index] ^= mask
    return bytes(changed)


def file_of(header: bytes, ciphertext: bytes, signature: bytes) -> bytes:
    return canonical_json(
        {
            "header": b64encode(header),
            "ciphertext": b64encode(ciphertext),
            "signature": b64encode(signature),
        }
    )


def resigned(
    sealed: SealedBundle,
    *,
    header: bytes | None = None,
    ciphertext: bytes | None = None,
    key: SigningKey = SENDER,
) -> bytes:
    """The file with other header bytes or ciphertext, signed again (by the sender by default)."""
    new_header = sealed.header_bytes if header is None else header
    new_ciphertext = sealed.ciphertext if ciphertext is None else ciphertext
    return file_of(new_header, new_ciphertext, key.sign(signed_message(new_header, new_ciphertext)))


def hand_sealed(
    header: BundleHeader,
    plaintext: bytes,
    *,
    info_context: bytes = HPKE_INFO_CONTEXT,
    signature_context: bytes = SIGNATURE_CONTEXT,
) -> bytes:
    """A file the sender seals and signs over any plaintext, bypassing ``seal_bundle``'s checks."""
    encoded = bundle_header_bytes(header)
    ciphertext = _primitives.hpke_seal(
        RECIPIENT.public_key().public, plaintext, info_context + encoded
    )
    message = signature_context + struct.pack(">I", len(encoded)) + encoded + ciphertext
    return file_of(encoded, ciphertext, SENDER.sign(message))


def receive(data: bytes) -> BundleContent:
    """What an importer does with a file: parse, verify under the sender's key, open."""
    sealed = parse_bundle(data)
    verify_bundle(sealed, SENDER.public_key())
    return open_bundle(sealed, RECIPIENT)


def refusal(data: bytes) -> BundleRejectReason:
    with pytest.raises(InvalidBundle) as caught:
        receive(data)
    return caught.value.reason


def header_value(**changes: Any) -> dict[str, Any]:
    return {**json.loads(SEALED.header_bytes), **changes}


SEALED = make_sealed()
FILE = SEALED.file_bytes()


class TestSealBundle:
    def test_sealed_bundle_round_trips_through_its_file(self) -> None:
        assert receive(FILE) == CONTENT

    def test_envelopes_and_answers_come_back_exactly_as_sealed(self) -> None:
        opened = receive(FILE)
        assert [e.model_dump() for e in opened.envelopes] == [e.model_dump() for e in ENVELOPES]
        assert opened.answers == ANSWERS
        assert opened.answers[1].answer is None

    def test_empty_bundle_round_trips(self) -> None:
        empty = BundleContent(envelopes=[], answers=[])
        assert receive(make_sealed(empty).file_bytes()) == empty

    def test_header_bytes_are_the_canonical_json_of_the_header(self) -> None:
        assert SEALED.header_bytes == canonical_json(SEALED.header.model_dump(mode="json"))
        assert json.loads(SEALED.header_bytes)["created_at"] == "2026-06-01T12:00:00Z"

    def test_header_states_the_format_and_suite(self) -> None:
        value = json.loads(SEALED.header_bytes)
        assert value["format"] == "avrr-bundle/1"
        assert value["suite"] == "HPKE-base-X25519-HKDFSHA256-CHACHA20POLY1305/Ed25519"

    def test_ciphertext_is_the_canonical_content_plus_enc_and_tag(self) -> None:
        plaintext = canonical_json(CONTENT.model_dump(mode="json"))
        assert content_bytes(CONTENT) == plaintext
        assert len(SEALED.ciphertext) == len(plaintext) + 32 + 16

    def test_ciphertext_opens_only_with_the_bundle_context_and_header_as_info(self) -> None:
        info = b"avrr-bundle/1 hpke\x00" + SEALED.header_bytes
        assert HPKE_INFO_CONTEXT + SEALED.header_bytes == info
        opened = _primitives.hpke_open(RECIPIENT.seed, SEALED.ciphertext, info)
        assert opened == content_bytes(CONTENT)
        envelope_info = ENVELOPE_HPKE_INFO_CONTEXT + SEALED.header_bytes
        with pytest.raises(_primitives.PrimitiveFailure):
            _primitives.hpke_open(RECIPIENT.seed, SEALED.ciphertext, envelope_info)

    def test_signature_is_ed25519_over_context_length_header_and_ciphertext(self) -> None:
        assert SIGNATURE_CONTEXT == b"avrr-bundle/1 signature\x00"
        message = signed_message(SEALED.header_bytes, SEALED.ciphertext)
        _primitives.ed25519_verify(SENDER.public_key().public, SEALED.signature, message)

    def test_file_is_the_canonical_json_of_the_three_base64url_members(self) -> None:
        assert file_of(SEALED.header_bytes, SEALED.ciphertext, SEALED.signature) == FILE
        assert list(json.loads(FILE)) == ["ciphertext", "header", "signature"]
        assert canonical_json(SEALED.wire().model_dump()) == FILE

    def test_two_seals_of_the_same_bundle_differ(self) -> None:
        again = make_sealed()
        assert again.header_bytes == SEALED.header_bytes
        assert again.ciphertext != SEALED.ciphertext

    def test_header_naming_another_recipient_key_is_refused(self) -> None:
        header = make_header(recipient_key_id=OTHER_RECIPIENT.key_id)
        with pytest.raises(ValueError, match="recipient key"):
            seal_bundle(header, CONTENT, signing_key=SENDER, recipient_key=RECIPIENT.public_key())

    def test_signing_key_offered_as_recipient_key_is_refused(self) -> None:
        header = make_header(recipient_key_id=SENDER.key_id)
        with pytest.raises(ValueError, match="recipient key"):
            seal_bundle(header, CONTENT, signing_key=SENDER, recipient_key=SENDER.public_key())

    def test_header_naming_another_signing_key_is_refused(self) -> None:
        with pytest.raises(ValueError, match="signing key"):
            seal_bundle(
                make_header(),
                CONTENT,
                signing_key=OTHER_SIGNER,
                recipient_key=RECIPIENT.public_key(),
            )

    @pytest.mark.parametrize(("envelopes", "answers"), [(1, 2), (2, 3), (0, 0)])
    def test_header_miscounting_the_content_is_refused(self, envelopes: int, answers: int) -> None:
        header = make_header(envelopes=envelopes, answers=answers)
        with pytest.raises(ValueError, match="how many"):
            seal_bundle(header, CONTENT, signing_key=SENDER, recipient_key=RECIPIENT.public_key())

    def test_header_with_fractional_seconds_cannot_be_built(self) -> None:
        with pytest.raises(ValidationError, match="whole seconds"):
            make_header(created_at=CREATED + timedelta(microseconds=1))


class TestParseBundle:
    def test_file_parses_back_to_the_same_bundle(self) -> None:
        assert parse_bundle(FILE) == SEALED

    def test_file_with_whitespace_between_members_is_read(self) -> None:
        # The signature covers the header and ciphertext bytes, not the file's own layout.
        pretty = json.dumps(json.loads(FILE), indent=2).encode() + b"\n"
        assert parse_bundle(pretty) == SEALED

    @pytest.mark.parametrize(
        "data",
        [b"", b"not json", b"[]", b'"bundle"', b"null", b"\xff\xfe{}", b"\xef\xbb\xbf{}"],
        ids=["empty", "text", "array", "string", "null", "not-utf8", "bom"],
    )
    def test_file_that_is_not_a_json_object_is_malformed(self, data: bytes) -> None:
        assert refusal(data) is BundleRejectReason.MALFORMED

    def test_file_with_an_unknown_member_is_malformed(self) -> None:
        value = {**json.loads(FILE), "version": "1"}
        assert refusal(canonical_json(value)) is BundleRejectReason.MALFORMED

    @pytest.mark.parametrize("member", ["header", "ciphertext", "signature"])
    def test_file_missing_a_member_is_malformed(self, member: str) -> None:
        value = {k: v for k, v in json.loads(FILE).items() if k != member}
        assert refusal(canonical_json(value)) is BundleRejectReason.MALFORMED

    def test_file_with_a_member_twice_is_malformed(self) -> None:
        # Which of the two a reader would keep is up to its JSON library: refuse both.
        duplicated = FILE[:-1] + b',"signature":' + json.dumps(b64encode(bytes(64))).encode() + b"}"
        assert refusal(duplicated) is BundleRejectReason.MALFORMED

    def test_member_that_is_not_a_string_is_malformed(self) -> None:
        value = {**json.loads(FILE), "signature": 1}
        assert refusal(canonical_json(value)) is BundleRejectReason.MALFORMED

    def test_padded_base64url_is_malformed(self) -> None:
        value = {**json.loads(FILE), "signature": b64encode(SEALED.signature) + "=="}
        assert refusal(canonical_json(value)) is BundleRejectReason.MALFORMED

    def test_base64url_with_non_zero_trailing_bits_is_malformed(self) -> None:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        text = b64encode(SEALED.signature)
        assert len(text) % 4 == 2
        changed = text[:-1] + alphabet[alphabet.index(text[-1]) | 1]
        assert changed != text
        value = {**json.loads(FILE), "signature": changed}
        assert refusal(canonical_json(value)) is BundleRejectReason.MALFORMED

    def test_header_with_extra_whitespace_is_not_canonical(self) -> None:
        spaced = json.dumps(json.loads(SEALED.header_bytes), sort_keys=True).encode()
        assert refusal(resigned(SEALED, header=spaced)) is BundleRejectReason.NOT_CANONICAL

    def test_header_with_reordered_members_is_not_canonical(self) -> None:
        value = json.loads(SEALED.header_bytes)
        reordered = json.dumps(dict(reversed(value.items())), separators=(",", ":")).encode()
        assert refusal(resigned(SEALED, header=reordered)) is BundleRejectReason.NOT_CANONICAL

    def test_header_time_spelt_with_an_offset_is_not_canonical(self) -> None:
        header = canonical_json(header_value(created_at="2026-06-01T14:00:00+02:00"))
        assert refusal(resigned(SEALED, header=header)) is BundleRejectReason.NOT_CANONICAL

    def test_header_with_a_duplicate_member_is_not_canonical(self) -> None:
        header = SEALED.header_bytes[:-1] + b',"sequence":8}'
        assert refusal(resigned(SEALED, header=header)) is BundleRejectReason.NOT_CANONICAL

    def test_header_with_an_unknown_member_is_malformed(self) -> None:
        header = canonical_json(header_value(note="x"))
        assert refusal(resigned(SEALED, header=header)) is BundleRejectReason.MALFORMED

    @pytest.mark.parametrize(
        "changes",
        [
            {"format": "avrr-bundle/2"},
            {"format": "avrr-envelope/1"},
            {"sequence": 0},
            {"envelopes": -1},
            {"answers": 5001},
            {"created_at": "2026-06-01T12:00:00.5Z"},
            {"bundle_id": "not-an-id"},
        ],
        ids=[
            "format-2",
            "envelope-format",
            "sequence-0",
            "negative-count",
            "too-many",
            "fraction",
            "id",
        ],
    )
    def test_header_outside_the_schema_is_malformed(self, changes: dict[str, Any]) -> None:
        header = canonical_json(header_value(**changes))
        assert refusal(resigned(SEALED, header=header)) is BundleRejectReason.MALFORMED

    def test_header_without_a_member_is_malformed(self) -> None:
        value = {k: v for k, v in header_value().items() if k != "sequence"}
        assert refusal(resigned(SEALED, header=canonical_json(value))) is (
            BundleRejectReason.MALFORMED
        )

    @pytest.mark.parametrize("member", ["format", "suite"])
    def test_header_leaving_out_a_member_with_one_value_is_not_canonical(self, member: str) -> None:
        # The schema fills in the only value, so the re-encoded header is not the signed bytes.
        value = {k: v for k, v in header_value().items() if k != member}
        assert refusal(resigned(SEALED, header=canonical_json(value))) is (
            BundleRejectReason.NOT_CANONICAL
        )

    def test_header_with_a_float_is_malformed(self) -> None:
        header = SEALED.header_bytes.replace(b'"sequence":7', b'"sequence":7.0')
        assert header != SEALED.header_bytes
        assert refusal(resigned(SEALED, header=header)) is BundleRejectReason.MALFORMED

    def test_header_with_an_integer_too_long_to_read_is_malformed(self) -> None:
        header = SEALED.header_bytes.replace(b'"sequence":7', b'"sequence":' + b"7" * 5000)
        assert refusal(resigned(SEALED, header=header)) is BundleRejectReason.MALFORMED

    def test_header_nested_too_deep_to_read_is_malformed(self) -> None:
        header = b"[" * 200_000 + b"]" * 200_000
        assert refusal(resigned(SEALED, header=header)) is BundleRejectReason.MALFORMED

    def test_file_nested_too_deep_to_read_is_malformed(self) -> None:
        assert refusal(b"[" * 200_000 + b"]" * 200_000) is BundleRejectReason.MALFORMED

    @pytest.mark.parametrize("length", [0, 63, 65])
    def test_signature_of_wrong_length_is_malformed(self, length: int) -> None:
        data = file_of(SEALED.header_bytes, SEALED.ciphertext, bytes(length))
        assert refusal(data) is BundleRejectReason.MALFORMED

    @pytest.mark.parametrize("length", [0, 47])
    def test_ciphertext_shorter_than_enc_and_tag_is_malformed(self, length: int) -> None:
        assert refusal(resigned(SEALED, ciphertext=SEALED.ciphertext[:length])) is (
            BundleRejectReason.MALFORMED
        )

    @pytest.mark.parametrize("cut", [1, 2, 10, 100, 1000])
    def test_truncated_file_is_malformed(self, cut: int) -> None:
        assert refusal(FILE[:-cut]) is BundleRejectReason.MALFORMED

    def test_an_envelope_is_not_a_bundle(self) -> None:
        envelope = canonical_json(ENVELOPES[0].model_dump())
        assert refusal(envelope) is BundleRejectReason.MALFORMED


class TestVerifyBundle:
    def test_genuine_bundle_verifies(self) -> None:
        verify_bundle(parse_bundle(FILE), SENDER.public_key())

    def test_tampered_header_byte_breaks_the_signature(self) -> None:
        # Sequence 7 becomes 9: still a valid, canonical header, but not what the sender signed.
        header = SEALED.header_bytes.replace(b'"sequence":7', b'"sequence":9')
        assert header != SEALED.header_bytes
        data = file_of(header, SEALED.ciphertext, SEALED.signature)
        assert refusal(data) is BundleRejectReason.BAD_SIGNATURE

    @pytest.mark.parametrize("index", [0, 40, -1], ids=["enc", "body", "tag"])
    def test_tampered_ciphertext_byte_breaks_the_signature(self, index: int) -> None:
        data = file_of(SEALED.header_bytes, flip(SEALED.ciphertext, index), SEALED.signature)
        assert refusal(data) is BundleRejectReason.BAD_SIGNATURE

    @pytest.mark.parametrize("index", [0, 31, 32, 63])
    def test_tampered_signature_byte_is_a_bad_signature(self, index: int) -> None:
        data = file_of(SEALED.header_bytes, SEALED.ciphertext, flip(SEALED.signature, index))
        assert refusal(data) is BundleRejectReason.BAD_SIGNATURE

    def test_signature_of_another_seal_is_refused(self) -> None:
        other = make_sealed()
        data = file_of(SEALED.header_bytes, SEALED.ciphertext, other.signature)
        assert refusal(data) is BundleRejectReason.BAD_SIGNATURE

    def test_signature_by_a_key_other_than_the_headers_sender_key_fails(self) -> None:
        assert refusal(resigned(SEALED, key=OTHER_SIGNER)) is BundleRejectReason.BAD_SIGNATURE

    def test_wrong_sender_key_is_refused_before_the_signature(self) -> None:
        with pytest.raises(InvalidBundle) as caught:
            verify_bundle(SEALED, OTHER_SIGNER.public_key())
        assert caught.value.reason is BundleRejectReason.UNKNOWN_SIGNING_KEY

    def test_encryption_key_offered_as_sender_key_is_refused(self) -> None:
        with pytest.raises(InvalidBundle) as caught:
            verify_bundle(SEALED, RECIPIENT.public_key())
        assert caught.value.reason is BundleRejectReason.UNKNOWN_SIGNING_KEY

    def test_sender_key_that_ended_at_creation_is_refused(self) -> None:
        ended = replace(SENDER.public_key(), valid_until=CREATED)
        with pytest.raises(InvalidBundle) as caught:
            verify_bundle(SEALED, ended)
        assert caught.value.reason is BundleRejectReason.SIGNING_KEY_NOT_VALID

    def test_sender_key_that_starts_after_creation_is_refused(self) -> None:
        later = replace(SENDER.public_key(), valid_from=CREATED + timedelta(seconds=1))
        with pytest.raises(InvalidBundle) as caught:
            verify_bundle(SEALED, later)
        assert caught.value.reason is BundleRejectReason.SIGNING_KEY_NOT_VALID

    def test_sender_key_that_starts_at_creation_is_accepted(self) -> None:
        verify_bundle(SEALED, replace(SENDER.public_key(), valid_from=CREATED))

    def test_signature_under_the_envelope_context_is_refused(self) -> None:
        data = hand_sealed(
            make_header(), content_bytes(CONTENT), signature_context=ENVELOPE_SIGNATURE_CONTEXT
        )
        assert refusal(data) is BundleRejectReason.BAD_SIGNATURE

    def test_length_prefix_keeps_header_and_ciphertext_apart(self) -> None:
        # Moving a byte from the ciphertext's start to the header's end keeps H || C the same.
        header, ciphertext = SEALED.header_bytes, SEALED.ciphertext
        assert (header + ciphertext[:1]) + ciphertext[1:] == header + ciphertext
        moved = SealedBundle(
            SEALED.header, header + ciphertext[:1], ciphertext[1:], SEALED.signature
        )
        with pytest.raises(InvalidBundle) as caught:
            verify_bundle(moved, SENDER.public_key())
        assert caught.value.reason is BundleRejectReason.BAD_SIGNATURE

    def test_recipient_cannot_pass_the_bundle_on_as_if_addressed_to_a_third_party(self) -> None:
        header = canonical_json(header_value(recipient="third.example"))
        data = file_of(header, SEALED.ciphertext, SEALED.signature)
        assert refusal(data) is BundleRejectReason.BAD_SIGNATURE


class TestOpenBundle:
    def test_recipient_key_opens_the_bundle(self) -> None:
        assert open_bundle(SEALED, RECIPIENT) == CONTENT

    def test_wrong_recipient_key_is_refused(self) -> None:
        with pytest.raises(InvalidBundle) as caught:
            open_bundle(SEALED, OTHER_RECIPIENT)
        assert caught.value.reason is BundleRejectReason.UNKNOWN_RECIPIENT_KEY

    def test_bundle_sealed_to_another_recipient_key_is_refused(self) -> None:
        other = seal_bundle(
            make_header(recipient_key_id=OTHER_RECIPIENT.key_id),
            CONTENT,
            signing_key=SENDER,
            recipient_key=OTHER_RECIPIENT.public_key(),
        )
        sealed = parse_bundle(other.file_bytes())
        verify_bundle(sealed, SENDER.public_key())
        with pytest.raises(InvalidBundle) as caught:
            open_bundle(sealed, RECIPIENT)
        assert caught.value.reason is BundleRejectReason.UNKNOWN_RECIPIENT_KEY

    def test_wrong_private_key_fails_even_past_the_key_id_check(self) -> None:
        info = HPKE_INFO_CONTEXT + SEALED.header_bytes
        with pytest.raises(_primitives.PrimitiveFailure):
            _primitives.hpke_open(OTHER_RECIPIENT.seed, SEALED.ciphertext, info)

    @pytest.mark.parametrize("index", [0, 40, -1], ids=["enc", "body", "tag"])
    def test_tampered_ciphertext_resigned_by_the_sender_fails_decryption(self, index: int) -> None:
        data = resigned(SEALED, ciphertext=flip(SEALED.ciphertext, index))
        assert refusal(data) is BundleRejectReason.DECRYPTION_FAILED

    @pytest.mark.parametrize(
        ("member", "value"),
        [
            ("sequence", 8),
            ("recipient", "third.example"),
            ("bundle_id", "ff" * 16),
            ("created_at", "2026-06-02T12:00:00Z"),
        ],
    )
    def test_header_changed_under_the_senders_signature_still_fails_decryption(
        self, member: str, value: Any
    ) -> None:
        # Even the sender's own signature over another header cannot move the content to it.
        header = canonical_json(header_value(**{member: value}))
        assert refusal(resigned(SEALED, header=header)) is BundleRejectReason.DECRYPTION_FAILED

    def test_content_sealed_under_the_envelope_context_fails_decryption(self) -> None:
        data = hand_sealed(
            make_header(), content_bytes(CONTENT), info_context=ENVELOPE_HPKE_INFO_CONTEXT
        )
        assert refusal(data) is BundleRejectReason.DECRYPTION_FAILED

    @pytest.mark.parametrize(
        ("envelopes", "answers"),
        [(3, 2), (1, 2), (0, 2), (2, 1), (2, 3), (2, 0), (5000, 5000)],
    )
    def test_counts_that_do_not_match_the_content_are_refused(
        self, envelopes: int, answers: int
    ) -> None:
        header = make_header(envelopes=envelopes, answers=answers)
        data = hand_sealed(header, content_bytes(CONTENT))
        assert refusal(data) is BundleRejectReason.COUNT_MISMATCH

    def test_hand_sealed_content_with_matching_counts_opens(self) -> None:
        # The helper behind the refusals above builds bundles that open when nothing is wrong.
        assert receive(hand_sealed(make_header(), content_bytes(CONTENT))) == CONTENT

    def test_content_that_is_not_canonical_is_refused(self) -> None:
        spaced = json.dumps(CONTENT.model_dump(mode="json"), sort_keys=True).encode()
        assert refusal(hand_sealed(make_header(), spaced)) is BundleRejectReason.NOT_CANONICAL

    def test_content_leaving_out_a_null_answer_is_not_canonical(self) -> None:
        # The schema lets the member be absent, but the content re-encodes with it as null.
        value = CONTENT.model_dump(mode="json")
        del value["answers"][1]["answer"]
        data = hand_sealed(make_header(), canonical_json(value))
        assert refusal(data) is BundleRejectReason.NOT_CANONICAL

    @pytest.mark.parametrize(
        "plaintext",
        [
            b"",
            b"not json",
            b"\xff",
            b"[]",
            b'{"answers":[]}',
            b'{"answers":[],"envelopes":[],"note":"x"}',
            b'{"answers":[],"envelopes":[{"header":"e30"}]}',
            b'{"answers":[],"envelopes":[],"x":1.5}',
        ],
        ids=["empty", "text", "not-utf8", "array", "missing", "unknown", "bad-envelope", "float"],
    )
    def test_content_outside_the_schema_is_malformed(self, plaintext: bytes) -> None:
        assert refusal(hand_sealed(make_header(), plaintext)) is BundleRejectReason.MALFORMED


class TestRefusal:
    def test_reasons_are_the_protocols_words(self) -> None:
        assert {reason.value for reason in BundleRejectReason} == ALL_REASONS

    @pytest.mark.parametrize("reason", list(BundleRejectReason))
    def test_refusal_reads_the_same_whatever_the_reason(self, reason: BundleRejectReason) -> None:
        error = InvalidBundle(reason)
        assert str(error) == "bundle rejected"
        assert error.reason is reason

    def test_refusal_carries_no_key_material_or_content(self) -> None:
        with pytest.raises(InvalidBundle) as caught:
            open_bundle(SEALED, OTHER_RECIPIENT)
        shown = str(caught.value) + repr(caught.value)
        for secret in (RECIPIENT.seed, OTHER_RECIPIENT.seed, SEALED.ciphertext):
            assert secret.hex() not in shown
            assert b64encode(secret) not in shown
        assert MARKER not in shown


class TestConfidentiality:
    def test_file_holds_none_of_the_contents_plaintext(self) -> None:
        visible = FILE.decode("ascii")
        envelope = ENVELOPES[0]
        assert MARKER not in visible
        hidden = [
            envelope.header,
            envelope.ciphertext,
            envelope.signature,
            "11" * 16,
            "ab" * 32,
            "arrival_reception",
            "cd" * 32,
            ANSWERS[0].answer.signature if ANSWERS[0].answer else "",
        ]
        for text in hidden:
            assert text
            assert text not in visible
        # Nor in the decoded bytes of each member, whatever their alignment in base64url.
        for member in ("ciphertext", "signature"):
            raw = b64decode(json.loads(FILE)[member])
            assert MARKER.encode() not in raw
            assert envelope.header.encode() not in raw

    def test_header_says_only_who_when_which_and_how_many(self) -> None:
        assert set(json.loads(SEALED.header_bytes)) == {
            "format",
            "suite",
            "bundle_id",
            "sender",
            "recipient",
            "sequence",
            "created_at",
            "envelopes",
            "answers",
            "sender_key_id",
            "recipient_key_id",
        }


def _content_with(count: int) -> BundleContent:
    answers = [
        CarriedAnswer(packet_id=f"{i:032x}", envelope_sha256=f"{i:064x}") for i in range(count)
    ]
    return BundleContent(envelopes=ENVELOPES[: count % 3], answers=answers)


class TestBundleProperties:
    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(length=st.integers(min_value=0, max_value=len(FILE) - 1))
    def test_any_strict_prefix_of_the_file_is_refused(self, length: int) -> None:
        with pytest.raises(InvalidBundle) as caught:
            receive(FILE[:length])
        assert caught.value.reason is BundleRejectReason.MALFORMED

    @settings(max_examples=300, deadline=None)
    @given(data=st.binary(max_size=512))
    def test_any_bytes_are_refused_with_a_bundle_refusal_only(self, data: bytes) -> None:
        with pytest.raises(InvalidBundle):
            receive(data)

    @settings(max_examples=200, deadline=None)
    @given(position=st.integers(0, 10**6), bit=st.integers(0, 7))
    def test_any_single_bit_flip_in_the_file_is_refused(self, position: int, bit: int) -> None:
        data = flip(FILE, position % len(FILE), 1 << bit)
        with pytest.raises(InvalidBundle) as caught:
            receive(data)
        assert caught.value.reason in {
            BundleRejectReason.MALFORMED,
            BundleRejectReason.NOT_CANONICAL,
            BundleRejectReason.UNKNOWN_SIGNING_KEY,
            BundleRejectReason.SIGNING_KEY_NOT_VALID,
            BundleRejectReason.BAD_SIGNATURE,
        }

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(count=st.integers(0, 40), sequence=st.integers(1, 2**31))
    def test_any_counts_and_sequence_round_trip(self, count: int, sequence: int) -> None:
        content = _content_with(count)
        sealed = make_sealed(content, sequence=sequence)
        assert receive(sealed.file_bytes()) == content
