"""A person's question or complaint to the DPO: written in the portal, read and answered on the
DPO's pages, read back by the person; logged at each step, sealed at rest, never sent to a
partner, and never shown to another person."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from gateway.exchange.outbox.models import OutboxRow
from gateway.records.accesslog.models import AccessEventRow
from gateway.records.person_access.models import PersonQuestionRow
from tests.support import flows
from tests.support.federation import TestFederation, TestNode
from tests.support.nodes import database_text
from tests.support.portal import csrf_of, dpo_signed_in, issue_card, portal_client, sign_in

WORDS = "Why was my health section sent? QUESTION-CANARY"


def person(host: TestNode) -> tuple[str, TestClient]:
    case = flows.create_case(host)
    card = issue_card(host, case["id"])
    browser = portal_client(host)
    assert sign_in(browser, card["reference"], card["code"]).status_code == 303
    return case["id"], browser


def ask(browser: TestClient, text: str = WORDS) -> None:
    page = browser.get("/portal/home").text
    response = browser.post("/portal/questions", data={"csrf": csrf_of(page), "text": text})
    assert (response.status_code, response.headers["location"]) == (
        303,
        "/portal/home?notice=question",
    )


def logged(host: TestNode, action: str) -> list[str | None]:
    with host.sessions() as session:
        return list(
            session.scalars(
                select(AccessEventRow.subject).where(AccessEventRow.action == action)
            ).all()
        )


def outbox_rows(host: TestNode) -> int:
    with host.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(OutboxRow)) or 0)


class TestQuestions:
    def test_the_dpo_reads_and_answers_and_the_person_reads_the_answer(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        case_id, browser = person(host)
        queued = outbox_rows(host)

        ask(browser)

        assert logged(host, "question_asked") == [case_id]
        dpo = dpo_signed_in(host)
        listed = dpo.get("/dpo/questions").text
        assert "QUESTION-CANARY" not in listed  # the list shows dates and status only
        (question_id,) = re.findall(r'href="/dpo/questions/([0-9a-f]{32})"', listed)
        opened = dpo.get(f"/dpo/questions/{question_id}")
        assert opened.status_code == 200
        assert "QUESTION-CANARY" in opened.text
        assert logged(host, "question_read") == [case_id]
        answered = dpo.post(
            f"/dpo/questions/{question_id}/answer",
            data={"csrf": csrf_of(opened.text), "text": "Because you agreed. ANSWER-CANARY"},
        )
        assert answered.status_code == 303
        assert logged(host, "question_answered") == [case_id]
        page = browser.get("/portal/home").text
        assert "QUESTION-CANARY" in page
        assert "ANSWER-CANARY" in page
        # Nothing of it goes to another node, and the words are sealed at rest.
        assert outbox_rows(host) == queued
        assert b"CANARY" not in database_text(host.engine)

    def test_a_question_is_answered_once(self, pair: TestFederation, host: TestNode) -> None:
        _, browser = person(host)
        ask(browser)
        dpo = dpo_signed_in(host)
        (question_id,) = re.findall(
            r'href="/dpo/questions/([0-9a-f]{32})"', dpo.get("/dpo/questions").text
        )
        page = dpo.get(f"/dpo/questions/{question_id}").text
        for text in ("First answer.", "Second answer."):
            dpo.post(
                f"/dpo/questions/{question_id}/answer",
                data={"csrf": csrf_of(page), "text": text},
            )

        with host.sessions() as session:
            (row,) = session.scalars(select(PersonQuestionRow)).all()
        assert row.answered_at is not None
        assert "First answer." in dpo.get(f"/dpo/questions/{question_id}").text
        assert "Second answer." not in dpo.get(f"/dpo/questions/{question_id}").text

    def test_another_person_never_sees_it(self, pair: TestFederation, host: TestNode) -> None:
        _, first = person(host)
        _, second = person(host)

        ask(first)

        assert "QUESTION-CANARY" not in second.get("/portal/home").text

    def test_an_empty_or_too_long_message_writes_nothing(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        _, browser = person(host)
        page = browser.get("/portal/home").text
        for text in ("   ", "x" * 2001):
            response = browser.post("/portal/questions", data={"csrf": csrf_of(page), "text": text})
            assert response.status_code in {303, 422}
        assert logged(host, "question_asked") == []

    def test_only_a_signed_in_dpo_reads_them(self, pair: TestFederation, host: TestNode) -> None:
        _, browser = person(host)
        ask(browser)
        with host.sessions() as session:
            (row,) = session.scalars(select(PersonQuestionRow)).all()

        stranger = portal_client(host)
        response = stranger.get(f"/dpo/questions/{row.id}")

        assert response.status_code == 303
        assert logged(host, "question_read") == []
        # The person's own session is not a DPO's either.
        assert browser.get(f"/dpo/questions/{row.id}").status_code == 303
