"""The person's questions and complaints to the data protection officer, and the answers.

Written in the portal, read and answered on the DPO's pages, and never sent to another node. Both
the person's words and the answer are sealed at rest under the person's data key, so erasing the
person erases them too. Asking, the DPO's reading of one, and answering are each logged in the
person's history.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.kit.at_rest import PersonErased, open_json, seal_json
from gateway.kit.errors import Conflict, NotFound, Unprocessable
from gateway.kit.node import Node
from gateway.records.accesslog.writer import Action, Actor, record
from gateway.records.cases.models import CaseRow
from gateway.records.person_access.models import PersonQuestionRow

CONTEXT = "person_questions"
MAX_LENGTH = 2_000
#: Most questions a DPO's list shows at once, newest first.
LIST_LIMIT = 500


@dataclass(frozen=True)
class Question:
    id: str
    case_id: str
    asked_at: datetime
    text: str
    answer: str | None
    answered_at: datetime | None


def ask(session: Session, node: Node, case: CaseRow, actor: Actor, text: str, now: datetime) -> str:
    """The person writes to the DPO; answers the question's id."""
    words = _checked(text)
    if node.keys.existing_key(case.id) is None:
        raise Unprocessable("this person's data has been erased")
    row = PersonQuestionRow(
        id=secrets.token_hex(16),
        case_id=case.id,
        asked_at=now,
        sealed_text=seal_json(node.keys, case.id, {"text": words}, context=CONTEXT),
    )
    session.add(row)
    record(session, at=now, actor=actor, action=Action.QUESTION_ASKED, subject=case.id)
    return row.id


def of_case(session: Session, node: Node, case_id: str) -> list[Question]:
    """The person's own questions with the answers, oldest first (for the portal)."""
    rows = session.scalars(
        select(PersonQuestionRow)
        .where(PersonQuestionRow.case_id == case_id)
        .order_by(PersonQuestionRow.asked_at)
    ).all()
    return [_opened(node, row) for row in rows]


def waiting_first(session: Session) -> Sequence[PersonQuestionRow]:
    """Every question, unanswered ones first, then newest first; without their words."""
    return session.scalars(
        select(PersonQuestionRow)
        .order_by(PersonQuestionRow.answered_at.is_not(None), PersonQuestionRow.asked_at.desc())
        .limit(LIST_LIMIT)
    ).all()


def read(session: Session, node: Node, question_id: str, actor: Actor, now: datetime) -> Question:
    """One question with its words, for the DPO; the reading is logged in the person's history."""
    row = session.get(PersonQuestionRow, question_id)
    if row is None:
        raise NotFound("question")
    record(session, at=now, actor=actor, action=Action.QUESTION_READ, subject=row.case_id)
    return _opened(node, row)


def answer(
    session: Session, node: Node, question_id: str, actor: Actor, text: str, now: datetime
) -> Question:
    """The DPO answers, once; the person reads the answer in the portal."""
    words = _checked(text)
    row = session.get(PersonQuestionRow, question_id)
    if row is None:
        raise NotFound("question")
    if row.answered_at is not None:
        raise Conflict("this question was already answered")
    row.sealed_answer = seal_json(node.keys, row.case_id, {"text": words}, context=CONTEXT)
    row.answered_at, row.answered_by = now, actor.user
    record(session, at=now, actor=actor, action=Action.QUESTION_ANSWERED, subject=row.case_id)
    return _opened(node, row)


def _checked(text: str) -> str:
    words = text.strip()
    if not words or len(words) > MAX_LENGTH:
        raise Unprocessable(f"write 1 to {MAX_LENGTH} characters")
    return words


def _opened(node: Node, row: PersonQuestionRow) -> Question:
    try:
        text = str(open_json(node.keys, row.case_id, row.sealed_text, context=CONTEXT)["text"])
        answer = (
            str(open_json(node.keys, row.case_id, row.sealed_answer, context=CONTEXT)["text"])
            if row.sealed_answer is not None
            else None
        )
    except PersonErased:
        text, answer = "", None
    return Question(
        id=row.id,
        case_id=row.case_id,
        asked_at=row.asked_at,
        text=text,
        answer=answer,
        answered_at=row.answered_at,
    )
