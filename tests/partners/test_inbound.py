"""Accepting an envelope: each check refuses with its own precise reason, and failing closed."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from crypto.encoding import b64decode, b64encode
from crypto.envelope import SealedEnvelope
from crypto.errors import InvalidEnvelope, RejectReason
from crypto.keys import EncryptionKey, SigningKey
from partners.directory import FederationView
from partners.inbound import AcceptancePolicy, accept_envelope
from partners.keyring import Keyring
from schemas.common import PartnerRole
from schemas.envelope import WireEnvelope
from tests.support.builders import (
    HOST_ID,
    NOW,
    PARTNER_ID,
    PLAINTEXT,
    THIRD_ID,
    Federation,
    NodeKeys,
    directory,
    encryption_key,
    node_record,
    sealed_referral,
    signing_key,
)

WINDOW = AcceptancePolicy().window
SKEW = AcceptancePolicy().skew


class RecordingCheck:
    """A content check that records its calls and optionally refuses."""

    def __init__(self, refuse: RejectReason | None = None) -> None:
        self.calls: list[tuple[SealedEnvelope, bytes]] = []
        self.refuse = refuse

    def __call__(self, sealed: SealedEnvelope, plaintext: bytes) -> None:
        self.calls.append((sealed, plaintext))
        if self.refuse is not None:
            raise InvalidEnvelope(self.refuse)


@pytest.fixture
def fed() -> Federation:
    return Federation.build()


def from_host(
    fed: Federation,
    *,
    sender: str = HOST_ID,
    recipient: str = PARTNER_ID,
    signing: SigningKey | None = None,
    recipient_key: EncryptionKey | None = None,
    created_at: datetime = NOW - timedelta(hours=1),
    delete_by: datetime = NOW + timedelta(days=30),
) -> SealedEnvelope:
    """A referral the host seals to the partner; each argument bends one fact for one test."""
    return sealed_referral(
        sender=sender,
        recipient=recipient,
        signing=signing or fed.host.signing,
        recipient_key=(recipient_key or fed.partner.encryption).public_key(),
        created_at=created_at,
        delete_by=delete_by,
    )


def accept(
    fed: Federation,
    wire: WireEnvelope,
    *,
    caller: str = HOST_ID,
    view: FederationView | None = None,
    keyring: Keyring | None = None,
    now: datetime = NOW,
    check: RecordingCheck | None = None,
) -> bytes:
    accepted = accept_envelope(
        wire,
        self_id=PARTNER_ID,
        caller=caller,
        view=view or fed.view,
        keyring=keyring or fed.partner.keyring(),
        now=now,
        check_content=check or RecordingCheck(),
    )
    return accepted.plaintext


def reason(fed: Federation, wire: WireEnvelope, **options: object) -> RejectReason:
    with pytest.raises(InvalidEnvelope) as exc_info:
        accept(fed, wire, **options)  # type: ignore[arg-type]
    assert str(exc_info.value) == "envelope rejected"
    return exc_info.value.reason


class TestAcceptEnvelope:
    def test_valid_envelope_gives_its_plaintext(self, fed: Federation) -> None:
        sealed = from_host(fed)

        accepted = accept_envelope(
            sealed.wire(),
            self_id=PARTNER_ID,
            caller=HOST_ID,
            view=fed.view,
            keyring=fed.partner.keyring(),
            now=NOW,
            check_content=RecordingCheck(),
        )

        assert accepted.plaintext == PLAINTEXT
        assert accepted.sealed == sealed

    def test_content_check_sees_the_verified_envelope_and_plaintext(self, fed: Federation) -> None:
        sealed = from_host(fed)
        check = RecordingCheck()

        accept(fed, sealed.wire(), check=check)

        assert check.calls == [(sealed, PLAINTEXT)]

    def test_content_check_failure_propagates(self, fed: Federation) -> None:
        check = RecordingCheck(refuse=RejectReason.CONTENT_MISMATCH)

        assert reason(fed, from_host(fed).wire(), check=check) is RejectReason.CONTENT_MISMATCH
        assert len(check.calls) == 1

    def test_envelope_for_another_node_is_refused(self, fed: Federation) -> None:
        check = RecordingCheck()
        wire = from_host(fed, recipient=THIRD_ID).wire()

        assert reason(fed, wire, check=check) is RejectReason.WRONG_RECIPIENT
        assert check.calls == []

    def test_sender_not_in_directory_is_refused(self, fed: Federation) -> None:
        stranger = NodeKeys.generate(THIRD_ID)
        wire = from_host(fed, sender=THIRD_ID, signing=stranger.signing).wire()

        assert reason(fed, wire, caller=THIRD_ID) is RejectReason.UNKNOWN_SENDER

    def test_signing_key_not_listed_for_sender_is_refused(self, fed: Federation) -> None:
        wire = from_host(fed, signing=signing_key()).wire()

        assert reason(fed, wire) is RejectReason.UNKNOWN_SIGNING_KEY

    def test_signing_key_of_another_node_is_refused(self, fed: Federation) -> None:
        # The partner's own key is in the directory, but not as a key of the host.
        wire = from_host(fed, signing=fed.partner.signing).wire()

        assert reason(fed, wire) is RejectReason.UNKNOWN_SIGNING_KEY

    def test_signing_key_not_valid_at_creation_is_refused(self, fed: Federation) -> None:
        ended = signing_key(
            valid_from=NOW - timedelta(days=30), valid_until=NOW - timedelta(days=2)
        )
        host = node_record(
            fed.host, roles=[PartnerRole.HOST_MISSION], signing=[ended, fed.host.signing]
        )
        view = FederationView(directory([host, fed.view.node(PARTNER_ID)]))
        wire = from_host(fed, signing=ended).wire()

        assert reason(fed, wire, view=view) is RejectReason.SIGNING_KEY_NOT_VALID

    def test_tampered_ciphertext_is_refused(self, fed: Federation) -> None:
        wire = from_host(fed).wire()
        raw = bytearray(b64decode(wire.ciphertext))
        raw[-1] ^= 0x01
        tampered = wire.model_copy(update={"ciphertext": b64encode(bytes(raw))})

        assert reason(fed, tampered) is RejectReason.BAD_SIGNATURE

    def test_caller_other_than_sender_is_refused(self, fed: Federation) -> None:
        assert reason(fed, from_host(fed).wire(), caller=THIRD_ID) is RejectReason.SENDER_MISMATCH

    def test_envelope_older_than_window_is_refused(self, fed: Federation) -> None:
        wire = from_host(fed, created_at=NOW - WINDOW - timedelta(seconds=1)).wire()

        assert reason(fed, wire) is RejectReason.STALE

    def test_envelope_created_beyond_clock_skew_is_refused(self, fed: Federation) -> None:
        wire = from_host(fed, created_at=NOW + SKEW + timedelta(seconds=1)).wire()

        assert reason(fed, wire) is RejectReason.FROM_THE_FUTURE

    def test_envelope_past_delete_by_is_refused(self, fed: Federation) -> None:
        wire = from_host(
            fed, created_at=NOW - timedelta(days=2), delete_by=NOW - timedelta(seconds=1)
        ).wire()

        assert reason(fed, wire) is RejectReason.PAST_DELETE_BY

    def test_envelope_at_delete_by_is_refused(self, fed: Federation) -> None:
        wire = from_host(fed, created_at=NOW - timedelta(days=2), delete_by=NOW).wire()

        assert reason(fed, wire) is RejectReason.PAST_DELETE_BY

    def test_envelope_sealed_to_an_unknown_key_is_refused(self, fed: Federation) -> None:
        wire = from_host(fed, recipient_key=encryption_key()).wire()

        assert reason(fed, wire) is RejectReason.UNKNOWN_RECIPIENT_KEY

    def test_envelope_sealed_to_a_rotated_key_opens_until_its_end(self, fed: Federation) -> None:
        old = encryption_key(
            valid_from=NOW - timedelta(days=90), valid_until=NOW + timedelta(hours=1)
        )
        keyring = Keyring(signing=[fed.partner.signing], encryption=[fed.partner.encryption, old])
        wire = from_host(fed, recipient_key=old, created_at=NOW - timedelta(days=1)).wire()

        assert accept(fed, wire, keyring=keyring, now=NOW + timedelta(minutes=59)) == PLAINTEXT

    def test_envelope_sealed_to_a_rotated_key_past_its_end_is_refused(
        self, fed: Federation
    ) -> None:
        old = encryption_key(
            valid_from=NOW - timedelta(days=90), valid_until=NOW - timedelta(hours=1)
        )
        keyring = Keyring(signing=[fed.partner.signing], encryption=[fed.partner.encryption, old])
        wire = from_host(fed, recipient_key=old, created_at=NOW - timedelta(days=1)).wire()

        assert reason(fed, wire, keyring=keyring) is RejectReason.UNKNOWN_RECIPIENT_KEY

    def test_header_that_is_not_canonical_is_refused(self, fed: Federation) -> None:
        wire = from_host(fed).wire()
        spaced = b64decode(wire.header).replace(b'"kind":', b'"kind": ', 1)
        altered = wire.model_copy(update={"header": b64encode(spaced)})

        assert reason(fed, altered) is RejectReason.NOT_CANONICAL

    def test_garbled_wire_is_refused(self, fed: Federation) -> None:
        wire = from_host(fed).wire().model_copy(update={"header": "A"})

        assert reason(fed, wire) is RejectReason.MALFORMED
