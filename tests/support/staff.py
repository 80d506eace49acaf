"""Staff in a browser, as HTTP calls: signing in with a one-time link from the built-in issuer,
and filling the staff pages' forms the way a browser fills them (the CSRF token read from the
page).

Example::

    browser = staff_signed_in(host, StaffRole.CASEWORKER, office="office-a")
    page = browser.get("/staff/cases/new").text
    browser.post("/staff/cases/new", data={"csrf": csrf_of(page), "given_name": "..."})
"""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from gateway.kit.auth import SIGN_IN
from schemas.common import StaffRole
from tests.support.federation import TestNode
from tests.support.portal import portal_client


def sign_in_link(
    node: TestNode, role: StaffRole, *, user: str = "user-1", office: str = "office-a"
) -> str:
    """The path of a one-time sign-in link, as ``avrr staff link`` makes it."""
    app_node = node.client.app.state.node  # type: ignore[attr-defined]
    token = app_node.staff.issue(
        user=user,
        role=role,
        office=office,
        now=app_node.clock.now(),
        lifetime=timedelta(minutes=10),
        use=SIGN_IN,
    )
    return f"/staff/sign-in/link?token={token}"


def staff_signed_in(
    node: TestNode, role: StaffRole, *, user: str = "user-1", office: str = "office-a"
) -> TestClient:
    browser = portal_client(node)
    response = browser.get(sign_in_link(node, role, user=user, office=office))
    assert response.status_code == 200, response.text
    assert response.headers["refresh"].startswith("0; url=/")
    return browser
