"""The printable access card: reference, secret code and a QR code holding both.

The QR code holds ``AVRR-CARD:<reference>:<code>`` as text, not a web address, so scanning it
never puts the code in a browser history or a server log. The page says where to sign in.
"""

from __future__ import annotations

import io

import segno

from gateway.records.person_access.cards import IssuedCard, grouped
from gateway.surfaces.portal.i18n import environment


def qr_svg(text: str) -> str:
    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="svg", scale=4, xmldecl=False, svgns=True)
    return buffer.getvalue().decode("utf-8")


def printable_card(card: IssuedCard, organisation: str) -> str:
    return (
        environment(card.language)
        .get_template("card.html")
        .render(
            reference=grouped(card.reference),
            code=grouped(card.code),
            organisation=organisation,
            issued=card.issued_at.date().isoformat(),
            qr=qr_svg(f"AVRR-CARD:{card.reference}:{card.code}"),
        )
    )
