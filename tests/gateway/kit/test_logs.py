"""Operational logs: JSON lines through one configuration, and one request line per request."""

from __future__ import annotations

import logging
import re

import pytest
from sqlalchemy import create_engine, text

from gateway.kit.logs import REQUEST_ID_HEADER
from gateway.kit.metrics import REQUESTS
from partners.client import INBOX_PATH
from tests.support import flows
from tests.support.federation import TestFederation, TestNode
from tests.support.logs import captured_logs

CANARY = "CANARY-91d2-log-leak"


class TestConfigureLogging:
    def test_an_avrr_line_is_one_json_object_with_logger_level_and_time(self) -> None:
        with captured_logs() as logs:
            logging.getLogger("avrr.delivery").info("delivered %s", 3)
        (line,) = logs.lines()
        assert line["event"] == "delivered 3"
        assert line["logger"] == "avrr.delivery"
        assert line["level"] == "info"
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", line["timestamp"])

    def test_the_text_format_is_for_a_person_not_json(self) -> None:
        with captured_logs("text") as logs:
            logging.getLogger("avrr.purge").warning("purge run failed")
        assert "purge run failed" in logs.text
        assert not logs.text.lstrip().startswith("{")

    def test_an_exception_shows_its_type_and_frames_never_its_message(self) -> None:
        with captured_logs() as logs:
            try:
                raise ValueError(f"duplicate key value (given_name)=({CANARY})")
            except ValueError:
                logging.getLogger("avrr.errors").exception("failed")
        (line,) = logs.lines()
        assert line["exception"] == "ValueError"
        assert "test_logs.py" in line["frames"]
        assert CANARY not in logs.text

    def test_debug_never_turns_on_the_database_statement_log(self) -> None:
        engine = create_engine("sqlite://")
        with captured_logs(level=logging.DEBUG) as logs:
            logging.getLogger("avrr.test").debug("debug is on")
            with engine.connect() as connection:
                connection.execute(text("SELECT :name"), {"name": CANARY})
        assert "debug is on" in logs.text
        assert CANARY not in logs.text
        assert "SELECT" not in logs.text

    def test_uvicorn_lines_come_through_and_its_access_log_is_off(self) -> None:
        with captured_logs() as logs:
            logging.getLogger("uvicorn.error").info("Uvicorn running")
            logging.getLogger("uvicorn.access").info('"GET /api/v1/cases/%s HTTP/1.1" 200', CANARY)
        assert [line["event"] for line in logs.lines()] == ["Uvicorn running"]


def request_lines(logs_text: list[dict[str, object]]) -> list[dict[str, object]]:
    return [line for line in logs_text if line.get("logger") == "avrr.requests"]


class TestRequestLog:
    def test_each_request_gets_a_new_id_in_its_answer(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        first = host.client.get("/livez").headers[REQUEST_ID_HEADER]
        second = host.client.get("/livez").headers[REQUEST_ID_HEADER]
        assert re.fullmatch(r"[0-9a-f]{32}", first)
        assert first != second

    def test_a_safe_incoming_id_is_kept(self, pair: TestFederation, host: TestNode) -> None:
        incoming = "3f2b8c1e-4d5a-4b6c-8d7e-9f0a1b2c3d4e"
        answer = host.client.get("/livez", headers={REQUEST_ID_HEADER: incoming})
        assert answer.headers[REQUEST_ID_HEADER] == incoming

    @pytest.mark.parametrize(
        "incoming",
        ["Synthetic Person 1990-01-01", "xyz", "a" * 16 + "/x", "0" * 65, "dead beef cafe 0000"],
    )
    def test_an_unsafe_incoming_id_is_replaced(
        self, pair: TestFederation, host: TestNode, incoming: str
    ) -> None:
        with captured_logs() as logs:
            answer = host.client.get("/livez", headers={REQUEST_ID_HEADER: incoming})
        replaced = answer.headers[REQUEST_ID_HEADER]
        assert replaced != incoming
        assert re.fullmatch(r"[0-9a-f]{32}", replaced)
        # No test value is hex alone, so none can turn up inside a generated id by chance.
        assert incoming not in logs.text

    def test_the_request_line_names_the_route_template_never_the_path_or_query(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        case_id = flows.create_case(host)["id"]
        with captured_logs() as logs:
            answer = host.client.get(f"/api/v1/cases/{case_id}?note={CANARY}", headers=host.auth())
        assert answer.status_code == 200
        (line,) = request_lines(logs.lines())
        assert line["event"] == "request"
        assert line["method"] == "GET"
        assert line["route"] == "/api/v1/cases/{case_id}"
        assert line["status"] == 200
        assert isinstance(line["duration_ms"], float)
        assert line["request_id"] == answer.headers[REQUEST_ID_HEADER]
        assert line["level"] == "info"
        assert case_id not in logs.text
        assert CANARY not in logs.text
        assert "Bearer" not in logs.text

    def test_lines_logged_while_handling_a_request_carry_its_id(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        with captured_logs() as logs:
            answer = host.client.post(
                INBOX_PATH, content=b"{}", headers={"Authorization": "Bearer not-a-token"}
            )
        assert answer.status_code == 401
        refused = [line for line in logs.lines() if "node token refused" in str(line["event"])]
        assert refused
        assert {line["request_id"] for line in refused} == {answer.headers[REQUEST_ID_HEADER]}

    def test_no_request_id_leaks_into_lines_after_the_request(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        with captured_logs() as logs:
            host.client.get("/livez")
            logging.getLogger("avrr.worker").info("between requests")
        after = [line for line in logs.lines() if line["event"] == "between requests"]
        assert after
        assert "request_id" not in after[0]

    def test_an_unknown_path_is_unmatched_and_a_static_file_is_its_mount(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        with captured_logs() as logs:
            host.client.get(f"/nowhere/{CANARY}")
            host.client.get(f"/portal/static/{CANARY}.css")
        routes = [line["route"] for line in request_lines(logs.lines())]
        assert routes == ["unmatched", "/portal/static/{path}"]
        assert CANARY not in logs.text

    def test_probe_lines_are_debug_so_they_do_not_flood_the_log(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        with captured_logs(level=logging.INFO) as logs:
            host.client.get("/livez")
            host.client.get("/readyz")
        assert request_lines(logs.lines()) == []

    def test_requests_are_counted_by_route_template(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        counter = REQUESTS.labels(method="GET", route="/api/v1/cases/{case_id}", status="404")
        before = counter._value.get()
        answer = host.client.get("/api/v1/cases/" + "0" * 32, headers=host.auth())
        assert answer.status_code == 404
        assert counter._value.get() == before + 1
