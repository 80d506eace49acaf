"""Browser tests: the host node's real app served on 127.0.0.1, driven by Chromium.

The app is the one the test prepares through ``host.client`` (same database, same fake clock),
served by uvicorn in a background thread on a port the operating system picks. Chromium is
Debian's (``/usr/bin/chromium``, ``apt-get install chromium``), driven through Playwright's sync
API; Playwright never downloads a browser of its own. The portal's cookies are ``Secure``:
Chromium treats ``http://127.0.0.1`` as a secure context and keeps them, so no TLS is needed.

Screenshots (full page) go to ``test-output/screenshots/<test name>/<name>.png``.

Example::

    def test_person_signs_in(portal: Page, card: Card) -> None:
        portal.goto("/portal/")                      # relative to the live node's base URL
        portal.get_by_label("Card reference").fill(card.reference)
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright

from gateway.records.accesslog.tree import AccessLogTree
from schemas.common import StaffRole
from tests.support import flows
from tests.support.browser import Card, Screenshot
from tests.support.federation import TestFederation, TestNode
from tests.support.portal import issue_card

CHROMIUM = Path(os.environ.get("AVRR_CHROMIUM", "/usr/bin/chromium"))
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-output" / "screenshots"
PHONE: ViewportSize = {"width": 390, "height": 844}
DESK: ViewportSize = {"width": 1000, "height": 800}


class _Server(uvicorn.Server):
    """A uvicorn server that says when it is listening, so the fixture waits on an event."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets=sockets)
        finally:
            self.ready.set()


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One Chromium for the browser tests, closed when they end.

    Playwright's sync API leaves its event loop set as the thread's running loop while it is
    open, which breaks ``asyncio.run`` in later tests; package scope closes it before others run.
    """
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is missing at {CHROMIUM}: the browser tests need Debian's Chromium "
            "(`sudo apt-get install chromium`; `make test` installs it); set AVRR_CHROMIUM to use "
            "another binary. Playwright's own browser download is not used.",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def live_host(host: TestNode) -> Iterator[str]:
    """The base URL (``http://127.0.0.1:<port>``) of the host node's app, served for real."""
    yield from _served(host)


@pytest.fixture
def live_partner(partner: TestNode) -> Iterator[str]:
    """The partner node's app, served for real like the host's."""
    yield from _served(partner)


def _served(node: TestNode) -> Iterator[str]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(
        node.client.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = _Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [listener]}, name="live-host", daemon=True
    )
    thread.start()
    assert server.ready.wait(timeout=10), "uvicorn did not start"
    assert server.started, "uvicorn could not serve the host app"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    listener.close()


def _page(browser: Browser, base_url: str, viewport: ViewportSize) -> Iterator[Page]:
    context = browser.new_context(
        base_url=base_url, viewport=viewport, locale="en-GB", accept_downloads=True
    )
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def portal(browser: Browser, live_host: str) -> Iterator[Page]:
    """A fresh browser on a small phone, pointed at the live host node."""
    yield from _page(browser, live_host, PHONE)


@pytest.fixture
def desk(browser: Browser, live_host: str) -> Iterator[Page]:
    """A fresh browser on an office screen (1000 px wide), pointed at the live host node."""
    yield from _page(browser, live_host, DESK)


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Screenshot:
    """Save a full-page screenshot under ``test-output/screenshots/<test name>/<name>.png``."""

    test: str = request.node.name

    def take(page: Page, name: str) -> Path:
        path = SCREENSHOTS / test / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def card(pair: TestFederation, host: TestNode, partner: TestNode) -> Card:
    """A case with two consents, a referral the partner opened, a sealed log, an English card."""
    sent: dict[str, Any] = flows.referral(host, partner.node_id)
    flows.record_consent(host, sent["case_id"], partner.node_id, purpose="reintegration_assistance")
    pair.deliver(host)
    # The partner's officer opens the packet; the partner's notice tells the host, whose log then
    # shows the opening in the person's history and in the DPO's chart.
    opened = partner.client.get(
        f"/api/v1/received/{sent['packet_id']}", headers=partner.auth(StaffRole.PARTNER_OFFICER)
    )
    assert opened.status_code == 200, opened.text
    pair.deliver(partner)
    # Place what happened so far in the sealed log, as the node's worker would, so the history
    # shows both placed entries and the ones still waiting (the person's own sign-in).
    sealer = AccessLogTree(node=host.client.app.state.node, sessions=host.sessions)  # type: ignore[attr-defined]
    sealer.sequence()
    sealer.checkpoint()
    issued = issue_card(host, sent["case_id"], language="en")
    return Card(case_id=sent["case_id"], reference=issued["reference"], code=issued["code"])
