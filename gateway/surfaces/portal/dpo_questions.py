"""The DPO's pages for the people's questions and complaints: a list (dates and status only),
one question with its words (the reading is logged in the person's history), and the answer,
which the person reads in the portal. Nothing here is ever sent to another node."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gateway.kit.errors import GatewayError
from gateway.records.accesslog.writer import Actor
from gateway.records.person_access import questions, sessions
from gateway.surfaces.api.deps import NodeDep, SessionDep, UnitOfWorkRoute
from gateway.surfaces.portal.dpo_pages import PATH, principal_of, refused, signed_in_dpo
from gateway.surfaces.portal.pages import render

router = APIRouter(prefix="/dpo/questions", include_in_schema=False, route_class=UnitOfWorkRoute)
QuestionId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]


@router.get("", response_class=HTMLResponse)
def waiting(request: Request, db: SessionDep, node: NodeDep) -> Response:
    row = signed_in_dpo(db, request, node)
    if row is None:
        return refused(db, request, node)
    listed = questions.waiting_first(db)
    return render(node, row.language, "dpo_questions.html", csrf=row.csrf, questions=listed)


@router.get("/{question_id}", response_class=HTMLResponse)
def question(question_id: QuestionId, request: Request, db: SessionDep, node: NodeDep) -> Response:
    row = signed_in_dpo(db, request, node)
    if row is None:
        return refused(db, request, node)
    actor = Actor.of(principal_of(row))
    try:
        found = questions.read(db, node, question_id, actor, node.clock.now())
    except GatewayError:
        return render(node, row.language, "message.html", status=404, message="not_found")
    return render(node, row.language, "dpo_question.html", csrf=row.csrf, question=found)


@router.post("/{question_id}/answer")
def answer(
    question_id: QuestionId,
    request: Request,
    db: SessionDep,
    node: NodeDep,
    csrf: Annotated[str, Form(max_length=200)],
    text: Annotated[str, Form(max_length=4000)],
) -> Response:
    row = signed_in_dpo(db, request, node)
    if row is None or not sessions.same(row.csrf, csrf):
        return RedirectResponse(f"{PATH}/", status_code=303)
    try:
        questions.answer(db, node, question_id, Actor.of(principal_of(row)), text, node.clock.now())
    except GatewayError:
        return RedirectResponse(f"{PATH}/questions/{question_id}", status_code=303)
    return RedirectResponse(f"{PATH}/questions?answered=1", status_code=303)
