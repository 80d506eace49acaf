"""Consent through the API: recording with history, receipts, and withdrawal reaching every
recipient, on two real apps.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import select

from crypto.encoding import b64decode
from crypto.signed import verify_document
from gateway.exchange.inbox.models import ReceivedPacketRow, ReceivedSectionRow
from gateway.exchange.outbox.models import OutboxRow
from gateway.exchange.referrals.models import ReferralRow
from gateway.records.accesslog.models import AccessEventRow
from schemas.common import PartnerRole, StaffRole
from schemas.consent import CONSENT_RECEIPT_FORMAT
from schemas.envelope import EnvelopeHeader, SignedDocument, WireEnvelope
from tests.support import flows
from tests.support.federation import TestFederation, TestNode

CHILD = {**flows.CASE, "date_of_birth": "2014-05-01"}
INBOX = "https://origin-reception.test/federation/v1/inbox"


def withdraw(host: TestNode, case_id: str, **body: Any) -> Any:
    return host.client.post(f"/api/v1/cases/{case_id}/withdrawals", json=body, headers=host.auth())


def withdrawals(host: TestNode, case_id: str) -> list[dict[str, Any]]:
    response = host.client.get(f"/api/v1/cases/{case_id}/withdrawals", headers=host.auth())
    assert response.status_code == 200
    return list(response.json())


def open_packet(partner: TestNode, packet_id: str) -> Any:
    return partner.client.get(
        f"/api/v1/received/{packet_id}", headers=partner.auth(StaffRole.PARTNER_OFFICER)
    )


def held_sections(partner: TestNode, packet_id: str) -> list[str]:
    with partner.sessions() as session:
        return sorted(
            session.scalars(
                select(ReceivedSectionRow.section).where(ReceivedSectionRow.packet_id == packet_id)
            )
        )


def delivered_referral(pair: TestFederation, host: TestNode, partner: TestNode) -> dict[str, Any]:
    sent = flows.referral(host, partner.node_id)
    assert pair.deliver(host).delivered == 1
    return sent


class TestRecording:
    def test_consent_keeps_its_full_history(self, pair: TestFederation, host: TestNode) -> None:
        case = flows.create_case(host)
        consent = flows.record_consent(host, case["id"], "origin-reception")
        assert consent["status"] == "active"
        assert [v["version"] for v in consent["history"]] == [1]
        narrowed = host.client.post(
            f"/api/v1/cases/{case['id']}/consents/{consent['id']}/narrow",
            json={"sections": ["arrival", "travel"]},
            headers=host.auth(),
        )
        assert narrowed.status_code == 201
        shown = host.client.get(
            f"/api/v1/cases/{case['id']}/consents/{consent['id']}", headers=host.auth()
        ).json()
        assert shown["status"] == "narrowed"
        assert shown["sections"] == ["arrival", "travel"]
        assert [(v["version"], v["status"], v["sections"]) for v in shown["history"]] == [
            (1, "active", sorted(flows.ALL_SECTIONS)),
            (2, "narrowed", ["arrival", "travel"]),
        ]

    def test_child_consent_needs_a_guardian_the_childs_view_and_a_best_interests_reference(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        case = flows.create_case(host, **{k: v for k, v in CHILD.items() if k in flows.CASE})
        body = {
            "purpose": "arrival_reception",
            "recipient": "origin-reception",
            "sections": ["arrival"],
            "method": "signed_form",
            "language": "fr",
        }
        refused = host.client.post(
            f"/api/v1/cases/{case['id']}/consents", json=body, headers=host.auth()
        )
        assert refused.status_code == 422
        detail = refused.json()["detail"]
        for needed in ("parent, guardian", "child's own view", "best-interests"):
            assert needed in detail
        complete = {
            **body,
            "given_by": "guardian",
            "giver_relation": "appointed guardian",
            "child_view": "agrees",
            "best_interests_reference": "BID-2026-0001",
        }
        assert (
            host.client.post(
                f"/api/v1/cases/{case['id']}/consents", json=complete, headers=host.auth()
            ).status_code
            == 201
        )

    def test_uncertain_age_is_treated_as_a_child(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        case = flows.create_case(host, date_of_birth=None, age_uncertain=True)
        body = {
            "purpose": "arrival_reception",
            "recipient": "origin-reception",
            "sections": ["arrival"],
            "method": "signed_form",
            "language": "fr",
        }
        response = host.client.post(
            f"/api/v1/cases/{case['id']}/consents", json=body, headers=host.auth()
        )
        assert response.status_code == 422

    def test_verbal_consent_needs_a_witness(self, pair: TestFederation, host: TestNode) -> None:
        case = flows.create_case(host)
        response = host.client.post(
            f"/api/v1/cases/{case['id']}/consents",
            json={
                "purpose": "arrival_reception",
                "recipient": "origin-reception",
                "sections": ["arrival"],
                "method": "verbal_with_witness",
                "language": "fr",
            },
            headers=host.auth(),
        )
        assert response.status_code == 422

    def test_consent_for_a_role_covers_any_node_with_that_role(
        self, federation: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        other = federation.add_node("origin-reception-2", [PartnerRole.RECEPTION_PARTNER], "SN")
        federation.publish()
        case = flows.create_case(host)
        body = {
            "purpose": "arrival_reception",
            "recipient_role": "reception_partner",
            "sections": ["arrival"],
            "method": "digital",
            "language": "fr",
            "informed_of_risks": True,
        }
        assert (
            host.client.post(
                f"/api/v1/cases/{case['id']}/consents", json=body, headers=host.auth()
            ).status_code
            == 201
        )
        for node in (partner, other):
            assert flows.post_referral(host, case["id"], node.node_id).status_code == 201


class TestConsentReceipts:
    def test_json_receipt_verifies_with_the_nodes_listed_key(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        case = flows.create_case(host)
        consent = flows.record_consent(host, case["id"], "origin-reception")
        response = host.client.get(
            f"/api/v1/cases/{case['id']}/consents/{consent['id']}/receipt", headers=host.auth()
        )
        doc = SignedDocument.model_validate(response.json())
        view = host.client.app.state.node.directory()  # type: ignore[attr-defined]
        payload = verify_document(
            doc, view.signing_key(host.node_id, doc.key_id), context=CONSENT_RECEIPT_FORMAT
        )
        assert payload["consent_id"] == consent["id"]
        assert payload["purpose"] == "arrival_reception"
        assert payload["recipient_organisation"] == "Origin Reception (test)"
        assert "given_name" not in payload

    @pytest.mark.parametrize(
        ("lang", "direction", "words"),
        [
            ("en", "ltr", "Consent receipt"),
            ("fr", "ltr", "Reçu de consentement"),
            ("es", "ltr", "Recibo de consentimiento"),
            ("ar", "rtl", "إيصال الموافقة"),
        ],
    )
    def test_printable_receipt_in_the_persons_language(
        self, pair: TestFederation, host: TestNode, lang: str, direction: str, words: str
    ) -> None:
        case = flows.create_case(host, preferred_language=lang)
        consent = flows.record_consent(host, case["id"], "origin-reception")
        response = host.client.get(
            f"/api/v1/cases/{case['id']}/consents/{consent['id']}/receipt?format=html",
            headers=host.auth(),
        )
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert f'dir="{direction}"' in response.text
        assert f'lang="{lang}"' in response.text
        assert words in response.text

    def test_unsupported_language_falls_back_to_english(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        case = flows.create_case(host, preferred_language="de")
        consent = flows.record_consent(host, case["id"], "origin-reception")
        response = host.client.get(
            f"/api/v1/cases/{case['id']}/consents/{consent['id']}/receipt?format=html",
            headers=host.auth(),
        )
        assert "Consent receipt" in response.text


class TestWithdrawal:
    def test_withdrawing_one_section_reaches_the_partner_and_is_confirmed(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = delivered_referral(pair, host, partner)
        response = withdraw(host, sent["case_id"], sections=["medical"])
        assert response.status_code == 201
        assert [r["status"] for r in response.json()["revocations"]] == ["pending"]
        assert pair.deliver(host).delivered == 1

        [withdrawal] = withdrawals(host, sent["case_id"])
        [revocation] = withdrawal["revocations"]
        assert (revocation["recipient"], revocation["status"]) == (partner.node_id, "confirmed")
        assert revocation["packets"] == [sent["packet_id"]]
        assert held_sections(partner, sent["packet_id"]) == ["arrival", "travel"]
        opened = open_packet(partner, sent["packet_id"]).json()
        assert sorted(opened["content"]) == ["arrival", "travel"]
        assert opened["withdrawn_sections"] == ["medical"]
        assert opened["status"] == "partly_withdrawn"
        with host.sessions() as session:
            referral = session.get(ReferralRow, sent["id"])
            assert referral is not None
            assert "medical" not in referral.sent_sections
            assert referral.withdrawn_sections == ["medical"]

    def test_withdrawing_everything_makes_the_packet_gone_at_the_partner(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = delivered_referral(pair, host, partner)
        assert withdraw(host, sent["case_id"]).status_code == 201
        pair.deliver(host)
        response = open_packet(partner, sent["packet_id"])
        assert response.status_code == 410
        assert held_sections(partner, sent["packet_id"]) == []
        with partner.sessions() as session:
            outcomes = session.scalars(
                select(AccessEventRow.outcome).where(AccessEventRow.action == "access_denied")
            ).all()
            deleted = session.scalars(
                select(AccessEventRow.sections).where(AccessEventRow.action == "deleted")
            ).all()
        assert outcomes == ["consent_withdrawn"]
        assert deleted == [["arrival", "medical", "travel"]]

    def test_withdrawal_with_the_partner_down_converges_once_it_is_back(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = delivered_referral(pair, host, partner)
        withdraw(host, sent["case_id"], sections=["medical"])
        with respx.mock() as mock:
            mock.post(INBOX).side_effect = httpx.ConnectError("down")
            assert pair.worker(host, http=httpx.Client()).run_once().retried == 1
        assert [r["status"] for r in withdrawals(host, sent["case_id"])[0]["revocations"]] == [
            "pending"
        ]
        assert held_sections(partner, sent["packet_id"]) == ["arrival", "medical", "travel"]
        host.clock.advance(hours=1)
        assert pair.deliver(host).delivered == 1
        assert [r["status"] for r in withdrawals(host, sent["case_id"])[0]["revocations"]] == [
            "confirmed"
        ]
        assert held_sections(partner, sent["packet_id"]) == ["arrival", "travel"]

    def test_lost_deletion_receipt_is_fetched_again_without_harm(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = delivered_referral(pair, host, partner)
        withdraw(host, sent["case_id"], sections=["medical"])

        class LosesAnswers(httpx.BaseTransport):
            def handle_request(self, request: httpx.Request) -> httpx.Response:
                pair.transport.handle_request(request)
                raise httpx.ReadError("reset", request=request)

        assert (
            pair.worker(host, http=httpx.Client(transport=LosesAnswers())).run_once().retried == 1
        )
        host.clock.advance(hours=1)
        assert pair.deliver(host).delivered == 1
        assert [r["status"] for r in withdrawals(host, sent["case_id"])[0]["revocations"]] == [
            "confirmed"
        ]

    def test_withdrawal_before_delivery_cancels_the_packet_in_the_outbox(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = flows.referral(host, partner.node_id)
        response = withdraw(host, sent["case_id"], sections=["medical"]).json()
        assert response["packets_cancelled"] == [sent["packet_id"]]
        assert response["revocations"] == []
        assert pair.deliver(host).delivered == 0
        assert pair.transport.requests == []
        shown = host.client.get(f"/api/v1/referrals/{sent['id']}", headers=host.auth()).json()
        assert shown["status"] == "cancelled"
        with host.sessions() as session:
            assert session.scalars(select(OutboxRow.status)).all() == ["cancelled"]

    def test_after_withdrawal_new_referrals_leave_the_section_out(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = delivered_referral(pair, host, partner)
        withdraw(host, sent["case_id"], sections=["medical"])
        again = flows.post_referral(host, sent["case_id"], partner.node_id)
        assert again.status_code == 201
        assert again.json()["sections_sent"] == ["arrival", "travel"]

    def test_withdrawal_after_the_packets_delete_by_date_still_reaches_the_partner(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = delivered_referral(pair, host, partner)
        host.clock.advance(days=200)  # past the referral's delete-by date
        pair.publish()  # the directory would have expired meanwhile
        response = withdraw(host, sent["case_id"])
        assert response.status_code == 201
        assert pair.deliver(host).delivered == 1
        assert [r["status"] for r in withdrawals(host, sent["case_id"])[0]["revocations"]] == [
            "confirmed"
        ]
        assert held_sections(partner, sent["packet_id"]) == []

    def test_withdrawal_that_matches_nothing_is_a_422(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        case = flows.create_case(host)
        flows.record_consent(host, case["id"], "origin-reception")
        assert withdraw(host, case["id"], purpose="medical_escort").status_code == 422

    def test_withdrawal_of_another_offices_case_is_not_found(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        case = flows.create_case(host)
        flows.record_consent(host, case["id"], "origin-reception")
        response = host.client.post(
            f"/api/v1/cases/{case['id']}/withdrawals", json={}, headers=host.auth(office="office-b")
        )
        assert response.status_code == 404

    def test_withdrawal_is_logged_at_the_host(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = delivered_referral(pair, host, partner)
        withdraw(host, sent["case_id"], sections=["medical"])
        pair.deliver(host)
        with host.sessions() as session:
            actions = session.scalars(
                select(AccessEventRow.action).order_by(AccessEventRow.seq)
            ).all()
        assert actions[-3:] == ["consent_narrowed", "revocation_queued", "deletion_confirmed"]


class TestTransferGround:
    def test_referral_without_a_ground_is_a_422(self, pair: TestFederation, host: TestNode) -> None:
        case = flows.create_case(host)
        flows.record_consent(host, case["id"], "origin-reception")
        response = host.client.post(
            "/api/v1/referrals",
            json={
                "case_id": case["id"],
                "recipient": "origin-reception",
                "purpose": "arrival_reception",
                "content": flows.content(),
            },
            headers=host.auth(),
        )
        assert response.status_code == 422

    def test_explicit_consent_ground_needs_a_consent_given_after_the_risks_were_explained(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        case = flows.create_case(host)
        flows.record_consent(host, case["id"], "origin-reception", informed_of_risks=False)
        response = flows.post_referral(host, case["id"], "origin-reception")
        assert response.status_code == 422
        assert response.json()["rule"] == "explicit_consent_ground_without_risk_information"

    def test_ground_is_in_the_signed_header(self, pair: TestFederation, host: TestNode) -> None:
        sent = flows.referral(host, "origin-reception")
        with host.sessions() as session:
            envelope = session.scalars(select(OutboxRow.envelope)).one()
        header = EnvelopeHeader.model_validate_json(
            b64decode(WireEnvelope.model_validate_json(envelope).header)
        )
        assert header.transfer_ground is not None
        assert header.transfer_ground.value == sent["transfer_ground"]

    def test_dpo_register_lists_transfers_with_their_ground_and_no_content(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = delivered_referral(pair, host, partner)
        response = host.client.get("/api/v1/dpo/transfers", headers=host.auth(StaffRole.DPO))
        assert response.status_code == 200
        [transfer] = response.json()
        assert transfer["packet_id"] == sent["packet_id"]
        assert transfer["destination_country"] == "SN"
        assert transfer["transfer_ground"] == "explicit_consent_informed_of_risks"
        assert transfer["sections"] == ["arrival", "medical", "travel"]
        assert "Synthetic" not in response.text

    def test_caseworker_cannot_read_the_dpo_register(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        assert host.client.get("/api/v1/dpo/transfers", headers=host.auth()).status_code == 403


class TestRevocationsAtTheInbox:
    def test_revocation_from_another_sender_deletes_nothing(
        self, federation: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        other_host = federation.add_node("host-mission-2", [PartnerRole.HOST_MISSION], "DE")
        federation.publish()
        sent = flows.referral(host, partner.node_id)
        federation.deliver(host)
        case = flows.create_case(other_host)
        flows.record_consent(other_host, case["id"], partner.node_id)
        assert flows.post_referral(other_host, case["id"], partner.node_id).status_code == 201
        federation.deliver(other_host)
        # The second host withdraws everything of its own person: only its own packet may go.
        assert withdraw(other_host, case["id"]).status_code == 201
        federation.deliver(other_host)
        assert held_sections(partner, sent["packet_id"]) == ["arrival", "medical", "travel"]
        with partner.sessions() as session:
            statuses = dict(
                session.execute(
                    select(ReceivedPacketRow.sender, ReceivedPacketRow.status).where(
                        ReceivedPacketRow.kind == "referral"
                    )
                ).all()
            )
        assert statuses == {host.node_id: "active", other_host.node_id: "withdrawn"}
