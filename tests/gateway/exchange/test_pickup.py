"""Pickup between two real nodes: a reception partner with no public address fetches what waits
for it from the host mission, stores it as its inbox would and acknowledges it with the same
signed receipts; everything else (withdrawals, deadlines, protection rules, access notices back)
behaves as with push.

The partner is listed with ``delivery: pickup`` and no inbox URL; the federation's transport
refuses any request addressed to it, so nothing can be pushed to it.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from crypto.encoding import canonical_json
from crypto.envelope import parse
from gateway.exchange.inbox.models import ReceivedPacketRow
from gateway.exchange.outbox.models import DeliveryAttemptRow, DeliveryReceiptRow, OutboxRow
from gateway.records.accesslog.models import AccessEventRow
from partners.client import PICKUP_ACK_PATH, PICKUP_PATH
from partners.receipts import issue_delivery_receipt
from partners.tokens import issue_node_token
from schemas.common import PartnerRole, StaffRole
from schemas.directory import DeliveryMode
from schemas.envelope import WireEnvelope
from tests.gateway.exchange.test_batched_delivery import tamper
from tests.support import flows
from tests.support.federation import TestFederation, TestNode, gateway_node, inbox_url, logs_verify
from tests.support.staff import staff_signed_in

PARTNER = "origin-reception"


@pytest.fixture
def pickup_pair(federation: TestFederation, host: TestNode, partner: TestNode) -> TestFederation:
    partner.delivery = DeliveryMode.PICKUP
    federation.publish()
    return federation


def outbox_row(host: TestNode, packet_id: str) -> OutboxRow:
    with host.sessions() as session:
        row: OutboxRow = session.scalars(
            select(OutboxRow).where(OutboxRow.packet_id == packet_id)
        ).one()
        session.expunge(row)
    return row


def attempts(host: TestNode, packet_id: str) -> list[str]:
    with host.sessions() as session:
        return list(
            session.scalars(
                select(DeliveryAttemptRow.outcome)
                .join(OutboxRow, OutboxRow.id == DeliveryAttemptRow.outbox_id)
                .where(OutboxRow.packet_id == packet_id)
                .order_by(DeliveryAttemptRow.id)
            )
        )


def received(partner: TestNode) -> list[str]:
    with partner.sessions() as session:
        return list(session.scalars(select(ReceivedPacketRow.packet_id)))


def referral_status(host: TestNode, referral_id: str) -> dict[str, Any]:
    response = host.client.get(f"/api/v1/referrals/{referral_id}", headers=host.auth())
    assert response.status_code == 200, response.text
    return dict(response.json())


class Dropping(httpx.BaseTransport):
    """The federation's transport, except that the answer to every acknowledgement is lost (the
    partner's connection dropped after it sent its receipts, or before)."""

    def __init__(self, inner: httpx.BaseTransport, *, send_ack: bool) -> None:
        self._inner = inner
        self._send_ack = send_ack

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == PICKUP_ACK_PATH:
            if self._send_ack:
                self._inner.handle_request(request)
            raise httpx.ReadError("connection lost", request=request)
        return self._inner.handle_request(request)


class TestPickup:
    def test_the_worker_never_posts_to_a_pickup_member(
        self, pickup_pair: TestFederation, host: TestNode
    ) -> None:
        sent = flows.referral(host, PARTNER)
        report = pickup_pair.deliver(host)
        assert not report
        assert pickup_pair.transport.requests == []
        row = outbox_row(host, sent["packet_id"])
        assert row.pickup_since == host.clock.now()
        assert row.inbox_url is None
        assert attempts(host, sent["packet_id"]) == []
        status = referral_status(host, sent["id"])
        assert (status["status"], status["travels_by"]) == ("queued", "pickup")
        assert status["travels_since"] == row.pickup_since.isoformat().replace("+00:00", "Z")

    def test_the_caseworker_sees_it_waits_to_be_collected(
        self, pickup_pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = flows.referral(host, PARTNER)
        browser = staff_signed_in(host, StaffRole.CASEWORKER)
        page = browser.get(f"/staff/referrals/{sent['id']}")
        assert "Waits for the recipient to collect it, since" in page.text
        assert "waits to be collected" in browser.get(f"/staff/cases/{sent['case_id']}").text
        pickup_pair.pickup(partner)
        page = browser.get(f"/staff/referrals/{sent['id']}")
        assert "collect it" not in page.text
        assert referral_status(host, sent["id"])["travels_by"] is None

    def test_picked_up_stored_and_receipted_as_if_posted(
        self, pickup_pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = flows.referral(host, PARTNER)
        report = pickup_pair.pickup(partner)
        assert (report.picked_up, report.refused, report.failed) == (1, 0, {})
        assert received(partner) == [sent["packet_id"]]
        assert attempts(host, sent["packet_id"]) == ["handed_out", "delivered"]
        status = referral_status(host, sent["id"])
        assert status["status"] == "delivered"
        assert (
            status["receipt"]["envelope_sha256"]
            == outbox_row(host, sent["packet_id"]).envelope_sha256
        )
        assert [path for _, path in pickup_pair.transport.paths] == [PICKUP_PATH, PICKUP_ACK_PATH]
        assert {node for node, _ in pickup_pair.transport.paths} == {host.node_id}
        # Nothing more waits: the next run asks, gets an empty page, and acknowledges nothing.
        assert not pickup_pair.pickup(partner)
        logs_verify(host, partner)

    def test_many_envelopes_come_in_pages_oldest_first(
        self, pickup_pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        packets = []
        for _ in range(20):
            packets.append(flows.referral(host, PARTNER)["packet_id"])
            host.clock.advance(seconds=1)
        assert pickup_pair.pickup(partner, page_size=8, max_pages=1).picked_up == 8
        assert sorted(received(partner)) == sorted(packets[:8])
        assert pickup_pair.pickup(partner).picked_up == 12
        pages = [path for _, path in pickup_pair.transport.paths if path == PICKUP_PATH]
        assert len(pages) == 2  # 8; then 12 (16 asked), and no more waiting
        assert all(outbox_row(host, p).finished_at is not None for p in packets)

    def test_a_lost_acknowledgement_is_made_good_after_the_lease(
        self, pickup_pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = flows.referral(host, PARTNER)
        lossy = httpx.Client(transport=Dropping(pickup_pair.transport, send_ack=False))
        report = pickup_pair.pickup(partner, http=lossy)
        assert report.failed == {host.node_id: "unreachable"}
        assert received(partner) == [sent["packet_id"]]  # stored, committed
        assert outbox_row(host, sent["packet_id"]).finished_at is None
        # Held for the lease: not handed out again at once.
        assert pickup_pair.pickup(partner).picked_up == 0
        host.clock.advance(minutes=3)
        assert pickup_pair.pickup(partner).picked_up == 1
        assert received(partner) == [sent["packet_id"]]  # once
        assert referral_status(host, sent["id"])["status"] == "delivered"
        logs_verify(host, partner)

    def test_an_acknowledgement_that_arrived_but_whose_answer_was_lost(
        self, pickup_pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = flows.referral(host, PARTNER)
        lossy = httpx.Client(transport=Dropping(pickup_pair.transport, send_ack=True))
        pickup_pair.pickup(partner, http=lossy)
        assert referral_status(host, sent["id"])["status"] == "delivered"
        assert not pickup_pair.pickup(partner)

    def test_a_withdrawal_is_picked_up_and_its_deletion_receipt_returned(
        self, pickup_pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = flows.referral(host, PARTNER)
        pickup_pair.pickup(partner)
        withdrawal = host.client.post(
            f"/api/v1/cases/{sent['case_id']}/withdrawals", json={}, headers=host.auth()
        )
        assert withdrawal.status_code == 201, withdrawal.text
        assert not pickup_pair.deliver(host)  # the revocation waits for pickup too
        assert pickup_pair.transport.paths[-1][1] == PICKUP_ACK_PATH
        assert pickup_pair.pickup(partner).picked_up == 1
        with partner.sessions() as session:
            packet = session.get(ReceivedPacketRow, sent["packet_id"])
            assert packet is not None
            assert packet.withdrawn_sections
        listed = host.client.get(
            f"/api/v1/cases/{sent['case_id']}/withdrawals", headers=host.auth()
        )
        assert listed.status_code == 200, listed.text
        revocations = [r for w in listed.json() for r in w["revocations"]]
        assert [(r["recipient"], r["status"]) for r in revocations] == [(PARTNER, "confirmed")]
        logs_verify(host, partner)

    def test_opening_it_is_reported_back_by_push(
        self, pickup_pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = flows.referral(host, PARTNER)
        pickup_pair.pickup(partner)
        opened = partner.client.get(
            f"/api/v1/received/{sent['packet_id']}", headers=partner.auth(StaffRole.PARTNER_OFFICER)
        )
        assert opened.status_code == 200, opened.text
        assert pickup_pair.deliver(partner).delivered == 1  # the access notice, to the host
        with host.sessions() as session:
            reported = session.execute(
                select(AccessEventRow.action, AccessEventRow.subject).where(
                    AccessEventRow.actor_org == PARTNER,
                    AccessEventRow.packet_id == sent["packet_id"],
                )
            ).all()
        assert [tuple(r) for r in reported] == [("opened", sent["case_id"])]
        logs_verify(host, partner)

    def test_nobody_came_before_the_deadline(
        self, pickup_pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = flows.referral(host, PARTNER)
        host.clock.advance(days=15)  # past the acceptance window
        report = pickup_pair.deliver(host)
        assert report.dead_lettered == 1
        assert referral_status(host, sent["id"])["status"] == "dead_lettered"
        assert attempts(host, sent["packet_id"]) == ["past_deadline", "dead_lettered"]
        assert pickup_pair.pickup(partner).picked_up == 0
        assert received(partner) == []

    def test_a_rule_in_force_at_pickup_time_cancels_it(
        self, pickup_pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = flows.referral(host, PARTNER)
        pickup_pair.suspended.append(partner.country)
        pickup_pair.publish()
        assert pickup_pair.pickup(partner).picked_up == 0
        status = referral_status(host, sent["id"])
        assert (status["status"], status["status_reason"]) == ("cancelled", "country_suspended")
        assert received(partner) == []

    def test_a_refused_envelope_is_retried_later_not_at_once(
        self, pickup_pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = flows.referral(host, PARTNER)
        tamper(host, sent["packet_id"])
        report = pickup_pair.pickup(partner)
        assert (report.picked_up, report.refused) == (0, 1)
        assert attempts(host, sent["packet_id"]) == ["handed_out", "http_400"]
        assert outbox_row(host, sent["packet_id"]).next_attempt_at > host.clock.now()
        assert pickup_pair.pickup(partner).refused == 0  # backing off
        assert received(partner) == []

    def test_a_member_switched_back_to_push_is_pushed_again(
        self, pickup_pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = flows.referral(host, PARTNER)
        partner.delivery = DeliveryMode.PUSH
        pickup_pair.publish()
        assert pickup_pair.deliver(host).delivered == 1
        assert received(partner) == [sent["packet_id"]]

    def test_a_member_switched_to_pickup_waits_for_it(
        self, federation: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        federation.publish()
        sent = flows.referral(host, PARTNER)
        partner.delivery = DeliveryMode.PICKUP
        federation.publish()
        assert not federation.deliver(host)
        assert outbox_row(host, sent["packet_id"]).pickup_since is not None
        assert federation.pickup(partner).picked_up == 1


class TestPickupCall:
    """The sender's side of the call, as another node (or anyone) may try it."""

    def post(
        self, host: TestNode, caller: TestNode, path: str, body: dict[str, Any], **token: Any
    ) -> httpx.Response:
        raw = canonical_json(body)
        now = caller.clock.now()
        bearer = issue_node_token(
            key=gateway_node(caller).signing_key(now),
            issuer=caller.node_id,
            audience=token.get("audience", host.node_id),
            body=token.get("signed_body", raw),
            now=now,
            token_id=token.get("token_id", "a" * 32),
        )
        response: httpx.Response = host.client.post(
            path, content=raw, headers={"Authorization": f"Bearer {bearer}"}
        )
        return response

    def test_only_the_recipient_gets_its_envelopes(
        self, federation: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        other = federation.add_node("origin-other", [PartnerRole.RECEPTION_PARTNER], "SN")
        partner.delivery = other.delivery = DeliveryMode.PICKUP
        federation.publish()
        flows.referral(host, PARTNER)
        page = self.post(host, other, PICKUP_PATH, {"format": "avrr-pickup/1"})
        assert page.status_code == 200, page.text
        assert page.json() == {"format": "avrr-pickup/1", "envelopes": [], "more": False}
        page = self.post(
            host, partner, PICKUP_PATH, {"format": "avrr-pickup/1", "limit": 5}, token_id="b" * 32
        )
        assert len(page.json()["envelopes"]) == 1

    def test_refusals(self, pickup_pair: TestFederation, host: TestNode, partner: TestNode) -> None:
        flows.referral(host, PARTNER)
        body = {"format": "avrr-pickup/1"}
        assert host.client.post(PICKUP_PATH, json=body).status_code == 401
        wrong_audience = self.post(host, partner, PICKUP_PATH, body, audience=PARTNER)
        assert wrong_audience.status_code == 401
        other_body = self.post(host, partner, PICKUP_PATH, body, signed_body=b"{}")
        assert other_body.status_code == 401
        first = self.post(host, partner, PICKUP_PATH, body, token_id="b" * 32)
        assert first.status_code == 200
        assert len(first.json()["envelopes"]) == 1
        replayed = self.post(host, partner, PICKUP_PATH, body, token_id="b" * 32)
        assert replayed.status_code == 401
        too_many = self.post(host, partner, PICKUP_PATH, {**body, "limit": 1000}, token_id="c" * 32)
        assert too_many.status_code == 422
        assert "Traceback" not in too_many.text
        bad_ack = self.post(host, partner, PICKUP_ACK_PATH, {"answers": []}, token_id="d" * 32)
        assert bad_ack.status_code == 422

    def test_an_answer_that_does_not_hold_delivers_nothing(
        self, pickup_pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = flows.referral(host, PARTNER)
        page = self.post(host, partner, PICKUP_PATH, {"format": "avrr-pickup/1"})
        digest = outbox_row(host, sent["packet_id"]).envelope_sha256
        # A receipt signed by the host itself, not by the partner.
        sealed = parse(WireEnvelope.model_validate(page.json()["envelopes"][0]))
        forged = issue_delivery_receipt(
            sealed,
            received_at=host.clock.now(),
            key=gateway_node(host).signing_key(host.clock.now()),
        )
        ack = {
            "format": "avrr-pickup-ack/1",
            "answers": [
                {
                    "packet_id": sent["packet_id"],
                    "envelope_sha256": digest,
                    "answer": forged.model_dump(),
                },
                {"packet_id": "f" * 32, "envelope_sha256": digest, "answer": None},
            ],
        }
        result = self.post(host, partner, PICKUP_ACK_PATH, ack, token_id="e" * 32)
        assert result.status_code == 200, result.text
        assert result.json()["outcomes"] == ["bad_receipt", "unknown"]
        assert referral_status(host, sent["id"])["status"] == "queued"
        with host.sessions() as session:
            assert session.get(DeliveryReceiptRow, sent["packet_id"]) is None


def test_nothing_is_ever_addressed_to_the_pickup_member(
    pickup_pair: TestFederation, host: TestNode, partner: TestNode
) -> None:
    flows.referral(host, PARTNER)
    pickup_pair.deliver(host)
    pickup_pair.pickup(partner)
    assert partner.node_id not in pickup_pair.transport.requests
    assert inbox_url(partner.node_id) not in str(gateway_node(host).directory().directory)
