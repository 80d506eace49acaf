"""The person's portal through the real app: access cards, signing in (throttled, logged),
sessions, what one person sees (their own data and nothing of anyone else), the copy of their
data with proofs, withdrawal reaching the recipient, correction requests, headers and languages.

Time moves by the fake clock. Every sign-in verifies an argon2id hash (about a fifth of a second),
so the tests sign in as few times as they can.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from pydantic import ValidationError
from sqlalchemy import select

from gateway.exchange.inbox.models import ReceivedSectionRow
from gateway.kit.config import Settings
from gateway.kit.node import Node
from gateway.records.accesslog.models import AccessEventRow
from gateway.records.accesslog.tree import AccessLogTree
from gateway.records.consents.models import WithdrawalRow
from gateway.records.person_access import cards
from gateway.records.person_access.models import (
    AccessCardRow,
    CorrectionRequestRow,
    PortalSessionRow,
    SignInThrottleRow,
)
from gateway.surfaces.portal.card_print import qr_svg, sign_in_address
from gateway.surfaces.portal.i18n import translations
from partners.auditlog import entry_is_in, verify_checkpoint
from schemas.api import CaseCreate
from schemas.audit import PersonExport
from schemas.common import PartnerRole, StaffRole
from tests.support import flows
from tests.support.federation import TestFederation, TestNode, inbox_url
from tests.support.nodes import database_text
from tests.support.portal import (
    csrf_of,
    form_token_of,
    issue_card,
    portal_client,
    sign_in,
)

SIGN_IN = "/portal/"
HOME = "/portal/home"
LOCKED = (
    "Too many wrong tries. Wait 15 minutes and try again, or ask the office that gave you the card."
)
REFUSED = "The reference or the code is not right. Check the card and try again."


# -- helpers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """A case with a consent for the partner and a referral sent to it."""

    given: str
    family: str
    canary: str
    case_id: str
    consent_id: str
    referral: dict[str, Any]

    @property
    def packet_id(self) -> str:
        return str(self.referral["packet_id"])

    def traces(self) -> list[str]:
        """What of this person must never reach anyone else's pages."""
        return [
            self.given,
            self.family,
            self.canary,
            self.case_id,
            self.consent_id,
            self.packet_id,
        ]


def make_person(host: TestNode, partner: TestNode, given: str, family: str) -> Person:
    case = flows.create_case(host, given_name=given, family_name=family)
    consent = flows.record_consent(host, case["id"], partner.node_id)
    canary = f"CANARY-{family}-wheelchair"
    body = flows.content()
    body["travel"]["traveller_name"] = f"{given} {family}"
    body["medical"]["mobility_needs_on_arrival"] = canary
    response = flows.post_referral(host, case["id"], partner.node_id, body=body)
    assert response.status_code == 201, response.text
    return Person(given, family, canary, case["id"], consent["id"], dict(response.json()))


def signed_in(host: TestNode, card: dict[str, Any]) -> TestClient:
    browser = portal_client(host)
    response = sign_in(browser, card["reference"], card["code"])
    assert response.status_code == 303, response.text
    assert response.headers["location"] == HOME
    return browser


def home(browser: TestClient) -> str:
    response: httpx.Response = browser.get(HOME)
    assert response.status_code == 200, response.text
    return response.text


def gateway_node(host: TestNode) -> Node:
    found: Node = host.client.app.state.node  # type: ignore[attr-defined]
    return found


def consents(host: TestNode, case_id: str) -> list[dict[str, Any]]:
    response = host.client.get(f"/api/v1/cases/{case_id}/consents", headers=host.auth())
    assert response.status_code == 200, response.text
    return list(response.json())


def corrections(host: TestNode, case_id: str) -> list[dict[str, Any]]:
    response = host.client.get(f"/api/v1/cases/{case_id}/corrections", headers=host.auth())
    assert response.status_code == 200, response.text
    return list(response.json())


def events(host: TestNode, action: str) -> list[AccessEventRow]:
    with host.sessions() as session:
        return list(
            session.scalars(
                select(AccessEventRow)
                .where(AccessEventRow.action == action)
                .order_by(AccessEventRow.seq)
            ).all()
        )


def denials(host: TestNode) -> list[tuple[str, str | None, str]]:
    """Each access_denied entry as (outcome, subject, actor), in order."""
    return [(e.outcome, e.subject, e.actor) for e in events(host, "access_denied")]


def actor(card: dict[str, Any]) -> str:
    return f"person:{cards.normalise(card['reference'])}"


def text_of(message: str, language: str = "en") -> str:
    """A message as a page in ``language`` shows it (translated if the catalogue has it)."""
    return str(escape(translations(language).gettext(message)))


def withdraw_forms(page: str) -> list[str]:
    return re.findall(r'name="consent" value="([0-9a-f]+)"', page)


def links(page: str) -> list[str]:
    return re.findall(r'(?:href|action|src)="([^"]*)"', page)


def attempt(browser: TestClient, reference: str, code: str) -> httpx.Response:
    """One sign-in try, with the form token the browser already holds (no page load)."""
    token = browser.cookies.get("avrr_form") or form_token_of(browser.get(SIGN_IN).text)
    response: httpx.Response = browser.post(
        "/portal/sign-in", data={"reference": reference, "code": code, "form_token": token}
    )
    return response


def wrong(code: str) -> str:
    """A code of the right shape that is not ``code``."""
    letters = cards.normalise(code)
    return ("A" if letters[0] != "A" else "B") + letters[1:]


def place(leaf_index: int | None) -> int:
    """A log entry's place, -1 while the sequencer has not placed it (for sorting)."""
    return -1 if leaf_index is None else leaf_index


def no_session_rows(host: TestNode) -> bool:
    with host.sessions() as session:
        return not session.scalars(select(PortalSessionRow)).all()


@pytest.fixture
def person(pair: TestFederation, host: TestNode, partner: TestNode) -> Person:
    return make_person(host, partner, "Amadou", "Aleph-Canary")


@pytest.fixture
def card(host: TestNode, person: Person) -> dict[str, Any]:
    return issue_card(host, person.case_id)


# -- isolation ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TwoPeople:
    a: Person
    b: Person
    browser_a: TestClient
    browser_b: TestClient


@pytest.fixture
def two_people(pair: TestFederation, host: TestNode, partner: TestNode) -> TwoPeople:
    a = make_person(host, partner, "Amadou", "Aleph-Canary")
    b = make_person(host, partner, "Binta", "Bet-Canary")
    pair.deliver(host)
    return TwoPeople(
        a,
        b,
        signed_in(host, issue_card(host, a.case_id)),
        signed_in(host, issue_card(host, b.case_id)),
    )


class TestIsolation:
    def test_a_persons_pages_show_their_data_and_nothing_of_anyone_else(
        self, host: TestNode, two_people: TwoPeople
    ) -> None:
        a, b = two_people.a, two_people.b
        pages = {
            "home": home(two_people.browser_a),
            "export.json": two_people.browser_a.get("/portal/export.json").text,
            "export.html": two_people.browser_a.get("/portal/export.html").text,
        }
        for name, page in pages.items():
            for trace in (a.given, a.family, a.canary):
                assert trace in page, (name, trace)
            for trace in b.traces():
                assert trace not in page, (name, trace)
        # And the other way round, from B's own session.
        page_b = home(two_people.browser_b)
        assert b.given in page_b
        assert not [t for t in a.traces() if t in page_b]

    def test_a_receipt_of_another_persons_consent_is_not_found(
        self, host: TestNode, two_people: TwoPeople
    ) -> None:
        a, b = two_people.a, two_people.b
        own = two_people.browser_a.get(f"/portal/consents/{a.consent_id}/receipt")
        assert own.status_code == 200
        assert a.consent_id in own.text

        other = two_people.browser_a.get(f"/portal/consents/{b.consent_id}/receipt")
        assert other.status_code == 404
        assert "text/html" in other.headers["content-type"]
        assert text_of("Not found") in other.text
        assert not [t for t in b.traces() if t in other.text]
        receipts = events(host, "consent_receipt_issued")
        assert [(e.subject, e.outcome) for e in receipts] == [(a.case_id, "ok")]

    def test_withdrawing_another_persons_consent_changes_nothing(
        self, host: TestNode, two_people: TwoPeople
    ) -> None:
        a, b = two_people.a, two_people.b
        before_a, before_b = consents(host, a.case_id), consents(host, b.case_id)
        page = home(two_people.browser_a)

        response = two_people.browser_a.post(
            "/portal/withdraw", data={"csrf": csrf_of(page), "consent": b.consent_id}
        )
        assert response.status_code == 404
        assert not [t for t in b.traces() if t in response.text]
        assert consents(host, b.case_id) == before_b
        assert consents(host, a.case_id) == before_a
        assert events(host, "consent_withdrawn") == []
        with host.sessions() as session:
            assert session.scalars(select(WithdrawalRow)).all() == []
        # A's own page is as it was: A's consent can still be withdrawn there.
        assert withdraw_forms(home(two_people.browser_a)) == [a.consent_id]

    def test_a_correction_goes_to_the_persons_own_case_only(
        self, host: TestNode, two_people: TwoPeople
    ) -> None:
        a, b = two_people.a, two_people.b
        csrf_a, csrf_b = csrf_of(home(two_people.browser_a)), csrf_of(home(two_people.browser_b))
        assert csrf_a != csrf_b
        # B's token is no good in A's session.
        refused = two_people.browser_a.post(
            "/portal/corrections", data={"csrf": csrf_b, "text": "from B's token"}
        )
        assert (refused.status_code, refused.headers["location"]) == (303, SIGN_IN)

        sent = two_people.browser_a.post(
            "/portal/corrections", data={"csrf": csrf_a, "text": "My family name is spelt Alef"}
        )
        assert sent.status_code == 303
        assert [c["text"] for c in corrections(host, a.case_id)] == ["My family name is spelt Alef"]
        assert corrections(host, b.case_id) == []
        assert [e.subject for e in events(host, "correction_requested")] == [a.case_id]

    def test_without_a_session_every_route_sends_to_sign_in_and_shows_nothing(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        a = make_person(host, partner, "Amadou", "Aleph-Canary")
        before = consents(host, a.case_id)
        browser = portal_client(host)
        calls = [
            ("GET", HOME, None),
            ("GET", "/portal/export.json", None),
            ("GET", "/portal/export.html", None),
            ("GET", f"/portal/consents/{a.consent_id}/receipt", None),
            ("POST", "/portal/withdraw", {"csrf": "x", "consent": a.consent_id}),
            ("POST", "/portal/corrections", {"csrf": "x", "text": "anything"}),
            ("POST", "/portal/sign-out", {"csrf": "x"}),
        ]
        for method, path, data in calls:
            response = browser.request(method, path, data=data)
            assert response.status_code == 303, (path, response.status_code)
            assert response.headers["location"] == SIGN_IN, path
            assert response.content == b"", path
        chosen = browser.post("/portal/language", data={"csrf": "x", "language": "fr"})
        assert (chosen.status_code, chosen.headers["location"]) == (303, "/portal/?lang=fr")
        assert consents(host, a.case_id) == before
        assert corrections(host, a.case_id) == []
        assert events(host, "exported") == []
        assert events(host, "portal_viewed") == []
        assert events(host, "consent_receipt_issued") == []


# -- the copy of the person's data --------------------------------------------------------------


class TestExport:
    def test_the_copy_holds_everything_about_the_person_with_proofs_and_nothing_else(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        a = make_person(host, partner, "Amadou", "Aleph-Canary")
        b = make_person(host, partner, "Binta", "Bet-Canary")
        pair.deliver(host)
        # A limits the consent (a second version; the medical part is taken back from the partner).
        narrowed = host.client.post(
            f"/api/v1/cases/{a.case_id}/consents/{a.consent_id}/narrow",
            json={"sections": ["arrival", "reintegration", "travel"]},
            headers=host.auth(),
        )
        assert narrowed.status_code == 201, narrowed.text
        card = issue_card(host, a.case_id)
        browser = signed_in(host, card)
        asked = browser.post(
            "/portal/corrections",
            data={"csrf": csrf_of(home(browser)), "text": "I was born on 2 January"},
        )
        assert asked.status_code == 303
        expected_consents = consents(host, a.case_id)
        expected_corrections = corrections(host, a.case_id)
        assert AccessLogTree(node=gateway_node(host), sessions=host.sessions).run_once().checkpoint

        response = browser.get("/portal/export.json")
        assert response.status_code == 200
        assert response.headers["content-disposition"].startswith("attachment")
        for trace in b.traces():
            assert trace not in response.text, trace
        data = PersonExport.model_validate(response.json())

        assert data.case_reference == a.case_id
        assert set(data.details) == set(CaseCreate.model_fields)
        assert data.details == {
            **flows.CASE,
            "given_name": a.given,
            "family_name": a.family,
            "age_uncertain": False,
            "sex": "not_recorded",
        }
        # The one referral: to whom, which parts, and exactly what is still held of it.
        (packet,) = data.shared
        assert (packet.packet_id, packet.recipient) == (a.packet_id, partner.node_id)
        assert packet.sections_sent == sorted(a.referral["sections_sent"])
        assert packet.withdrawn_sections == ["medical"]
        withheld = a.referral["withheld"]
        sent = flows.content()
        sent["travel"]["traveller_name"] = f"{a.given} {a.family}"
        assert packet.content == {
            section: {k: v for k, v in sent[section].items() if k not in withheld.get(section, [])}
            for section in a.referral["sections_sent"]
            if section != "medical"
        }
        assert a.canary not in response.text  # withdrawn, so no longer held
        # Every consent with its whole history, as the caseworker sees it.
        assert data.consents == expected_consents
        assert [len(c["history"]) for c in expected_consents] == [2]
        assert [c.model_dump(mode="json") for c in data.corrections] == expected_corrections
        assert [c.text for c in data.corrections] == ["I was born on 2 January"]

        # Every entry of the log about A, no other, each proven in the signed log but the
        # export's own entry, written after the checkpoint.
        with host.sessions() as session:
            rows = session.scalars(
                select(AccessEventRow).where(AccessEventRow.subject == a.case_id)
            ).all()
            logged = sorted(
                (place(r.leaf_index), r.action, r.actor, r.outcome, r.packet_id or "", r.sections)
                for r in rows
            )
        shown = sorted(
            (place(e.index), e.action, e.actor, e.outcome, e.packet_id or "", e.sections)
            for e in (item.entry for item in data.history.entries)
        )
        assert shown == logged
        assert {e.entry.subject for e in data.history.entries} == {a.case_id}
        assert data.history.checkpoint is not None
        checkpoint = verify_checkpoint(
            data.history.checkpoint, gateway_node(host).directory(), host.node_id
        )
        waiting = [e.entry.action for e in data.history.entries if e.inclusion_proof is None]
        assert waiting == ["exported"]
        for item in data.history.entries:
            if item.inclusion_proof is not None:
                assert entry_is_in(item.entry, item.inclusion_proof, checkpoint), item.entry

        (exported,) = events(host, "exported")
        assert (exported.subject, exported.outcome, exported.actor) == (
            a.case_id,
            "person_export",
            actor(card),
        )

    def test_the_printable_copy_is_logged_too(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        a = make_person(host, partner, "Amadou", "Aleph-Canary")
        b = make_person(host, partner, "Binta", "Bet-Canary")
        card = issue_card(host, a.case_id)
        browser = signed_in(host, card)
        page = browser.get("/portal/export.html")
        assert page.status_code == 200
        for trace in (a.given, a.family, a.case_id, a.canary):
            assert trace in page.text
        assert not [t for t in b.traces() if t in page.text]
        assert [(e.subject, e.outcome, e.actor) for e in events(host, "exported")] == [
            (a.case_id, "person_export", actor(card))
        ]


# -- withdrawal ---------------------------------------------------------------------------------


class TestWithdrawal:
    def test_withdrawing_in_the_portal_makes_the_recipient_delete(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        a = make_person(host, partner, "Amadou", "Aleph-Canary")
        assert pair.deliver(host).delivered == 1
        officer = partner.auth(StaffRole.PARTNER_OFFICER)
        assert partner.client.get(f"/api/v1/received/{a.packet_id}", headers=officer).is_success
        card = issue_card(host, a.case_id)
        browser = signed_in(host, card)
        page = home(browser)
        assert withdraw_forms(page) == [a.consent_id]

        asked = browser.post(
            "/portal/withdraw", data={"csrf": csrf_of(page), "consent": a.consent_id}
        )
        assert asked.status_code == 200
        assert events(host, "consent_withdrawn") == []  # nothing happens before confirming
        assert partner.organisation in asked.text  # who will be told to delete, by name
        response = browser.post(
            "/portal/withdraw",
            data={"csrf": csrf_of(asked.text), "consent": a.consent_id, "confirmed": "yes"},
        )
        assert (response.status_code, response.headers["location"]) == (
            303,
            "/portal/home?notice=withdrawn",
        )
        with host.sessions() as session:
            (withdrawal,) = session.scalars(select(WithdrawalRow)).all()
            assert withdrawal.recorded_by == actor(card)
            assert withdrawal.case_id == a.case_id
            assert withdrawal.consents_changed == [a.consent_id]
        listed = host.client.get(f"/api/v1/cases/{a.case_id}/withdrawals", headers=host.auth())
        (revocation,) = listed.json()[0]["revocations"]
        assert (revocation["recipient"], revocation["status"]) == (partner.node_id, "pending")
        assert revocation["packets"] == [a.packet_id]
        (consent,) = consents(host, a.case_id)
        assert consent["status"] == "withdrawn"
        assert consent["history"][-1]["recorded_by"] == actor(card)
        assert [e.actor for e in events(host, "consent_withdrawn")] == [actor(card)]
        after = browser.get("/portal/home?notice=withdrawn").text
        assert withdraw_forms(after) == []

        pair.deliver(host)
        gone = partner.client.get(f"/api/v1/received/{a.packet_id}", headers=officer)
        assert gone.status_code == 410
        with partner.sessions() as session:
            held = session.scalars(
                select(ReceivedSectionRow).where(ReceivedSectionRow.packet_id == a.packet_id)
            ).all()
        assert held == []

    def test_withdrawing_only_some_parts_deletes_only_those_at_the_recipient(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        a = make_person(host, partner, "Amadou", "Aleph-Canary")
        assert pair.deliver(host).delivered == 1
        card = issue_card(host, a.case_id)
        browser = signed_in(host, card)
        page = home(browser)

        response = browser.post(
            "/portal/withdraw",
            data={
                "csrf": csrf_of(page),
                "consent": a.consent_id,
                "sections": ["medical"],
                "confirmed": "yes",
            },
        )

        assert response.status_code == 303
        (consent,) = consents(host, a.case_id)
        assert consent["status"] == "narrowed"
        assert "medical" not in consent["sections"]
        assert "travel" in consent["sections"]
        assert withdraw_forms(home(browser)) == [a.consent_id]  # the rest can still be withdrawn
        pair.deliver(host)
        officer = partner.auth(StaffRole.PARTNER_OFFICER)
        held = partner.client.get(f"/api/v1/received/{a.packet_id}", headers=officer).json()
        assert held["withdrawn_sections"] == ["medical"]
        assert "medical" not in held["content"]
        assert "travel" in held["content"]

    def test_withdrawing_one_consent_leaves_the_persons_other_consents(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        case = flows.create_case(host)
        named = flows.record_consent(host, case["id"], partner.node_id)
        by_role = host.client.post(
            f"/api/v1/cases/{case['id']}/consents",
            json={
                "purpose": "arrival_reception",
                "recipient_role": "reception_partner",
                "sections": ["arrival"],
                "method": "signed_form",
                "language": "fr",
                "informed_of_risks": True,
            },
            headers=host.auth(),
        )
        assert by_role.status_code == 201, by_role.text
        browser = signed_in(host, issue_card(host, case["id"]))
        response = browser.post(
            "/portal/withdraw",
            data={
                "csrf": csrf_of(home(browser)),
                "consent": by_role.json()["id"],
                "confirmed": "yes",
            },
        )
        assert response.status_code == 303
        statuses = {c["id"]: c["status"] for c in consents(host, case["id"])}
        assert statuses == {named["id"]: "active", by_role.json()["id"]: "withdrawn"}


# -- access cards -------------------------------------------------------------------------------


class TestCards:
    def test_the_code_is_shown_once_and_kept_only_as_an_argon2id_hash(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        case = flows.create_case(host)
        card = issue_card(host, case["id"])
        again = host.client.get(f"/api/v1/cases/{case['id']}/cards", headers=host.auth())
        assert again.status_code == 405
        code = cards.normalise(card["code"])
        assert code not in cards.normalise(again.text)
        with host.sessions() as session:
            row = session.get(AccessCardRow, cards.normalise(card["reference"]))
            assert row is not None
            assert row.code_hash.startswith("$argon2id$")
            assert row.case_id == case["id"]
        stored = database_text(host.engine)
        assert code.encode() not in stored
        assert card["code"].encode() not in stored

    def test_the_code_has_more_than_a_hundred_bits(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        case = flows.create_case(host)
        codes = [cards.normalise(issue_card(host, case["id"])["code"]) for _ in range(2)]
        assert codes[0] != codes[1]
        alphabet = set(cards.ALPHABET)
        assert not alphabet & set("0O1IL")  # nothing to misread on paper
        for code in codes:
            assert set(code) <= alphabet
            assert len(code) * math.log2(len(alphabet)) >= 100

    def test_a_new_card_stops_the_old_one(self, pair: TestFederation, host: TestNode) -> None:
        case = flows.create_case(host)
        old = issue_card(host, case["id"])
        new = issue_card(host, case["id"], "fr")
        browser = portal_client(host)
        assert sign_in(browser, old["reference"], old["code"]).status_code == 401
        # Typed as people type: lower case, spaces instead of dashes.
        typed = new["code"].lower().replace("-", " ")
        assert sign_in(browser, new["reference"].lower(), typed).status_code == 303
        assert [o for o, _, _ in denials(host)] == ["card_revoked"]

    def test_revoking_stops_every_card_of_the_person(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        case = flows.create_case(host)
        card = issue_card(host, case["id"])
        revoked = host.client.post(f"/api/v1/cases/{case['id']}/cards/revoke", headers=host.auth())
        assert revoked.status_code == 200
        assert revoked.json() == {"revoked": 1}
        assert sign_in(portal_client(host), card["reference"], card["code"]).status_code == 401
        assert denials(host) == [("card_revoked", case["id"], actor(card))]
        assert [e.subject for e in events(host, "card_revoked")] == [case["id"]]

    def test_revoking_the_card_ends_the_sessions_opened_with_it(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        case = flows.create_case(host)
        browser = signed_in(host, issue_card(host, case["id"]))
        home(browser)
        revoked = host.client.post(f"/api/v1/cases/{case['id']}/cards/revoke", headers=host.auth())
        assert revoked.json() == {"revoked": 1}
        response = browser.get(HOME)
        assert (response.status_code, response.headers.get("location")) == (303, SIGN_IN)

    def test_only_the_office_of_the_case_issues_or_revokes_cards(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        case = flows.create_case(host)
        path = f"/api/v1/cases/{case['id']}/cards"
        other = host.auth(office="office-b", user="user-2")
        dpo = host.auth(StaffRole.DPO, user="dpo-1")
        assert host.client.post(path, json={"language": "en"}, headers=other).status_code == 404
        assert host.client.post(f"{path}/revoke", headers=other).status_code == 404
        assert host.client.post(path, json={"language": "en"}, headers=dpo).status_code == 403
        assert host.client.post(f"{path}/revoke", headers=dpo).status_code == 403
        with host.sessions() as session:
            assert session.scalars(select(AccessCardRow)).all() == []
        assert events(host, "card_issued") == []
        assert [o for o, _, _ in denials(host)] == [
            "case_not_in_office",
            "case_not_in_office",
            "wrong_role",
            "wrong_role",
        ]

    def test_the_printable_card_has_a_qr_code_is_not_cached_and_speaks_the_cards_language(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        case = flows.create_case(host)
        response = host.client.post(
            f"/api/v1/cases/{case['id']}/cards?format=html",
            json={"language": "ar"},
            headers=host.auth(),
        )
        assert response.is_success
        assert response.headers["content-type"].startswith("text/html")
        assert response.headers["cache-control"] == "no-store"
        page = response.text
        assert '<html lang="ar" dir="rtl">' in page
        assert text_of("Your access card", "ar") in page
        assert re.search(r"<svg[^>]*>.*<path[^>]*d=\"M", page, re.S)
        assert "<script" not in page.lower()
        assert not [u for u in links(page) if u.startswith(("http:", "https:", "//"))]
        # The code printed is the card's, in groups of four: it signs in, once.
        printed = re.findall(r'<bdi dir="ltr" class="code" translate="no">(.*?)</bdi>', page)
        reference = [
            " ".join(re.findall(r'<span class="group">([A-Z0-9]{1,4})</span>', p)) for p in printed
        ]
        assert len(reference) == 2
        assert all(len(group) <= 4 for value in reference for group in value.split())
        # The portal's address is printed, and the QR code opens it with the reference only.
        assert f"{inbox_url(host.node_id)}/portal/" in page
        address = sign_in_address(inbox_url(host.node_id), cards.normalise(reference[0]))
        assert cards.normalise(reference[1]) not in address
        assert qr_svg(address) in page
        browser = portal_client(host)
        assert sign_in(browser, reference[0], reference[1]).status_code == 303
        with host.sessions() as session:
            row = session.get(AccessCardRow, cards.normalise(reference[0]))
            assert row is not None
            assert row.language == "ar"


# -- throttling and lockout ---------------------------------------------------------------------


class TestThrottling:
    def test_five_wrong_codes_lock_the_card_for_fifteen_minutes(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        case = flows.create_case(host)
        card = issue_card(host, case["id"])
        browser = portal_client(host)
        for _ in range(5):
            response = attempt(browser, card["reference"], wrong(card["code"]))
            assert response.status_code == 401
            assert text_of(REFUSED) in response.text
        locked = attempt(browser, card["reference"], card["code"])
        assert locked.status_code == 429
        assert text_of(LOCKED) in locked.text
        assert "set-cookie" not in locked.headers
        host.clock.advance(minutes=14, seconds=59)
        assert attempt(browser, card["reference"], card["code"]).status_code == 429

        host.clock.advance(seconds=1)
        assert attempt(browser, card["reference"], card["code"]).status_code == 303
        who = actor(card)
        assert denials(host) == [
            *[("wrong_code", case["id"], who)] * 5,
            *[("card_locked", case["id"], who)] * 2,
        ]
        assert [e.actor for e in events(host, "signed_in")] == [who]

    def test_each_further_lock_lasts_twice_as_long(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        case = flows.create_case(host)
        card = issue_card(host, case["id"])
        browser = portal_client(host)
        for _ in range(5):
            assert attempt(browser, card["reference"], wrong(card["code"])).status_code == 401
        host.clock.advance(minutes=15)
        for _ in range(5):
            assert attempt(browser, card["reference"], wrong(card["code"])).status_code == 401
        host.clock.advance(minutes=29, seconds=59)
        assert attempt(browser, card["reference"], card["code"]).status_code == 429

        host.clock.advance(seconds=1)
        assert attempt(browser, card["reference"], card["code"]).status_code == 303
        assert [o for o, _, _ in denials(host)] == [
            *["wrong_code"] * 10,
            "card_locked",
        ]

    def test_the_card_still_locks_after_many_locks(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        case = flows.create_case(host)
        card = issue_card(host, case["id"])
        # 37 locks already served (an attacker who kept at it for weeks).
        with host.sessions.begin() as session:
            row = session.get(AccessCardRow, cards.normalise(card["reference"]))
            assert row is not None
            row.failed_attempts = 189
        browser = portal_client(host)
        assert attempt(browser, card["reference"], wrong(card["code"])).status_code == 401
        assert attempt(browser, card["reference"], card["code"]).status_code == 429
        host.clock.advance(days=1)
        assert attempt(browser, card["reference"], card["code"]).status_code == 303

    def test_wrong_codes_arriving_at_the_same_instant_all_count(
        self, pair: TestFederation, host: TestNode, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Two guesses in parallel: the second is counted while the first is being checked.
        # Both must count, so that the fifth wrong code locks the card however they interleave;
        # both come from a new address too, whose throttle row neither may fail to create.
        case = flows.create_case(host)
        card = issue_card(host, case["id"])
        node = gateway_node(host)
        with host.sessions.begin() as session:
            row = session.get(AccessCardRow, cards.normalise(card["reference"]))
            assert row is not None
            row.failed_attempts = 3
        real_matches = cards._matches
        racing: list[cards.Attempt] = []
        raced: list[bool] = []

        def matches_while_another_guess_lands(code_hash: str, code: str) -> bool:
            if not raced:  # only the first guess is overtaken, once
                raced.append(True)
                racing.append(guess())
            return real_matches(code_hash, code)

        def guess() -> cards.Attempt:
            with host.sessions.begin() as session:
                return cards.sign_in(
                    session,
                    node,
                    reference=card["reference"],
                    code=wrong(card["code"]),
                    address="198.51.100.9",
                    now=host.clock.now(),
                )

        monkeypatch.setattr(cards, "_matches", matches_while_another_guess_lands)
        first = guess()
        assert racing[0].outcome is cards.SignIn.REFUSED
        assert first.outcome is cards.SignIn.REFUSED
        with host.sessions() as session:
            row = session.get(AccessCardRow, cards.normalise(card["reference"]))
            assert row is not None
            assert row.failed_attempts == 5
            assert row.locked_until is not None
            throttle = session.scalars(select(SignInThrottleRow)).one()
            assert throttle.failures == 2

    def test_more_than_twenty_failures_lock_the_address_out_whatever_the_card(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        first, second = flows.create_case(host), flows.create_case(host)
        card, good = issue_card(host, first["id"]), issue_card(host, second["id"])
        browser = portal_client(host)
        for _ in range(5):
            assert attempt(browser, card["reference"], wrong(card["code"])).status_code == 401
        for _ in range(15):  # the card is locked now; trying it still counts for the address
            assert attempt(browser, card["reference"], card["code"]).status_code == 429
        unknown = attempt(browser, "ZZZZ-ZZZZ-ZZ", good["code"])  # the 21st failure
        assert unknown.status_code == 429
        assert text_of(LOCKED) in unknown.text

        refused = attempt(browser, good["reference"], good["code"])
        assert refused.status_code == 429
        assert text_of(LOCKED) in refused.text
        assert "set-cookie" not in refused.headers
        # Another address is not locked out.
        elsewhere = portal_client(host, address="192.0.2.7")
        assert sign_in(elsewhere, good["reference"], good["code"]).status_code == 303
        host.clock.advance(minutes=14, seconds=59)
        assert attempt(browser, good["reference"], good["code"]).status_code == 429

        host.clock.advance(seconds=1)
        assert attempt(browser, good["reference"], good["code"]).status_code == 303
        assert denials(host) == [
            *[("wrong_code", first["id"], actor(card))] * 5,
            *[("card_locked", first["id"], actor(card))] * 15,
            ("card_unknown", None, "person:unknown"),
            *[("client_locked_out", None, "person:unknown")] * 2,
        ]
        assert [e.actor for e in events(host, "signed_in")] == [actor(good)] * 2

    @pytest.mark.parametrize(
        ("trusted", "locked"),
        [([], True), (["127.0.0.1"], False), (["192.0.2.50"], True)],
        ids=["no-proxy-named", "this-proxy-named", "another-proxy-named"],
    )
    def test_a_forwarded_address_counts_only_from_a_proxy_the_node_names(
        self, federation: TestFederation, trusted: list[str], locked: bool
    ) -> None:
        """A client on the proxy's machine (loopback) rotating X-Forwarded-For escapes the
        per-address lockout only if the node was told to believe loopback."""
        node = federation.add_node(
            "host-mission", [PartnerRole.HOST_MISSION], "DE", trusted_proxies=trusted
        )
        federation.add_node("origin-reception", [PartnerRole.RECEPTION_PARTNER], "SN")
        federation.publish()
        good = issue_card(node, flows.create_case(node)["id"])
        browser = portal_client(node, address="127.0.0.1")
        for n in range(cards.CLIENT_FAILURES):
            browser.headers["X-Forwarded-For"] = f"203.0.113.{n + 1}"
            assert attempt(browser, "ZZZZ-ZZZZ-ZZ", good["code"]).status_code == 401
        browser.headers["X-Forwarded-For"] = "203.0.113.200"
        last = attempt(browser, "ZZZZ-ZZZZ-ZZ", good["code"])
        assert last.status_code == (429 if locked else 401)

    def test_a_proxy_setting_that_is_not_an_address_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(ValidationError, match="not an IP address or network"):
            Settings(home=tmp_path, node_id="n", trusted_proxies=["proxy.example.org"])
        assert Settings(home=tmp_path, node_id="n", trusted_proxies=["10.0.0.0/8", "*"])

    def test_failures_straddling_two_windows_still_lock_the_address(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        first, second = flows.create_case(host), flows.create_case(host)
        card, good = issue_card(host, first["id"]), issue_card(host, second["id"])
        browser = portal_client(host)
        assert attempt(browser, "ZZZZ-ZZZZ-ZZ", card["code"]).status_code == 401
        host.clock.advance(minutes=14)
        for _ in range(5):
            attempt(browser, card["reference"], wrong(card["code"]))
        for _ in range(14):
            attempt(browser, card["reference"], card["code"])  # locked: cheap, but counted
        host.clock.advance(minutes=1, seconds=30)
        for _ in range(20):
            attempt(browser, card["reference"], card["code"])
        # 39 failures in the last 90 seconds: this address must be locked out.
        assert attempt(browser, good["reference"], good["code"]).status_code == 429

    def test_an_unknown_a_revoked_and_a_wrong_card_get_the_same_answer(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        case = flows.create_case(host)
        old = issue_card(host, case["id"])
        new = issue_card(host, case["id"])
        browser = portal_client(host)
        answers = [
            attempt(browser, "ZZZZ-ZZZZ-ZZ", new["code"]),
            attempt(browser, old["reference"], old["code"]),
            attempt(browser, new["reference"], wrong(new["code"])),
        ]
        assert [a.status_code for a in answers] == [401, 401, 401]
        assert answers[0].text == answers[1].text == answers[2].text
        assert text_of(REFUSED) in answers[0].text
        assert denials(host) == [
            ("card_unknown", None, "person:unknown"),
            ("card_revoked", case["id"], actor(old)),
            ("wrong_code", case["id"], actor(new)),
        ]


# -- sessions and forms -------------------------------------------------------------------------


class TestSessions:
    def test_the_cookies_are_secure_httponly_strict_and_hold_no_stored_secret(
        self, host: TestNode, card: dict[str, Any]
    ) -> None:
        browser = portal_client(host)
        page = browser.get(SIGN_IN)
        response = sign_in(browser, card["reference"], card["code"])
        assert response.status_code == 303
        for header, name in ((page, "avrr_form"), (response, "avrr_portal")):
            cookie = header.headers["set-cookie"]
            assert cookie.startswith(f"{name}="), cookie
            attributes = {a.strip().lower() for a in cookie.split(";")[1:]}
            assert {"secure", "httponly", "samesite=strict", "path=/portal"} <= attributes
        token = browser.cookies["avrr_portal"]
        with host.sessions() as session:
            (row,) = session.scalars(select(PortalSessionRow)).all()
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token.encode() not in database_text(host.engine)

    def test_ten_idle_minutes_end_the_session(self, host: TestNode, card: dict[str, Any]) -> None:
        browser = signed_in(host, card)
        host.clock.advance(minutes=9, seconds=59)
        home(browser)  # activity: the ten minutes start again
        host.clock.advance(minutes=9, seconds=59)
        home(browser)
        host.clock.advance(minutes=10, seconds=1)
        response = browser.get(HOME)
        assert (response.status_code, response.headers["location"]) == (303, SIGN_IN)
        assert no_session_rows(host)
        host.clock.advance(seconds=1)
        assert browser.get(HOME).status_code == 303

    def test_an_hour_ends_the_session_however_active(
        self, host: TestNode, card: dict[str, Any]
    ) -> None:
        browser = signed_in(host, card)
        for _ in range(6):
            host.clock.advance(minutes=9, seconds=30)  # 57 minutes in the end
            home(browser)
        host.clock.advance(minutes=2, seconds=59)
        home(browser)
        host.clock.advance(seconds=2)
        response = browser.get(HOME)
        assert (response.status_code, response.headers["location"]) == (303, SIGN_IN)
        assert no_session_rows(host)

    def test_signing_out_ends_the_session_on_the_node(
        self, host: TestNode, card: dict[str, Any]
    ) -> None:
        browser = signed_in(host, card)
        token = browser.cookies["avrr_portal"]
        page = home(browser)
        ignored = browser.post("/portal/sign-out", data={"csrf": "not-the-token"})
        assert ignored.status_code == 303
        home(browser)  # a forged sign-out does nothing

        out = browser.post("/portal/sign-out", data={"csrf": csrf_of(page)})
        assert (out.status_code, out.headers["location"]) == (303, SIGN_IN)
        assert "avrr_portal=" in out.headers["set-cookie"]
        assert no_session_rows(host)
        # The old cookie, replayed, opens nothing.
        replay = portal_client(host)
        replay.cookies.set("avrr_portal", token, domain="testserver", path="/portal")
        response = replay.get(HOME)
        assert (response.status_code, response.headers["location"]) == (303, SIGN_IN)

    def test_forms_without_the_right_token_change_nothing(
        self, host: TestNode, person: Person, card: dict[str, Any]
    ) -> None:
        # Before signing in: the form token must match the browser's own cookie.
        browser = portal_client(host)
        browser.get(SIGN_IN)
        forged = browser.post(
            "/portal/sign-in",
            data={"reference": card["reference"], "code": card["code"], "form_token": "forged"},
        )
        assert forged.status_code == 400
        cookieless = portal_client(host).post(
            "/portal/sign-in",
            data={"reference": card["reference"], "code": card["code"], "form_token": "forged"},
        )
        assert cookieless.status_code == 400
        for response in (forged, cookieless):
            assert "avrr_portal" not in response.headers.get("set-cookie", "")
        assert no_session_rows(host)
        assert events(host, "signed_in") == []

        # After: every form needs the session's token.
        browser = signed_in(host, card)
        page = home(browser)
        before = consents(host, person.case_id)
        for csrf in ("wrong", ""):
            for path, data in (
                ("/portal/withdraw", {"consent": person.consent_id}),
                ("/portal/corrections", {"text": "forged request"}),
                ("/portal/language", {"language": "ar"}),
            ):
                response = browser.post(path, data={**data, "csrf": csrf})
                assert response.status_code in (303, 422), (path, response.status_code)
                if response.status_code == 303:
                    assert response.headers["location"] in (SIGN_IN, HOME)
        for path, data in (
            ("/portal/withdraw", {"consent": person.consent_id}),
            ("/portal/corrections", {"text": "forged request"}),
        ):
            assert browser.post(path, data=data).status_code == 422  # no token at all
        assert consents(host, person.case_id) == before
        assert corrections(host, person.case_id) == []
        assert '<html lang="en" dir="ltr">' in home(browser)

        # The page's own token works (so the refusals above were about the token).
        sent = browser.post(
            "/portal/corrections", data={"csrf": csrf_of(page), "text": "real request"}
        )
        assert sent.status_code == 303
        assert [c["text"] for c in corrections(host, person.case_id)] == ["real request"]


# -- headers and links --------------------------------------------------------------------------


class TestHeaders:
    def pages(self, host: TestNode, person: Person, card: dict[str, Any]) -> list[httpx.Response]:
        """Every kind of portal answer: pages, redirects, errors, the copy."""
        guest = portal_client(host)
        answers = [guest.get(SIGN_IN), guest.get("/portal/?lang=ar"), guest.get(HOME)]
        answers.append(attempt(guest, card["reference"], wrong(card["code"])))
        answers.append(
            guest.post(
                "/portal/sign-in", data={"reference": "x", "code": "y", "form_token": "forged"}
            )
        )
        browser = portal_client(host)
        answers.append(sign_in(browser, card["reference"], card["code"]))
        page = browser.get(HOME)
        csrf = csrf_of(page.text)
        answers += [
            page,
            browser.get("/portal/export.html"),
            browser.get("/portal/export.json"),
            browser.get(f"/portal/consents/{person.consent_id}/receipt"),
            browser.get(f"/portal/consents/{'0' * 32}/receipt"),
            browser.post("/portal/corrections", data={"csrf": csrf, "text": "a correction"}),
            browser.get("/portal/home?notice=correction"),
            browser.post("/portal/withdraw", data={"csrf": csrf, "consent": person.consent_id}),
            browser.get("/portal/home?notice=withdrawn"),
            browser.post("/portal/sign-out", data={"csrf": csrf}),
        ]
        return answers

    def test_every_portal_answer_carries_the_strict_headers_and_no_script(
        self, host: TestNode, person: Person, card: dict[str, Any]
    ) -> None:
        answers = self.pages(host, person, card)
        assert sorted({a.status_code for a in answers}) == [200, 303, 400, 401, 404]
        for answer in answers:
            where = f"{answer.request.method} {answer.request.url.path} {answer.status_code}"
            policy = answer.headers["content-security-policy"]
            directives = [d.strip() for d in policy.split(";")]
            assert "default-src 'none'" in directives, where
            assert not [d for d in directives if d.startswith("script-src")], where
            assert answer.headers["x-frame-options"] == "DENY", where
            assert answer.headers["referrer-policy"] == "no-referrer", where
            assert answer.headers["cache-control"] == "no-store", where
            assert "<script" not in answer.text.lower(), where

    def test_no_link_or_redirect_names_the_person_or_their_code(
        self, host: TestNode, person: Person, card: dict[str, Any]
    ) -> None:
        answers = self.pages(host, person, card)
        urls = [u for a in answers for u in links(a.text)]
        urls += [a.headers["location"] for a in answers if "location" in a.headers]
        urls += [str(a.request.url) for a in answers]
        assert any("/receipt" in u for u in urls)  # the pages were really read
        code = cards.normalise(card["code"])
        forbidden = [person.case_id, person.given, person.family, code, card["code"]]
        for url in urls:
            assert not [f for f in forbidden if f.lower() in url.lower()], url

    def test_every_page_takes_its_styles_from_the_node_or_its_policy_allows_them(
        self, host: TestNode, person: Person, card: dict[str, Any]
    ) -> None:
        for answer in self.pages(host, person, card):
            where = f"{answer.request.method} {answer.request.url.path}"
            inline = "<style" in answer.text.lower() or re.search(r"\sstyle=", answer.text)
            policy = answer.headers.get("content-security-policy", "")
            if inline:
                # Only the printable consent receipt styles itself, and its policy says so.
                assert "/receipt" in answer.request.url.path, where
                assert "style-src 'unsafe-inline'" in policy, where
            assert "script-src" not in policy, where


# -- languages ----------------------------------------------------------------------------------


class TestLanguages:
    def test_the_sign_in_page_speaks_the_browsers_or_the_chosen_language(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        browser = portal_client(host)
        english = browser.get(SIGN_IN).text
        assert '<html lang="en" dir="ltr">' in english
        french = browser.get(SIGN_IN, headers={"Accept-Language": "de-DE, fr;q=0.8, en;q=0.5"})
        assert '<html lang="fr" dir="ltr">' in french.text
        assert text_of("Sign in with your card", "fr") in french.text
        arabic = browser.get("/portal/?lang=ar", headers={"Accept-Language": "fr"}).text
        assert '<html lang="ar" dir="rtl">' in arabic
        assert text_of("Sign in with your card", "ar") in arabic
        assert 'name="language" value="ar"' in arabic  # kept through signing in

    def test_after_sign_in_the_cards_language_is_used_and_can_be_changed(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        case = flows.create_case(host)
        card = issue_card(host, case["id"], "es")
        browser = portal_client(host)
        browser.headers["Accept-Language"] = "fr"
        assert sign_in(browser, card["reference"], card["code"]).status_code == 303
        page = home(browser)
        assert '<html lang="es" dir="ltr">' in page
        assert text_of("Your data", "es") in page

        ignored = browser.post("/portal/language", data={"csrf": "wrong", "language": "ar"})
        assert ignored.status_code == 303
        assert '<html lang="es" dir="ltr">' in home(browser)
        chosen = browser.post("/portal/language", data={"csrf": csrf_of(page), "language": "ar"})
        assert (chosen.status_code, chosen.headers["location"]) == (303, HOME)
        arabic = home(browser)
        assert '<html lang="ar" dir="rtl">' in arabic
        assert text_of("Your data", "ar") in arabic


# -- correction requests ------------------------------------------------------------------------


CORRECTION = "CANARY-CORRECTION my date of birth is 1990-02-01"


def request_correction(host: TestNode, person: Person, card: dict[str, Any]) -> TestClient:
    browser = signed_in(host, card)
    sent = browser.post(
        "/portal/corrections", data={"csrf": csrf_of(home(browser)), "text": CORRECTION}
    )
    assert (sent.status_code, sent.headers["location"]) == (303, "/portal/home?notice=correction")
    return browser


def correction_statuses(page: str) -> list[str]:
    section = page.split('id="correction"', 1)[1].split('id="question"', 1)[0]
    return re.findall(r"<li>[^<:]+: ([^<]*)</li>", section)


class TestCorrections:
    def test_the_caseworker_sees_the_request_and_the_person_sees_the_answer(
        self, host: TestNode, person: Person, card: dict[str, Any]
    ) -> None:
        browser = request_correction(host, person, card)
        assert correction_statuses(home(browser)) == [text_of("waiting for an answer")]
        (request,) = corrections(host, person.case_id)
        assert (request["text"], request["status"]) == (CORRECTION, "open")
        assert [e.actor for e in events(host, "correction_requested")] == [actor(card)]

        answered = host.client.post(
            f"/api/v1/cases/{person.case_id}/corrections/{request['id']}/answer",
            json={"accepted": True},
            headers=host.auth(),
        )
        assert answered.status_code == 200, answered.text
        assert answered.json()["status"] == "accepted"
        assert correction_statuses(home(browser)) == [text_of("accepted")]
        (answer,) = events(host, "correction_answered")
        assert (answer.subject, answer.outcome, answer.actor) == (
            person.case_id,
            "accepted",
            "user-1",
        )

    def test_a_request_is_answered_once(
        self, host: TestNode, person: Person, card: dict[str, Any]
    ) -> None:
        request_correction(host, person, card)
        (request,) = corrections(host, person.case_id)
        path = f"/api/v1/cases/{person.case_id}/corrections/{request['id']}/answer"
        other = host.auth(office="office-b", user="user-2")
        assert host.client.post(path, json={"accepted": True}, headers=other).status_code == 404
        first = host.client.post(path, json={"accepted": False}, headers=host.auth())
        assert first.status_code == 200
        second = host.client.post(path, json={"accepted": True}, headers=host.auth())
        assert second.status_code == 409
        assert [c["status"] for c in corrections(host, person.case_id)] == ["rejected"]
        assert [e.outcome for e in events(host, "correction_answered")] == ["rejected"]

    def test_the_request_is_sealed_at_rest(
        self, host: TestNode, person: Person, card: dict[str, Any]
    ) -> None:
        request_correction(host, person, card)
        with host.sessions() as session:
            (row,) = session.scalars(select(CorrectionRequestRow)).all()
        assert row.case_id == person.case_id
        assert b"CANARY-CORRECTION" not in row.sealed_text
        assert b"CANARY-CORRECTION" not in database_text(host.engine)
        assert [c["text"] for c in corrections(host, person.case_id)] == [CORRECTION]
