"""The HTTP surface for bad input: clear 4xx answers in one shape, never a 500 or a stack trace."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from gateway.exchange.referrals.models import ReferralRow
from gateway.kit.db import make_engine, make_sessionmaker
from gateway.records.accesslog.models import AccessEventRow
from tests.support import flows
from tests.support.federation import TestFederation, TestNode


class TestValidation:
    @pytest.mark.parametrize(
        ("change", "where"),
        [
            ({"nationality": "XX"}, "nationality"),
            ({"preferred_language": "zz"}, "preferred_language"),
            ({"given_name": "x" * 201}, "given_name"),
            ({"unexpected": 1}, "unexpected"),
            ({"vulnerability_flags": ["not_a_flag"]}, "vulnerability_flags"),
        ],
    )
    def test_invalid_case_is_a_422_naming_the_field(
        self, pair: TestFederation, host: TestNode, change: dict[str, Any], where: str
    ) -> None:
        response = host.client.post(
            "/api/v1/cases", json={**flows.CASE, **change}, headers=host.auth()
        )
        assert response.status_code == 422
        body = response.json()
        assert body["error"] == "invalid_request"
        assert any(where in problem["loc"] for problem in body["detail"])

    def test_validation_errors_do_not_echo_the_input(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        response = host.client.post(
            "/api/v1/cases", json={**flows.CASE, "nationality": "CANARY-VALUE"}, headers=host.auth()
        )
        assert response.status_code == 422
        assert "CANARY-VALUE" not in response.text

    def test_age_must_be_known_or_marked_uncertain(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        body = {k: v for k, v in flows.CASE.items() if k != "date_of_birth"}
        assert host.client.post("/api/v1/cases", json=body, headers=host.auth()).status_code == 422
        body["age_uncertain"] = True
        assert host.client.post("/api/v1/cases", json=body, headers=host.auth()).status_code == 201

    def test_a_wrong_method_is_405_naming_the_methods_allowed(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        response = host.client.delete("/api/v1/referrals", headers=host.auth())
        assert response.status_code == 405
        assert response.headers["allow"] == "GET, POST"  # two routes share the path
        only_post = host.client.put("/api/v1/cases", headers=host.auth())
        assert only_post.headers["allow"] == "POST"
        assert response.json()["error"] == "method_not_allowed"

    def test_a_body_that_is_not_utf8_is_a_422(self, pair: TestFederation, host: TestNode) -> None:
        raw = host.client.post(
            "/api/v1/cases",
            content=bytes([0x7B, 0xFF, 0xFE, 0x7D]),
            headers={**host.auth(), "Content-Type": "application/json"},
        )
        assert raw.status_code == 422, raw.text
        assert raw.json()["error"] == "invalid_request"

    def test_a_date_of_birth_in_the_future_is_refused(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        tomorrow = (datetime.now(UTC).date() + timedelta(days=2)).isoformat()
        response = host.client.post(
            "/api/v1/cases", json={**flows.CASE, "date_of_birth": tomorrow}, headers=host.auth()
        )
        assert response.status_code == 422
        assert "date_of_birth" in response.text
        content = flows.content()
        content["travel"]["traveller_date_of_birth"] = tomorrow
        case = flows.create_case(host)
        flows.record_consent(host, case["id"], "origin-reception")
        sent = flows.post_referral(host, case["id"], "origin-reception", body=content)
        assert sent.status_code == 422, sent.text

    def test_malformed_json_is_a_422(self, pair: TestFederation, host: TestNode) -> None:
        response = host.client.post(
            "/api/v1/cases",
            content=b"{not json",
            headers={**host.auth(), "Content-Type": "application/json"},
        )
        assert response.status_code == 422

    def test_badly_formed_id_is_a_422_not_a_lookup(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        assert host.client.get("/api/v1/cases/../../etc", headers=host.auth()).status_code in (
            404,
            422,
        )
        assert host.client.get("/api/v1/cases/NOT-AN-ID", headers=host.auth()).status_code == 422

    def test_unknown_route_is_a_json_404(self, pair: TestFederation, host: TestNode) -> None:
        response = host.client.get("/nowhere")
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"

    def test_oversized_request_is_a_413(self, pair: TestFederation, host: TestNode) -> None:
        big = {**flows.CASE, "given_name": "x" * (host.settings.max_body_bytes + 10)}
        response = host.client.post("/api/v1/cases", json=big, headers=host.auth())
        assert response.status_code == 413

    def test_ids_reaching_clients_are_128_bit_random_hex(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        sent = flows.referral(host, "origin-reception")
        for key in ("id", "case_id", "packet_id"):
            assert len(sent[key]) == 32
            int(sent[key], 16)


class TestIdempotency:
    def test_retried_submit_with_the_same_key_creates_one_referral(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        case = flows.create_case(host)
        flows.record_consent(host, case["id"], "origin-reception")
        key = {"Idempotency-Key": "submit-1"}
        first = flows.post_referral(host, case["id"], "origin-reception", headers=key)
        second = flows.post_referral(host, case["id"], "origin-reception", headers=key)
        assert first.status_code == second.status_code == 201
        assert first.json()["id"] == second.json()["id"]
        with host.sessions() as session:
            assert session.scalar(select(func.count()).select_from(ReferralRow)) == 1

    def test_same_key_with_another_body_is_a_422(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        key = {**host.auth(), "Idempotency-Key": "case-1"}
        assert host.client.post("/api/v1/cases", json=flows.CASE, headers=key).status_code == 201
        other = {**flows.CASE, "family_name": "Other"}
        response = host.client.post("/api/v1/cases", json=other, headers=key)
        assert response.status_code == 422
        assert "Idempotency-Key" in response.json()["detail"]

    def test_keys_are_per_user(self, pair: TestFederation, host: TestNode) -> None:
        first = host.client.post(
            "/api/v1/cases",
            json=flows.CASE,
            headers={**host.auth(user="a"), "Idempotency-Key": "k"},
        )
        second = host.client.post(
            "/api/v1/cases",
            json=flows.CASE,
            headers={**host.auth(user="b"), "Idempotency-Key": "k"},
        )
        assert first.json()["id"] != second.json()["id"]


class TestRefusals:
    def test_referral_without_consent_is_refused_with_the_rule_and_logged(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        case = flows.create_case(host)
        response = flows.post_referral(host, case["id"], "origin-reception")
        assert response.status_code == 422
        assert response.json()["rule"] == "no_valid_consent_for_purpose_and_recipient"
        with host.sessions() as session:
            refused = session.scalars(
                select(AccessEventRow.outcome).where(AccessEventRow.action == "referral_refused")
            ).all()
            assert session.scalar(select(func.count()).select_from(ReferralRow)) == 0
        assert refused == ["no_valid_consent_for_purpose_and_recipient"]

    def test_referral_to_an_unknown_recipient_is_a_422(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        case = flows.create_case(host)
        response = flows.post_referral(host, case["id"], "nobody-here")
        assert response.status_code == 422

    def test_referral_to_a_suspended_country_is_refused(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        case = flows.create_case(host)
        flows.record_consent(host, case["id"], "origin-reception")
        pair.suspended = ["SN"]
        pair.publish()
        response = flows.post_referral(host, case["id"], "origin-reception")
        assert response.status_code == 422
        assert response.json()["rule"] == "country_suspended"

    def test_referral_whose_fields_are_all_withheld_is_refused(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        case = flows.create_case(host)
        flows.record_consent(host, case["id"], "origin-reception", sections=["reintegration"])
        response = flows.post_referral(host, case["id"], "origin-reception")
        assert response.status_code == 422
        assert response.json()["rule"] == "nothing_left_after_policy_and_consent"


class TestUnexpectedErrors:
    def test_unexpected_failure_is_a_plain_500_without_a_trace(
        self, pair: TestFederation, host: TestNode, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from gateway.records.cases import service

        def explode(*_: object, **__: object) -> None:
            raise RuntimeError("CANARY internal detail")

        monkeypatch.setattr(service, "create_case", explode)
        client = TestClient(host.client.app, raise_server_exceptions=False)
        response = client.post("/api/v1/cases", json=flows.CASE, headers=host.auth())
        assert response.status_code == 500
        assert response.json()["error"] == "internal_error"
        assert "CANARY" not in response.text
        assert "Traceback" not in response.text

    def test_a_client_gone_before_its_body_arrived_is_no_error_of_the_node(
        self, pair: TestFederation, host: TestNode, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A partner's worker stopped mid-post (the crash campaign's kills): the node logs it
        at INFO, not as an error with a trace, and takes nothing."""
        path = "/federation/v1/inbox"
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        messages = [{"type": "http.request", "body": b'{"header": {', "more_body": True}]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        with caplog.at_level(logging.INFO, logger="avrr"):
            asyncio.run(host.client.app(scope, receive, send))
        assert sent[0]["status"] == 422
        assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
        assert any("went away" in r.getMessage() for r in caplog.records)
        with host.sessions() as session:
            assert session.scalar(select(func.count()).select_from(AccessEventRow)) == 0


class TestDatabaseLost:
    """A node whose database went away (a restart, a failover, a killed connection) answers
    503 with Retry-After, never a 500, and keeps nothing of the request."""

    def test_unreachable_database_is_a_503_asking_to_retry(
        self, pair: TestFederation, host: TestNode, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Nothing listens on port 1: every connection attempt is refused.
        unreachable = make_engine("postgresql://127.0.0.1:1/avrr?connect_timeout=2")
        monkeypatch.setattr(host.client.app.state, "sessions", make_sessionmaker(unreachable))
        client = TestClient(host.client.app, raise_server_exceptions=False)

        for method, path in (("GET", "/api/v1/cases/" + "0" * 32), ("POST", "/api/v1/cases")):
            response = client.request(method, path, json=flows.CASE, headers=host.auth())
            assert response.status_code == 503, (method, path)
            assert response.headers["Retry-After"] == "5"
            assert response.json()["error"] == "unavailable"
            assert "Traceback" not in response.text
            assert "127.0.0.1" not in response.text
        unreachable.dispose()

    def test_a_statement_error_is_still_a_500(
        self, pair: TestFederation, host: TestNode, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from sqlalchemy.exc import IntegrityError

        from gateway.records.cases import service

        def conflict(*_: object, **__: object) -> None:
            raise IntegrityError("INSERT ...", {}, Exception("CANARY duplicate"))

        monkeypatch.setattr(service, "create_case", conflict)
        client = TestClient(host.client.app, raise_server_exceptions=False)
        response = client.post("/api/v1/cases", json=flows.CASE, headers=host.auth())
        assert response.status_code == 500
        assert "CANARY" not in response.text
