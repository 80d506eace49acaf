"""Recording and reading cases. Services add to the session; the request's unit of work commits.

A caseworker only ever reaches cases of their own office: a case of another office is reported
as not found, exactly like one that does not exist, so ids cannot be probed.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy.orm import Session

from gateway.kit.at_rest import PersonErased, open_json, seal_json
from gateway.kit.auth import Principal
from gateway.kit.errors import Gone, NotFound
from gateway.kit.node import Node
from gateway.records.accesslog.writer import Action, Actor, deny, record
from gateway.records.cases import repository
from gateway.records.cases.models import CaseRow
from schemas.api import CaseCreate, CaseRead
from schemas.common import StaffRole

PERSON = "cases"


def person(node: Node, row: CaseRow) -> CaseCreate:
    """The person's details, decrypted; 410 if the person has been erased."""
    try:
        return CaseCreate.model_validate(open_json(node.keys, row.id, row.sealed, context=PERSON))
    except PersonErased as exc:
        raise Gone("this person's data has been erased") from exc


def case_read(node: Node, row: CaseRow) -> CaseRead:
    details = person(node, row)
    return CaseRead(
        id=row.id,
        office=row.office,
        created_at=row.created_at,
        given_name=details.given_name,
        family_name=details.family_name,
        date_of_birth=details.date_of_birth,
        age_uncertain=details.age_uncertain,
        nationality=details.nationality,
        preferred_language=details.preferred_language,
        vulnerability_flags=sorted(f.value for f in details.vulnerability_flags),
        sex=details.sex.value,
    )


def create_case(
    session: Session, node: Node, principal: Principal, body: CaseCreate, now: datetime
) -> CaseRead:
    principal.require(StaffRole.CASEWORKER)
    case_id = secrets.token_hex(16)
    row = CaseRow(
        id=case_id,
        office=principal.office,
        created_by=principal.user,
        created_at=now,
        sealed=seal_json(node.keys, case_id, body.model_dump(mode="json"), context=PERSON),
    )
    session.add(row)
    record(session, at=now, actor=Actor.of(principal), action=Action.CASE_CREATED, subject=row.id)
    return case_read(node, row)


def correct_case(
    session: Session,
    node: Node,
    principal: Principal,
    case_id: str,
    body: CaseCreate,
    now: datetime,
) -> CaseRead:
    """Replace the person's details with corrected ones; the log says whether any changed, no value.

    What was already sent is not changed by this; recipients keep what they received until a
    correction is sent to them.
    """
    row = own_case(session, principal, case_id, now)
    before = person(node, row).model_dump(mode="json")
    after = body.model_dump(mode="json")
    changed = sorted(name for name in after if after[name] != before.get(name))
    row.sealed = seal_json(node.keys, row.id, after, context=PERSON)
    record(
        session,
        at=now,
        actor=Actor.of(principal),
        action=Action.CASE_CORRECTED,
        subject=row.id,
        outcome="corrected" if changed else "unchanged",
    )
    return case_read(node, row)


def own_case(session: Session, principal: Principal, case_id: str, now: datetime) -> CaseRow:
    """The case if it belongs to the caller's office; otherwise NotFound (and a denied entry)."""
    principal.require(StaffRole.CASEWORKER)
    row = repository.case_in_office(session, case_id, principal.office)
    if row is None:
        # An attempt on another office's case belongs in that person's history too.
        probed = case_id if session.get(CaseRow, case_id) is not None else None
        deny(
            session,
            at=now,
            actor=Actor.of(principal),
            outcome="case_not_in_office",
            subject=probed,
        )
        raise NotFound("case")
    return row


def read_case(
    session: Session, node: Node, principal: Principal, case_id: str, now: datetime
) -> CaseRead:
    row = own_case(session, principal, case_id, now)
    record(session, at=now, actor=Actor.of(principal), action=Action.CASE_VIEWED, subject=row.id)
    return case_read(node, row)
