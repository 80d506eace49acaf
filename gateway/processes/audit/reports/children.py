"""Children's referrals: was every child's own view heard and weighed?"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from consent.errors import RefusalRule
from gateway.exchange.referrals import repository as referrals
from gateway.kit.node import Node
from gateway.processes.audit.reports.report import ROW_LIMIT, Report, iso, titled
from gateway.records.accesslog import repository as accesslog
from gateway.records.accesslog.writer import Action
from gateway.records.consents import repository as consents

REFUSALS_PERIOD = timedelta(days=90)
#: Refusals that concern children, shown beside the children's referrals.
CHILD_RULES = (
    RefusalRule.CHILD_CONSENT_INCOMPLETE.value,
    RefusalRule.CHILD_VIEW_NOT_WEIGHED.value,
    RefusalRule.CHILD_CUSTODIAN_REQUIRED.value,
    RefusalRule.CUSTODIAN_REQUIRED.value,
    RefusalRule.HANDOVER_BEFORE_ARRIVAL.value,
)
COLUMNS = [
    "at",
    "referral",
    "packet_id",
    "recipient",
    "purpose",
    "status",
    "reason",
    "child_view",
    "best_interests_reference",
    "view_weighed",
]


def children(session: Session, node: Node, now: datetime) -> Report:
    """Every referral resting on a child's consent, with the child's own view, the best-interests
    determination and whether it states how that view was weighed; and the referrals refused by
    a rule protecting children in the last 90 days. The weighing itself is read one referral at
    a time (``processes.dpo.child_view``), and that reading is logged."""
    del node
    child = {
        row.id: {
            "child_view": row.child_view,
            "best_interests_reference": row.best_interests_reference,
            "view_weighed": bool(row.weighed),
        }
        for row in consents.child_consents(session, ROW_LIMIT)
    }
    rows: list[dict[str, object]] = [
        {
            "at": iso(referral.created_at),
            "referral": referral.id,
            "packet_id": referral.packet_id,
            "recipient": referral.recipient,
            "purpose": referral.purpose,
            "status": referral.status,
            "reason": referral.status_reason,
            **next(child[c] for c in referral.consent_ids if c in child),
        }
        for referral in referrals.resting_on(session, child, ROW_LIMIT)
    ]
    refused = accesslog.recent(
        session,
        (Action.REFERRAL_REFUSED, Action.EVENT_REFUSED),
        outcomes=CHILD_RULES,
        since=now - REFUSALS_PERIOD,
        now=now,
        limit=ROW_LIMIT,
    )
    rows.extend(
        {"at": iso(row.at), "purpose": row.purpose, "status": "refused", "reason": row.outcome}
        for row in refused
    )
    rows = rows[:ROW_LIMIT]
    return Report(
        name="children",
        title=titled(
            "Children's referrals and refusals that protect children", len(rows) == ROW_LIMIT
        ),
        columns=COLUMNS,
        rows=rows,
    )
