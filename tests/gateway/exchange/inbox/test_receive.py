"""The federation inbox over HTTP: every bad envelope or token gets one generic answer, a precise
reason in the node's log, and nothing stored.
"""

from __future__ import annotations

import json
import logging
import secrets
from datetime import timedelta

import pytest

from crypto.encoding import b64decode, b64encode, canonical_json
from schemas.common import PartnerRole
from tests.support.envelopes import (
    INBOX,
    node_token,
    post,
    rejected,
    sealed_body,
    stored,
)
from tests.support.federation import TestFederation, TestNode


def flip(text: str, index: int = 10) -> str:
    raw = bytearray(b64decode(text))
    raw[index % len(raw)] ^= 0x01
    return b64encode(bytes(raw))


class TestAccepting:
    def test_valid_envelope_gets_a_signed_receipt_and_is_stored(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        response = post(host, partner, sealed_body(host, partner))
        assert response.status_code == 200
        assert set(response.json()) == {"payload", "key_id", "signature"}
        assert stored(partner) == 1

    def test_same_envelope_again_gets_the_same_receipt_and_one_copy(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        body = sealed_body(host, partner)
        first = post(host, partner, body)
        second = post(host, partner, body)
        assert first.json() == second.json()
        assert stored(partner) == 1


class TestRejecting:
    @pytest.mark.parametrize(
        ("field", "reason"),
        [
            ("header", "bad_signature"),
            ("ciphertext", "bad_signature"),
            ("signature", "bad_signature"),
        ],
    )
    def test_flipped_bit_is_rejected_generically_with_reason_logged(
        self,
        pair: TestFederation,
        host: TestNode,
        partner: TestNode,
        caplog: pytest.LogCaptureFixture,
        field: str,
        reason: str,
    ) -> None:
        wire = json.loads(sealed_body(host, partner))
        if field == "header":
            # Change a value inside the header while keeping it canonical JSON.
            header = json.loads(b64decode(wire["header"]))
            header["purpose"] = "medical_escort"
            wire["header"] = b64encode(canonical_json(header))
        else:
            wire[field] = flip(wire[field])
        with caplog.at_level(logging.WARNING, logger="avrr.inbox"):
            response = post(host, partner, canonical_json(wire))
        assert rejected(response)
        assert reason in caplog.text
        assert stored(partner) == 0

    def test_packet_for_another_recipient_is_rejected(
        self, federation: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        other = federation.add_node("origin-reception-2", [PartnerRole.RECEPTION_PARTNER], "SN")
        federation.publish()
        # Sealed and signed for `partner`, then posted by the host to `other`.
        response = post(host, other, sealed_body(host, partner))
        assert rejected(response)
        assert stored(other) == 0

    def test_recipient_cannot_pass_a_signed_packet_on_as_the_sender(
        self, federation: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        other = federation.add_node("origin-reception-2", [PartnerRole.RECEPTION_PARTNER], "SN")
        federation.publish()
        body = sealed_body(host, partner)
        # The partner presents the host's envelope to a third node under its own node token.
        response = post(partner, other, body)
        assert rejected(response)

    def test_reused_packet_id_with_other_content_is_rejected(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        packet_id = secrets.token_hex(16)
        assert (
            post(host, partner, sealed_body(host, partner, packet_id=packet_id)).status_code == 200
        )
        again = sealed_body(
            host, partner, packet_id=packet_id, content={"arrival": {"onward_transport": True}}
        )
        assert rejected(post(host, partner, again))
        assert stored(partner) == 1

    def test_stale_packet_is_rejected(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        body = sealed_body(host, partner)
        partner.clock.advance(days=15)
        host.clock.advance(seconds=0)
        pair.publish()  # a fresh directory so only the packet's age is at stake
        assert rejected(post(host, partner, body))

    def test_packet_past_its_delete_by_is_rejected(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        now = host.clock.now().replace(microsecond=0)
        body = sealed_body(host, partner, delete_by=now + timedelta(hours=1))
        host.clock.advance(hours=2)
        assert rejected(post(host, partner, body))

    def test_fields_beyond_the_recipients_policy_are_rejected(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        body = sealed_body(host, partner, content={"medical": {"conditions": ["CANARY"]}})
        assert rejected(post(host, partner, body))
        assert stored(partner) == 0

    @pytest.mark.parametrize(
        "body", [b"not json", b"{}", b'{"header":"!!","ciphertext":"","signature":""}']
    )
    def test_malformed_body_is_rejected(
        self, pair: TestFederation, host: TestNode, partner: TestNode, body: bytes
    ) -> None:
        assert rejected(post(host, partner, body))

    def test_oversized_body_is_refused_before_parsing(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        body = b"x" * (partner.settings.max_body_bytes + 1)
        response = post(host, partner, body)
        assert response.status_code == 413
        assert response.json()["error"] == "too_large"


class TestNodeTokens:
    def test_missing_token_is_refused(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        response = partner.client.post(INBOX, content=sealed_body(host, partner))
        assert response.status_code == 401

    def test_replayed_token_is_refused(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        body = sealed_body(host, partner)
        token = node_token(host, partner, body)
        assert post(host, partner, body, token=token).status_code == 200
        assert post(host, partner, body, token=token).status_code == 401

    def test_a_token_that_came_with_a_refused_envelope_is_used_up(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        wire = json.loads(sealed_body(host, partner))
        wire["signature"] = flip(wire["signature"])
        body = canonical_json(wire)
        token = node_token(host, partner, body)
        assert post(host, partner, body, token=token).status_code == 400
        # The second post of the same token is a replay, whatever its envelope.
        assert post(host, partner, body, token=token).status_code == 401
        assert stored(partner) == 0

    def test_token_for_another_body_is_refused(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        body = sealed_body(host, partner)
        token = node_token(host, partner, b"{}")
        assert post(host, partner, body, token=token).status_code == 401
        assert stored(partner) == 0

    def test_expired_token_is_refused(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        body = sealed_body(host, partner)
        token = node_token(host, partner, body)
        partner.clock.advance(minutes=5)
        assert post(host, partner, body, token=token).status_code == 401

    def test_node_outside_the_directory_is_refused(
        self, federation: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        stranger = federation.add_node("stranger", [PartnerRole.HOST_MISSION], "DE")
        federation.publish()
        body = sealed_body(stranger, partner)
        federation.nodes.pop("stranger")
        federation.publish()  # the stranger is no longer listed
        assert post(stranger, partner, body).status_code == 401

    def test_staff_token_is_not_a_node_token(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        body = sealed_body(host, partner)
        response = partner.client.post(INBOX, content=body, headers=partner.auth())
        assert response.status_code == 401
