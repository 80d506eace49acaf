"""The signed directory: signing, verification (signature, dates, rollback, keys) and lookups."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from crypto.encoding import b64decode, b64encode
from crypto.keys import KeyUse, key_id_for
from crypto.signed import sign_document
from partners.directory import (
    CLOCK_SKEW,
    DIRECTORY_CONTEXT,
    FederationView,
    key_record,
    public_key,
    reissued,
    sign_directory,
    signed_serial,
    verify_directory,
    with_node,
)
from partners.errors import DirectoryError, NoUsableKey, UnknownNode
from schemas.common import PartnerRole, Purpose, SectionName
from schemas.directory import KeyRecord, SharingRule
from schemas.envelope import RECEIPT_FORMAT, SignedDocument
from tests.support.builders import (
    HOST_ID,
    NOW,
    PARTNER_ID,
    THIRD_ID,
    Federation,
    NodeKeys,
    directory,
    encryption_key,
    node_record,
    operator_key,
    signing_key,
)


@pytest.fixture
def fed() -> Federation:
    return Federation.build()


def assert_directory_error(exc_info: pytest.ExceptionInfo[DirectoryError], text: str) -> None:
    """The error is the generic ``DirectoryError`` (not a lookup subclass) and says ``text``."""
    assert exc_info.type is DirectoryError
    assert text in str(exc_info.value)


class TestVerifyDirectory:
    def test_signed_directory_verifies_to_the_same_directory(self, fed: Federation) -> None:
        view = verify_directory(fed.signed(), fed.operator.public_key(), now=NOW)

        assert view.directory == fed.directory

    def test_directory_signed_by_another_key_is_refused(self, fed: Federation) -> None:
        doc = sign_directory(fed.directory, operator_key())

        with pytest.raises(DirectoryError) as exc_info:
            verify_directory(doc, fed.operator.public_key(), now=NOW)

        assert_directory_error(exc_info, "not signed by the pinned operator key")

    def test_unsigned_payload_is_refused(self, fed: Federation) -> None:
        signed = fed.signed()
        doc = SignedDocument(payload=signed.payload, key_id=signed.key_id, signature="")

        with pytest.raises(DirectoryError) as exc_info:
            verify_directory(doc, fed.operator.public_key(), now=NOW)

        assert_directory_error(exc_info, "not signed by the pinned operator key")

    def test_garbled_payload_is_refused(self, fed: Federation) -> None:
        signed = fed.signed()
        raw = bytearray(b64decode(signed.payload))
        raw[raw.index(b'"serial":1') + len('"serial":')] = ord("9")
        doc = signed.model_copy(update={"payload": b64encode(bytes(raw))})

        with pytest.raises(DirectoryError) as exc_info:
            verify_directory(doc, fed.operator.public_key(), now=NOW)

        assert_directory_error(exc_info, "not signed by the pinned operator key")

    def test_document_signed_under_another_context_is_refused(self, fed: Federation) -> None:
        doc = sign_document(
            fed.directory.model_dump(mode="json"), fed.operator, context=RECEIPT_FORMAT
        )

        with pytest.raises(DirectoryError) as exc_info:
            verify_directory(doc, fed.operator.public_key(), now=NOW)

        assert_directory_error(exc_info, "not signed by the pinned operator key")

    def test_signed_payload_that_is_not_a_directory_is_refused(self, fed: Federation) -> None:
        doc = sign_document({"serial": 99}, fed.operator, context=DIRECTORY_CONTEXT)

        with pytest.raises(DirectoryError) as exc_info:
            verify_directory(doc, fed.operator.public_key(), now=NOW)

        assert_directory_error(exc_info, "malformed")

    def test_directory_past_expiry_is_refused(self, fed: Federation) -> None:
        doc = fed.signed()

        with pytest.raises(DirectoryError) as exc_info:
            verify_directory(
                doc, fed.operator.public_key(), now=fed.directory.expires_at + timedelta(seconds=1)
            )

        assert_directory_error(exc_info, "expired")

    def test_directory_at_its_expiry_instant_is_refused(self, fed: Federation) -> None:
        with pytest.raises(DirectoryError) as exc_info:
            verify_directory(fed.signed(), fed.operator.public_key(), now=fed.directory.expires_at)

        assert_directory_error(exc_info, "expired")

    def test_directory_issued_too_far_in_the_future_is_refused(self, fed: Federation) -> None:
        ahead = fed.directory.model_copy(
            update={"issued_at": NOW + CLOCK_SKEW + timedelta(seconds=1)}
        )

        with pytest.raises(DirectoryError) as exc_info:
            verify_directory(
                sign_directory(ahead, fed.operator), fed.operator.public_key(), now=NOW
            )

        assert_directory_error(exc_info, "issued in the future")

    def test_directory_issued_within_clock_skew_is_accepted(self, fed: Federation) -> None:
        ahead = fed.directory.model_copy(update={"issued_at": NOW + CLOCK_SKEW})

        view = verify_directory(
            sign_directory(ahead, fed.operator), fed.operator.public_key(), now=NOW
        )

        assert view.directory.issued_at == NOW + CLOCK_SKEW

    def test_lower_serial_than_installed_is_refused(self, fed: Federation) -> None:
        with pytest.raises(DirectoryError) as exc_info:
            verify_directory(fed.signed(), fed.operator.public_key(), now=NOW, min_serial=2)

        assert_directory_error(exc_info, "older than the one already installed")

    def test_same_serial_as_installed_is_accepted(self, fed: Federation) -> None:
        view = verify_directory(fed.signed(), fed.operator.public_key(), now=NOW, min_serial=1)

        assert view.directory.serial == 1

    def test_key_id_not_matching_its_public_key_is_refused(self, fed: Federation) -> None:
        stranger = signing_key()
        record = node_record(NodeKeys.generate(THIRD_ID)).model_copy(
            update={
                "signing_keys": [
                    key_record(stranger.public_key()).model_copy(
                        update={"key_id": fed.partner.signing.key_id[::-1]}
                    )
                ]
            }
        )
        doc = sign_directory(with_node(fed.directory, record), fed.operator)

        with pytest.raises(DirectoryError) as exc_info:
            verify_directory(doc, fed.operator.public_key(), now=NOW)

        assert_directory_error(exc_info, "does not match its public key")

    def test_encryption_key_listed_as_signing_key_is_refused(self, fed: Federation) -> None:
        keys = NodeKeys.generate(THIRD_ID)
        mixed = node_record(keys).model_copy(
            update={"signing_keys": [key_record(encryption_key().public_key())]}
        )
        doc = sign_directory(with_node(fed.directory, mixed), fed.operator)

        with pytest.raises(DirectoryError) as exc_info:
            verify_directory(doc, fed.operator.public_key(), now=NOW)

        assert_directory_error(exc_info, "does not match its public key")


class TestSignedSerial:
    def test_serial_of_an_expired_but_signed_directory_is_read(self, fed: Federation) -> None:
        old = fed.directory.model_copy(
            update={
                "serial": 7,
                "issued_at": NOW - timedelta(days=60),
                "expires_at": NOW - timedelta(days=30),
            }
        )

        assert signed_serial(sign_directory(old, fed.operator), fed.operator.public_key()) == 7

    def test_serial_of_a_directory_signed_by_another_key_is_refused(self, fed: Federation) -> None:
        doc = sign_directory(fed.directory, operator_key())

        with pytest.raises(DirectoryError) as exc_info:
            signed_serial(doc, fed.operator.public_key())

        assert_directory_error(exc_info, "does not verify")

    def test_serial_of_a_signed_non_directory_is_refused(self, fed: Federation) -> None:
        doc = sign_document({"serial": 99}, fed.operator, context=DIRECTORY_CONTEXT)

        with pytest.raises(DirectoryError) as exc_info:
            signed_serial(doc, fed.operator.public_key())

        assert_directory_error(exc_info, "does not verify")


class TestPublicKey:
    def test_key_record_round_trips_to_the_public_key(self) -> None:
        key = signing_key().public_key()

        assert public_key(key_record(key), KeyUse.SIGNING) == key

    def test_record_read_with_the_other_use_is_refused(self) -> None:
        record = key_record(signing_key().public_key())

        with pytest.raises(DirectoryError, match="does not match its public key"):
            public_key(record, KeyUse.ENCRYPTION)

    def test_public_key_that_is_not_base64url_is_refused(self) -> None:
        record = key_record(signing_key().public_key()).model_copy(update={"public_key": "A"})

        with pytest.raises(DirectoryError, match="not base64url"):
            public_key(record, KeyUse.SIGNING)

    def test_public_key_of_the_wrong_length_is_refused(self) -> None:
        record = key_record(signing_key().public_key())
        short = record.model_copy(
            update={"public_key": b64encode(b64decode(record.public_key)[:16])}
        )

        with pytest.raises(DirectoryError, match="does not match its public key"):
            public_key(short, KeyUse.SIGNING)

    @pytest.mark.parametrize(
        "point",
        [
            bytes(32),  # zero
            (1).to_bytes(32, "little"),  # one: order 1
            # Of order 8 (RFC 7748 section 6.1 warns of these; libsodium's blocklist has them).
            bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
        ],
        ids=["zero", "one", "order-eight"],
    )
    def test_encryption_key_of_small_order_is_refused(self, point: bytes) -> None:
        """Sealing to such a point gives an all-zero shared secret: anyone could open it."""
        valid = key_record(encryption_key().public_key())
        record = KeyRecord(
            key_id=key_id_for(KeyUse.ENCRYPTION, point),
            public_key=b64encode(point),
            valid_from=valid.valid_from,
            valid_until=valid.valid_until,
        )

        with pytest.raises(DirectoryError, match="not a usable x25519-encryption key"):
            public_key(record, KeyUse.ENCRYPTION)

    def test_directory_listing_a_small_order_encryption_key_is_refused(
        self, fed: Federation
    ) -> None:
        valid = key_record(encryption_key().public_key())
        zero = valid.model_copy(
            update={
                "key_id": key_id_for(KeyUse.ENCRYPTION, bytes(32)),
                "public_key": b64encode(bytes(32)),
            }
        )
        record = node_record(NodeKeys.generate(THIRD_ID)).model_copy(
            update={"encryption_keys": [zero]}
        )
        doc = sign_directory(with_node(fed.directory, record), fed.operator)

        with pytest.raises(DirectoryError) as exc_info:
            verify_directory(doc, fed.operator.public_key(), now=NOW)

        assert_directory_error(exc_info, "not a usable x25519-encryption key")


class TestFederationView:
    def test_unknown_node_raises_unknown_node(self, fed: Federation) -> None:
        with pytest.raises(UnknownNode):
            fed.view.node(THIRD_ID)

    def test_node_lookup_returns_the_record(self, fed: Federation) -> None:
        assert fed.view.node(PARTNER_ID).roles == [PartnerRole.RECEPTION_PARTNER]

    def test_signing_key_is_found_by_id(self, fed: Federation) -> None:
        key = fed.view.signing_key(HOST_ID, fed.host.signing.key_id)

        assert key == fed.host.signing.public_key()

    def test_expired_signing_key_is_still_found_by_id(self) -> None:
        host = NodeKeys.generate(HOST_ID)
        old = signing_key(valid_from=NOW - timedelta(days=400), valid_until=NOW - timedelta(days=1))
        view = FederationView(directory([node_record(host, signing=[old, host.signing])]))

        assert view.signing_key(HOST_ID, old.key_id) == old.public_key()

    def test_signing_key_of_another_node_is_not_found(self, fed: Federation) -> None:
        with pytest.raises(NoUsableKey):
            fed.view.signing_key(HOST_ID, fed.partner.signing.key_id)

    def test_encryption_key_id_is_not_a_signing_key(self, fed: Federation) -> None:
        with pytest.raises(NoUsableKey):
            fed.view.signing_key(HOST_ID, fed.host.encryption.key_id)

    def test_signing_key_of_unknown_node_raises_unknown_node(self, fed: Federation) -> None:
        with pytest.raises(UnknownNode):
            fed.view.signing_key(THIRD_ID, fed.host.signing.key_id)

    def test_current_encryption_key_is_the_newest_valid_now(self) -> None:
        partner = NodeKeys.generate(PARTNER_ID)
        expired = encryption_key(
            valid_from=NOW - timedelta(days=400), valid_until=NOW - timedelta(seconds=1)
        )
        older = encryption_key(
            valid_from=NOW - timedelta(days=200), valid_until=NOW + timedelta(days=10)
        )
        newest = encryption_key(
            valid_from=NOW - timedelta(days=1), valid_until=NOW + timedelta(days=365)
        )
        upcoming = encryption_key(
            valid_from=NOW + timedelta(seconds=1), valid_until=NOW + timedelta(days=400)
        )
        record = node_record(partner, encryption=[expired, newest, upcoming, older])
        view = FederationView(directory([record]))

        assert view.current_encryption_key(PARTNER_ID, NOW) == newest.public_key()

    def test_key_starting_now_is_current(self) -> None:
        partner = NodeKeys.generate(PARTNER_ID)
        older = encryption_key()
        starting = encryption_key(valid_from=NOW)
        view = FederationView(directory([node_record(partner, encryption=[older, starting])]))

        assert view.current_encryption_key(PARTNER_ID, NOW).key_id == starting.key_id

    def test_no_encryption_key_valid_now_raises_no_usable_key(self) -> None:
        partner = NodeKeys.generate(PARTNER_ID)
        ended = encryption_key(valid_from=NOW - timedelta(days=30), valid_until=NOW)
        upcoming = encryption_key(valid_from=NOW + timedelta(days=1))
        view = FederationView(directory([node_record(partner, encryption=[ended, upcoming])]))

        with pytest.raises(NoUsableKey):
            view.current_encryption_key(PARTNER_ID, NOW)

    def test_current_encryption_key_of_unknown_node_raises_unknown_node(
        self, fed: Federation
    ) -> None:
        with pytest.raises(UnknownNode):
            fed.view.current_encryption_key(THIRD_ID, NOW)

    def test_current_signing_key_is_the_newest_valid_now(self) -> None:
        host = NodeKeys.generate(HOST_ID)
        newer = signing_key(valid_from=NOW - timedelta(hours=1))
        view = FederationView(directory([node_record(host, signing=[host.signing, newer])]))

        assert view.current_signing_key(HOST_ID, NOW) == newer.public_key()

    def test_rule_lookup_finds_the_rule_for_role_and_purpose(self) -> None:
        rule = SharingRule(
            role=PartnerRole.RECEPTION_PARTNER,
            purpose=Purpose.ARRIVAL_RECEPTION,
            sections={SectionName.ARRIVAL: ["reception_requested"]},
        )
        view = FederationView(directory([], sharing_policy=[rule]))

        assert view.rule(PartnerRole.RECEPTION_PARTNER, Purpose.ARRIVAL_RECEPTION) == rule
        assert view.rule(PartnerRole.RECEPTION_PARTNER, Purpose.CHILD_HANDOVER) is None
        assert view.rule(PartnerRole.TRANSIT_OFFICE, Purpose.ARRIVAL_RECEPTION) is None

    def test_suspended_countries_come_from_the_directory(self) -> None:
        view = FederationView(directory([], suspended_countries=["SN", "ML"]))

        assert view.suspended_countries == frozenset({"SN", "ML"})


class TestWithNode:
    def test_new_node_is_added(self, fed: Federation) -> None:
        third = node_record(NodeKeys.generate(THIRD_ID), roles=[PartnerRole.TRANSIT_OFFICE])

        updated = with_node(fed.directory, third)

        assert {n.node_id for n in updated.nodes} == {HOST_ID, PARTNER_ID, THIRD_ID}
        assert updated.node(THIRD_ID) == third

    def test_existing_node_is_replaced(self, fed: Federation) -> None:
        rotated = encryption_key(valid_from=NOW)
        replacement = node_record(
            fed.partner,
            roles=[PartnerRole.RECEPTION_PARTNER, PartnerRole.REINTEGRATION_PARTNER],
            encryption=[fed.partner.encryption, rotated],
        )

        updated = with_node(fed.directory, replacement)

        assert [n.node_id for n in updated.nodes].count(PARTNER_ID) == 1
        assert updated.node(PARTNER_ID) == replacement
        assert updated.node(HOST_ID) == fed.directory.node(HOST_ID)

    def test_node_reusing_a_listed_key_id_is_refused(self, fed: Federation) -> None:
        # A Directory must never exist with its invariants broken, even before it is reissued.
        third = node_record(NodeKeys.generate(THIRD_ID), signing=[fed.host.signing])

        with pytest.raises(ValidationError, match="key ids must be unique"):
            with_node(fed.directory, third)

    def test_original_directory_is_unchanged(self, fed: Federation) -> None:
        before = fed.directory.model_dump()

        with_node(fed.directory, node_record(NodeKeys.generate(THIRD_ID)))

        assert fed.directory.model_dump() == before


class TestReissued:
    def test_reissue_bumps_serial_and_dates(self, fed: Federation) -> None:
        later = NOW + timedelta(days=3, microseconds=250_000)

        fresh = reissued(fed.directory, now=later, validity=timedelta(days=30))

        assert fresh.serial == fed.directory.serial + 1
        assert fresh.issued_at == NOW + timedelta(days=3)
        assert fresh.expires_at == NOW + timedelta(days=33)

    def test_reissue_keeps_members_and_policy(self, fed: Federation) -> None:
        fresh = reissued(fed.directory, now=NOW, validity=timedelta(days=30))

        assert fresh.nodes == fed.directory.nodes
        assert fresh.sharing_policy == fed.directory.sharing_policy
        assert fresh.federation_id == fed.directory.federation_id

    def test_reissued_directory_verifies_above_the_old_serial(self, fed: Federation) -> None:
        fresh = reissued(fed.directory, now=NOW, validity=timedelta(days=30))

        view = verify_directory(
            sign_directory(fresh, fed.operator),
            fed.operator.public_key(),
            now=NOW,
            min_serial=fed.directory.serial + 1,
        )

        assert view.directory.serial == 2


def test_key_record_carries_the_key_validity() -> None:
    key = encryption_key()

    record = key_record(key.public_key())

    assert record == KeyRecord(
        key_id=key.key_id,
        public_key=b64encode(key.public_key().public),
        valid_from=key.valid_from,
        valid_until=key.valid_until,
    )
