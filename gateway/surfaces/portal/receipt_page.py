"""The printable page of a consent receipt, in any of the portal's languages, with the signature
printed at its foot. The caseworker prints it at counselling (``GET .../receipt?format=html``);
the person opens it from the portal.

Example::

    >>> doc, receipt, language = consent_receipt(session, node, caseworker, case_id,
    ...                                          consent_id, now)       # doctest: +SKIP
    >>> html = receipt_html(node, doc, receipt, language)                # doctest: +SKIP
"""

from __future__ import annotations

from gateway.kit.node import Node
from gateway.surfaces.portal.i18n import DEFAULT, LANGUAGES, environment
from gateway.surfaces.portal.pages import words_for
from schemas.consent import ConsentReceipt
from schemas.envelope import SignedDocument

#: The receipt carries its print styles in the portal's stylesheet; no script at all.
CSP = (
    "default-src 'none'; style-src 'self'; font-src 'self'; img-src data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def receipt_html(node: Node, doc: SignedDocument, receipt: ConsentReceipt, language: str) -> str:
    """The receipt's page in ``language`` (English if the portal does not offer it)."""
    shown = language if language in LANGUAGES else DEFAULT
    return (
        environment(shown)
        .get_template("consent_receipt.html")
        .render(words=words_for(node, shown), receipt=receipt, doc=doc)
    )
