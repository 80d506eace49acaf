"""Envelope header, wire envelope, signed document and receipt models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.common import SectionName, TransferGround
from schemas.envelope import (
    ENVELOPE_FORMAT,
    RECEIPT_FORMAT,
    SUITE,
    DeliveryReceipt,
    EnvelopeHeader,
    MessageKind,
    SignedDocument,
    WireEnvelope,
)

CREATED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def header_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "kind": "referral",
        "packet_id": "0123456789abcdef0123456789abcdef",
        "sender": "host-mission.example",
        "recipient": "reception.example",
        "purpose": "arrival_reception",
        "subject": "ab" * 32,
        "consent_ref": "fedcba9876543210fedcba9876543210",
        "transfer_ground": "explicit_consent_informed_of_risks",
        "sections": ["arrival", "travel"],
        "created_at": CREATED,
        "delete_by": CREATED + timedelta(days=30),
        "sender_key_id": "11" * 16,
        "recipient_key_id": "22" * 16,
    }
    data.update(changes)
    if "section_delete_by" not in changes and data.get("kind") == "referral":
        # A referral dates each of its sections; by default all at delete_by.
        data["section_delete_by"] = dict.fromkeys(data["sections"], data["delete_by"])
    return data


def refusal(data: dict[str, Any]) -> ValidationError:
    with pytest.raises(ValidationError) as exc_info:
        EnvelopeHeader.model_validate(data)
    return exc_info.value


class TestEnvelopeHeader:
    def test_valid_header_gets_format_and_suite(self) -> None:
        header = EnvelopeHeader.model_validate(header_data())

        assert header.format == ENVELOPE_FORMAT
        assert header.suite == SUITE
        assert header.sections == [SectionName.ARRIVAL, SectionName.TRAVEL]

    def test_unknown_field_is_refused(self) -> None:
        error = refusal(header_data(note="synthetic"))

        assert [e["type"] for e in error.errors()] == ["extra_forbidden"]

    def test_header_is_frozen(self) -> None:
        header = EnvelopeHeader.model_validate(header_data())

        with pytest.raises(ValidationError, match="frozen"):
            header.recipient = "transit.example"  # type: ignore[misc]

    def test_other_format_version_is_refused(self) -> None:
        error = refusal(header_data(format="avrr-envelope/2"))

        assert [e["type"] for e in error.errors()] == ["literal_error"]

    def test_unsorted_sections_are_refused(self) -> None:
        with pytest.raises(ValidationError, match="sorted and unique"):
            EnvelopeHeader.model_validate(header_data(sections=["travel", "arrival"]))

    def test_duplicate_sections_are_refused(self) -> None:
        with pytest.raises(ValidationError, match="sorted and unique"):
            EnvelopeHeader.model_validate(header_data(sections=["arrival", "arrival"]))

    def test_unknown_section_is_refused(self) -> None:
        late = CREATED + timedelta(days=30)
        error = refusal(
            header_data(sections=["arrival", "diagnosis"], section_delete_by={"arrival": late})
        )

        assert [e["type"] for e in error.errors()] == ["enum"]

    def test_delete_by_before_created_at_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="delete_by must come after created_at"):
            EnvelopeHeader.model_validate(header_data(delete_by=CREATED - timedelta(seconds=1)))

    def test_delete_by_equal_to_created_at_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="delete_by must come after created_at"):
            EnvelopeHeader.model_validate(header_data(delete_by=CREATED))

    def test_sub_second_created_at_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="whole seconds"):
            EnvelopeHeader.model_validate(
                header_data(created_at=CREATED + timedelta(microseconds=1))
            )

    def test_sub_second_delete_by_is_refused(self) -> None:
        late = CREATED + timedelta(days=30, microseconds=500_000)

        with pytest.raises(ValidationError, match="whole seconds"):
            EnvelopeHeader.model_validate(header_data(delete_by=late))

    def test_naive_created_at_is_refused(self) -> None:
        error = refusal(header_data(created_at=CREATED.replace(tzinfo=None)))

        assert [e["loc"] for e in error.errors()] == [("created_at",)]

    def test_times_are_normalised_to_utc(self) -> None:
        local = CREATED.astimezone(timezone(timedelta(hours=-5)))

        header = EnvelopeHeader.model_validate(header_data(created_at=local))

        assert header.created_at == CREATED
        assert header.created_at.utcoffset() == timedelta(0)

    @pytest.mark.parametrize(
        "packet_id",
        ["0123456789ABCDEF0123456789ABCDEF", "0123456789abcdef", "0123456789abcdef" * 3],
    )
    def test_malformed_packet_id_is_refused(self, packet_id: str) -> None:
        error = refusal(header_data(packet_id=packet_id))

        assert [e["type"] for e in error.errors()] == ["string_pattern_mismatch"]

    def test_malformed_node_id_is_refused(self) -> None:
        error = refusal(header_data(recipient="Reception Partner"))

        assert [e["loc"] for e in error.errors()] == [("recipient",)]


class TestTransferGround:
    def test_referral_states_its_transfer_ground(self) -> None:
        header = EnvelopeHeader.model_validate(header_data())

        assert header.transfer_ground is TransferGround.EXPLICIT_CONSENT

    def test_referral_without_transfer_ground_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="transfer ground"):
            EnvelopeHeader.model_validate(header_data(transfer_ground=None))

    def test_referral_omitting_transfer_ground_is_refused(self) -> None:
        data = header_data()
        del data["transfer_ground"]

        with pytest.raises(ValidationError, match="transfer ground"):
            EnvelopeHeader.model_validate(data)

    @pytest.mark.parametrize(
        "kind", [kind for kind in MessageKind if kind is not MessageKind.REFERRAL]
    )
    def test_other_kinds_need_no_transfer_ground(self, kind: MessageKind) -> None:
        header = EnvelopeHeader.model_validate(header_data(kind=kind, transfer_ground=None))

        assert header.transfer_ground is None

    def test_unknown_transfer_ground_is_refused(self) -> None:
        error = refusal(header_data(transfer_ground="legitimate_interest"))

        assert [e["type"] for e in error.errors()] == ["enum"]


DAY = timedelta(days=1)


class TestSectionDeleteBy:
    def test_referral_dates_each_section_and_delete_by_is_the_latest(self) -> None:
        dates = {"arrival": CREATED + 90 * DAY, "travel": CREATED + 30 * DAY}

        header = EnvelopeHeader.model_validate(
            header_data(delete_by=CREATED + 90 * DAY, section_delete_by=dates)
        )

        assert header.section_delete_by == {
            SectionName.ARRIVAL: CREATED + 90 * DAY,
            SectionName.TRAVEL: CREATED + 30 * DAY,
        }
        assert header.delete_by == max(header.section_delete_by.values())

    @pytest.mark.parametrize("dates", [None, {}], ids=["null", "empty"])
    def test_referral_without_section_dates_is_refused(self, dates: Any) -> None:
        with pytest.raises(ValidationError, match="delete-by date for each of its sections"):
            EnvelopeHeader.model_validate(header_data(section_delete_by=dates))

    def test_referral_omitting_the_member_is_refused(self) -> None:
        data = header_data()
        del data["section_delete_by"]

        with pytest.raises(ValidationError, match="delete-by date for each of its sections"):
            EnvelopeHeader.model_validate(data)

    def test_section_without_a_date_is_refused(self) -> None:
        dates = {"arrival": CREATED + 30 * DAY}

        with pytest.raises(ValidationError, match="delete-by date for each of its sections"):
            EnvelopeHeader.model_validate(header_data(section_delete_by=dates))

    def test_date_for_a_section_not_sent_is_refused(self) -> None:
        late = CREATED + 30 * DAY
        dates = {"arrival": late, "medical": late, "travel": late}

        with pytest.raises(ValidationError, match="delete-by date for each of its sections"):
            EnvelopeHeader.model_validate(header_data(section_delete_by=dates))

    def test_unknown_section_name_as_a_key_is_refused(self) -> None:
        late = CREATED + 30 * DAY
        error = refusal(header_data(section_delete_by={"arrival": late, "diagnosis": late}))

        assert [e["type"] for e in error.errors()] == ["enum"]

    @pytest.mark.parametrize("offset", [timedelta(0), -timedelta(seconds=1)], ids=["at", "before"])
    def test_section_date_not_after_created_at_is_refused(self, offset: timedelta) -> None:
        dates = {"arrival": CREATED + 30 * DAY, "travel": CREATED + offset}

        with pytest.raises(ValidationError, match="whole seconds after created_at"):
            EnvelopeHeader.model_validate(header_data(section_delete_by=dates))

    def test_sub_second_section_date_is_refused(self) -> None:
        dates = {"arrival": CREATED + 30 * DAY, "travel": CREATED + DAY + timedelta(microseconds=1)}

        with pytest.raises(ValidationError, match="whole seconds after created_at"):
            EnvelopeHeader.model_validate(header_data(section_delete_by=dates))

    def test_naive_section_date_is_refused(self) -> None:
        naive = (CREATED + 30 * DAY).replace(tzinfo=None)
        error = refusal(header_data(section_delete_by={"arrival": naive, "travel": naive}))

        assert {e["loc"][0] for e in error.errors()} == {"section_delete_by"}

    @pytest.mark.parametrize(
        "delete_by", [CREATED + 31 * DAY, CREATED + 29 * DAY], ids=["later", "earlier"]
    )
    def test_delete_by_other_than_the_latest_section_date_is_refused(
        self, delete_by: datetime
    ) -> None:
        dates = {"arrival": CREATED + 30 * DAY, "travel": CREATED + 10 * DAY}

        with pytest.raises(ValidationError, match="latest section delete-by date"):
            EnvelopeHeader.model_validate(header_data(delete_by=delete_by, section_delete_by=dates))

    def test_section_dates_are_normalised_to_utc(self) -> None:
        local = (CREATED + 30 * DAY).astimezone(timezone(timedelta(hours=3)))

        header = EnvelopeHeader.model_validate(
            header_data(section_delete_by={"arrival": local, "travel": local})
        )

        assert header.section_delete_by is not None
        assert all(d.utcoffset() == timedelta(0) for d in header.section_delete_by.values())
        assert header.model_dump(mode="json")["section_delete_by"] == {
            "arrival": "2026-04-01T09:00:00Z",
            "travel": "2026-04-01T09:00:00Z",
        }

    @pytest.mark.parametrize(
        "kind", [kind for kind in MessageKind if kind is not MessageKind.REFERRAL]
    )
    def test_other_kinds_need_no_section_dates(self, kind: MessageKind) -> None:
        data = header_data(kind=kind, transfer_ground=None)

        header = EnvelopeHeader.model_validate(data)

        assert "section_delete_by" not in data
        assert header.section_delete_by is None
        assert header.model_dump(mode="json")["section_delete_by"] is None


class TestWireEnvelope:
    def test_base64url_parts_are_accepted(self) -> None:
        wire = WireEnvelope(header="e30", ciphertext="AA-_", signature="")

        assert wire.ciphertext == "AA-_"

    @pytest.mark.parametrize("text", ["AA==", "AA+/", "A A"])
    def test_text_outside_unpadded_base64url_is_refused(self, text: str) -> None:
        with pytest.raises(ValidationError) as exc_info:
            WireEnvelope(header="e30", ciphertext=text, signature="AA")

        assert [e["type"] for e in exc_info.value.errors()] == ["string_pattern_mismatch"]

    def test_unknown_field_is_refused(self) -> None:
        with pytest.raises(ValidationError) as exc_info:
            WireEnvelope.model_validate(
                {"header": "e30", "ciphertext": "AA", "signature": "AA", "key": "AA"}
            )

        assert [e["type"] for e in exc_info.value.errors()] == ["extra_forbidden"]


class TestSignedDocument:
    def test_malformed_key_id_is_refused(self) -> None:
        with pytest.raises(ValidationError) as exc_info:
            SignedDocument(payload="e30", key_id="not-a-key-id", signature="AA")

        assert [e["loc"] for e in exc_info.value.errors()] == [("key_id",)]


class TestReceipt:
    def receipt_data(self, **changes: Any) -> dict[str, Any]:
        data: dict[str, Any] = {
            "packet_id": "0123456789abcdef0123456789abcdef",
            "sender": "host-mission.example",
            "recipient": "reception.example",
            "envelope_sha256": "cd" * 32,
            "received_at": CREATED,
        }
        data.update(changes)
        return data

    def test_receipt_gets_its_format(self) -> None:
        assert DeliveryReceipt.model_validate(self.receipt_data()).format == RECEIPT_FORMAT

    def test_short_digest_is_refused(self) -> None:
        with pytest.raises(ValidationError) as exc_info:
            DeliveryReceipt.model_validate(self.receipt_data(envelope_sha256="cd" * 16))

        assert [e["type"] for e in exc_info.value.errors()] == ["string_pattern_mismatch"]

    def test_naive_received_at_is_refused(self) -> None:
        with pytest.raises(ValidationError) as exc_info:
            DeliveryReceipt.model_validate(
                self.receipt_data(received_at=CREATED.replace(tzinfo=None))
            )

        assert [e["loc"] for e in exc_info.value.errors()] == [("received_at",)]
