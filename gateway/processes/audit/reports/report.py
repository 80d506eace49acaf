"""What every DPO report is: a name, a title, columns and plain rows; and the CSV form of one.

Invariants of every report (``processes.audit.reports``):
- no case content, ever: rows hold ids, codes, counts and dates. Queries select named columns
  only, so no sealed column (case, referral or received section) is even read from the database;
- read-only: builders never add, change or delete a row, and never write the access log (the
  caller logs that a report was produced, if it wants to);
- bounded: every query has a ``LIMIT``. Registers that must be complete (``transfers``,
  ``processing``) read page after page; work lists stop at ``ROW_LIMIT`` rows and say so in
  their title;
- the caller authorises: builders take no principal, so the route or CLI command in front of
  them must admit the DPO only.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from gateway.kit.node import Node

#: Most rows a work list shows, and most rows any one query reads.
ROW_LIMIT = 10_000


@dataclass(frozen=True)
class Report:
    """One report: rows of plain values (str, int, bool, None or lists of str), and a note
    on how to read them where the title is not enough."""

    name: str
    title: str
    columns: list[str]
    rows: list[dict[str, object]] = field(default_factory=list)
    note: str = ""


Builder = Callable[[Session, Node, datetime], Report]


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def titled(title: str, truncated: bool) -> str:
    return f"{title} (first {ROW_LIMIT} rows only)" if truncated else title


#: A cell starting with one of these is a formula to a spreadsheet (CSV injection); see to_csv.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        value = ";".join(str(item) for item in value)
    if isinstance(value, str):
        # Actor ids come from other organisations' identity providers; a DPO opens this file in a
        # spreadsheet, so a text cell is never let through as a formula.
        return "'" + value if value.startswith(_FORMULA_START) else value
    return str(value)


def to_csv(report: Report) -> str:
    """The report as CSV: a header of its columns, one line per row, lists joined with ``;``."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(report.columns)
    for row in report.rows:
        writer.writerow([_cell(row.get(column)) for column in report.columns])
    return out.getvalue()
