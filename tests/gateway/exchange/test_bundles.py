"""Hand-carried bundles between two real nodes: the host writes what is due to a partner with no
connection into one file, the partner takes it and writes the return bundle (receipts, deletion
receipts, its own messages), the host takes that. A bundle taken twice, out of order, truncated,
for another node, or altered changes nothing and says why.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.exchange.bundles.service import BundleRefused, Taken, Written, take, write
from gateway.exchange.inbox.models import ReceivedPacketRow
from gateway.exchange.outbox.models import DeliveryReceiptRow, OutboxRow
from gateway.kit.node import Node
from gateway.processes.kinds import message_kinds
from gateway.records.accesslog.models import AccessEventRow
from schemas.common import PartnerRole, StaffRole
from schemas.directory import DeliveryMode
from tests.gateway.exchange.test_pickup import outbox_row, received, referral_status
from tests.support import flows
from tests.support.federation import TestFederation, TestNode, logs_verify
from tests.support.staff import staff_signed_in

PARTNER = "origin-reception"


def gateway_node(node: TestNode) -> Node:
    found: Node = node.client.app.state.node  # type: ignore[attr-defined]
    return found


def export(node: TestNode, recipient: str) -> Written | None:
    with node.sessions.begin() as session:
        return write(
            session, gateway_node(node), message_kinds(), recipient=recipient, now=node.clock.now()
        )


def written(node: TestNode, recipient: str) -> bytes:
    bundle = export(node, recipient)
    assert bundle is not None
    return bundle.data


def import_(node: TestNode, data: bytes) -> Taken:
    with node.sessions.begin() as session:
        return take(session, gateway_node(node), message_kinds(), data=data, now=node.clock.now())


def refused(node: TestNode, data: bytes) -> str:
    before = counts(node)
    with pytest.raises(BundleRefused) as refusal:
        import_(node, data)
    assert counts(node) == before  # nothing changed
    return str(refusal.value)


def counts(node: TestNode) -> tuple[int, int, int]:
    with node.sessions() as session:
        return (
            int(session.scalar(select(func.count()).select_from(ReceivedPacketRow)) or 0),
            int(session.scalar(select(func.count()).select_from(AccessEventRow)) or 0),
            int(session.scalar(select(func.count()).select_from(DeliveryReceiptRow)) or 0),
        )


def altered(data: bytes, field: str, change: Any) -> bytes:
    wire = json.loads(data)
    raw = bytearray(base64.urlsafe_b64decode(wire[field] + "=" * (-len(wire[field]) % 4)))
    change(raw)
    wire[field] = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode("ascii")
    return json.dumps(wire, separators=(",", ":"), sort_keys=True).encode()


@pytest.fixture
def offline(federation: TestFederation, host: TestNode, partner: TestNode) -> TestFederation:
    """A partner with no connection at all: listed for pickup, and it never calls."""
    partner.delivery = DeliveryMode.PICKUP
    federation.publish()
    return federation


class TestRoundTrip:
    def test_there_and_back(
        self, offline: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        first = flows.referral(host, PARTNER)
        second = flows.referral(host, PARTNER)
        out = export(host, PARTNER)
        assert out is not None
        assert (out.header.sequence, out.header.envelopes, out.header.answers) == (1, 2, 0)
        status = referral_status(host, first["id"])
        assert (status["status"], status["travels_by"]) == ("queued", "bundle")
        browser = staff_signed_in(host, StaffRole.CASEWORKER)
        assert (
            "In a hand-carried bundle, written"
            in browser.get(f"/staff/referrals/{first['id']}").text
        )
        taken = import_(partner, out.data)
        assert (taken.stored, taken.refused) == (2, 0)
        assert sorted(received(partner)) == sorted([first["packet_id"], second["packet_id"]])

        back = export(partner, host.node_id)
        assert back is not None
        assert (back.header.sequence, back.header.envelopes, back.header.answers) == (1, 0, 2)
        returned = import_(host, back.data)
        assert (returned.answers_recorded, returned.answers_ignored) == (2, 0)
        for sent in (first, second):
            status = referral_status(host, sent["id"])
            assert status["status"] == "delivered"
            assert [a["outcome"] for a in status["attempts"]] == ["bundled", "delivered"]
        assert export(host, PARTNER) is None  # nothing waits, nothing owed
        assert offline.transport.requests == []
        logs_verify(host, partner)

    def test_messages_back_travel_in_the_return_bundle(
        self, offline: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = flows.referral(host, PARTNER)
        import_(partner, written(host, PARTNER))
        opened = partner.client.get(
            f"/api/v1/received/{sent['packet_id']}", headers=partner.auth(StaffRole.PARTNER_OFFICER)
        )
        assert opened.status_code == 200, opened.text
        back = export(partner, host.node_id)
        assert back is not None
        assert (back.header.envelopes, back.header.answers) == (1, 1)  # access notice, receipt
        import_(host, back.data)
        with host.sessions() as session:
            reported = session.scalars(
                select(AccessEventRow.action).where(
                    AccessEventRow.actor_org == PARTNER,
                    AccessEventRow.packet_id == sent["packet_id"],
                )
            ).all()
        assert list(reported) == ["opened"]
        # The host's receipt for the notice goes back in its next bundle.
        again = export(host, PARTNER)
        assert again is not None
        assert (again.header.sequence, again.header.envelopes, again.header.answers) == (2, 0, 1)
        assert import_(partner, again.data).answers_recorded == 1
        assert export(partner, host.node_id) is None
        logs_verify(host, partner)

    def test_a_withdrawal_after_export_follows_in_the_next_bundle(
        self, offline: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = flows.referral(host, PARTNER)
        carried = written(host, PARTNER)
        withdrawal = host.client.post(
            f"/api/v1/cases/{sent['case_id']}/withdrawals", json={}, headers=host.auth()
        )
        assert withdrawal.status_code == 201, withdrawal.text
        # The referral may already be on its way: a revocation follows it.
        revocation = written(host, PARTNER)
        import_(partner, carried)
        import_(partner, revocation)
        with partner.sessions() as session:
            packet = session.get(ReceivedPacketRow, sent["packet_id"])
            assert packet is not None
            assert (
                sorted(packet.withdrawn_sections) == sorted(flows.ALL_SECTIONS)
                or packet.withdrawn_sections
            )
        import_(host, written(partner, host.node_id))
        listed = host.client.get(
            f"/api/v1/cases/{sent['case_id']}/withdrawals", headers=host.auth()
        ).json()
        assert [r["status"] for w in listed for r in w["revocations"]] == ["confirmed"]
        logs_verify(host, partner)

    def test_a_lost_bundle_is_made_good_by_the_next(
        self, offline: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = flows.referral(host, PARTNER)
        written(host, PARTNER)  # lost on the way
        second = export(host, PARTNER)
        assert second is not None
        assert (second.header.sequence, second.header.envelopes) == (2, 1)
        assert import_(partner, second.data).stored == 1
        import_(host, written(partner, host.node_id))
        assert referral_status(host, sent["id"])["status"] == "delivered"

    def test_a_lost_return_bundle_is_answered_again(
        self, offline: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = flows.referral(host, PARTNER)
        import_(partner, written(host, PARTNER))
        written(partner, host.node_id)  # the return bundle is lost
        import_(partner, written(host, PARTNER))  # the host carries the referral again
        assert received(partner) == [sent["packet_id"]]  # stored once
        import_(host, written(partner, host.node_id))
        assert referral_status(host, sent["id"])["status"] == "delivered"


class TestRefusals:
    def test_taken_twice(self, offline: TestFederation, host: TestNode, partner: TestNode) -> None:
        flows.referral(host, PARTNER)
        data = written(host, PARTNER)
        import_(partner, data)
        assert "already imported" in refused(partner, data)

    def test_out_of_order(self, offline: TestFederation, host: TestNode, partner: TestNode) -> None:
        flows.referral(host, PARTNER)
        first = written(host, PARTNER)
        flows.referral(host, PARTNER)
        second = written(host, PARTNER)
        assert import_(partner, second).stored == 2
        assert "older than bundle 2" in refused(partner, first)

    @pytest.mark.parametrize("keep", [0, 1, 40, 200, -1])
    def test_truncated(
        self, offline: TestFederation, host: TestNode, partner: TestNode, keep: int
    ) -> None:
        flows.referral(host, PARTNER)
        data = written(host, PARTNER)
        assert "not a whole bundle" in refused(partner, data[:keep])

    def test_for_another_node(
        self, offline: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        other = offline.add_node("origin-other", [PartnerRole.RECEPTION_PARTNER], "SN")
        offline.publish()
        flows.referral(host, PARTNER)
        assert f"for {PARTNER}, not for this node" in refused(other, written(host, PARTNER))

    @pytest.mark.parametrize("field", ["header", "ciphertext", "signature"])
    def test_altered(
        self, offline: TestFederation, host: TestNode, partner: TestNode, field: str
    ) -> None:
        flows.referral(host, PARTNER)
        data = written(host, PARTNER)

        def flip(raw: bytearray) -> None:
            raw[len(raw) // 2] ^= 0x01

        message = refused(partner, altered(data, field, flip))
        assert "altered or damaged" in message or "not a whole bundle" in message

    def test_a_refused_envelope_inside_is_answered_as_refused(
        self, offline: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        from tests.gateway.exchange.test_batched_delivery import tamper

        sent = flows.referral(host, PARTNER)
        tamper(host, sent["packet_id"])
        taken = import_(partner, written(host, PARTNER))
        assert (taken.stored, taken.refused) == (0, 1)
        import_(host, written(partner, host.node_id))
        status = referral_status(host, sent["id"])
        assert status["status"] == "queued"
        assert [a["outcome"] for a in status["attempts"]] == ["bundled", "http_400"]


def test_a_carrier_sees_sizes_and_counts_only(
    offline: TestFederation, host: TestNode, partner: TestNode
) -> None:
    sent = flows.referral(host, PARTNER)
    data = written(host, PARTNER)
    pseudonym = json.loads(
        base64.urlsafe_b64decode(
            json.loads(outbox_row(host, sent["packet_id"]).envelope)["header"] + "=="
        )
    )["subject"]
    wire = json.loads(data)
    header = json.loads(base64.urlsafe_b64decode(wire["header"] + "=" * (-len(wire["header"]) % 4)))
    assert sorted(header) == sorted(
        [
            "format", "suite", "bundle_id", "sender", "recipient", "sequence", "created_at",
            "envelopes", "answers", "sender_key_id", "recipient_key_id",
        ]
    )  # fmt: skip
    for secret in ("CANARY", "arrival_reception", "travel", sent["packet_id"], pseudonym):
        assert secret.encode() not in data
        assert secret not in json.dumps(header)


def test_nothing_due_writes_nothing(offline: TestFederation, host: TestNode) -> None:
    assert export(host, PARTNER) is None
    with host.sessions() as session:
        assert session.scalar(select(func.count()).select_from(OutboxRow)) == 0


def received_after(node: TestNode, data: bytes) -> list[str]:
    """Take the bundle; the packets it stored that the node did not hold before."""
    before = set(received(node))
    import_(node, data)
    return sorted(set(received(node)) - before)


def test_a_file_larger_than_a_bundle_can_be_is_refused_unread(
    offline: TestFederation, host: TestNode, partner: TestNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.exchange.bundles import service

    flows.referral(host, PARTNER)
    data = written(host, PARTNER)
    monkeypatch.setattr(service, "MAX_BUNDLE_BYTES", len(data) - 1)
    assert "larger than a bundle can be" in refused(partner, data)


def test_what_does_not_fit_travels_in_the_next_bundle(
    offline: TestFederation, host: TestNode, partner: TestNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.exchange.bundles import service

    for _ in range(3):
        flows.referral(host, PARTNER)
    envelope = len(outbox_row(host, flows.referral(host, PARTNER)["packet_id"]).envelope)
    # Room for two envelopes and the framing.
    monkeypatch.setattr(
        service, "MAX_BUNDLE_BYTES", (2 * (envelope + 1) + 2 * 1024 * 1024) * 4 // 3 + 4
    )
    taken = []
    for _ in range(3):
        bundle = export(host, PARTNER)
        assert bundle is not None
        assert bundle.header.envelopes == 2
        taken.append(set(received_after(partner, bundle.data)))
    assert len(taken[0] | taken[1]) == 4  # the second carries the two the first had no room for
    assert taken[2] == set()  # the oldest again: already stored, nothing new
