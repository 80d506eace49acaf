"""Queries on cases. Every read is scoped to the caller's office."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.cases.models import CaseRow


def case_in_office(session: Session, case_id: str, office: str) -> CaseRow | None:
    return session.scalar(select(CaseRow).where(CaseRow.id == case_id, CaseRow.office == office))
