"""Withdrawals of consent not yet confirmed by every recipient."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from gateway.exchange.revocations import repository as revocations
from gateway.kit.node import Node
from gateway.processes.audit.reports.report import ROW_LIMIT, Report, iso, titled
from gateway.records.consents import repository as consents


def pending_withdrawals(session: Session, node: Node, now: datetime) -> Report:
    """One row per recipient that has not confirmed deleting what a withdrawal revoked, oldest first.

    ``held`` counts as not confirmed: the recipient signed that a legal hold keeps the data.
    """
    del node
    requests = revocations.unconfirmed_of_withdrawals(session, ROW_LIMIT)
    withdrawals = consents.withdrawals_by_id(session, {r.withdrawal_id for r in requests})
    return Report(
        name="pending-withdrawals",
        title=titled(
            "Withdrawals of consent not yet confirmed by every recipient",
            len(requests) == ROW_LIMIT,
        ),
        columns=["withdrawal_id", "case_id", "requested_at", "recipient", "status", "age_days"],
        rows=[
            {
                "withdrawal_id": request.withdrawal_id,
                "case_id": withdrawals[request.withdrawal_id].case_id,
                "requested_at": iso(withdrawals[request.withdrawal_id].requested_at),
                "recipient": request.recipient,
                "status": request.status,
                "age_days": (now - withdrawals[request.withdrawal_id].requested_at).days,
            }
            for request in requests
        ],
    )
