"""The host's own copy of what it sent: section names in the clear, content sealed at rest.

The content is sealed under the person's data key (``gateway.kit.keystore``), so erasing the person
makes it unreadable in every copy of the database. Removing sections (withdrawal, retention)
re-seals what is left and drops the names of what went.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gateway.exchange.referrals.models import ReferralRow
from gateway.kit.at_rest import PersonErased, open_json, seal_json
from gateway.kit.node import Node

CONTEXT = "referrals.sent"


def sent_at_rest(node: Node, case_id: str, content: dict[str, Any]) -> bytes:
    return seal_json(node.keys, case_id, content, context=CONTEXT)


def sent_content(node: Node, row: ReferralRow) -> dict[str, Any]:
    """The sections still held; empty if the person was erased."""
    try:
        value: dict[str, Any] = open_json(
            node.keys, row.case_id, row.sealed_content, context=CONTEXT
        )
    except PersonErased:
        return {}
    return value


def drop_sent_sections(node: Node, row: ReferralRow, sections: Iterable[str]) -> None:
    gone = set(sections)
    row.sent_sections = sorted(s for s in row.sent_sections if s not in gone)
    if node.keys.existing_key(row.case_id) is None:
        # The person was erased: never create a new key for them; nothing readable is left.
        row.sealed_content = b""
        return
    remaining = {s: v for s, v in sent_content(node, row).items() if s not in gone}
    row.sealed_content = sent_at_rest(node, row.case_id, remaining)


def replace_sent_sections(node: Node, row: ReferralRow, corrected: dict[str, Any]) -> None:
    """This node's copy of what it sent, with corrected sections replacing the old."""
    row.sealed_content = sent_at_rest(node, row.case_id, {**sent_content(node, row), **corrected})
