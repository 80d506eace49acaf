"""A person's requests to correct what is held about them, and a caseworker's answers.

The person's words are sealed at rest under their data key (erasing the person makes them
unreadable); the answer says accepted or not, and who answered, never why.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.kit.at_rest import PersonErased, open_json, seal_json
from gateway.kit.errors import Conflict, NotFound, Unprocessable
from gateway.kit.node import Node
from gateway.records.accesslog.writer import Action, Actor, record
from gateway.records.cases.models import CaseRow
from gateway.records.person_access.models import CorrectionRequestRow
from schemas.audit import CorrectionRead, CorrectionStatus

CORRECTION_CONTEXT = "correction_requests"
CORRECTION_MAX = 2_000


def of_case(session: Session, node: Node, case: CaseRow) -> list[CorrectionRead]:
    """The person's requests, oldest first, with their words (unsealed) and the answers."""
    rows = session.scalars(
        select(CorrectionRequestRow)
        .where(CorrectionRequestRow.case_id == case.id)
        .order_by(CorrectionRequestRow.requested_at)
    ).all()
    result = []
    for row in rows:
        try:
            text = str(
                open_json(node.keys, case.id, row.sealed_text, context=CORRECTION_CONTEXT)["text"]
            )
        except PersonErased:
            text = ""
        result.append(
            CorrectionRead(
                id=row.id,
                requested_at=row.requested_at,
                text=text,
                status=row.status,
                answered_at=row.answered_at,
            )
        )
    return result


def request(
    session: Session, node: Node, case: CaseRow, actor: Actor, text: str, now: datetime
) -> CorrectionRequestRow:
    """The person says what is wrong; the caseworker of the case sees it and answers."""
    text = text.strip()
    if node.keys.existing_key(case.id) is None:
        raise Unprocessable("this person's data has been erased")
    if not text or len(text) > CORRECTION_MAX:
        raise Unprocessable(f"say what is wrong in 1 to {CORRECTION_MAX} characters")
    row = CorrectionRequestRow(
        id=secrets.token_hex(16),
        case_id=case.id,
        requested_at=now,
        sealed_text=seal_json(node.keys, case.id, {"text": text}, context=CORRECTION_CONTEXT),
        status=CorrectionStatus.OPEN,
        answered_at=None,
        answered_by=None,
    )
    session.add(row)
    record(session, at=now, actor=actor, action=Action.CORRECTION_REQUESTED, subject=case.id)
    return row


def answer(
    session: Session,
    node: Node,
    case: CaseRow,
    request_id: str,
    accepted: bool,
    actor: Actor,
    now: datetime,
) -> CorrectionRead:
    """Accept or refuse an open request of this case, once; logged."""
    row = session.get(CorrectionRequestRow, request_id)
    if row is None or row.case_id != case.id:
        raise NotFound("correction request")
    if row.status != CorrectionStatus.OPEN:
        raise Conflict("this request was already answered")
    row.status = CorrectionStatus.ACCEPTED if accepted else CorrectionStatus.REJECTED
    row.answered_at, row.answered_by = now, actor.user
    record(
        session,
        at=now,
        actor=actor,
        action=Action.CORRECTION_ANSWERED,
        subject=case.id,
        outcome=row.status,
    )
    return next(c for c in of_case(session, node, case) if c.id == row.id)
