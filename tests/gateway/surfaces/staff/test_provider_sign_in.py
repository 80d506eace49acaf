"""Staff sign in to their pages with their organisation's OpenID Connect provider: a real
provider process on loopback (``tests.support.oidc``), the node's own routes, a browser's
cookies. The token checks themselves (nonce, audience, expiry, signature, issuer) are tested in
``tests/gateway/kit/test_oidc.py``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from fastapi.testclient import TestClient

from schemas.common import PartnerRole
from tests.support.clock import FakeClock
from tests.support.federation import TestFederation, TestNode
from tests.support.oidc import CLIENT_ID, CLIENT_SECRET, QUIET_PROVIDER, ROLES, running_provider
from tests.support.portal import csrf_of, portal_client

pytestmark = QUIET_PROVIDER

USERS = {
    "cw-1": {"groups": ["avrr-caseworkers"], "office": "tunis"},
    "stranger": {"groups": ["someone-else"], "office": "tunis"},
}


@pytest.fixture
def provider() -> Iterator[str]:
    with running_provider(USERS) as url:
        yield url


@pytest.fixture
def host(federation: TestFederation, clock: FakeClock, provider: str) -> TestNode:
    # The provider signs with the real time: the node's clock runs at the same time.
    clock.advance(seconds=(datetime.now(UTC) - clock.now()).total_seconds())
    node = federation.add_node(
        "host-mission",
        [PartnerRole.HOST_MISSION],
        "DE",
        oidc_name="Mission sign-in",
        oidc_discovery_url=provider,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
        oidc_roles=ROLES,
    )
    federation.publish()
    return node


def at_provider(browser: TestClient, sub: str) -> httpx.Response:
    """Press the sign-in button, sign in at the provider as ``sub``, come back."""
    started = browser.post("/staff/sign-in/start", data={"language": "en"})
    assert started.status_code == 303
    back = httpx.post(started.headers["location"], data={"sub": sub}, timeout=5.0)
    assert back.status_code == 302
    url = httpx.URL(back.headers["location"])
    assert url.path == "/staff/sign-in/callback"
    return browser.get(f"{url.path}?{url.query.decode()}")


class TestProviderSignIn:
    def test_the_sign_in_page_offers_the_provider(self, host: TestNode) -> None:
        page = portal_client(host).get("/staff/sign-in")

        assert "Sign in with Mission sign-in" in page.text

    def test_a_caseworker_signs_in_and_reaches_their_pages(self, host: TestNode) -> None:
        browser = portal_client(host)

        back = at_provider(browser, "cw-1")

        assert back.status_code == 200
        assert back.headers["refresh"] == "0; url=/staff/cases"
        assert browser.get("/staff/cases").status_code == 200

    def test_a_user_without_a_role_is_refused_with_a_page_that_says_why(
        self, host: TestNode
    ) -> None:
        browser = portal_client(host)

        back = at_provider(browser, "stranger")

        assert back.status_code == 403
        assert "no role on this node" in back.text
        assert browser.get("/staff/cases").status_code == 303  # not signed in

    def test_the_way_back_works_only_in_the_browser_that_started_it(self, host: TestNode) -> None:
        started = portal_client(host).post("/staff/sign-in/start", data={"language": "en"})
        back = httpx.post(started.headers["location"], data={"sub": "cw-1"}, timeout=5.0)
        url = httpx.URL(back.headers["location"])

        other = portal_client(host).get(f"{url.path}?{url.query.decode()}")

        assert other.status_code == 401
        assert "did not work" in other.text

    def test_signing_out_ends_the_session_at_the_provider_too(
        self, host: TestNode, provider: str
    ) -> None:
        browser = portal_client(host)
        at_provider(browser, "cw-1")
        page = browser.get("/staff/cases").text

        out = browser.post("/staff/sign-out", data={"csrf": csrf_of(page)})

        assert out.status_code == 303
        ending = httpx.URL(out.headers["location"])
        assert str(ending).startswith(provider)
        assert ending.params["post_logout_redirect_uri"].endswith("/staff/sign-in")
        assert browser.get("/staff/cases").status_code == 303
