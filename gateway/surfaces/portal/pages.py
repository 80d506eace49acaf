"""Rendering a page of the portal or the DPO's pages: the template in the page's language, with
``words`` (``portal.words.Words``) to say every value in it."""

from __future__ import annotations

from typing import Any

from fastapi.responses import HTMLResponse

from gateway.kit.errors import GatewayError
from gateway.kit.node import Node
from gateway.surfaces.portal.i18n import environment
from gateway.surfaces.portal.words import Words


def words_for(node: Node, language: str) -> Words:
    """How pages of this node say things in ``language``: its time zone, the directory's names
    (none if the node has no directory yet: ids are then never shown, only "an organisation")."""
    try:
        names = {n.node_id: n.organisation for n in node.directory().directory.nodes}
    except GatewayError:
        names = {}
    return Words.of(language, node.settings.time_zone, names)


def render(
    node: Node, language: str, template: str, status: int = 200, **context: Any
) -> HTMLResponse:
    page = (
        environment(language)
        .get_template(template)
        .render(words=words_for(node, language), **context)
    )
    return HTMLResponse(page, status_code=status)
