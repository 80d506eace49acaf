"""What a person does in the portal, as HTTP calls, so portal tests read as the steps they take.

The portal's cookies are ``Secure``, so a browser only sends them over HTTPS: ``portal_client``
talks to the node's real app at ``https://testserver`` and does not follow redirects, so a test
sees each ``303`` the person's browser would follow. Forms are filled the way a browser fills them:
the hidden tokens (``form_token`` before signing in, ``csrf`` after) are read from the page.

Example::

    card = issue_card(host, case_id, language="es")
    browser = portal_client(host)
    assert sign_in(browser, card["reference"], card["code"]).status_code == 303
    home = browser.get("/portal/home").text
    browser.post("/portal/corrections", data={"csrf": csrf_of(home), "text": "..."})
"""

from __future__ import annotations

import re
from typing import Any

import httpx
from fastapi.testclient import TestClient

from tests.support.federation import TestNode

BASE_URL = "https://testserver"
_CSRF = re.compile(r'name="csrf" value="([^"]*)"')
_FORM_TOKEN = re.compile(r'name="form_token" value="([^"]*)"')


def issue_card(host: TestNode, case_id: str, language: str = "en") -> dict[str, Any]:
    """A new card for the case, issued by the case's caseworker: reference and code (shown once)."""
    response = host.client.post(
        f"/api/v1/cases/{case_id}/cards", json={"language": language}, headers=host.auth()
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def portal_client(host: TestNode, *, address: str = "testclient") -> TestClient:
    """A browser on ``address`` (what the node sees as the client address) over HTTPS."""
    return TestClient(
        host.client.app, base_url=BASE_URL, follow_redirects=False, client=(address, 50000)
    )


def csrf_of(html: str) -> str:
    """The CSRF token of a signed-in page's forms."""
    found = _CSRF.search(html)
    assert found is not None, "no csrf field on the page"
    return found.group(1)


def form_token_of(html: str) -> str:
    """The pre-sign-in form token of the sign-in page."""
    found = _FORM_TOKEN.search(html)
    assert found is not None, "no form_token field on the page"
    return found.group(1)


def sign_in(client: TestClient, reference: str, code: str, *, language: str = "") -> httpx.Response:
    """Open the sign-in page and submit it with the card; ``303`` to ``/portal/home`` on success.

    For a browser not signed in (a signed-in one is sent from the sign-in page to its home).
    """
    page = client.get("/portal/")
    assert page.status_code == 200, page.text
    response: httpx.Response = client.post(
        "/portal/sign-in",
        data={
            "reference": reference,
            "code": code,
            "form_token": form_token_of(page.text),
            "language": language,
        },
    )
    return response


def dpo_signed_in(host: TestNode) -> TestClient:
    """A browser signed in to the staff pages as a DPO, with a one-time link."""
    from schemas.common import StaffRole
    from tests.support.staff import staff_signed_in

    return staff_signed_in(host, StaffRole.DPO, user="dpo-1", office="dpo")
