"""What a person does in the portal, in a real browser, so browser tests read as their steps.

Example::

    assert sign_in(page, card).status == 200   # the person's page, after the redirect
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Page, Response

#: Takes a full-page screenshot of a page under a name; returns where it went.
Screenshot = Callable[[Page, str], Path]


@dataclass(frozen=True)
class Card:
    """A person's case and the access card a caseworker gave them (reference and code)."""

    case_id: str
    reference: str
    code: str


def sign_in(page: Page, card: Card, *, code: str | None = None) -> Response:
    """Type the card's reference and code (or ``code``) and submit: the page the form led to
    (after the redirect to ``/portal/home`` on success; the refusal itself otherwise)."""
    page.goto("/portal/")
    page.get_by_label("Card reference").fill(card.reference)
    page.get_by_label("Secret code").fill(card.code if code is None else code)
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Sign in").click()
    response = navigation.value
    assert response is not None, "submitting the sign-in form loaded no page"
    return response
