"""The printable access card: the portal's address, the reference, the secret code, and a QR code
that opens the portal with the reference filled in.

The QR code is a web address (``<portal>/portal/?ref=<reference>``), so a phone's camera opens
the sign-in page with it. It never holds the secret code: a code in a link would end up in the
phone's history and in server logs. The code is printed in groups of four that a person can type
(spaces and dashes are ignored when signing in).
"""

from __future__ import annotations

import io
from urllib.parse import urlencode

import segno

from gateway.records.person_access.cards import IssuedCard
from gateway.surfaces.portal.i18n import environment
from gateway.surfaces.portal.words import Words


def qr_svg(text: str) -> str:
    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="svg", scale=4, xmldecl=False, svgns=True)
    return buffer.getvalue().decode("utf-8")


def sign_in_address(portal: str, reference: str) -> str:
    """The address the card's QR code opens: the sign-in page, with the reference only."""
    return f"{portal.rstrip('/')}/portal/?{urlencode({'ref': reference})}"


def groups(value: str, size: int = 4) -> list[str]:
    return [value[i : i + size] for i in range(0, len(value), size)]


def printable_card(
    card: IssuedCard, organisation: str, country: str, portal: str, words: Words
) -> str:
    """The card's page in the card's language; ``portal`` is the node's public address."""
    return (
        environment(card.language)
        .get_template("card.html")
        .render(
            reference=groups(card.reference),
            code=groups(card.code),
            organisation=organisation,
            country=country,
            issued=words.day(card.issued_at),
            address=f"{portal.rstrip('/')}/portal/",
            qr=qr_svg(sign_in_address(portal, card.reference)),
            words=words,
        )
    )
