"""Queries on cases. Every read is scoped to the caller's office."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.records.cases.models import CaseEventRow, CaseRow
from schemas.directory import RetentionEvent


def case_in_office(session: Session, case_id: str, office: str) -> CaseRow | None:
    return session.scalar(select(CaseRow).where(CaseRow.id == case_id, CaseRow.office == office))


def case_events(session: Session, case_id: str) -> dict[RetentionEvent, datetime]:
    """The events of the person's return reported so far, and when each happened."""
    rows = session.scalars(select(CaseEventRow).where(CaseEventRow.case_id == case_id)).all()
    return {RetentionEvent(r.event): r.occurred_at for r in rows}
