"""Who may reach what: every object is checked against the caller (no BOLA)."""

from __future__ import annotations

from sqlalchemy import select

from gateway.records.accesslog.models import AccessEventRow
from schemas.common import PartnerRole, StaffRole
from tests.support import flows
from tests.support.federation import TestFederation, TestNode


def denied(node: TestNode) -> list[str]:
    with node.sessions() as session:
        return list(
            session.scalars(
                select(AccessEventRow.outcome).where(AccessEventRow.action == "access_denied")
            )
        )


class TestPartnerOfficers:
    def test_packet_addressed_to_another_partner_is_not_found(
        self, federation: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        other = federation.add_node("origin-reception-2", [PartnerRole.RECEPTION_PARTNER], "SN")
        federation.publish()
        for_other = flows.referral(host, other.node_id)
        federation.deliver(host)
        response = partner.client.get(
            f"/api/v1/received/{for_other['packet_id']}",
            headers=partner.auth(StaffRole.PARTNER_OFFICER),
        )
        assert response.status_code == 404
        assert "content" not in response.text
        assert denied(partner) == ["no_such_packet"]
        listed = partner.client.get(
            "/api/v1/received", headers=partner.auth(StaffRole.PARTNER_OFFICER)
        )
        assert listed.json() == []

    def test_host_referrals_are_not_reachable_as_received_packets(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        sent = flows.referral(host, "origin-reception")
        response = host.client.get(
            f"/api/v1/received/{sent['packet_id']}", headers=host.auth(StaffRole.PARTNER_OFFICER)
        )
        assert response.status_code == 404

    def test_partner_officer_cannot_read_cases_or_referrals(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        sent = flows.referral(host, "origin-reception")
        officer = host.auth(StaffRole.PARTNER_OFFICER)
        assert (
            host.client.get(f"/api/v1/cases/{sent['case_id']}", headers=officer).status_code == 403
        )
        assert (
            host.client.get(f"/api/v1/referrals/{sent['id']}", headers=officer).status_code == 403
        )

    def test_caseworker_cannot_list_or_open_received_packets(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = flows.referral(host, partner.node_id)
        pair.deliver(host)
        caseworker = partner.auth(StaffRole.CASEWORKER)
        assert partner.client.get("/api/v1/received", headers=caseworker).status_code == 403
        assert (
            partner.client.get(
                f"/api/v1/received/{sent['packet_id']}", headers=caseworker
            ).status_code
            == 403
        )

    def test_dpo_cannot_open_case_content(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = flows.referral(host, partner.node_id)
        pair.deliver(host)
        assert (
            host.client.get(
                f"/api/v1/cases/{sent['case_id']}", headers=host.auth(StaffRole.DPO)
            ).status_code
            == 403
        )
        response = partner.client.get(
            f"/api/v1/received/{sent['packet_id']}", headers=partner.auth(StaffRole.DPO)
        )
        assert response.status_code == 403


class TestCaseworkers:
    def test_case_of_another_office_is_not_found_and_logged(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        sent = flows.referral(host, "origin-reception")
        elsewhere = host.auth(office="office-b")
        for path in (
            f"/api/v1/cases/{sent['case_id']}",
            f"/api/v1/cases/{sent['case_id']}/consents",
            f"/api/v1/referrals/{sent['id']}",
            f"/api/v1/referrals?case_id={sent['case_id']}",
        ):
            response = host.client.get(path, headers=elsewhere)
            assert response.status_code == 404, path
            assert "Synthetic" not in response.text
        assert len(denied(host)) == 4

    def test_referral_for_a_case_of_another_office_is_refused(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        case = flows.create_case(host)
        flows.record_consent(host, case["id"], "origin-reception")
        response = host.client.post(
            "/api/v1/referrals",
            json={
                "case_id": case["id"],
                "recipient": "origin-reception",
                "purpose": "arrival_reception",
                "transfer_ground": "explicit_consent_informed_of_risks",
                "content": flows.content(),
            },
            headers=host.auth(office="office-b"),
        )
        assert response.status_code == 404


class TestTokens:
    def test_no_token_is_unauthorised(self, pair: TestFederation, host: TestNode) -> None:
        response = host.client.post("/api/v1/cases", json=flows.CASE)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"

    def test_token_of_another_node_is_unauthorised(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        response = host.client.post("/api/v1/cases", json=flows.CASE, headers=partner.auth())
        assert response.status_code == 401

    def test_expired_token_is_unauthorised(self, pair: TestFederation, host: TestNode) -> None:
        headers = host.auth()
        host.clock.advance(hours=9)
        pair.publish()
        assert (
            host.client.post("/api/v1/cases", json=flows.CASE, headers=headers).status_code == 401
        )

    def test_garbage_token_is_unauthorised(self, pair: TestFederation, host: TestNode) -> None:
        headers = {"Authorization": "Bearer not.a.token"}
        assert (
            host.client.post("/api/v1/cases", json=flows.CASE, headers=headers).status_code == 401
        )
