"""The data protection officer's reports: what this node processes, sends, still holds, and who
looks. One module per report; each builds its rows from a session, the node and the time, and
the API returns them as JSON and the CLI writes them as CSV (``report.to_csv``). What every
report promises (no content, read-only, bounded, authorised by the caller) is in ``report``.

Example::

    >>> built = build("transfers", session, node, now)               # doctest: +SKIP
    >>> built.columns[:3]                                            # doctest: +SKIP
    ['destination_country', 'purpose', 'data_category']
    >>> print(to_csv(built))                                         # doctest: +SKIP
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from gateway.kit.errors import NotFound
from gateway.kit.node import Node
from gateway.processes.audit.reports.cancelled import cancelled
from gateway.processes.audit.reports.children import children
from gateway.processes.audit.reports.denied import denied
from gateway.processes.audit.reports.overdue_deletions import overdue_deletions
from gateway.processes.audit.reports.pending_withdrawals import pending_withdrawals
from gateway.processes.audit.reports.processing import NO_CURRENT_RULE, processing
from gateway.processes.audit.reports.report import ROW_LIMIT, Builder, Report, to_csv
from gateway.processes.audit.reports.transfers import UNKNOWN_COUNTRY, transfers
from gateway.processes.audit.reports.unusual import (
    DENIALS_PER_DAY,
    SUBJECTS_PER_HOUR,
    unusual,
)

REPORTS: dict[str, Builder] = {
    "processing": processing,
    "transfers": transfers,
    "overdue-deletions": overdue_deletions,
    "pending-withdrawals": pending_withdrawals,
    "denied": denied,
    "unusual": unusual,
    "cancelled": cancelled,
    "children": children,
}


def build(name: str, session: Session, node: Node, now: datetime) -> Report:
    """The named report; ``NotFound`` for a name not in ``REPORTS``."""
    try:
        builder = REPORTS[name]
    except KeyError:
        raise NotFound("report") from None
    return builder(session, node, now)


__all__ = [
    "DENIALS_PER_DAY",
    "NO_CURRENT_RULE",
    "REPORTS",
    "ROW_LIMIT",
    "SUBJECTS_PER_HOUR",
    "UNKNOWN_COUNTRY",
    "Report",
    "build",
    "to_csv",
]
