"""Queries on cases and consents. Every read is scoped to the caller's office."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.cases.models import CaseRow, ConsentRow


def case_in_office(session: Session, case_id: str, office: str) -> CaseRow | None:
    return session.scalar(select(CaseRow).where(CaseRow.id == case_id, CaseRow.office == office))


def consents_of(session: Session, case_id: str) -> Sequence[ConsentRow]:
    return session.scalars(
        select(ConsentRow).where(ConsentRow.case_id == case_id).order_by(ConsentRow.given_at)
    ).all()
