"""Denied accesses by actor and outcome, most frequent first."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from gateway.kit.node import Node
from gateway.processes.audit.reports.report import ROW_LIMIT, Report, iso, titled
from gateway.records.accesslog import repository as accesslog

DENIED_PERIOD = timedelta(days=90)


def denied(session: Session, node: Node, now: datetime) -> Report:
    """Denied accesses in the last ``DENIED_PERIOD``, by actor and outcome, most frequent first."""
    del node
    rows = accesslog.denials_by_actor(session, since=now - DENIED_PERIOD, now=now, limit=ROW_LIMIT)
    return Report(
        name="denied",
        title=titled(
            f"Denied accesses in the last {DENIED_PERIOD.days} days", len(rows) == ROW_LIMIT
        ),
        columns=[
            "actor",
            "actor_org",
            "actor_role",
            "outcome",
            "count",
            "first_at",
            "last_at",
        ],
        rows=[
            {
                "actor": row.actor,
                "actor_org": row.actor_org,
                "actor_role": row.actor_role,
                "outcome": row.outcome,
                "count": int(row.times),
                "first_at": iso(row.first_at),
                "last_at": iso(row.last_at),
            }
            for row in rows
        ],
    )
