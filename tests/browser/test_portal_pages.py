"""The person's portal and the DPO's pages in a real browser (Chromium), against a live node.

Each test drives the pages as their user would (typing, clicking, choosing a language) and checks
what the pages then show and what the node then holds. Screenshots go to ``test-output/``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select

from gateway.records.consents.models import WithdrawalRow
from gateway.records.person_access.cards import CARD_FAILURES, CARD_LOCK
from gateway.surfaces.portal.i18n import translations
from schemas.common import StaffRole
from tests.support.browser import Card, Screenshot, sign_in
from tests.support.clock import FakeClock
from tests.support.federation import TestNode
from tests.support.staff import sign_in_link

WRONG_CODE = "ABCD-EFGH-JKMN-PQRS-TWXY-Z234"


def _history_row(page: Page, what: str) -> Locator:
    table = page.get_by_role("table", name="History of your data")
    return table.locator("tbody tr").filter(has=page.get_by_role("cell", name=what, exact=True))


def _consent(page: Page, purpose: str) -> Locator:
    return page.locator("article.consent").filter(
        has=page.get_by_role("heading", name=purpose, exact=True)
    )


class TestHistory:
    def test_signed_in_person_reads_who_handled_their_case(
        self, portal: Page, card: Card, host: TestNode, partner: TestNode, screenshot: Screenshot
    ) -> None:
        response = sign_in(portal, card)

        assert response.status == 200
        expect(portal).to_have_url(re.compile(r"/portal/home$"))
        for what in ("opened your file", "recorded your consent", "sent a referral"):
            expect(_history_row(portal, what).first).to_be_visible()
        # Who, in words: the partner's name from the directory, never its id or a user id.
        expect(_history_row(portal, "opened a referral")).to_contain_text(
            re.compile(f"a staff member of .{re.escape(partner.organisation)}.")
        )
        expect(_history_row(portal, "opened a referral")).not_to_contain_text(partner.node_id)
        # Placed in the sealed log before the person came; their own visit is still waiting.
        expect(_history_row(portal, "opened your file").first).to_contain_text("yes")
        expect(_history_row(portal, "signed in")).to_contain_text("soon")
        expect(_history_row(portal, "sent a referral")).to_contain_text(host.organisation)
        screenshot(portal, "history")


class TestWithdrawal:
    def test_withdrawing_one_consent_leaves_the_other(
        self, portal: Page, card: Card, host: TestNode
    ) -> None:
        sign_in(portal, card)
        arrival = _consent(portal, "being met on arrival")
        support = _consent(portal, "support to restart your life at home")

        arrival.get_by_role("button", name="Withdraw this consent").click()

        # First what will happen, and a way back; nothing is withdrawn yet.
        expect(portal.get_by_role("heading", level=1)).to_have_text("Withdraw your consent?")
        expect(portal.get_by_role("main")).to_contain_text("will be told at once to delete")
        with host.sessions() as db:
            assert db.scalars(select(WithdrawalRow)).all() == []
        portal.get_by_role("button", name="Yes, withdraw my consent").click()

        expect(portal.get_by_role("status")).to_contain_text("Your consent is withdrawn")
        expect(arrival).to_contain_text("withdrawn")
        expect(arrival.get_by_role("button", name="Withdraw this consent")).to_have_count(0)
        expect(support).to_contain_text("given")
        expect(support.get_by_role("button", name="Withdraw this consent")).to_be_visible()
        with host.sessions() as db:
            withdrawals = db.scalars(
                select(WithdrawalRow).where(WithdrawalRow.case_id == card.case_id)
            ).all()
        assert [w.purpose for w in withdrawals] == ["arrival_reception"]


class TestCopy:
    def test_person_downloads_their_data_and_reads_the_printable_copy(
        self, portal: Page, card: Card, host: TestNode, partner: TestNode
    ) -> None:
        sign_in(portal, card)

        with portal.expect_download() as download:
            portal.get_by_role("link", name="A copy for computers (JSON)").click()

        assert download.value.suggested_filename == "my-data.json"
        data = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
        assert data["case_reference"] == card.case_id
        assert data["node"] == host.node_id
        [packet] = data["shared"]
        assert packet["recipient"] == partner.node_id
        assert packet["purpose"] == "arrival_reception"
        assert set(packet["content"]) == set(packet["sections_sent"])

        portal.get_by_role("link", name="A copy to read or print").click()

        expect(portal.get_by_role("heading", level=1)).to_have_text("A copy of your data")
        expect(portal.get_by_text(card.case_id)).to_be_visible()


class TestLanguage:
    def test_choosing_arabic_turns_the_page_right_to_left(
        self, portal: Page, card: Card, screenshot: Screenshot
    ) -> None:
        sign_in(portal, card)

        portal.get_by_label("Language").select_option("ar")
        portal.get_by_role("button", name="Change").click()

        expect(portal.locator("html")).to_have_attribute("lang", "ar")
        expect(portal.locator("html")).to_have_attribute("dir", "rtl")
        expect(portal.locator("body")).to_have_css("direction", "rtl")
        arabic = translations("ar")
        expect(portal.get_by_role("heading", level=1)).to_have_text(arabic.gettext("Your data"))
        expect(portal.get_by_label(arabic.gettext("Language"))).to_have_value("ar")
        screenshot(portal, "arabic")


class TestSignInRefusals:
    def test_wrong_codes_lock_the_card_until_the_lock_ends(
        self, portal: Page, card: Card, clock: FakeClock, screenshot: Screenshot
    ) -> None:
        refused = sign_in(portal, card, code=WRONG_CODE)

        assert refused.status == 401
        expect(portal.get_by_role("alert")).to_contain_text(
            "The reference or the code is not right"
        )
        for _ in range(CARD_FAILURES - 1):
            sign_in(portal, card, code=WRONG_CODE)

        locked = sign_in(portal, card)

        assert locked.status == 429
        expect(portal.get_by_role("alert")).to_contain_text("Too many wrong tries")
        screenshot(portal, "locked")
        portal.goto("/portal/home")
        expect(portal).to_have_url(re.compile(r"/portal/$"))
        clock.advance(seconds=CARD_LOCK.total_seconds())
        unlocked = sign_in(portal, card)
        assert unlocked.status == 200
        expect(portal).to_have_url(re.compile(r"/portal/home$"))


class TestDpoPages:
    def test_dpo_signs_in_with_a_link_and_reads_a_report(
        self, desk: Page, card: Card, host: TestNode, partner: TestNode, screenshot: Screenshot
    ) -> None:
        # The one-time link's page moves on to the DPO's overview by itself.
        desk.goto(sign_in_link(host, StaffRole.DPO, office="dpo"))

        expect(desk.get_by_role("heading", level=1)).to_have_text("Access log and deletions")
        # The partner opened the packet once this week (2026-W45 on the fake clock), shown as
        # the day the week starts, and the partner by its name.
        openings = desk.get_by_role("img", name=f"Openings by {partner.organisation} per week")
        expect(openings).to_contain_text("Nov 2")
        expect(openings.locator("rect").last).not_to_have_attribute("width", "0")
        expect(desk.get_by_role("img", name="Sections to delete per week")).to_be_visible()
        screenshot(desk, "overview")

        desk.get_by_role("link", name="Register of cross-border transfers", exact=True).click()

        expect(desk).to_have_url(re.compile(r"/dpo/reports/transfers$"))
        # One row per data category of the one delivered packet (to the partner in SN), in
        # words: the country's name, the kind of data, the ground, the partner's name.
        rows = desk.get_by_role("table").locator("tbody tr")
        expect(rows.locator("td:nth-child(3) bdi")).to_have_text(["arrival", "health", "travel"])
        for row in rows.all():
            expect(row).to_contain_text("Senegal")
            expect(row).to_contain_text("consent, after being told the risks")
            expect(row).to_contain_text(partner.organisation)
            expect(row).not_to_contain_text(partner.node_id)
        screenshot(desk, "transfers")

    def test_dpo_reads_a_statistic_with_its_csv(
        self, desk: Page, host: TestNode, screenshot: Screenshot
    ) -> None:
        desk.goto(sign_in_link(host, StaffRole.DPO, office="dpo"))
        expect(desk.get_by_role("img", name="People per band of composite score")).to_be_visible()

        desk.get_by_role(
            "link", name="Composite reintegration scores, by country of return and round"
        ).click()

        expect(desk).to_have_url(re.compile(r"/dpo/statistics/score-distribution$"))
        expect(desk.get_by_role("heading", level=1)).to_have_text(
            "Composite reintegration scores, by country of return and round"
        )
        expect(desk.get_by_text("fewer than 10 different people", exact=False)).to_be_visible()
        csv = desk.get_by_role("link", name="Download as CSV")
        expect(csv).to_have_attribute("href", "/dpo/statistics/score-distribution.csv")
        screenshot(desk, "statistic")

    def test_a_caseworker_is_refused_the_dpos_pages(self, desk: Page, host: TestNode) -> None:
        desk.goto(sign_in_link(host, StaffRole.CASEWORKER))
        expect(desk).to_have_url(re.compile(r"/staff/cases$"))

        refused = desk.goto("/dpo/")

        assert refused is not None
        assert refused.status == 403
        expect(desk.get_by_role("heading", level=1)).to_have_text(
            "Only for the data protection officer"
        )


class TestAccessibility:
    @pytest.mark.parametrize("language", ["en", "fr", "ar"])
    def test_sign_in_fields_are_labelled_in_every_language(
        self, portal: Page, language: str
    ) -> None:
        text = translations(language).gettext
        portal.goto(f"/portal/?lang={language}")

        expect(portal.get_by_label(text("Card reference"))).to_have_attribute("id", "reference")
        expect(portal.get_by_label(text("Secret code"))).to_have_attribute("type", "password")

    def test_portal_pages_are_labelled_keyboard_first_and_script_free(
        self, portal: Page, card: Card
    ) -> None:
        portal.goto("/portal/")
        _check_basics(portal)
        sign_in(portal, card)
        _check_basics(portal)
        portal.goto("/portal/export.html")
        _check_basics(portal)

        # The consent receipt is a printable document of its own, without the portal's header.
        portal.goto("/portal/home")
        portal.get_by_role("link", name="Your receipt for this consent").first.click()
        expect(portal).to_have_url(re.compile(r"/portal/consents/[0-9a-f]+/receipt$"))
        expect(portal.locator("script")).to_have_count(0)


def _check_basics(page: Page) -> None:
    """No script; every visible form control named by a label; Tab reaches the skip link first."""
    expect(page.locator("script")).to_have_count(0)
    for control in page.locator("input:not([type=hidden]), select, textarea").all():
        expect(control).to_have_accessible_name(re.compile(r"\S"))
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to the content")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"#main$"))
