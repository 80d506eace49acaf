"""Sealing, parsing, verifying and opening envelopes (``crypto.envelope``)."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import struct
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from crypto import _primitives
from crypto.encoding import b64decode, b64encode, canonical_json
from crypto.envelope import (
    HPKE_INFO_CONTEXT,
    SIGNATURE_CONTEXT,
    SealedEnvelope,
    check_times,
    envelope_digest,
    header_bytes,
    open_sealed,
    parse,
    seal,
    verify,
)
from crypto.errors import InvalidEnvelope, RejectReason
from crypto.keys import EncryptionKey, SigningKey
from schemas.envelope import EnvelopeHeader, WireEnvelope

VALID_FROM = datetime(2026, 1, 1, tzinfo=UTC)
VALID_UNTIL = datetime(2027, 1, 1, tzinfo=UTC)
CREATED = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DELETE_BY = CREATED + timedelta(days=30)
WINDOW = timedelta(days=14)
SKEW = timedelta(minutes=5)

SENDER = SigningKey(bytes([1]) * 32, VALID_FROM, VALID_UNTIL)
RECIPIENT = EncryptionKey(bytes([2]) * 32, VALID_FROM, VALID_UNTIL)
OTHER_SIGNER = SigningKey(bytes([3]) * 32, VALID_FROM, VALID_UNTIL)
OTHER_RECIPIENT = EncryptionKey(bytes([4]) * 32, VALID_FROM, VALID_UNTIL)
PLAINTEXT = b'{"arrival":{"reception_requested":true}}'


def make_header(**changes: Any) -> EnvelopeHeader:
    values: dict[str, Any] = {
        "kind": "referral",
        "packet_id": "0123456789abcdef0123456789abcdef",
        "sender": "host.example",
        "recipient": "partner.example",
        "purpose": "arrival_reception",
        "subject": "ab" * 32,
        "consent_ref": "fedcba9876543210fedcba9876543210",
        "transfer_ground": "explicit_consent_informed_of_risks",
        "sections": ["arrival"],
        "created_at": CREATED,
        "delete_by": DELETE_BY,
        "sender_key_id": SENDER.key_id,
        "recipient_key_id": RECIPIENT.key_id,
    }
    values.update(changes)
    if "section_delete_by" not in changes and values["kind"] == "referral":
        # A referral dates each of its sections; by default all at delete_by.
        values["section_delete_by"] = dict.fromkeys(values["sections"], values["delete_by"])
    return EnvelopeHeader(**values)


def make_sealed(plaintext: bytes = PLAINTEXT, **changes: Any) -> SealedEnvelope:
    return seal(
        make_header(**changes),
        plaintext,
        signing_key=SENDER,
        recipient_key=RECIPIENT.public_key(),
    )


def signed_message(header: bytes, ciphertext: bytes) -> bytes:
    return b"avrr-envelope/1 signature\x00" + struct.pack(">I", len(header)) + header + ciphertext


def flip(data: bytes, index: int, mask: int = 0x01) -> bytes:
    changed = bytearray(data)
    changed[index] ^= mask
    return bytes(changed)


def resigned(
    sealed: SealedEnvelope,
    *,
    header: bytes | None = None,
    ciphertext: bytes | None = None,
    key: SigningKey = SENDER,
) -> SealedEnvelope:
    """The envelope with other header bytes or ciphertext, signed again (by the sender by default)."""
    new_header = sealed.header_bytes if header is None else header
    new_ciphertext = sealed.ciphertext if ciphertext is None else ciphertext
    signature = key.sign(signed_message(new_header, new_ciphertext))
    return SealedEnvelope(sealed.header, new_header, new_ciphertext, signature)


def wire_with(sealed: SealedEnvelope, **texts: str) -> WireEnvelope:
    """The wire form with some members replaced, bypassing the body schema."""
    return WireEnvelope.model_construct(**{**sealed.wire().model_dump(), **texts})


def receive(sealed: SealedEnvelope, *, now: datetime = CREATED) -> bytes:
    """The crypto-layer part of a receiver: parse the wire form, verify, check times, open."""
    parsed = parse(WireEnvelope.model_validate(sealed.wire().model_dump()))
    verify(parsed, SENDER.public_key())
    check_times(parsed.header, now=now, window=WINDOW, skew=SKEW)
    return open_sealed(parsed, RECIPIENT)


def parse_and_verify_body(body: dict[str, Any]) -> None:
    """What a receiver does with a JSON body before decrypting: a bad body is malformed."""
    try:
        envelope = WireEnvelope.model_validate(body)
    except ValidationError as exc:
        raise InvalidEnvelope(RejectReason.MALFORMED) from exc
    verify(parse(envelope), SENDER.public_key())


SEALED = make_sealed()


class TestSeal:
    def test_sealed_envelope_round_trips_through_the_wire_form(self) -> None:
        assert receive(SEALED) == PLAINTEXT

    def test_header_bytes_are_the_canonical_json_of_the_header(self) -> None:
        assert SEALED.header_bytes == canonical_json(SEALED.header.model_dump(mode="json"))
        assert header_bytes(SEALED.header) == SEALED.header_bytes

    def test_times_are_encoded_in_utc_with_z(self) -> None:
        header = json.loads(SEALED.header_bytes)
        assert header["created_at"] == "2026-06-01T12:00:00Z"

    def test_ciphertext_is_the_plaintext_plus_enc_and_tag(self) -> None:
        assert len(SEALED.ciphertext) == len(PLAINTEXT) + 32 + 16

    def test_signature_is_ed25519_over_context_length_header_and_ciphertext(self) -> None:
        message = signed_message(SEALED.header_bytes, SEALED.ciphertext)
        assert SIGNATURE_CONTEXT == b"avrr-envelope/1 signature\x00"
        _primitives.ed25519_verify(SENDER.public_key().public, SEALED.signature, message)

    def test_ciphertext_opens_only_with_the_header_as_hpke_info(self) -> None:
        info = b"avrr-envelope/1 hpke\x00" + SEALED.header_bytes
        assert HPKE_INFO_CONTEXT + SEALED.header_bytes == info
        assert _primitives.hpke_open(RECIPIENT.seed, SEALED.ciphertext, info) == PLAINTEXT
        with pytest.raises(_primitives.PrimitiveFailure):
            _primitives.hpke_open(RECIPIENT.seed, SEALED.ciphertext, SEALED.header_bytes)

    def test_two_seals_of_the_same_packet_differ(self) -> None:
        assert make_sealed().ciphertext != make_sealed().ciphertext

    def test_signing_is_deterministic_over_the_same_bytes(self) -> None:
        again = resigned(SEALED)
        assert again.signature == SEALED.signature

    def test_header_naming_another_recipient_key_is_refused(self) -> None:
        header = make_header(recipient_key_id=OTHER_RECIPIENT.key_id)
        with pytest.raises(ValueError, match="recipient key"):
            seal(header, PLAINTEXT, signing_key=SENDER, recipient_key=RECIPIENT.public_key())

    def test_signing_key_offered_as_recipient_key_is_refused(self) -> None:
        header = make_header(recipient_key_id=SENDER.key_id)
        with pytest.raises(ValueError, match="recipient key"):
            seal(header, PLAINTEXT, signing_key=SENDER, recipient_key=SENDER.public_key())

    def test_header_naming_another_signing_key_is_refused(self) -> None:
        with pytest.raises(ValueError, match="signing key"):
            seal(
                make_header(),
                PLAINTEXT,
                signing_key=OTHER_SIGNER,
                recipient_key=RECIPIENT.public_key(),
            )

    def test_empty_plaintext_round_trips(self) -> None:
        assert receive(make_sealed(b"")) == b""


class TestParse:
    def test_wire_form_parses_back_to_the_same_envelope(self) -> None:
        assert parse(SEALED.wire()) == SEALED

    def test_padded_base64url_is_malformed(self) -> None:
        padded = b64encode(SEALED.signature) + "=="
        with pytest.raises(InvalidEnvelope) as caught:
            parse(wire_with(SEALED, signature=padded))
        assert caught.value.reason is RejectReason.MALFORMED

    def test_standard_base64_alphabet_is_malformed(self) -> None:
        text = b64encode(SEALED.ciphertext).replace("-", "+").replace("_", "/") + "+"
        with pytest.raises(InvalidEnvelope) as caught:
            parse(wire_with(SEALED, ciphertext=text))
        assert caught.value.reason is RejectReason.MALFORMED

    def test_header_that_is_not_json_is_malformed(self) -> None:
        with pytest.raises(InvalidEnvelope) as caught:
            parse(wire_with(SEALED, header=b64encode(b"not json")))
        assert caught.value.reason is RejectReason.MALFORMED

    def test_header_that_is_not_utf8_is_malformed(self) -> None:
        with pytest.raises(InvalidEnvelope) as caught:
            parse(wire_with(SEALED, header=b64encode(b'{"a":"\xff"}')))
        assert caught.value.reason is RejectReason.MALFORMED

    def test_header_with_extra_whitespace_is_not_canonical(self) -> None:
        spaced = json.dumps(json.loads(SEALED.header_bytes), sort_keys=True).encode()
        with pytest.raises(InvalidEnvelope) as caught:
            parse(wire_with(SEALED, header=b64encode(spaced)))
        assert caught.value.reason is RejectReason.NOT_CANONICAL

    def test_header_with_reordered_keys_is_not_canonical(self) -> None:
        value = json.loads(SEALED.header_bytes)
        reordered = json.dumps(dict(reversed(value.items())), separators=(",", ":")).encode()
        with pytest.raises(InvalidEnvelope) as caught:
            parse(wire_with(SEALED, header=b64encode(reordered)))
        assert caught.value.reason is RejectReason.NOT_CANONICAL

    def test_header_time_with_numeric_offset_is_not_canonical(self) -> None:
        value = json.loads(SEALED.header_bytes)
        value["created_at"] = "2026-06-01T14:00:00+02:00"
        with pytest.raises(InvalidEnvelope) as caught:
            parse(wire_with(SEALED, header=b64encode(canonical_json(value))))
        assert caught.value.reason is RejectReason.NOT_CANONICAL

    def test_header_with_unknown_field_is_malformed(self) -> None:
        value = {**json.loads(SEALED.header_bytes), "extra": "x"}
        with pytest.raises(InvalidEnvelope) as caught:
            parse(wire_with(SEALED, header=b64encode(canonical_json(value))))
        assert caught.value.reason is RejectReason.MALFORMED

    def test_header_of_another_format_version_is_malformed(self) -> None:
        value = {**json.loads(SEALED.header_bytes), "format": "avrr-envelope/2"}
        with pytest.raises(InvalidEnvelope) as caught:
            parse(wire_with(SEALED, header=b64encode(canonical_json(value))))
        assert caught.value.reason is RejectReason.MALFORMED

    def test_header_with_fractional_seconds_is_malformed(self) -> None:
        value = {**json.loads(SEALED.header_bytes), "created_at": "2026-06-01T12:00:00.5Z"}
        with pytest.raises(InvalidEnvelope) as caught:
            parse(wire_with(SEALED, header=b64encode(canonical_json(value))))
        assert caught.value.reason is RejectReason.MALFORMED

    @pytest.mark.parametrize("length", [0, 63, 65])
    def test_signature_of_wrong_length_is_malformed(self, length: int) -> None:
        with pytest.raises(InvalidEnvelope) as caught:
            parse(wire_with(SEALED, signature=b64encode(bytes(length))))
        assert caught.value.reason is RejectReason.MALFORMED

    def test_ciphertext_shorter_than_enc_and_tag_is_malformed(self) -> None:
        with pytest.raises(InvalidEnvelope) as caught:
            parse(wire_with(SEALED, ciphertext=b64encode(SEALED.ciphertext[:47])))
        assert caught.value.reason is RejectReason.MALFORMED

    def test_header_with_a_float_is_malformed_not_merely_non_canonical(self) -> None:
        # RFC 8785 would re-encode 1.0 as 1; the protocol refuses floats outright.
        header = SEALED.header_bytes[:-1] + b',"z":1.0}'
        with pytest.raises(InvalidEnvelope) as caught:
            parse(wire_with(SEALED, header=b64encode(header)))
        assert caught.value.reason is RejectReason.MALFORMED

    def test_header_with_an_exponent_number_is_malformed(self) -> None:
        header = SEALED.header_bytes[:-1] + b',"z":1E2}'
        with pytest.raises(InvalidEnvelope) as caught:
            parse(wire_with(SEALED, header=b64encode(header)))
        assert caught.value.reason is RejectReason.MALFORMED

    def test_header_with_a_duplicate_member_is_not_canonical(self) -> None:
        header = SEALED.header_bytes[:-1] + b',"sender":"host.example"}'
        with pytest.raises(InvalidEnvelope) as caught:
            parse(wire_with(SEALED, header=b64encode(header)))
        assert caught.value.reason is RejectReason.NOT_CANONICAL

    @pytest.mark.parametrize("member", ["header", "ciphertext", "signature"])
    def test_base64url_with_non_zero_trailing_bits_is_malformed(self, member: str) -> None:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        # Only a text whose length is 2 or 3 modulo 4 leaves unused bits in its last character,
        # that is a byte string whose length is not a multiple of 3: lengthen the header if not.
        sealed = SEALED
        if len(getattr(sealed.wire(), member)) % 4 == 0:
            sealed = make_sealed(sender="host1.example")
        text: str = getattr(sealed.wire(), member)
        assert len(text) % 4 in (2, 3)
        changed = text[:-1] + alphabet[alphabet.index(text[-1]) | 1]
        assert changed != text
        assert base64.urlsafe_b64decode(changed + "=" * (-len(changed) % 4)) == b64decode(text)
        with pytest.raises(InvalidEnvelope) as caught:
            parse(wire_with(sealed, **{member: changed}))
        assert caught.value.reason is RejectReason.MALFORMED

    def test_base64url_with_a_trailing_newline_is_malformed(self) -> None:
        text = b64encode(SEALED.header_bytes) + "\n"
        with pytest.raises(InvalidEnvelope) as caught:
            parse(wire_with(SEALED, header=text))
        assert caught.value.reason is RejectReason.MALFORMED

    def test_refusal_reads_the_same_whatever_the_reason(self) -> None:
        with pytest.raises(InvalidEnvelope) as caught:
            parse(wire_with(SEALED, signature=""))
        assert str(caught.value) == "envelope rejected"


def header_value(**changes: Any) -> dict[str, Any]:
    """The JSON value of SEALED's header with members changed (``None`` is kept as ``null``)."""
    return {**json.loads(SEALED.header_bytes), **changes}


def without_member(value: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in value.items() if k != name}


class TestTransferGround:
    def test_header_carries_the_ground_as_its_last_member(self) -> None:
        assert SEALED.header_bytes.endswith(
            b',"transfer_ground":"explicit_consent_informed_of_risks"}'
        )

    def test_referral_header_without_a_ground_cannot_be_built(self) -> None:
        with pytest.raises(ValidationError, match="transfer ground"):
            make_header(transfer_ground=None)

    @pytest.mark.parametrize(
        "ground",
        ["explicit_consent_informed_of_risks", "vital_interests", "important_public_interest"],
    )
    def test_each_ground_is_accepted_in_a_referral(self, ground: str) -> None:
        assert receive(make_sealed(transfer_ground=ground)) == PLAINTEXT

    @pytest.mark.parametrize("kind", ["revocation", "status_update", "correction"])
    def test_other_kinds_may_state_no_ground_and_encode_it_as_null(self, kind: str) -> None:
        sealed = make_sealed(kind=kind, transfer_ground=None)
        assert json.loads(sealed.header_bytes)["transfer_ground"] is None
        assert b'"transfer_ground":null' in sealed.header_bytes
        assert receive(sealed) == PLAINTEXT

    def test_signed_referral_header_without_the_member_is_malformed(self) -> None:
        header = canonical_json(without_member(header_value(), "transfer_ground"))
        with pytest.raises(InvalidEnvelope) as caught:
            parse(resigned(SEALED, header=header).wire())
        assert caught.value.reason is RejectReason.MALFORMED

    def test_signed_referral_header_with_a_null_ground_is_malformed(self) -> None:
        header = canonical_json(header_value(transfer_ground=None))
        with pytest.raises(InvalidEnvelope) as caught:
            parse(resigned(SEALED, header=header).wire())
        assert caught.value.reason is RejectReason.MALFORMED

    def test_unknown_ground_is_malformed(self) -> None:
        header = canonical_json(header_value(transfer_ground="legitimate_interests"))
        with pytest.raises(InvalidEnvelope) as caught:
            parse(resigned(SEALED, header=header).wire())
        assert caught.value.reason is RejectReason.MALFORMED

    def test_non_referral_header_leaving_the_member_out_is_not_canonical(self) -> None:
        # The schema lets the ground be absent, but the header re-encodes with it as null.
        value = without_member(header_value(kind="status_update"), "transfer_ground")
        with pytest.raises(InvalidEnvelope) as caught:
            parse(resigned(SEALED, header=canonical_json(value)).wire())
        assert caught.value.reason is RejectReason.NOT_CANONICAL

    def test_changed_ground_breaks_the_signature(self) -> None:
        header = canonical_json(header_value(transfer_ground="vital_interests"))
        wire = wire_with(SEALED, header=b64encode(header))
        with pytest.raises(InvalidEnvelope) as caught:
            verify(parse(wire), SENDER.public_key())
        assert caught.value.reason is RejectReason.BAD_SIGNATURE


class TestSectionDeleteBy:
    def test_referral_header_carries_a_date_per_section_in_utc_with_z(self) -> None:
        value = json.loads(SEALED.header_bytes)
        assert value["section_delete_by"] == {"arrival": "2026-07-01T12:00:00Z"}
        assert b'"section_delete_by":{"arrival":"2026-07-01T12:00:00Z"},"sections":' in (
            SEALED.header_bytes
        )

    def test_sections_with_their_own_dates_round_trip(self) -> None:
        dates = {"arrival": DELETE_BY, "travel": CREATED + timedelta(days=7)}
        sealed = make_sealed(sections=["arrival", "travel"], section_delete_by=dates)
        assert json.loads(sealed.header_bytes)["section_delete_by"] == {
            "arrival": "2026-07-01T12:00:00Z",
            "travel": "2026-06-08T12:00:00Z",
        }
        assert parse(sealed.wire()).header == sealed.header
        assert receive(sealed) == PLAINTEXT

    def test_referral_header_without_section_dates_cannot_be_built(self) -> None:
        with pytest.raises(ValidationError, match="delete-by date for each of its sections"):
            make_header(section_delete_by=None)

    @pytest.mark.parametrize("kind", ["revocation", "status_update", "correction"])
    def test_other_kinds_may_state_no_section_dates_and_encode_them_as_null(
        self, kind: str
    ) -> None:
        sealed = make_sealed(kind=kind, transfer_ground=None)
        assert b'"section_delete_by":null' in sealed.header_bytes
        assert receive(sealed) == PLAINTEXT

    def test_signed_referral_header_without_the_member_is_malformed(self) -> None:
        header = canonical_json(without_member(header_value(), "section_delete_by"))
        with pytest.raises(InvalidEnvelope) as caught:
            parse(resigned(SEALED, header=header).wire())
        assert caught.value.reason is RejectReason.MALFORMED

    def test_signed_referral_header_with_null_section_dates_is_malformed(self) -> None:
        header = canonical_json(header_value(section_delete_by=None))
        with pytest.raises(InvalidEnvelope) as caught:
            parse(resigned(SEALED, header=header).wire())
        assert caught.value.reason is RejectReason.MALFORMED

    @pytest.mark.parametrize(
        "dates",
        [
            {},
            {"travel": "2026-07-01T12:00:00Z"},
            {"arrival": "2026-07-01T12:00:00Z", "travel": "2026-06-15T12:00:00Z"},
        ],
        ids=["none", "another-section", "one-too-many"],
    )
    def test_section_dates_not_matching_the_sections_are_malformed(
        self, dates: dict[str, str]
    ) -> None:
        header = canonical_json(header_value(section_delete_by=dates))
        with pytest.raises(InvalidEnvelope) as caught:
            parse(resigned(SEALED, header=header).wire())
        assert caught.value.reason is RejectReason.MALFORMED

    def test_section_date_other_than_delete_by_for_a_lone_section_is_malformed(self) -> None:
        header = canonical_json(header_value(section_delete_by={"arrival": "2026-06-15T12:00:00Z"}))
        with pytest.raises(InvalidEnvelope) as caught:
            parse(resigned(SEALED, header=header).wire())
        assert caught.value.reason is RejectReason.MALFORMED

    def test_non_referral_header_leaving_the_member_out_is_not_canonical(self) -> None:
        value = without_member(
            header_value(kind="status_update", section_delete_by=None), "section_delete_by"
        )
        with pytest.raises(InvalidEnvelope) as caught:
            parse(resigned(SEALED, header=canonical_json(value)).wire())
        assert caught.value.reason is RejectReason.NOT_CANONICAL

    def test_changed_section_date_breaks_the_signature(self) -> None:
        dates = {"arrival": DELETE_BY, "travel": CREATED + timedelta(days=7)}
        sealed = make_sealed(sections=["arrival", "travel"], section_delete_by=dates)
        # The recipient would like to keep the travel section as long as the arrival section.
        value = {
            **json.loads(sealed.header_bytes),
            "section_delete_by": {
                "arrival": "2026-07-01T12:00:00Z",
                "travel": "2026-07-01T12:00:00Z",
            },
        }
        parsed = parse(wire_with(sealed, header=b64encode(canonical_json(value))))
        with pytest.raises(InvalidEnvelope) as caught:
            verify(parsed, SENDER.public_key())
        assert caught.value.reason is RejectReason.BAD_SIGNATURE


class TestVerify:
    def test_genuine_envelope_verifies(self) -> None:
        verify(SEALED, SENDER.public_key())

    def test_signature_by_a_key_other_than_the_headers_sender_key_fails(self) -> None:
        forged = resigned(SEALED, key=OTHER_SIGNER)
        with pytest.raises(InvalidEnvelope) as caught:
            verify(forged, SENDER.public_key())
        assert caught.value.reason is RejectReason.BAD_SIGNATURE

    def test_key_not_named_in_the_header_is_refused_before_the_signature(self) -> None:
        forged = resigned(SEALED, key=OTHER_SIGNER)
        with pytest.raises(InvalidEnvelope) as caught:
            verify(forged, OTHER_SIGNER.public_key())
        assert caught.value.reason is RejectReason.UNKNOWN_SIGNING_KEY

    def test_encryption_key_offered_as_sender_key_is_refused(self) -> None:
        with pytest.raises(InvalidEnvelope) as caught:
            verify(SEALED, RECIPIENT.public_key())
        assert caught.value.reason is RejectReason.UNKNOWN_SIGNING_KEY

    def test_sender_key_that_ended_before_creation_is_refused(self) -> None:
        ended = replace(SENDER.public_key(), valid_until=CREATED)
        with pytest.raises(InvalidEnvelope) as caught:
            verify(SEALED, ended)
        assert caught.value.reason is RejectReason.SIGNING_KEY_NOT_VALID

    def test_sender_key_that_starts_after_creation_is_refused(self) -> None:
        later = replace(SENDER.public_key(), valid_from=CREATED + timedelta(seconds=1))
        with pytest.raises(InvalidEnvelope) as caught:
            verify(SEALED, later)
        assert caught.value.reason is RejectReason.SIGNING_KEY_NOT_VALID

    def test_sender_key_that_starts_at_creation_is_accepted(self) -> None:
        verify(SEALED, replace(SENDER.public_key(), valid_from=CREATED))

    def test_flipped_signature_bit_is_refused_as_bad_signature(self) -> None:
        tampered = replace(SEALED, signature=flip(SEALED.signature, 10))
        with pytest.raises(InvalidEnvelope) as caught:
            verify(tampered, SENDER.public_key())
        assert caught.value.reason is RejectReason.BAD_SIGNATURE

    def test_flipped_ciphertext_bit_is_refused_as_bad_signature(self) -> None:
        tampered = replace(SEALED, ciphertext=flip(SEALED.ciphertext, 40))
        with pytest.raises(InvalidEnvelope) as caught:
            verify(tampered, SENDER.public_key())
        assert caught.value.reason is RejectReason.BAD_SIGNATURE

    def test_signature_over_another_ciphertext_is_refused(self) -> None:
        other = make_sealed()
        swapped = replace(SEALED, signature=other.signature)
        with pytest.raises(InvalidEnvelope) as caught:
            verify(swapped, SENDER.public_key())
        assert caught.value.reason is RejectReason.BAD_SIGNATURE

    def test_recipient_cannot_pass_the_packet_on_as_if_addressed_to_a_third_party(self) -> None:
        # The recipient re-addresses a genuine packet; it cannot sign as the sender.
        value = {**json.loads(SEALED.header_bytes), "recipient": "third.example"}
        wire = wire_with(SEALED, header=b64encode(canonical_json(value)))
        parsed = parse(wire)
        with pytest.raises(InvalidEnvelope) as caught:
            verify(parsed, SENDER.public_key())
        assert caught.value.reason is RejectReason.BAD_SIGNATURE

    def test_length_prefix_keeps_header_and_ciphertext_apart(self) -> None:
        # Moving a byte from the ciphertext's start to the header's end keeps H || C the same.
        header, ciphertext = SEALED.header_bytes, SEALED.ciphertext
        assert (header + ciphertext[:1]) + ciphertext[1:] == header + ciphertext
        moved = SealedEnvelope(
            SEALED.header, header + ciphertext[:1], ciphertext[1:], SEALED.signature
        )
        with pytest.raises(InvalidEnvelope) as caught:
            verify(moved, SENDER.public_key())
        assert caught.value.reason is RejectReason.BAD_SIGNATURE


class TestCheckTimes:
    def check(self, now: datetime, **changes: Any) -> None:
        check_times(make_header(**changes), now=now, window=WINDOW, skew=SKEW)

    def test_packet_inside_the_window_is_accepted(self) -> None:
        self.check(CREATED + timedelta(hours=1))

    def test_packet_exactly_at_the_window_edge_is_accepted(self) -> None:
        self.check(CREATED + WINDOW)

    def test_packet_one_second_past_the_window_is_stale(self) -> None:
        with pytest.raises(InvalidEnvelope) as caught:
            self.check(CREATED + WINDOW + timedelta(seconds=1))
        assert caught.value.reason is RejectReason.STALE

    def test_packet_created_within_the_skew_ahead_is_accepted(self) -> None:
        self.check(CREATED - SKEW)

    def test_packet_created_beyond_the_skew_ahead_is_from_the_future(self) -> None:
        with pytest.raises(InvalidEnvelope) as caught:
            self.check(CREATED - SKEW - timedelta(seconds=1))
        assert caught.value.reason is RejectReason.FROM_THE_FUTURE

    def test_packet_one_second_before_delete_by_is_accepted(self) -> None:
        delete_by = CREATED + timedelta(days=2)
        self.check(delete_by - timedelta(seconds=1), delete_by=delete_by)

    def test_packet_at_its_delete_by_is_refused(self) -> None:
        delete_by = CREATED + timedelta(days=2)
        with pytest.raises(InvalidEnvelope) as caught:
            self.check(delete_by, delete_by=delete_by)
        assert caught.value.reason is RejectReason.PAST_DELETE_BY

    def test_packet_past_its_delete_by_is_refused(self) -> None:
        delete_by = CREATED + timedelta(days=2)
        with pytest.raises(InvalidEnvelope) as caught:
            self.check(delete_by + timedelta(days=1), delete_by=delete_by)
        assert caught.value.reason is RejectReason.PAST_DELETE_BY

    def test_staleness_is_reported_before_the_deadline(self) -> None:
        with pytest.raises(InvalidEnvelope) as caught:
            self.check(DELETE_BY + timedelta(days=1))
        assert caught.value.reason is RejectReason.STALE


class TestOpenSealed:
    def test_recipient_key_opens_the_packet(self) -> None:
        assert open_sealed(SEALED, RECIPIENT) == PLAINTEXT

    def test_wrong_recipient_key_cannot_open(self) -> None:
        with pytest.raises(InvalidEnvelope) as caught:
            open_sealed(SEALED, OTHER_RECIPIENT)
        assert caught.value.reason is RejectReason.UNKNOWN_RECIPIENT_KEY

    def test_wrong_private_key_fails_even_past_the_key_id_check(self) -> None:
        info = HPKE_INFO_CONTEXT + SEALED.header_bytes
        with pytest.raises(_primitives.PrimitiveFailure):
            _primitives.hpke_open(OTHER_RECIPIENT.seed, SEALED.ciphertext, info)

    @pytest.mark.parametrize(
        ("index", "what"), [(0, "enc"), (40, "ciphertext"), (-1, "tag")], ids=["enc", "body", "tag"]
    )
    def test_flipped_ciphertext_bit_is_refused_as_decryption_failure(
        self, index: int, what: str
    ) -> None:
        tampered = replace(SEALED, ciphertext=flip(SEALED.ciphertext, index))
        with pytest.raises(InvalidEnvelope) as caught:
            open_sealed(tampered, RECIPIENT)
        assert caught.value.reason is RejectReason.DECRYPTION_FAILED, what

    def test_flipped_tag_bit_is_refused_as_decryption_failure(self) -> None:
        tampered = replace(SEALED, ciphertext=flip(SEALED.ciphertext, -1, 0x80))
        with pytest.raises(InvalidEnvelope) as caught:
            open_sealed(tampered, RECIPIENT)
        assert caught.value.reason is RejectReason.DECRYPTION_FAILED

    @pytest.mark.parametrize(
        "enc",
        [bytes(32), bytes([1]) + bytes(31)],
        ids=["zero-point", "order-one-point"],
    )
    def test_low_order_ephemeral_key_is_refused_as_decryption_failure(self, enc: bytes) -> None:
        # X25519 with a low-order point gives a predictable shared secret; it must not open.
        tampered = replace(SEALED, ciphertext=enc + SEALED.ciphertext[32:])
        with pytest.raises(InvalidEnvelope) as caught:
            open_sealed(tampered, RECIPIENT)
        assert caught.value.reason is RejectReason.DECRYPTION_FAILED

    def test_truncated_ciphertext_is_refused_as_decryption_failure(self) -> None:
        tampered = replace(SEALED, ciphertext=SEALED.ciphertext[:-1])
        with pytest.raises(InvalidEnvelope) as caught:
            open_sealed(tampered, RECIPIENT)
        assert caught.value.reason is RejectReason.DECRYPTION_FAILED

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("purpose", "reintegration_assistance"),
            ("recipient", "third.example"),
            ("delete_by", "2027-06-01T12:00:00Z"),
            ("sections", ["arrival", "travel"]),
            ("transfer_ground", "important_public_interest"),
            ("section_delete_by", {"arrival": "2026-06-15T12:00:00Z"}),
        ],
    )
    def test_header_swapped_under_a_valid_signature_still_fails_decryption(
        self, field: str, value: Any
    ) -> None:
        # Even a sender's signature over a changed header cannot move the ciphertext to it.
        changed = canonical_json({**json.loads(SEALED.header_bytes), field: value})
        tampered = resigned(SEALED, header=changed)
        verify(tampered, SENDER.public_key())
        with pytest.raises(InvalidEnvelope) as caught:
            open_sealed(tampered, RECIPIENT)
        assert caught.value.reason is RejectReason.DECRYPTION_FAILED


class TestEnvelopeDigest:
    def test_digest_is_sha256_of_the_canonical_wire_json(self) -> None:
        wire = SEALED.wire()
        expected = hashlib.sha256(canonical_json(wire.model_dump())).hexdigest()
        assert envelope_digest(wire) == expected == SEALED.digest()

    @pytest.mark.parametrize("member", ["header", "ciphertext", "signature"])
    def test_digest_changes_with_every_member(self, member: str) -> None:
        other = make_sealed(packet_id="ff" * 16)
        mixed = WireEnvelope(
            **{**SEALED.wire().model_dump(), member: getattr(other.wire(), member)}
        )
        assert envelope_digest(mixed) != SEALED.digest()


def _large_plaintext(length: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(length)


PLAINTEXTS = st.one_of(
    st.binary(max_size=2048),
    st.builds(_large_plaintext, st.integers(0, 64 * 1024), st.integers(0, 2**32)),
)


class TestEnvelopeProperties:
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(plaintext=PLAINTEXTS)
    def test_any_plaintext_up_to_64_kib_round_trips(self, plaintext: bytes) -> None:
        assert receive(make_sealed(plaintext)) == plaintext

    @settings(max_examples=200, deadline=None)
    @given(
        member=st.sampled_from(["ciphertext", "signature"]),
        position=st.integers(0, 10**6),
        bit=st.integers(0, 7),
    )
    def test_any_single_bit_flip_in_ciphertext_or_signature_is_refused(
        self, member: str, position: int, bit: int
    ) -> None:
        if member == "ciphertext":
            ciphertext = SEALED.ciphertext
            tampered = replace(
                SEALED, ciphertext=flip(ciphertext, position % len(ciphertext), 1 << bit)
            )
        else:
            signature = SEALED.signature
            tampered = replace(
                SEALED, signature=flip(signature, position % len(signature), 1 << bit)
            )
        with pytest.raises(InvalidEnvelope) as caught:
            receive(tampered)
        assert caught.value.reason is RejectReason.BAD_SIGNATURE

    @settings(max_examples=200, deadline=None)
    @given(position=st.integers(0, 10**6), bit=st.integers(0, 7))
    def test_any_single_bit_flip_in_the_header_is_refused_before_decryption(
        self, position: int, bit: int
    ) -> None:
        data = SEALED.header_bytes
        header = flip(data, position % len(data), 1 << bit)
        wire = wire_with(SEALED, header=b64encode(header))
        with pytest.raises(InvalidEnvelope) as caught:
            verify(parse(wire), SENDER.public_key())
        assert caught.value.reason in {
            RejectReason.MALFORMED,
            RejectReason.NOT_CANONICAL,
            RejectReason.UNKNOWN_SIGNING_KEY,
            RejectReason.SIGNING_KEY_NOT_VALID,
            RejectReason.BAD_SIGNATURE,
        }

    @settings(max_examples=200, deadline=None)
    @given(
        member=st.sampled_from(["header", "ciphertext", "signature"]),
        position=st.integers(0, 10**6),
        bit=st.integers(0, 6),
    )
    def test_any_single_bit_flip_in_the_wire_text_is_refused(
        self, member: str, position: int, bit: int
    ) -> None:
        wire = SEALED.wire().model_dump()
        text: str = wire[member]
        index = position % len(text)
        wire[member] = text[:index] + chr(ord(text[index]) ^ (1 << bit)) + text[index + 1 :]
        with pytest.raises(InvalidEnvelope) as caught:
            parse_and_verify_body(wire)
        assert caught.value.reason in {
            RejectReason.MALFORMED,
            RejectReason.NOT_CANONICAL,
            RejectReason.UNKNOWN_SIGNING_KEY,
            RejectReason.SIGNING_KEY_NOT_VALID,
            RejectReason.BAD_SIGNATURE,
        }
