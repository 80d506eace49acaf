"""Every page of the portal, of the DPO's pages and of the staff pages, in every language, at 320, 390 and 1366 px:
nothing runs sideways or gets cut, no cell is squeezed to a few characters, no raw JSON, ISO date
or node id is shown, every character has a glyph in the node's own font, ``lang`` and ``dir``
are right, and nothing is left in English on a page in another language (names and codes
aside). The checks are in ``tests/support/readable.py``.

``AVRR_SCREENSHOTS=<folder>`` also saves each page as a JPEG (``make screenshots`` refreshes
``docs/images/pages`` that way); ``AVRR_READABLE_LANGUAGES=en,ar`` narrows the languages.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page

from gateway.exchange.bundles.service import write
from gateway.processes import statistics
from gateway.processes.audit import reports
from gateway.processes.kinds import message_kinds
from gateway.records.accesslog.tree import AccessLogTree
from gateway.surfaces.portal.i18n import LANGUAGES
from schemas.common import StaffRole
from tests.support import flows
from tests.support.federation import TestFederation, TestNode
from tests.support.portal import issue_card
from tests.support.readable import left_in_english, problems, save, visible_texts
from tests.support.staff import sign_in_link

WIDTHS = (320, 390, 1366)
CHOSEN = os.environ.get("AVRR_READABLE_LANGUAGES", ",".join(LANGUAGES)).split(",")
SHOTS = Path(os.environ["AVRR_SCREENSHOTS"]) if os.environ.get("AVRR_SCREENSHOTS") else None
#: Screenshots kept: the person's pages on a phone, the staff's on an office screen.
SHOT_WIDTHS = {"portal": 390, "dpo": 1366, "caseworker": 1366, "officer": 390}
#: Text the same in English and in another language, rightly: the words are the language's own.
COGNATES = {
    "fr": {"total", "Version", "Organisation", "Note", "Question", "Plan"},
    "es": {"total", "Senegal", "Plan"},
}
QUESTION = "Why was my health information sent?"
ANSWER = "Because you agreed to it for the medical escort."


@dataclass
class World:
    host: TestNode
    partner: TestNode
    reference: str
    code: str
    consent_id: str
    token: str
    case_id: str = ""
    referral_id: str = ""
    #: A referral written into a hand-carried bundle, not yet delivered.
    bundled_id: str = ""
    packet_id: str = ""
    partner_base: str = ""
    cards: dict[str, str] = field(default_factory=dict)
    #: Text that is the same in every language: people's and organisations' names, staff's
    #: own words, codes.
    allowed: set[str] = field(default_factory=set)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


@pytest.fixture
def world(
    pair: TestFederation, host: TestNode, partner: TestNode, live_host: str, live_partner: str
) -> World:
    sent = flows.referral(host, partner.node_id)
    consent = flows.record_consent(
        host, sent["case_id"], partner.node_id, purpose="reintegration_assistance"
    )
    pair.deliver(host)
    officer = partner.auth(StaffRole.PARTNER_OFFICER)
    assert partner.client.get(f"/api/v1/received/{sent['packet_id']}", headers=officer).is_success
    pair.deliver(partner)
    bundled = flows.referral(host, partner.node_id)
    with host.sessions.begin() as session:
        node = host.client.app.state.node  # type: ignore[attr-defined]
        write(session, node, message_kinds(), recipient=partner.node_id, now=host.clock.now())
    # A refusal for the DPO's reports: a caseworker knocking on the DPO's door.
    assert host.client.get("/api/v1/dpo/holds", headers=host.auth()).status_code == 403
    tree = AccessLogTree(node=host.client.app.state.node, sessions=host.sessions)  # type: ignore[attr-defined]
    tree.sequence()
    tree.checkpoint()
    issued = issue_card(host, sent["case_id"], language="en")
    made = World(
        host=host,
        partner=partner,
        reference=issued["reference"],
        code=issued["code"],
        consent_id=consent["id"],
        token=host.token(StaffRole.DPO),
        case_id=sent["case_id"],
        referral_id=sent["id"],
        bundled_id=bundled["id"],
        packet_id=sent["packet_id"],
        partner_base=live_partner,
    )
    # Printable cards, one per language, for another person (a new card stops the old one).
    other = flows.create_case(host)
    for language in LANGUAGES:
        # Through the live address, as a caseworker's browser would: the card prints it.
        printed = httpx.post(
            f"{live_host}/api/v1/cases/{other['id']}/cards?format=html",
            json={"language": language},
            headers=host.auth(),
        )
        assert printed.status_code == 201, printed.text
        made.cards[language] = printed.text
    made.allowed = {
        *_strings(flows.CASE),
        *_strings(flows.CONTENT),
        host.organisation,
        partner.organisation,
        "CSV",
        QUESTION,
        ANSWER,
    }
    return made


# -- the pages, as a person and a DPO reach them ------------------------------------------------

Visit = Callable[[Page], None]


def _goto(path: str) -> Visit:
    def visit(page: Page) -> None:
        response = page.goto(path)
        assert response is not None
        assert response.status < 500, f"{path}: {response.status}"

    return visit


def _card(html: str) -> Visit:
    def visit(page: Page) -> None:
        page.goto("/portal/static/portal.css")  # same origin, so the card's stylesheet loads
        page.set_content(html)
        page.wait_for_load_state("load")

    return visit


def _withdraw_question(page: Page) -> None:
    page.goto("/portal/home")
    page.locator('form[action="/portal/withdraw"] button').first.click()
    page.wait_for_load_state("load")


def _verify(page: Page) -> None:
    page.goto("/dpo/")
    page.locator('form[action="/dpo/verify"] button').click()
    page.wait_for_load_state("load")


def portal_pages(world: World, language: str) -> dict[str, Visit]:
    return {
        "portal-home": _goto("/portal/home"),
        "portal-withdraw": _withdraw_question,
        "portal-copy": _goto("/portal/export.html"),
        "portal-receipt": _goto(f"/portal/consents/{world.consent_id}/receipt"),
        "portal-not-found": _goto(f"/portal/consents/{'0' * 32}/receipt"),
        "portal-card": _card(world.cards[language]),
    }


def _preview(page: Page) -> None:
    """A referral filled in and previewed: what the recipient would see."""
    page.locator("#recipient").select_option(index=1)
    page.locator("#purpose").select_option("arrival_reception")
    page.locator("#transfer_ground").select_option("explicit_consent_informed_of_risks")
    page.locator("#content-travel-traveller_name").fill("Synthetic Person")
    page.locator('button[value="preview"]').click()
    page.wait_for_load_state("load")


def caseworker_pages(world: World) -> dict[str, Visit]:
    case = f"/staff/cases/{world.case_id}"
    new_referral = _goto(f"{case}/referrals/new")

    def previewed(page: Page) -> None:
        new_referral(page)
        _preview(page)

    return {
        "staff-cases": _goto("/staff/cases"),
        "staff-case-new": _goto("/staff/cases/new"),
        "staff-case": _goto(case),
        "staff-consent-new": _goto(f"{case}/consents/new"),
        "staff-referral-preview": previewed,
        "staff-referral": _goto(f"/staff/referrals/{world.referral_id}"),
        "staff-referral-bundled": _goto(f"/staff/referrals/{world.bundled_id}"),
    }


def officer_pages(world: World) -> dict[str, Visit]:
    return {
        "staff-inbox": _goto("/staff/inbox"),
        "staff-received": _goto(f"/staff/inbox/{world.packet_id}"),
        "staff-flagged": _goto("/staff/inbox/follow-up"),
    }


def dpo_pages(question: str) -> dict[str, Visit]:
    pages = {"dpo-overview": _goto("/dpo/"), "dpo-verify": _verify}
    pages |= {f"dpo-report-{n}": _goto(f"/dpo/reports/{n}") for n in sorted(reports.REPORTS)}
    pages |= {
        f"dpo-statistic-{n}": _goto(f"/dpo/statistics/{n}") for n in sorted(statistics.STATISTICS)
    }
    pages |= {"dpo-questions": _goto("/dpo/questions"), "dpo-question": _goto(question)}
    return pages


# -- signing in ---------------------------------------------------------------------------------


def _person(browser: Browser, base: str, world: World, language: str, width: int) -> Page:
    page = browser.new_context(base_url=base, viewport={"width": width, "height": 900}).new_page()
    page.goto(f"/portal/?lang={language}")
    page.locator("#reference").fill(world.reference)
    page.locator("#code").fill(world.code)
    page.locator('form[action="/portal/sign-in"] button').click()
    page.wait_for_url("**/portal/home")
    return page


def _staff(
    browser: Browser,
    base: str,
    node: TestNode,
    role: StaffRole,
    office: str,
    landing: str,
    language: str,
    width: int,
) -> Page:
    page = browser.new_context(base_url=base, viewport={"width": width, "height": 900}).new_page()
    page.goto(f"{sign_in_link(node, role, office=office)}&lang={language}")
    page.wait_for_url(f"**{landing}")
    return page


def _caseworker(browser: Browser, base: str, world: World, language: str, width: int) -> Page:
    return _staff(
        browser, base, world.host, StaffRole.CASEWORKER, "office-a", "/staff/cases", language, width
    )


def _officer(browser: Browser, base: str, world: World, language: str, width: int) -> Page:
    return _staff(
        browser,
        world.partner_base,
        world.partner,
        StaffRole.PARTNER_OFFICER,
        "partner",
        "/staff/inbox",
        language,
        width,
    )


def _dpo(browser: Browser, base: str, world: World, language: str, width: int) -> Page:
    page = browser.new_context(base_url=base, viewport={"width": width, "height": 900}).new_page()
    page.goto(f"{sign_in_link(world.host, StaffRole.DPO, office='dpo')}&lang={language}")
    page.wait_for_url("**/dpo/")
    return page


def _ask_and_answer(browser: Browser, base: str, world: World) -> str:
    """The person writes to the DPO and the DPO answers: the question's page, for the DPO."""
    person = _person(browser, base, world, "en", 1366)
    person.locator("#question-text").fill(QUESTION)
    person.locator('form[action="/portal/questions"] button').click()
    dpo = _dpo(browser, base, world, "en", 1366)
    dpo.goto("/dpo/questions")
    path = str(dpo.locator('a[href^="/dpo/questions/"]').first.get_attribute("href"))
    dpo.goto(path)
    dpo.locator("#answer").fill(ANSWER)
    dpo.locator(f'form[action="{path}/answer"] button').click()
    person.context.close()
    dpo.context.close()
    return path


# -- the test -----------------------------------------------------------------------------------


def _look(page: Page, visit: Visit) -> None:
    visit(page)
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    page.evaluate("document.fonts.ready")


def _english(browser: Browser, base: str, world: World, question: str) -> dict[str, set[str]]:
    """Each page's visible text in English, to find what another language left untranslated."""
    texts: dict[str, set[str]] = {}
    for open_as, pages in (
        (_person, portal_pages(world, "en")),
        (_dpo, dpo_pages(question)),
        (_caseworker, caseworker_pages(world)),
        (_officer, officer_pages(world)),
    ):
        page = open_as(browser, base, world, "en", 1366)
        for name, visit in pages.items():
            _look(page, visit)
            texts[name] = {str(p["text"]) for p in visible_texts(page)}
        page.context.close()
    for guest in ("/portal/", "/staff/sign-in"):
        page = browser.new_context(base_url=base).new_page()
        _look(page, _goto(guest))
        texts[guest] = {str(p["text"]) for p in visible_texts(page)}
        page.context.close()
    return texts


def _check(
    page: Page, name: str, language: str, world: World, english: dict[str, set[str]]
) -> list[str]:
    node_ids = [world.host.node_id, world.partner.node_id]
    found = [f"{name}: {p}" for p in problems(page, language, node_ids)]
    if language != "en":
        allowed = world.allowed | COGNATES.get(language, set())
        untranslated = left_in_english(visible_texts(page), english[name], allowed)
        found.extend(f"{name}: left in English: {u}" for u in untranslated)
    return found


@pytest.mark.parametrize("language", [code for code in LANGUAGES if code in CHOSEN])
def test_every_page_reads_well(
    language: str, browser: Browser, live_host: str, world: World
) -> None:
    question = _ask_and_answer(browser, live_host, world)
    # English pages are what the others are compared with; English itself needs no comparison.
    english = {} if language == "en" else _english(browser, live_host, world, question)
    found: list[str] = []
    for width in WIDTHS:
        for guest in ("/portal/", "/staff/sign-in"):
            page = browser.new_context(
                base_url=live_host, viewport={"width": width, "height": 900}
            ).new_page()
            _look(page, _goto(f"{guest}?lang={language}"))
            found.extend(f"{width}px {m}" for m in _check(page, guest, language, world, english))
            side = "portal" if guest == "/portal/" else "dpo"
            if SHOT_WIDTHS[side] == width:
                save(page, SHOTS, f"{side}-sign-in-{language}")
            page.context.close()
        for side, open_as, pages in (
            ("portal", _person, portal_pages(world, language)),
            ("dpo", _dpo, dpo_pages(question)),
            ("caseworker", _caseworker, caseworker_pages(world)),
            ("officer", _officer, officer_pages(world)),
        ):
            page = open_as(browser, live_host, world, language, width)
            for name, visit in pages.items():
                _look(page, visit)
                found.extend(f"{width}px {m}" for m in _check(page, name, language, world, english))
                if SHOT_WIDTHS[side] == width:
                    save(page, SHOTS, f"{name}-{language}")
            page.context.close()
    assert found == [], "\n".join(found)
