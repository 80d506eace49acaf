"""The printable page of a consent receipt, in the person's language (English, French, Arabic
right to left, Spanish; others fall back to English), with the signature printed at the foot.

Example::

    >>> doc, receipt, language = consent_receipt(session, node, caseworker, case_id,
    ...                                          consent_id, now)       # doctest: +SKIP
    >>> html = render_html(doc, receipt, language)                       # doctest: +SKIP
"""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, select_autoescape

from gateway.surfaces.consent_receipt_text import (
    GIVERS,
    METHODS,
    PURPOSES,
    RTL,
    SECTIONS,
    STATUSES,
    TEXT,
)
from schemas.consent import ConsentReceipt
from schemas.envelope import SignedDocument

_templates = Environment(
    loader=PackageLoader("gateway.surfaces", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_html(doc: SignedDocument, receipt: ConsentReceipt, language: str) -> str:
    lang = language if language in TEXT else "en"
    if receipt.recipient_role is not None:
        recipient = f"{TEXT[lang]['any_partner']}: {receipt.recipient_role.value}"
    else:
        recipient = receipt.recipient_organisation or receipt.recipient or ""
    return _templates.get_template("consent_receipt.html").render(
        lang=lang,
        direction="rtl" if lang in RTL else "ltr",
        t=TEXT[lang],
        receipt=receipt,
        doc=doc,
        purpose=PURPOSES[lang][receipt.purpose.value],
        recipient=recipient,
        sections=[SECTIONS[lang][s.value] for s in receipt.sections],
        given_by=GIVERS[lang][receipt.given_by.value],
        method=METHODS[lang][receipt.method.value],
        status=STATUSES[lang][receipt.status.value],
    )
