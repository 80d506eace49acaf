"""Packets cancelled before they were sent, and the rule that stopped each."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from gateway.kit.node import Node
from gateway.processes.audit.reports.report import ROW_LIMIT, Report, iso, titled
from gateway.records.accesslog import repository as accesslog
from gateway.records.accesslog.writer import Action

CANCELLED_PERIOD = timedelta(days=90)


def cancelled(session: Session, node: Node, now: datetime) -> Report:
    """Packets cancelled before they were sent, and the rule that stopped each (last 90 days).

    A withdrawal of consent cancels what still waits; the delivery worker cancels what the
    directory in force at the attempt forbids (a suspension, a member gone, a role changed).
    """
    del node
    rows = accesslog.recent(
        session,
        (Action.REFERRAL_CANCELLED, Action.DELIVERY_CANCELLED),
        since=now - CANCELLED_PERIOD,
        now=now,
        limit=ROW_LIMIT,
    )
    return Report(
        name="cancelled",
        title=titled(
            f"Packets cancelled before delivery in the last {CANCELLED_PERIOD.days} days",
            len(rows) == ROW_LIMIT,
        ),
        columns=["at", "message", "packet_id", "purpose", "sections", "rule", "by"],
        rows=[
            {
                "at": iso(row.at),
                "message": "referral" if row.action == Action.REFERRAL_CANCELLED else "other",
                "packet_id": row.packet_id,
                "purpose": row.purpose,
                "sections": row.sections,
                "rule": row.outcome,
                "by": row.actor,
            }
            for row in rows
        ],
    )
