"""The staff pages over HTTP, as a browser uses them: signing in with a one-time link; a
caseworker's case, consent, referral with its preview, approval, card and withdrawal; a partner
officer's inbox, opening and answering; object-level access across offices and partners; and a
form that fails keeping everything typed."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from gateway.records.accesslog.models import AccessEventRow
from schemas.common import StaffRole
from tests.support import flows
from tests.support.federation import TestFederation, TestNode
from tests.support.portal import csrf_of, portal_client
from tests.support.staff import sign_in_link, staff_signed_in

PERSON = {
    "given_name": "Synthetic",
    "family_name": "Person",
    "nationality": "SN",
    "preferred_language": "fr",
    "date_of_birth": "1990-01-01",
}


def logged(node: TestNode, action: str) -> list[AccessEventRow]:
    with node.sessions() as session:
        return list(session.scalars(select(AccessEventRow).where(AccessEventRow.action == action)))


def new_case(browser: TestClient, **details: Any) -> str:
    page = browser.get("/staff/cases/new").text
    response = browser.post("/staff/cases/new", data={"csrf": csrf_of(page), **PERSON, **details})
    assert response.status_code == 303, response.text
    return str(response.headers["location"]).rsplit("/", 1)[1]


def consent(browser: TestClient, case_id: str, recipient: str, **extra: Any) -> None:
    page = browser.get(f"/staff/cases/{case_id}/consents/new").text
    body = {
        "csrf": csrf_of(page),
        "recipient": recipient,
        "purpose": "arrival_reception",
        "sections": ["travel", "arrival", "medical"],
        "method": "signed_form",
        "language": "fr",
        "informed_of_risks": "yes",
        **extra,
    }
    response = browser.post(f"/staff/cases/{case_id}/consents/new", data=body)
    assert response.status_code == 303, response.text


def referral_form(browser: TestClient, case_id: str, recipient: str) -> dict[str, Any]:
    page = browser.get(f"/staff/cases/{case_id}/referrals/new").text
    return {
        "csrf": csrf_of(page),
        "recipient": recipient,
        "purpose": "arrival_reception",
        "transfer_ground": "explicit_consent_informed_of_risks",
        "content.travel.traveller_name": "Synthetic Person",
        "content.medical.conditions": "CANARY-CONDITION",
        "content.arrival.reception_requested": "yes",
        "content.arrival.final_destination.country": "SN",
        "content.arrival.final_destination.locality": "Thies",
    }


class TestSignIn:
    def test_a_link_signs_in_once_and_leads_to_the_roles_pages(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        link = sign_in_link(host, StaffRole.CASEWORKER)
        browser = portal_client(host)

        first = browser.get(link)
        again = portal_client(host).get(link)

        assert first.status_code == 200
        assert first.headers["refresh"] == "0; url=/staff/cases"
        assert browser.get("/staff/").headers["location"] == "/staff/cases"
        assert again.status_code == 401
        assert "not valid" in again.text
        assert [e.actor for e in logged(host, "signed_in")] == ["user-1"]

    def test_an_api_token_is_no_link_and_a_link_is_no_api_token(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        api_token = host.token(StaffRole.CASEWORKER)
        link_token = sign_in_link(host, StaffRole.CASEWORKER).split("token=")[1]

        as_link = portal_client(host).get(f"/staff/sign-in/link?token={api_token}")
        as_bearer = host.client.get(
            "/api/v1/referrals?case_id=" + "0" * 32,
            headers={"Authorization": f"Bearer {link_token}"},
        )

        assert as_link.status_code == 401
        assert as_bearer.status_code == 401

    def test_signing_out_ends_the_session(self, pair: TestFederation, host: TestNode) -> None:
        browser = staff_signed_in(host, StaffRole.CASEWORKER)
        page = browser.get("/staff/cases").text

        assert browser.post("/staff/sign-out", data={"csrf": csrf_of(page)}).status_code == 303
        assert browser.get("/staff/cases").headers["location"].startswith("/staff/sign-in")

    def test_without_a_provider_the_sign_in_page_explains_links(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        page = portal_client(host).get("/staff/sign-in")

        assert page.status_code == 200
        assert "one-time sign-in link" in page.text


class TestCaseworker:
    def test_a_referral_is_previewed_then_sent_and_the_partners_answer_shows(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        worker = staff_signed_in(host, StaffRole.CASEWORKER)
        case_id = new_case(worker)
        consent(worker, case_id, partner.node_id)
        form = referral_form(worker, case_id, partner.node_id)

        preview = worker.post(f"/staff/cases/{case_id}/referrals/new", data=form)

        assert preview.status_code == 200
        shown = preview.text.split('id="preview-title"')[1].split("<form")[0]
        assert "Synthetic Person" in shown  # what the recipient would see
        assert "CANARY-CONDITION" not in shown  # a diagnosis never goes to reception
        assert "Health: the whole section" in shown or "health: the whole section" in shown
        assert logged(host, "referral_sealed") == []  # nothing sent by a preview
        sent = worker.post(f"/staff/cases/{case_id}/referrals/new", data={**form, "action": "send"})
        assert sent.status_code == 303
        assert len(logged(host, "referral_sealed")) == 1
        pair.deliver(host)

        officer = staff_signed_in(partner, StaffRole.PARTNER_OFFICER, office="partner")
        inbox = officer.get("/staff/inbox").text
        (packet,) = set(re.findall(r"/staff/inbox/([0-9a-f]{32})", inbox))
        opened = officer.get(f"/staff/inbox/{packet}")
        assert opened.status_code == 200
        assert "Synthetic Person" in opened.text
        assert len(logged(partner, "opened")) == 1
        answered = officer.post(
            f"/staff/inbox/{packet}/reply",
            data={"csrf": csrf_of(opened.text), "reply.kind": "accepted"},
        )
        assert answered.status_code == 303
        pair.deliver(partner)

        case_page = worker.get(f"/staff/cases/{case_id}").text
        assert "answer from the partner" in case_page
        assert "accepted" in case_page

    def test_a_form_with_mistakes_keeps_what_was_typed_and_says_what_is_wrong(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        worker = staff_signed_in(host, StaffRole.CASEWORKER)
        page = worker.get("/staff/cases/new").text

        response = worker.post(
            "/staff/cases/new",
            data={"csrf": csrf_of(page), "given_name": "Kept-Name", "nationality": "XX"},
        )

        assert response.status_code == 422
        assert 'value="Kept-Name"' in response.text
        assert 'id="family_name-problem"' in response.text
        assert "Nothing was saved" in response.text
        assert logged(host, "case_created") == []

    def test_a_case_of_another_office_is_not_found(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        mine = staff_signed_in(host, StaffRole.CASEWORKER, office="office-a")
        theirs = staff_signed_in(host, StaffRole.CASEWORKER, user="user-2", office="office-b")
        case_id = new_case(mine)

        for path in ("", "/consents/new", "/referrals/new"):
            response = theirs.get(f"/staff/cases/{case_id}{path}")
            assert response.status_code == 404, path
            assert "Synthetic" not in response.text
        assert case_id not in theirs.get("/staff/cases").text

    def test_a_partner_officer_cannot_use_the_caseworkers_pages(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        officer = staff_signed_in(host, StaffRole.PARTNER_OFFICER)

        response = officer.get("/staff/cases")

        assert response.status_code == 403
        assert [e.outcome for e in logged(host, "access_denied")] == ["wrong_role"]

    def test_a_card_is_issued_and_printed(self, pair: TestFederation, host: TestNode) -> None:
        worker = staff_signed_in(host, StaffRole.CASEWORKER)
        case_id = new_case(worker)
        page = worker.get(f"/staff/cases/{case_id}").text

        card = worker.post(
            f"/staff/cases/{case_id}/card", data={"csrf": csrf_of(page), "language": "ar"}
        )

        assert card.status_code == 201
        assert '<html lang="ar" dir="rtl">' in card.text
        assert card.headers["cache-control"] == "no-store"
        assert len(logged(host, "card_issued")) == 1


class TestPartner:
    def test_a_referral_of_another_partner_is_not_found(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = flows.referral(host, partner.node_id)
        pair.deliver(host)
        other = pair.add_node("origin-reception-2", partner.roles, "SN")
        pair.publish()
        officer = staff_signed_in(other, StaffRole.PARTNER_OFFICER, office="partner")

        response = officer.get(f"/staff/inbox/{sent['packet_id']}")

        assert response.status_code == 404
        assert sent["packet_id"] not in officer.get("/staff/inbox").text
