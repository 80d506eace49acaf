"""Record of processing activities: sharing by purpose and recipient role, with this node's use."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from consent.retention import FALLBACK
from gateway.kit.node import Node
from gateway.processes.audit.reports.delivered import delivered
from gateway.processes.audit.reports.report import Report
from schemas.directory import RetentionRule

#: The role shown for referrals the current directory's sharing policy no longer describes.
NO_CURRENT_RULE = "(no rule in the current directory)"


def _retention_text(rules: Sequence[RetentionRule], purpose: str, sections: Iterable[str]) -> str:
    by_key = {(r.purpose.value, r.section.value): r for r in rules}
    parts = []
    for section in sorted(sections):
        rule = by_key.get((purpose, section))
        if rule is None:
            # What ``consent.retention`` applies to a section no rule names.
            parts.append(f"{section}: {FALLBACK.days} days after referral sent (no rule)")
            continue
        text = f"{section}: {rule.days} days after {rule.event.value.replace('_', ' ')}"
        if rule.child_minimum_days:
            text += f" (at least {rule.child_minimum_days} days for a child)"
        parts.append(text)
    return "; ".join(parts)


def _tally(
    session: Session, roles_of: dict[str, set[str]], ruled: set[tuple[str, str]]
) -> tuple[Counter[tuple[str, str]], dict[str, tuple[set[str], set[str]]]]:
    """Referrals sent per (purpose, role); and per purpose, those no current rule covers: to
    whom, and which sections."""
    sent: Counter[tuple[str, str]] = Counter()
    unlisted: dict[str, tuple[set[str], set[str]]] = {}
    for referral in delivered(session):
        roles = [r for r in roles_of.get(referral.recipient, ()) if (referral.purpose, r) in ruled]
        for role in roles:
            sent[(referral.purpose, role)] += 1
        if not roles:
            sent[(referral.purpose, NO_CURRENT_RULE)] += 1
            to_whom, what = unlisted.setdefault(referral.purpose, (set(), set()))
            to_whom.add(referral.recipient)
            what.update(referral.sections)
    return sent, unlisted


def processing(session: Session, node: Node, now: datetime) -> Report:
    """One row per purpose and recipient role of the sharing policy, with this node's use of it.

    A referral counts under each of its recipient's roles that has a rule for its purpose.
    Referrals that no current rule covers (the policy or the directory changed since) are not
    dropped: they get a row of their own per purpose, with ``NO_CURRENT_RULE`` as the role.
    """
    del now  # the directory is checked against the node's clock when it is read
    directory = node.directory().directory
    roles_of = {n.node_id: {role.value for role in n.roles} for n in directory.nodes}
    ruled = {(rule.purpose.value, rule.role.value) for rule in directory.sharing_policy}

    sent, unlisted = _tally(session, roles_of, ruled)
    rows: list[dict[str, object]] = []
    for rule in sorted(directory.sharing_policy, key=lambda r: (r.purpose.value, r.role.value)):
        purpose, role = rule.purpose.value, rule.role.value
        sections = sorted(s.value for s in rule.sections)
        rows.append(
            {
                "purpose": purpose,
                "recipient_role": role,
                "data_categories": sections,
                "recipients": sorted(
                    n.node_id
                    for n in directory.nodes
                    if role in roles_of[n.node_id] and n.node_id != node.node_id
                ),
                "retention": _retention_text(directory.retention, purpose, sections),
                "referrals_sent": sent[(purpose, role)],
            }
        )
    for purpose, (to_whom, what) in sorted(unlisted.items()):
        rows.append(
            {
                "purpose": purpose,
                "recipient_role": NO_CURRENT_RULE,
                "data_categories": sorted(what),
                "recipients": sorted(to_whom),
                "retention": _retention_text(directory.retention, purpose, what),
                "referrals_sent": sent[(purpose, NO_CURRENT_RULE)],
            }
        )
    return Report(
        name="processing",
        title="Record of processing activities: sharing by purpose and recipient role",
        columns=[
            "purpose",
            "recipient_role",
            "data_categories",
            "recipients",
            "retention",
            "referrals_sent",
        ],
        rows=rows,
    )
