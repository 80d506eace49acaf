"""The whole exchange between two real apps: referral, delivery, receipt, listing, opening."""

from __future__ import annotations

from sqlalchemy import func, select

from gateway.exchange.inbox.models import ReceivedPacketRow, ReceivedSectionRow
from gateway.exchange.outbox.models import DeliveryReceiptRow as ReceiptRow
from gateway.records.accesslog.models import AccessEventRow
from schemas.common import PartnerRole, StaffRole
from tests.support import flows
from tests.support.federation import TestFederation, TestNode


class TestReferralExchange:
    def test_referral_is_delivered_receipted_and_opened_with_only_allowed_fields(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = flows.referral(host, partner.node_id)
        assert sent["status"] == "queued"
        assert sent["sections_sent"] == ["arrival", "medical", "travel"]

        report = pair.deliver(host)
        assert (report.delivered, report.retried, report.dead_lettered) == (1, 0, 0)

        shown = host.client.get(f"/api/v1/referrals/{sent['id']}", headers=host.auth()).json()
        assert shown["status"] == "delivered"
        assert shown["receipt"] is not None
        assert [a["outcome"] for a in shown["attempts"]] == ["delivered"]

        officer = partner.auth(StaffRole.PARTNER_OFFICER)
        listed = partner.client.get("/api/v1/received", headers=officer).json()
        assert [item["packet_id"] for item in listed] == [sent["packet_id"]]
        opened = partner.client.get(f"/api/v1/received/{sent['packet_id']}", headers=officer)
        assert opened.status_code == 200
        content = opened.json()["content"]
        assert sorted(content) == ["arrival", "medical", "travel"]
        assert sorted(content["medical"]) == ["equipment", "mobility_needs_on_arrival"]
        assert "traveller_date_of_birth" not in content["travel"]
        assert content["arrival"] == flows.CONTENT["arrival"]

    def test_withheld_lists_names_only_never_values(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = flows.referral(host, partner.node_id)
        assert sent["withheld"]["reintegration"] == "whole section"
        assert sent["withheld"]["medical"] == ["conditions", "fit_to_travel", "medication"]
        assert "CANARY" not in str(sent)

    def test_receipt_stored_by_host_names_the_envelope_digest(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = flows.referral(host, partner.node_id)
        pair.deliver(host)
        with host.sessions() as session:
            receipt = session.get(ReceiptRow, sent["packet_id"])
        with partner.sessions() as session:
            stored = session.get(ReceivedPacketRow, sent["packet_id"])
        assert receipt is not None
        assert stored is not None
        assert receipt.envelope_sha256 == stored.envelope_sha256

    def test_partner_stores_each_section_encrypted_not_in_the_clear(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = flows.referral(host, partner.node_id)
        pair.deliver(host)
        with partner.sessions() as session:
            sections = session.scalars(
                select(ReceivedSectionRow).where(ReceivedSectionRow.packet_id == sent["packet_id"])
            ).all()
        assert sorted(s.section for s in sections) == ["arrival", "medical", "travel"]
        for section in sections:
            assert b"wheelchair" not in section.sealed
            assert b"Synthetic" not in section.sealed

    def test_delivering_twice_sends_once(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        flows.referral(host, partner.node_id)
        assert pair.deliver(host).delivered == 1
        assert pair.deliver(host).delivered == 0
        assert pair.transport.requests == [partner.node_id]

    def test_opening_is_logged_with_sections_and_no_content(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = flows.referral(host, partner.node_id)
        pair.deliver(host)
        partner.client.get(
            f"/api/v1/received/{sent['packet_id']}", headers=partner.auth(StaffRole.PARTNER_OFFICER)
        )
        with partner.sessions() as session:
            events = session.scalars(
                select(AccessEventRow).where(AccessEventRow.action == "opened")
            ).all()
        assert len(events) == 1
        assert events[0].sections == ["arrival", "medical", "travel"]
        assert events[0].packet_id == sent["packet_id"]

    def test_host_logs_creation_sealing_and_delivery(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        flows.referral(host, partner.node_id)
        pair.deliver(host)
        with host.sessions() as session:
            actions = session.scalars(
                select(AccessEventRow.action).order_by(AccessEventRow.seq)
            ).all()
        assert actions == [
            "case_created",
            "consent_recorded",
            "referral_sealed",
            "sent",
            "delivered",
        ]


class TestPseudonyms:
    def test_two_partners_know_the_same_person_by_different_pseudonyms(
        self, federation: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        other = federation.add_node("origin-reception-2", [PartnerRole.RECEPTION_PARTNER], "SN")
        federation.publish()
        case = flows.create_case(host)
        for node in (partner, other):
            flows.record_consent(host, case["id"], node.node_id)
            assert flows.post_referral(host, case["id"], node.node_id).status_code == 201
        assert federation.deliver(host).delivered == 2
        subjects = []
        for node in (partner, other):
            listed = node.client.get(
                "/api/v1/received", headers=node.auth(StaffRole.PARTNER_OFFICER)
            ).json()
            subjects.append(listed[0]["subject"])
        assert subjects[0] != subjects[1]
        assert case["id"] not in subjects

    def test_one_partner_sees_the_same_pseudonym_for_two_referrals_of_one_person(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        case = flows.create_case(host)
        flows.record_consent(host, case["id"], partner.node_id)
        for _ in range(2):
            assert flows.post_referral(host, case["id"], partner.node_id).status_code == 201
        pair.deliver(host)
        listed = partner.client.get(
            "/api/v1/received", headers=partner.auth(StaffRole.PARTNER_OFFICER)
        ).json()
        assert len({item["subject"] for item in listed}) == 1
        with partner.sessions() as session:
            assert session.scalar(select(func.count()).select_from(ReceivedPacketRow)) == 2
