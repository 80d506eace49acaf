"""Recording and reading cases. Services add to the session; the request's unit of work commits.

A caseworker only ever reaches cases of their own office: a case of another office is reported
as not found, exactly like one that does not exist, so ids cannot be probed.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy.orm import Session

from gateway.accesslog.service import Action, Actor, deny, record
from gateway.auth import Principal
from gateway.cases import repository
from gateway.cases.models import CaseRow
from gateway.errors import NotFound
from schemas.api import CaseCreate, CaseRead
from schemas.common import StaffRole


def case_read(row: CaseRow) -> CaseRead:
    return CaseRead(
        id=row.id,
        office=row.office,
        created_at=row.created_at,
        given_name=row.given_name,
        family_name=row.family_name,
        date_of_birth=row.date_of_birth,
        age_uncertain=row.age_uncertain,
        nationality=row.nationality,
        preferred_language=row.preferred_language,
        vulnerability_flags=row.vulnerability_flags,
    )


def create_case(
    session: Session, principal: Principal, body: CaseCreate, now: datetime
) -> CaseRead:
    principal.require(StaffRole.CASEWORKER)
    row = CaseRow(
        id=secrets.token_hex(16),
        office=principal.office,
        created_by=principal.user,
        created_at=now,
        given_name=body.given_name,
        family_name=body.family_name,
        date_of_birth=body.date_of_birth,
        age_uncertain=body.age_uncertain,
        nationality=body.nationality,
        preferred_language=body.preferred_language,
        vulnerability_flags=sorted(f.value for f in body.vulnerability_flags),
    )
    session.add(row)
    record(session, at=now, actor=Actor.of(principal), action=Action.CASE_CREATED, subject=row.id)
    return case_read(row)


def own_case(session: Session, principal: Principal, case_id: str, now: datetime) -> CaseRow:
    """The case if it belongs to the caller's office; otherwise NotFound (and a denied entry)."""
    principal.require(StaffRole.CASEWORKER)
    row = repository.case_in_office(session, case_id, principal.office)
    if row is None:
        deny(session, at=now, actor=Actor.of(principal), outcome="case_not_in_office")
        raise NotFound("case")
    return row


def read_case(session: Session, principal: Principal, case_id: str, now: datetime) -> CaseRead:
    row = own_case(session, principal, case_id, now)
    record(session, at=now, actor=Actor.of(principal), action=Action.CASE_VIEWED, subject=row.id)
    return case_read(row)
