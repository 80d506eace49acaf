"""Key rotation and the directory at run time: new packets use new keys, old ones stay openable
until the old key's end; a node without a valid directory sends and accepts nothing.
"""

from __future__ import annotations

import time
from datetime import timedelta
from unittest import mock

from sqlalchemy import func, select

from crypto.encoding import b64decode
from gateway.exchange.inbox.models import ReceivedPacketRow
from gateway.exchange.outbox.models import OutboxRow
from gateway.kit import node as node_module
from partners.directory import sign_directory
from schemas.common import StaffRole
from schemas.envelope import EnvelopeHeader, WireEnvelope
from tests.support import flows
from tests.support.federation import TestFederation, TestNode


def header_of(host: TestNode, packet_id: str) -> EnvelopeHeader:
    with host.sessions() as session:
        envelope = session.scalars(
            select(OutboxRow.envelope).where(OutboxRow.packet_id == packet_id)
        ).one()
    wire = WireEnvelope.model_validate_json(envelope)
    return EnvelopeHeader.model_validate_json(b64decode(wire.header))


def open_as_officer(partner: TestNode, packet_id: str) -> int:
    response = partner.client.get(
        f"/api/v1/received/{packet_id}", headers=partner.auth(StaffRole.PARTNER_OFFICER)
    )
    return int(response.status_code)


class TestRotation:
    def test_partner_rotation_new_packets_use_the_new_key_old_ones_still_open(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        before = flows.referral(host, partner.node_id)
        old_key = header_of(host, before["packet_id"]).recipient_key_id
        pair.deliver(host)

        partner.clock.advance(minutes=1)
        partner.home.rotate_keys(partner.clock.now(), overlap=timedelta(days=7))
        pair.publish()

        after = flows.referral(host, partner.node_id)
        new_key = header_of(host, after["packet_id"]).recipient_key_id
        assert pair.deliver(host).delivered == 1
        assert new_key != old_key
        assert open_as_officer(partner, before["packet_id"]) == 200
        assert open_as_officer(partner, after["packet_id"]) == 200

    def test_packet_received_before_rotation_stays_readable_after_the_old_key_ends(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        before = flows.referral(host, partner.node_id)
        pair.deliver(host)
        partner.home.rotate_keys(partner.clock.now(), overlap=timedelta(days=1))
        pair.publish()
        partner.clock.advance(days=2)
        # Once received, sections are sealed at rest under the person's data key, not the
        # transport key, so rotating transport keys never loses stored data.
        assert open_as_officer(partner, before["packet_id"]) == 200

    def test_packet_in_transit_to_a_key_past_its_end_is_not_accepted(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        flows.referral(host, partner.node_id)  # sealed to the partner's current key, not sent
        partner.home.rotate_keys(partner.clock.now(), overlap=timedelta(days=1))
        pair.publish()
        host.clock.advance(days=2)
        report = pair.deliver(host)
        assert (report.delivered, report.retried) == (0, 1)
        with partner.sessions() as session:
            assert session.scalar(select(func.count()).select_from(ReceivedPacketRow)) == 0

    def test_host_rotation_new_signing_key_is_accepted_once_listed(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        host.clock.advance(minutes=1)
        host.home.rotate_keys(host.clock.now(), overlap=timedelta(days=7))
        pair.publish()
        sent = flows.referral(host, partner.node_id)
        signing_ids = {k.key_id for k in host.home.keyring().signing}
        assert header_of(host, sent["packet_id"]).sender_key_id in signing_ids
        assert pair.deliver(host).delivered == 1

    def test_until_the_new_key_is_listed_the_node_signs_with_the_old_one(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        old_ids = {k.key_id for k in host.home.keyring().signing}
        host.clock.advance(minutes=1)
        host.home.rotate_keys(host.clock.now(), overlap=timedelta(days=7))
        sent = flows.referral(host, partner.node_id)  # the operator has not listed the new key yet
        assert header_of(host, sent["packet_id"]).sender_key_id in old_ids
        assert pair.deliver(host).delivered == 1

        pair.publish()  # now it is listed
        newer = flows.referral(host, partner.node_id)
        assert header_of(host, newer["packet_id"]).sender_key_id not in old_ids
        assert pair.deliver(host).delivered == 1


class TestDirectoryAtRunTime:
    def test_node_without_a_directory_is_not_ready_and_refuses_referrals(
        self, federation: TestFederation, host: TestNode
    ) -> None:
        assert host.client.get("/healthz").status_code == 503
        case = flows.create_case(host)
        response = flows.post_referral(host, case["id"], "origin-reception")
        assert response.status_code == 503
        assert response.json()["error"] == "unavailable"

    def test_expired_directory_stops_sending_until_a_fresh_one_is_installed(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        case = flows.create_case(host)
        flows.record_consent(host, case["id"], "origin-reception")
        host.clock.advance(days=31)
        assert host.client.get("/healthz").status_code == 503
        assert flows.post_referral(host, case["id"], "origin-reception").status_code == 503
        pair.publish()
        assert host.client.get("/healthz").status_code == 200

    def test_directory_change_is_picked_up_without_a_restart(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        case = flows.create_case(host)
        flows.record_consent(host, case["id"], "origin-reception")
        assert flows.post_referral(host, case["id"], "origin-reception").status_code == 201
        pair.suspended = ["SN"]
        pair.publish()
        assert flows.post_referral(host, case["id"], "origin-reception").status_code == 422

    def test_another_processs_install_is_seen_within_the_check_interval(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        node = host.client.app.state.node
        before = node.directory()
        pair.suspended = ["SN"]
        doc = sign_directory(pair.directory(), pair.operator)
        # Another process writes the file: this process is not told.
        host.home.directory_file.write_bytes(doc.model_dump_json().encode())
        with mock.patch.object(node_module.time, "monotonic", return_value=time.monotonic()):
            assert node.directory() is before
        later = time.monotonic() + node_module.FILE_CHECK_INTERVAL
        with mock.patch.object(node_module.time, "monotonic", return_value=later):
            assert node.directory().suspended_countries == frozenset({"SN"})

    def test_files_are_not_checked_on_every_use(self, pair: TestFederation, host: TestNode) -> None:
        node = host.client.app.state.node
        node.directory(), node.keyring()
        with mock.patch.object(node_module, "_stamp", wraps=node_module._stamp) as stamp:
            for _ in range(5):
                node.directory(), node.keyring()
            assert stamp.call_count == 0
            pair.publish()  # this process installs: seen at once
            node.directory()
            assert stamp.call_count == 1
