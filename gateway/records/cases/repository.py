"""Every query on cases and the events of a person's return, and every change to events.

Staff reads are scoped to the caller's office (``case_in_office``); ``by_id`` is for the node's
own jobs and for callers that reached the case through something already scoped (a referral of
their office, a person's own signed-in session).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from gateway.records.cases.models import CaseEventRow, CaseRow
from schemas.directory import RetentionEvent

# Statements every referral runs, built once: building one costs more than running it.
_IN_OFFICE = select(CaseRow).where(
    CaseRow.id == bindparam("case_id"), CaseRow.office == bindparam("office")
)
_EVENTS = select(CaseEventRow.event, CaseEventRow.occurred_at).where(
    CaseEventRow.case_id == bindparam("case_id")
)


def case_in_office(session: Session, case_id: str, office: str) -> CaseRow | None:
    return session.scalar(_IN_OFFICE, {"case_id": case_id, "office": office})


def of_office(session: Session, office: str, *, limit: int, offset: int = 0) -> list[CaseRow]:
    """A page of the office's cases, newest first (ids and dates; the sealed details are not
    opened here)."""
    return list(
        session.scalars(
            select(CaseRow)
            .where(CaseRow.office == office)
            .order_by(CaseRow.created_at.desc(), CaseRow.id)
            .limit(limit)
            .offset(offset)
        )
    )


def by_id(session: Session, case_id: str) -> CaseRow | None:
    return session.get(CaseRow, case_id)


def case_events(session: Session, case_id: str) -> dict[RetentionEvent, datetime]:
    """The events of the person's return reported so far, and when each happened."""
    rows = session.execute(_EVENTS, {"case_id": case_id}).all()
    return {RetentionEvent(r.event): r.occurred_at for r in rows}


def event(session: Session, case_id: str, kind: RetentionEvent) -> CaseEventRow | None:
    return session.get(CaseEventRow, (case_id, kind.value))


def set_event(
    session: Session,
    case_id: str,
    kind: RetentionEvent,
    *,
    occurred_at: datetime,
    recorded_at: datetime,
    reported_by: str,
) -> None:
    """Record when an event happened; a later report of the same event replaces the earlier."""
    row = event(session, case_id, kind)
    if row is None:
        row = CaseEventRow(case_id=case_id, event=kind.value)
        session.add(row)
    row.occurred_at, row.recorded_at, row.reported_by = occurred_at, recorded_at, reported_by
    session.flush()
