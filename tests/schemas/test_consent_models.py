"""Consent models: what a caseworker may record, and the revocation and receipt wire formats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from schemas.common import ConsentGiver, PartnerRole, Purpose, SectionName
from schemas.consent import (
    CONSENT_RECEIPT_FORMAT,
    DELETION_RECEIPT_FORMAT,
    ConsentCreate,
    ConsentMethod,
    ConsentReceipt,
    ConsentStatus,
    DeletionReceipt,
    RevocationContent,
    RevocationReason,
    RevokedPacket,
)

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PACKET_ID = "0123456789abcdef0123456789abcdef"
OTHER_PACKET_ID = "89abcdef0123456789abcdef01234567"
WITHDRAWAL_ID = "ffeeddccbbaa99887766554433221100"
REVOCATION_ID = "00112233445566778899aabbccddeeff"


def consent_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "purpose": "arrival_reception",
        "recipient": "reception.example",
        "sections": ["arrival", "medical"],
        "method": "signed_form",
        "language": "fr",
    }
    data.update(changes)
    return data


def refused(model: type[BaseModel], data: dict[str, Any]) -> ValidationError:
    with pytest.raises(ValidationError) as exc_info:
        model.model_validate(data)
    return exc_info.value


def error_types(exc: ValidationError) -> list[str]:
    return [str(error["type"]) for error in exc.errors()]


class TestConsentCreate:
    def test_minimal_consent_is_given_by_the_person(self) -> None:
        consent = ConsentCreate.model_validate(consent_data())

        assert consent.given_by is ConsentGiver.DATA_SUBJECT
        assert consent.purpose is Purpose.ARRIVAL_RECEPTION
        assert consent.sections == [SectionName.ARRIVAL, SectionName.MEDICAL]
        assert consent.fields is None
        assert consent.informed_of_risks is False

    def test_consent_may_name_a_role_instead_of_a_node(self) -> None:
        consent = ConsentCreate.model_validate(
            consent_data(recipient=None, recipient_role="reception_partner")
        )

        assert consent.recipient is None
        assert consent.recipient_role is PartnerRole.RECEPTION_PARTNER

    def test_node_and_role_together_are_refused(self) -> None:
        with pytest.raises(ValidationError, match="either a recipient node or a recipient role"):
            ConsentCreate.model_validate(consent_data(recipient_role="reception_partner"))

    def test_neither_node_nor_role_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="either a recipient node or a recipient role"):
            ConsentCreate.model_validate(consent_data(recipient=None))

    def test_law_enforcement_role_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="law enforcement"):
            ConsentCreate.model_validate(
                consent_data(recipient=None, recipient_role="law_enforcement")
            )

    @pytest.mark.parametrize(
        "giver", [ConsentGiver.PARENT, ConsentGiver.GUARDIAN, ConsentGiver.LEGAL_REPRESENTATIVE]
    )
    def test_representative_without_relation_is_refused(self, giver: ConsentGiver) -> None:
        with pytest.raises(ValidationError, match="how the person giving consent is related"):
            ConsentCreate.model_validate(consent_data(given_by=giver))

    def test_representative_with_relation_is_accepted(self) -> None:
        consent = ConsentCreate.model_validate(
            consent_data(
                given_by="guardian",
                giver_relation="Court-appointed guardian",
                child_view="agrees",
                best_interests_reference="BID-synthetic-0001",
            )
        )

        assert consent.given_by is ConsentGiver.GUARDIAN
        assert consent.giver_relation == "Court-appointed guardian"

    def test_person_consenting_needs_no_relation(self) -> None:
        assert ConsentCreate.model_validate(consent_data()).giver_relation is None

    def test_verbal_consent_without_witness_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="verbal consent needs a witness"):
            ConsentCreate.model_validate(consent_data(method="verbal_with_witness"))

    def test_verbal_consent_with_witness_is_accepted(self) -> None:
        consent = ConsentCreate.model_validate(
            consent_data(method="verbal_with_witness", witness="Synthetic Witness")
        )

        assert consent.method is ConsentMethod.VERBAL_WITH_WITNESS

    def test_blank_witness_is_refused(self) -> None:
        error = refused(ConsentCreate, consent_data(method="verbal_with_witness", witness="  "))

        # Not blank is part of the published pattern (text is not trimmed before it is checked).
        assert error_types(error) == ["string_pattern_mismatch"]

    def test_fields_of_consented_sections_are_accepted(self) -> None:
        consent = ConsentCreate.model_validate(
            consent_data(fields={"arrival": ["reception_requested", "contact_language"]})
        )

        assert consent.fields == {SectionName.ARRIVAL: ["reception_requested", "contact_language"]}

    def test_fields_of_a_section_not_consented_are_refused(self) -> None:
        with pytest.raises(ValidationError, match="travel, which is not consented"):
            ConsentCreate.model_validate(consent_data(fields={"travel": ["escort"]}))

    def test_unknown_field_name_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="unknown fields for medical"):
            ConsentCreate.model_validate(consent_data(fields={"medical": ["diagnosis"]}))

    def test_field_of_another_section_is_refused(self) -> None:
        # A real field name, but not of this section.
        with pytest.raises(ValidationError, match="unknown fields for arrival"):
            ConsentCreate.model_validate(consent_data(fields={"arrival": ["conditions"]}))

    def test_unknown_section_in_fields_is_refused(self) -> None:
        error = refused(ConsentCreate, consent_data(fields={"diagnosis": ["conditions"]}))

        assert "enum" in error_types(error)

    def test_validity_ending_after_it_starts_is_accepted(self) -> None:
        consent = ConsentCreate.model_validate(
            consent_data(valid_from=START, valid_until=START + timedelta(days=90))
        )

        assert consent.valid_until == START + timedelta(days=90)

    @pytest.mark.parametrize("until", [START, START - timedelta(seconds=1)])
    def test_validity_not_ending_after_it_starts_is_refused(self, until: datetime) -> None:
        with pytest.raises(ValidationError, match="valid_until must come after valid_from"):
            ConsentCreate.model_validate(consent_data(valid_from=START, valid_until=until))

    def test_validity_compares_instants_not_clock_readings(self) -> None:
        # 10:30 at UTC+2 is 08:30 UTC: before the start, whatever the wall clock says.
        until = datetime(2026, 3, 2, 10, 30, tzinfo=timezone(timedelta(hours=2)))

        with pytest.raises(ValidationError, match="valid_until must come after valid_from"):
            ConsentCreate.model_validate(consent_data(valid_from=START, valid_until=until))

    def test_naive_validity_is_refused(self) -> None:
        error = refused(ConsentCreate, consent_data(valid_from=START.replace(tzinfo=None)))

        assert [e["loc"] for e in error.errors()] == [("valid_from",)]

    def test_no_section_is_refused(self) -> None:
        assert error_types(refused(ConsentCreate, consent_data(sections=[]))) == ["too_short"]

    def test_unknown_language_is_refused(self) -> None:
        error = refused(ConsentCreate, consent_data(language="xx"))

        assert [e["loc"] for e in error.errors()] == [("language",)]

    def test_unknown_field_is_refused(self) -> None:
        error = refused(ConsentCreate, consent_data(signature="synthetic"))

        assert error_types(error) == ["extra_forbidden"]

    def test_consent_is_frozen(self) -> None:
        consent = ConsentCreate.model_validate(consent_data())

        with pytest.raises(ValidationError, match="frozen"):
            consent.informed_of_risks = True  # type: ignore[misc]


class TestRevocationContent:
    def revocation_data(self, **changes: Any) -> dict[str, Any]:
        data: dict[str, Any] = {
            "withdrawal_id": WITHDRAWAL_ID,
            "packets": [{"packet_id": PACKET_ID, "sections": ["arrival", "medical"]}],
        }
        data.update(changes)
        return data

    def test_valid_revocation_is_accepted(self) -> None:
        content = RevocationContent.model_validate(self.revocation_data())

        assert content.packets == [
            RevokedPacket(packet_id=PACKET_ID, sections=[SectionName.ARRIVAL, SectionName.MEDICAL])
        ]

    def test_revocation_of_no_packet_is_refused(self) -> None:
        error = refused(RevocationContent, self.revocation_data(packets=[]))

        assert error_types(error) == ["too_short"]

    def test_revoked_packet_without_sections_is_refused(self) -> None:
        packets = [{"packet_id": PACKET_ID, "sections": []}]

        assert error_types(refused(RevocationContent, self.revocation_data(packets=packets))) == [
            "too_short"
        ]

    def test_malformed_packet_id_is_refused(self) -> None:
        packets = [{"packet_id": "not-a-packet", "sections": ["arrival"]}]

        assert error_types(refused(RevocationContent, self.revocation_data(packets=packets))) == [
            "string_pattern_mismatch"
        ]

    def test_unknown_field_is_refused(self) -> None:
        error = refused(RevocationContent, self.revocation_data(note="synthetic"))

        assert error_types(error) == ["extra_forbidden"]

    def test_unknown_reason_is_refused(self) -> None:
        error = refused(RevocationContent, self.revocation_data(reason="synthetic"))

        assert error_types(error) == ["enum"]

    def test_withdrawal_without_its_withdrawal_id_is_refused(self) -> None:
        error = refused(RevocationContent, self.revocation_data(withdrawal_id=None))

        assert error_types(error) == ["value_error"]

    def test_retention_proof_naming_a_withdrawal_is_refused(self) -> None:
        data = self.revocation_data(reason="retention_ended")

        assert error_types(refused(RevocationContent, data)) == ["value_error"]

    def test_retention_proof_without_withdrawal_is_accepted(self) -> None:
        data = self.revocation_data(reason="retention_ended", withdrawal_id=None)

        assert RevocationContent.model_validate(data).reason is RevocationReason.RETENTION_ENDED

    def test_round_trips_through_json(self) -> None:
        content = RevocationContent.model_validate(self.revocation_data())

        assert RevocationContent.model_validate_json(content.model_dump_json()) == content


class TestDeletionReceipt:
    def receipt_data(self, **changes: Any) -> dict[str, Any]:
        data: dict[str, Any] = {
            "revocation_id": REVOCATION_ID,
            "withdrawal_id": WITHDRAWAL_ID,
            "sender": "host-mission.example",
            "recipient": "reception.example",
            "packets": [
                {"packet_id": PACKET_ID, "sections": ["arrival"]},
                {"packet_id": OTHER_PACKET_ID, "sections": ["medical"]},
            ],
            "deleted_at": START,
        }
        data.update(changes)
        return data

    def test_receipt_gets_its_format(self) -> None:
        receipt = DeletionReceipt.model_validate(self.receipt_data())

        assert receipt.format == DELETION_RECEIPT_FORMAT
        assert [p.packet_id for p in receipt.packets] == [PACKET_ID, OTHER_PACKET_ID]

    def test_other_format_is_refused(self) -> None:
        error = refused(DeletionReceipt, self.receipt_data(format="avrr-receipt/1"))

        assert error_types(error) == ["literal_error"]

    def test_naive_deleted_at_is_refused(self) -> None:
        error = refused(DeletionReceipt, self.receipt_data(deleted_at=START.replace(tzinfo=None)))

        assert [e["loc"] for e in error.errors()] == [("deleted_at",)]

    def test_deleted_at_is_normalised_to_utc(self) -> None:
        local = START.astimezone(timezone(timedelta(hours=-5)))

        receipt = DeletionReceipt.model_validate(self.receipt_data(deleted_at=local))

        assert receipt.deleted_at == START
        assert receipt.deleted_at.utcoffset() == timedelta(0)

    def test_malformed_revocation_id_is_refused(self) -> None:
        error = refused(DeletionReceipt, self.receipt_data(revocation_id="1234"))

        assert [e["loc"] for e in error.errors()] == [("revocation_id",)]

    def test_unknown_field_is_refused(self) -> None:
        error = refused(DeletionReceipt, self.receipt_data(note="synthetic"))

        assert error_types(error) == ["extra_forbidden"]


class TestConsentReceipt:
    def receipt_data(self, **changes: Any) -> dict[str, Any]:
        data: dict[str, Any] = {
            "node": "host-mission.example",
            "organisation": "Synthetic Host Mission",
            "consent_id": "0f" * 16,
            "version": 1,
            "case_reference": "a0" * 16,
            "status": "active",
            "purpose": "arrival_reception",
            "recipient": "reception.example",
            "recipient_organisation": "Synthetic Reception Partner",
            "recipient_role": None,
            "sections": ["arrival"],
            "given_by": "data_subject",
            "method": "signed_form",
            "language": "fr",
            "valid_from": START,
            "valid_until": START + timedelta(days=90),
            "issued_at": START,
        }
        data.update(changes)
        return data

    def test_receipt_gets_its_format(self) -> None:
        receipt = ConsentReceipt.model_validate(self.receipt_data())

        assert receipt.format == CONSENT_RECEIPT_FORMAT
        assert receipt.status is ConsentStatus.ACTIVE

    def test_role_based_receipt_is_accepted(self) -> None:
        receipt = ConsentReceipt.model_validate(
            self.receipt_data(
                recipient=None, recipient_organisation=None, recipient_role="reception_partner"
            )
        )

        assert receipt.recipient_role is PartnerRole.RECEPTION_PARTNER

    def test_receipt_round_trips_through_json(self) -> None:
        receipt = ConsentReceipt.model_validate(self.receipt_data())

        assert ConsentReceipt.model_validate(receipt.model_dump(mode="json")) == receipt

    def test_other_format_is_refused(self) -> None:
        error = refused(ConsentReceipt, self.receipt_data(format="avrr-consent-receipt/2"))

        assert error_types(error) == ["literal_error"]

    def test_naive_issued_at_is_refused(self) -> None:
        error = refused(ConsentReceipt, self.receipt_data(issued_at=START.replace(tzinfo=None)))

        assert [e["loc"] for e in error.errors()] == [("issued_at",)]

    def test_unknown_field_is_refused(self) -> None:
        error = refused(ConsentReceipt, self.receipt_data(person_name="Synthetic Person"))

        assert error_types(error) == ["extra_forbidden"]
