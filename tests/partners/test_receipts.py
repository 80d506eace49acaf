"""Receipts: the recipient signs for exactly the envelope it got, and the sender checks each fact.

Deletion receipts answer a revocation the same way: signed by the recipient, for exactly the
revocation, the two nodes and the packets (with their sections) that the revocation named.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest

from crypto.encoding import b64decode, b64encode
from crypto.envelope import SealedEnvelope
from crypto.keys import SigningKey
from crypto.signed import sign_document
from partners.directory import DIRECTORY_CONTEXT, FederationView
from partners.errors import DeliveryFailed
from partners.receipts import (
    issue_deletion_receipt,
    issue_delivery_receipt,
    verify_deletion_receipt,
    verify_delivery_receipt,
)
from schemas.common import PartnerRole, SectionName
from schemas.consent import (
    DELETION_RECEIPT_FORMAT,
    DeletionReceipt,
    RevocationContent,
    RevocationReason,
    RevokedPacket,
)
from schemas.envelope import RECEIPT_FORMAT, DeliveryReceipt, SignedDocument
from tests.support.builders import (
    HOST_ID,
    NOW,
    PACKET_ID,
    PARTNER_ID,
    REVOCATION_ID,
    REVOKED,
    THIRD_ID,
    WITHDRAWAL_ID,
    Federation,
    directory,
    node_record,
    sealed_referral,
    sealed_revocation,
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
) -> DeliveryReceipt:
    """Verify ``doc`` as the host would for ``sealed``; ``changes`` alter what the host expects."""
    expected = {
        "packet_id": sealed.header.packet_id,
        "sender": sealed.header.sender,
        "recipient": sealed.header.recipient,
        "envelope_sha256": sealed.digest(),
    }
    expected.update(changes)
    return verify_delivery_receipt(doc, view=view, **expected)


def refused(
    doc: SignedDocument, view: FederationView, sealed: SealedEnvelope, **changes: str
) -> str:
    with pytest.raises(DeliveryFailed) as exc_info:
        check(doc, view, sealed, **changes)
    return exc_info.value.outcome


class TestReceipt:
    def test_issued_receipt_verifies(self, fed: Federation, sealed: SealedEnvelope) -> None:
        doc = issue_delivery_receipt(sealed, received_at=RECEIVED, key=fed.partner.signing)

        receipt = check(doc, fed.view, sealed)

        assert receipt == DeliveryReceipt(
            packet_id=sealed.header.packet_id,
            sender=HOST_ID,
            recipient=PARTNER_ID,
            envelope_sha256=sealed.digest(),
            received_at=NOW + timedelta(seconds=3),
        )

    def test_receipt_for_another_digest_is_refused(
        self, fed: Federation, sealed: SealedEnvelope
    ) -> None:
        doc = issue_delivery_receipt(sealed, received_at=RECEIVED, key=fed.partner.signing)

        assert refused(doc, fed.view, sealed, envelope_sha256="0" * 64) == "bad_receipt"

    def test_receipt_for_another_packet_is_refused(
        self, fed: Federation, sealed: SealedEnvelope
    ) -> None:
        doc = issue_delivery_receipt(sealed, received_at=RECEIVED, key=fed.partner.signing)

        assert refused(doc, fed.view, sealed, packet_id="1" * 32) == "bad_receipt"

    def test_receipt_for_another_withdrawal_is_refused(
        self, fed: Federation, revocation: SealedEnvelope
    ) -> None:
        doc = deletion_receipt(revocation, fed.partner.signing)

        assert deletion_refused(doc, fed.view, withdrawal_id="2" * 32) == "bad_deletion_receipt"

    def test_receipt_for_another_sender_is_refused(
        self, fed: Federation, sealed: SealedEnvelope
    ) -> None:
        doc = issue_delivery_receipt(sealed, received_at=RECEIVED, key=fed.partner.signing)

        assert refused(doc, fed.view, sealed, sender=THIRD_ID) == "bad_receipt"

    def test_receipt_signed_by_the_sender_itself_is_refused(
        self, fed: Federation, sealed: SealedEnvelope
    ) -> None:
        # The host's key is in the directory, but a receipt must come from the recipient.
        doc = issue_delivery_receipt(sealed, received_at=RECEIVED, key=fed.host.signing)

        assert refused(doc, fed.view, sealed) == "bad_receipt"

    def test_receipt_signed_by_an_unlisted_key_is_refused(
        self, fed: Federation, sealed: SealedEnvelope
    ) -> None:
        doc = issue_delivery_receipt(sealed, received_at=RECEIVED, key=signing_key())

        assert refused(doc, fed.view, sealed) == "bad_receipt"

    def test_receipt_from_a_recipient_not_in_directory_is_refused(
        self, fed: Federation, sealed: SealedEnvelope
    ) -> None:
        doc = issue_delivery_receipt(sealed, received_at=RECEIVED, key=fed.partner.signing)
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
        doc = issue_delivery_receipt(sealed, received_at=RECEIVED, key=ended)

        assert refused(doc, view, sealed) == "bad_receipt"

    def test_receipt_with_tampered_payload_is_refused(
        self, fed: Federation, sealed: SealedEnvelope
    ) -> None:
        doc = issue_delivery_receipt(sealed, received_at=RECEIVED, key=fed.partner.signing)
        payload = b64decode(doc.payload).replace(b"2026-03-02", b"2026-03-01")
        tampered = doc.model_copy(update={"payload": b64encode(payload)})

        assert refused(tampered, fed.view, sealed) == "bad_receipt"

    def test_document_signed_under_another_context_is_refused(
        self, fed: Federation, sealed: SealedEnvelope
    ) -> None:
        receipt = DeliveryReceipt(
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


# -- deletion receipts ---------------------------------------------------------------------------

DELETED = NOW + timedelta(minutes=5, microseconds=250_000)
OTHER_PACKET_ID = "89abcdef0123456789abcdef01234567"


@pytest.fixture
def revocation(fed: Federation) -> SealedEnvelope:
    return sealed_revocation(
        sender=HOST_ID,
        recipient=PARTNER_ID,
        signing=fed.host.signing,
        recipient_key=fed.partner.encryption.public_key(),
    )


def content(
    packets: Sequence[RevokedPacket] = REVOKED,
    *,
    reason: RevocationReason = RevocationReason.CONSENT_WITHDRAWN,
    withdrawal_id: str | None = WITHDRAWAL_ID,
) -> RevocationContent:
    if reason is RevocationReason.RETENTION_ENDED:
        withdrawal_id = None
    return RevocationContent(reason=reason, withdrawal_id=withdrawal_id, packets=list(packets))


def deletion_receipt(
    revocation: SealedEnvelope,
    key: SigningKey,
    packets: Sequence[RevokedPacket] = REVOKED,
    *,
    reason: RevocationReason = RevocationReason.CONSENT_WITHDRAWN,
    held: Sequence[str] = (),
) -> SignedDocument:
    return issue_deletion_receipt(
        revocation,
        revocation=content(packets, reason=reason),
        held=list(held),
        deleted_at=DELETED,
        key=key,
    )


def check_deletion(
    doc: SignedDocument,
    view: FederationView,
    *,
    revocation_id: str = REVOCATION_ID,
    withdrawal_id: str = WITHDRAWAL_ID,
    reason: RevocationReason = RevocationReason.CONSENT_WITHDRAWN,
    sender: str = HOST_ID,
    recipient: str = PARTNER_ID,
    packets: Sequence[RevokedPacket] = REVOKED,
) -> DeletionReceipt:
    """Verify ``doc`` as the host would for the revocation it sent; arguments alter expectations."""
    return verify_deletion_receipt(
        doc,
        view=view,
        revocation_id=revocation_id,
        revocation=content(packets, reason=reason, withdrawal_id=withdrawal_id),
        sender=sender,
        recipient=recipient,
    )


def deletion_refused(doc: SignedDocument, view: FederationView, **changes: Any) -> str:
    with pytest.raises(DeliveryFailed) as exc_info:
        check_deletion(doc, view, **changes)
    return exc_info.value.outcome


class TestDeletionReceipt:
    def test_issued_deletion_receipt_verifies(
        self, fed: Federation, revocation: SealedEnvelope
    ) -> None:
        doc = deletion_receipt(revocation, fed.partner.signing)

        receipt = check_deletion(doc, fed.view)

        assert receipt == DeletionReceipt(
            revocation_id=REVOCATION_ID,
            withdrawal_id=WITHDRAWAL_ID,
            sender=HOST_ID,
            recipient=PARTNER_ID,
            packets=list(REVOKED),
            deleted_at=NOW + timedelta(minutes=5),
        )
        assert receipt.format == DELETION_RECEIPT_FORMAT

    def test_packets_in_another_order_still_verify(
        self, fed: Federation, revocation: SealedEnvelope
    ) -> None:
        first = RevokedPacket(packet_id=PACKET_ID, sections=[SectionName.ARRIVAL])
        second = RevokedPacket(packet_id=OTHER_PACKET_ID, sections=[SectionName.MEDICAL])
        doc = deletion_receipt(revocation, fed.partner.signing, packets=[second, first])

        assert check_deletion(doc, fed.view, packets=[first, second]).packets == [second, first]

    def test_receipt_for_another_revocation_is_refused(
        self, fed: Federation, revocation: SealedEnvelope
    ) -> None:
        doc = deletion_receipt(revocation, fed.partner.signing)

        assert deletion_refused(doc, fed.view, revocation_id="1" * 32) == "bad_deletion_receipt"

    def test_receipt_for_another_sender_is_refused(
        self, fed: Federation, revocation: SealedEnvelope
    ) -> None:
        doc = deletion_receipt(revocation, fed.partner.signing)

        assert deletion_refused(doc, fed.view, sender=THIRD_ID) == "bad_deletion_receipt"

    def test_receipt_naming_another_recipient_is_refused(self, fed: Federation) -> None:
        # Signed with the expected recipient's own key, but for a revocation addressed elsewhere:
        # the signature checks out, the named recipient does not.
        elsewhere = sealed_revocation(
            sender=HOST_ID,
            recipient=THIRD_ID,
            signing=fed.host.signing,
            recipient_key=fed.partner.encryption.public_key(),
        )
        doc = deletion_receipt(elsewhere, fed.partner.signing)

        assert deletion_refused(doc, fed.view) == "bad_deletion_receipt"

    def test_receipt_checked_against_another_recipient_is_refused(
        self, fed: Federation, revocation: SealedEnvelope
    ) -> None:
        # The host's key is not the partner's: the recipient named must have signed.
        doc = deletion_receipt(revocation, fed.partner.signing)

        assert deletion_refused(doc, fed.view, recipient=HOST_ID) == "bad_deletion_receipt"

    def test_receipt_for_fewer_packets_is_refused(
        self, fed: Federation, revocation: SealedEnvelope
    ) -> None:
        other = RevokedPacket(packet_id=OTHER_PACKET_ID, sections=[SectionName.MEDICAL])
        doc = deletion_receipt(revocation, fed.partner.signing)

        assert deletion_refused(doc, fed.view, packets=[*REVOKED, other]) == "bad_deletion_receipt"

    def test_receipt_for_another_packet_is_refused(
        self, fed: Federation, revocation: SealedEnvelope
    ) -> None:
        other = RevokedPacket(packet_id=OTHER_PACKET_ID, sections=[SectionName.ARRIVAL])
        doc = deletion_receipt(revocation, fed.partner.signing)

        assert deletion_refused(doc, fed.view, packets=[other]) == "bad_deletion_receipt"

    def test_receipt_for_fewer_sections_is_refused(
        self, fed: Federation, revocation: SealedEnvelope
    ) -> None:
        # Deleting only part of what was revoked is not a deletion of what was revoked.
        asked = RevokedPacket(
            packet_id=PACKET_ID, sections=[SectionName.ARRIVAL, SectionName.MEDICAL]
        )
        doc = deletion_receipt(revocation, fed.partner.signing)

        assert deletion_refused(doc, fed.view, packets=[asked]) == "bad_deletion_receipt"

    def test_receipt_signed_by_the_sender_itself_is_refused(
        self, fed: Federation, revocation: SealedEnvelope
    ) -> None:
        # The host's key is in the directory, but only the recipient can say it deleted.
        doc = deletion_receipt(revocation, fed.host.signing)

        assert deletion_refused(doc, fed.view) == "bad_deletion_receipt"

    def test_receipt_signed_by_an_unlisted_key_is_refused(
        self, fed: Federation, revocation: SealedEnvelope
    ) -> None:
        doc = deletion_receipt(revocation, signing_key())

        assert deletion_refused(doc, fed.view) == "bad_deletion_receipt"

    def test_receipt_dated_outside_the_signing_key_validity_is_refused(
        self, fed: Federation, revocation: SealedEnvelope
    ) -> None:
        ended = signing_key(valid_from=NOW - timedelta(days=30), valid_until=NOW)
        partner = node_record(
            fed.partner, roles=[PartnerRole.RECEPTION_PARTNER], signing=[ended, fed.partner.signing]
        )
        view = FederationView(directory([fed.view.node(HOST_ID), partner]))
        doc = deletion_receipt(revocation, ended)

        assert deletion_refused(doc, view) == "bad_deletion_receipt"

    def test_delivery_receipt_is_not_a_deletion_receipt(
        self, fed: Federation, revocation: SealedEnvelope
    ) -> None:
        # A receipt for storing the revocation envelope must not pass for having deleted.
        doc = issue_delivery_receipt(revocation, received_at=DELETED, key=fed.partner.signing)

        assert deletion_refused(doc, fed.view) == "bad_deletion_receipt"

    def test_deletion_receipt_is_not_a_delivery_receipt(
        self, fed: Federation, revocation: SealedEnvelope
    ) -> None:
        doc = deletion_receipt(revocation, fed.partner.signing)

        assert refused(doc, fed.view, revocation) == "bad_receipt"

    def test_retention_proof_receipt_verifies_with_held_packets(
        self, fed: Federation, revocation: SealedEnvelope
    ) -> None:
        retention = RevocationReason.RETENTION_ENDED
        doc = deletion_receipt(revocation, fed.partner.signing, reason=retention, held=[PACKET_ID])

        receipt = check_deletion(doc, fed.view, reason=retention)

        assert (receipt.reason, receipt.withdrawal_id, receipt.held) == (
            retention,
            None,
            [PACKET_ID],
        )

    def test_receipt_for_another_reason_is_refused(
        self, fed: Federation, revocation: SealedEnvelope
    ) -> None:
        doc = deletion_receipt(revocation, fed.partner.signing)

        assert (
            deletion_refused(doc, fed.view, reason=RevocationReason.RETENTION_ENDED)
            == "bad_deletion_receipt"
        )

    def test_withdrawal_receipt_claiming_a_hold_is_refused(
        self, fed: Federation, revocation: SealedEnvelope
    ) -> None:
        # A withdrawal deletes whatever else applies: a recipient cannot answer "held".
        doc = deletion_receipt(revocation, fed.partner.signing, held=[PACKET_ID])

        assert deletion_refused(doc, fed.view) == "bad_deletion_receipt"

    def test_receipt_holding_a_packet_not_asked_about_is_refused(
        self, fed: Federation, revocation: SealedEnvelope
    ) -> None:
        retention = RevocationReason.RETENTION_ENDED
        doc = deletion_receipt(
            revocation, fed.partner.signing, reason=retention, held=[OTHER_PACKET_ID]
        )

        assert deletion_refused(doc, fed.view, reason=retention) == "bad_deletion_receipt"

    def test_receipt_with_tampered_payload_is_refused(
        self, fed: Federation, revocation: SealedEnvelope
    ) -> None:
        doc = deletion_receipt(revocation, fed.partner.signing)
        payload = b64decode(doc.payload).replace(b"2026-03-02", b"2026-03-01")
        tampered = doc.model_copy(update={"payload": b64encode(payload)})

        assert deletion_refused(tampered, fed.view) == "bad_deletion_receipt"
