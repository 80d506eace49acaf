"""Receipts: the recipient signs for exactly the envelope it got, and the sender checks each fact."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crypto.encoding import b64decode, b64encode
from crypto.envelope import SealedEnvelope
from crypto.signed import sign_document
from partners.directory import DIRECTORY_CONTEXT, FederationView
from partners.errors import DeliveryFailed
from partners.receipts import issue_receipt, verify_receipt
from schemas.common import PartnerRole
from schemas.envelope import RECEIPT_FORMAT, Receipt, SignedDocument
from tests.partners.builders import (
    HOST_ID,
    NOW,
    PARTNER_ID,
    THIRD_ID,
    Federation,
    directory,
    node_record,
    sealed_referral,
    signing_key,
)

RECEIVED = NOW + timedelta(seconds=3, microseconds=400_000)


@pytest.fixture
def fed() -> Federation:
    return Federation.build()


@pytest.fixture
def sealed(fed: Federation) -> SealedEnvelope:
    return sealed_referral(
        sender=HOST_ID,
        recipient=PARTNER_ID,
        signing=fed.host.signing,
        recipient_key=fed.partner.encryption.public_key(),
    )


def check(
    doc: SignedDocument,
    view: FederationView,
    sealed: SealedEnvelope,
    **changes: str,
) -> Receipt:
    """Verify ``doc`` as the host would for ``sealed``; ``changes`` alter what the host expects."""
    expected = {
        "packet_id": sealed.header.packet_id,
        "sender": sealed.header.sender,
        "recipient": sealed.header.recipient,
        "envelope_sha256": sealed.digest(),
    }
    expected.update(changes)
    return verify_receipt(doc, view=view, **expected)


def refused(
    doc: SignedDocument, view: FederationView, sealed: SealedEnvelope, **changes: str
) -> str:
    with pytest.raises(DeliveryFailed) as exc_info:
        check(doc, view, sealed, **changes)
    return exc_info.value.outcome


class TestReceipt:
    def test_issued_receipt_verifies(self, fed: Federation, sealed: SealedEnvelope) -> None:
        doc = issue_receipt(sealed, received_at=RECEIVED, key=fed.partner.signing)

        receipt = check(doc, fed.view, sealed)

        assert receipt == Receipt(
            packet_id=sealed.header.packet_id,
            sender=HOST_ID,
            recipient=PARTNER_ID,
            envelope_sha256=sealed.digest(),
            received_at=NOW + timedelta(seconds=3),
        )

    def test_receipt_for_another_digest_is_refused(
        self, fed: Federation, sealed: SealedEnvelope
    ) -> None:
        doc = issue_receipt(sealed, received_at=RECEIVED, key=fed.partner.signing)

        assert refused(doc, fed.view, sealed, envelope_sha256="0" * 64) == "bad_receipt"

    def test_receipt_for_another_packet_is_refused(
        self, fed: Federation, sealed: SealedEnvelope
    ) -> None:
        doc = issue_receipt(sealed, received_at=RECEIVED, key=fed.partner.signing)

        assert refused(doc, fed.view, sealed, packet_id="1" * 32) == "bad_receipt"

    def test_receipt_for_another_sender_is_refused(
        self, fed: Federation, sealed: SealedEnvelope
    ) -> None:
        doc = issue_receipt(sealed, received_at=RECEIVED, key=fed.partner.signing)

        assert refused(doc, fed.view, sealed, sender=THIRD_ID) == "bad_receipt"

    def test_receipt_signed_by_the_sender_itself_is_refused(
        self, fed: Federation, sealed: SealedEnvelope
    ) -> None:
        # The host's key is in the directory, but a receipt must come from the recipient.
        doc = issue_receipt(sealed, received_at=RECEIVED, key=fed.host.signing)

        assert refused(doc, fed.view, sealed) == "bad_receipt"

    def test_receipt_signed_by_an_unlisted_key_is_refused(
        self, fed: Federation, sealed: SealedEnvelope
    ) -> None:
        doc = issue_receipt(sealed, received_at=RECEIVED, key=signing_key())

        assert refused(doc, fed.view, sealed) == "bad_receipt"

    def test_receipt_from_a_recipient_not_in_directory_is_refused(
        self, fed: Federation, sealed: SealedEnvelope
    ) -> None:
        doc = issue_receipt(sealed, received_at=RECEIVED, key=fed.partner.signing)
        view = FederationView(directory([fed.view.node(HOST_ID)]))

        assert refused(doc, view, sealed) == "bad_receipt"

    def test_receipt_dated_outside_the_signing_key_validity_is_refused(
        self, fed: Federation, sealed: SealedEnvelope
    ) -> None:
        ended = signing_key(valid_from=NOW - timedelta(days=30), valid_until=NOW)
        partner = node_record(
            fed.partner, roles=[PartnerRole.RECEPTION_PARTNER], signing=[ended, fed.partner.signing]
        )
        view = FederationView(directory([fed.view.node(HOST_ID), partner]))
        doc = issue_receipt(sealed, received_at=RECEIVED, key=ended)

        assert refused(doc, view, sealed) == "bad_receipt"

    def test_receipt_with_tampered_payload_is_refused(
        self, fed: Federation, sealed: SealedEnvelope
    ) -> None:
        doc = issue_receipt(sealed, received_at=RECEIVED, key=fed.partner.signing)
        payload = b64decode(doc.payload).replace(b"2026-03-02", b"2026-03-01")
        tampered = doc.model_copy(update={"payload": b64encode(payload)})

        assert refused(tampered, fed.view, sealed) == "bad_receipt"

    def test_document_signed_under_another_context_is_refused(
        self, fed: Federation, sealed: SealedEnvelope
    ) -> None:
        receipt = Receipt(
            packet_id=sealed.header.packet_id,
            sender=HOST_ID,
            recipient=PARTNER_ID,
            envelope_sha256=sealed.digest(),
            received_at=NOW,
        )
        doc = sign_document(
            receipt.model_dump(mode="json"), fed.partner.signing, context=DIRECTORY_CONTEXT
        )

        assert refused(doc, fed.view, sealed) == "bad_receipt"

    def test_signed_payload_that_is_not_a_receipt_is_refused(
        self, fed: Federation, sealed: SealedEnvelope
    ) -> None:
        doc = sign_document({"packet_id": "x"}, fed.partner.signing, context=RECEIPT_FORMAT)

        assert refused(doc, fed.view, sealed) == "bad_receipt"
