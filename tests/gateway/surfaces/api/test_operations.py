"""Probes and metrics through the real app: what an orchestrator and Prometheus see."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine

from gateway.kit.keystore import KeyStoreUnavailable
from gateway.processes.metrics import StateGauges
from gateway.records.accesslog.tree import AccessLogTree
from gateway.surfaces.app import create_app
from partners.client import INBOX_PATH
from schemas.common import PartnerRole
from tests.support import flows
from tests.support.federation import TestFederation, TestNode


def scrape(node: TestNode) -> str:
    """``/metrics`` as Prometheus gets it, with the shared-state gauges read afresh."""
    node.client.app.state.state_gauges.ttl = 0  # type: ignore[attr-defined]
    answer = node.client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return answer.text


def value(text: str, name: str, **labels: str) -> float | None:
    """The sample ``name{labels}`` in an exposition, or None if there is none."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return None


def counted(text: str, name: str, **labels: str) -> float:
    return value(text, name, **labels) or 0.0


def broken_database_app(node: TestNode) -> TestClient:
    """The node's app with a database that cannot be reached."""
    engine = create_engine("sqlite:////nonexistent-folder/avrr/node.db")
    return TestClient(create_app(node.settings, clock=node.clock, engine=engine))


class TestProbes:
    def test_livez_answers_without_a_directory_or_a_database(
        self, federation: TestFederation, host: TestNode
    ) -> None:
        with broken_database_app(host) as client:
            assert client.get("/livez").status_code == 200
        assert host.client.get("/livez").json() == {"status": "alive"}

    def test_readyz_answers_with_the_directory_when_all_is_well(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        answer = host.client.get("/readyz")
        assert answer.status_code == 200
        body = answer.json()
        assert body["status"] == "ok"
        assert body["node"] == host.node_id
        assert body["directory"]["serial"] == 1
        assert body["directory"]["days_left"] == 30
        assert "warning" not in body
        assert host.client.get("/healthz").json() == body

    def test_readyz_is_503_without_a_directory(
        self, federation: TestFederation, host: TestNode
    ) -> None:
        answer = host.client.get("/readyz")
        assert answer.status_code == 503
        assert answer.json()["error"] == "unavailable"
        assert host.client.get("/healthz").status_code == 503

    def test_readyz_is_503_when_the_database_does_not_answer(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        with broken_database_app(host) as client:
            answer = client.get("/readyz")
        assert answer.status_code == 503
        assert "database" in answer.json()["detail"]

    def test_readyz_is_503_when_the_key_store_is_not_ready(
        self, pair: TestFederation, host: TestNode, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        node = host.client.app.state.node  # type: ignore[attr-defined]

        def unavailable() -> None:
            raise KeyStoreUnavailable("the key folder /srv/avrr/keys/subjects is not writable")

        monkeypatch.setattr(node.keys, "ready", unavailable)
        answer = host.client.get("/readyz")
        assert answer.status_code == 503
        assert "key store" in answer.json()["detail"]
        assert "/srv" not in answer.text

    def test_readyz_warns_from_seven_days_before_the_directory_expires(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        host.clock.advance(days=22)
        assert "warning" not in host.client.get("/readyz").json()
        host.clock.advance(days=2)
        answer = host.client.get("/readyz")
        assert answer.status_code == 200
        assert "expires in 6.0 days" in answer.json()["warning"]
        host.clock.advance(days=7)
        assert host.client.get("/readyz").status_code == 503


class TestStateGauges:
    def test_a_fresh_node_reports_its_directory_and_an_empty_outbox(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        text = scrape(host)
        assert value(text, "avrr_database_up") == 1
        assert value(text, "avrr_directory_valid") == 1
        assert value(text, "avrr_directory_days_left") == 30
        assert value(text, "avrr_directory_serial") == 1
        assert value(text, "avrr_outbox_dead_letters") == 0
        assert value(text, "avrr_outbox_messages", state="pending") is None

    def test_the_outbox_depth_follows_queueing_and_delivery(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        flows.referral(host, partner.node_id)
        text = scrape(host)
        assert value(text, "avrr_outbox_messages", state="pending", kind="referral") == 1
        assert value(text, "avrr_outbox_oldest_due_seconds") == 0
        host.clock.advance(seconds=90)
        assert value(scrape(host), "avrr_outbox_oldest_due_seconds") == 90
        assert pair.deliver(host).delivered == 1
        text = scrape(host)
        assert value(text, "avrr_outbox_messages", state="pending", kind="referral") is None
        assert value(text, "avrr_outbox_oldest_due_seconds") == 0

    def test_a_dead_letter_is_counted(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        flows.referral(host, partner.node_id)
        failing = httpx.Client(transport=httpx.MockTransport(lambda _: httpx.Response(500)))
        assert pair.worker(host, failing).run_once().retried == 1
        host.clock.advance(days=15)
        assert pair.worker(host, failing).run_once().dead_lettered == 1
        text = scrape(host)
        assert value(text, "avrr_outbox_dead_letters") == 1
        assert value(text, "avrr_outbox_messages", state="dead_lettered", kind="referral") == 1

    def test_the_checkpoint_backlog_and_its_lag(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        flows.referral(host, partner.node_id)
        host.clock.advance(seconds=300)
        text = scrape(host)
        waiting = value(text, "avrr_accesslog_waiting_entries")
        assert waiting is not None
        assert waiting >= 1
        assert value(text, "avrr_accesslog_checkpoint_lag_seconds") == 300
        node = host.client.app.state.node  # type: ignore[attr-defined]
        assert AccessLogTree(node=node, sessions=host.sessions).run_once().checkpoint
        text = scrape(host)
        assert value(text, "avrr_accesslog_waiting_entries") == 0
        assert value(text, "avrr_accesslog_checkpoint_lag_seconds") == 0

    def test_a_missing_directory_reads_as_zero_days_left(
        self, federation: TestFederation, host: TestNode
    ) -> None:
        text = scrape(host)
        assert value(text, "avrr_directory_valid") == 0
        assert value(text, "avrr_directory_days_left") == 0
        assert value(text, "avrr_directory_serial") is None

    def test_a_database_that_does_not_answer_is_reported_not_raised(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        with broken_database_app(host) as client:
            answer = client.get("/metrics")
        assert answer.status_code == 200
        assert value(answer.text, "avrr_database_up") == 0
        assert value(answer.text, "avrr_directory_valid") == 1
        assert value(answer.text, "avrr_outbox_dead_letters") is None

    def test_a_scrape_storm_reads_the_database_once_per_ttl(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        node = host.client.app.state.node  # type: ignore[attr-defined]
        gauges = StateGauges(node=node, sessions=host.sessions, ttl=60)

        def pending() -> float:
            for family in gauges.collect():
                for sample in family.samples:
                    if sample.name == "avrr_outbox_messages":
                        return sample.value
            return 0.0

        assert pending() == 0
        flows.referral(host, partner.node_id)
        assert pending() == 0  # still the first answer
        gauges.ttl = 0
        assert pending() == 1

    def test_metrics_can_be_turned_off(self, federation: TestFederation) -> None:
        quiet = federation.add_node(
            "quiet-node", [PartnerRole.RECEPTION_PARTNER], "SN", metrics_enabled=False
        )
        assert quiet.client.get("/metrics").status_code == 404
        assert quiet.client.get("/livez").status_code == 200


class TestEventCounters:
    def test_refusals_are_counted_by_stage_and_reason(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        before = scrape(host)
        host.client.post(INBOX_PATH, content=b"{}", headers={"Authorization": "Bearer nope"})
        case = flows.create_case(host)
        refused = flows.post_referral(host, case["id"], partner.node_id)  # no consent recorded
        assert refused.status_code == 422
        after = scrape(host)
        token = {"stage": "node_token", "reason": "invalid_token"}
        consent = {"stage": "referral", "reason": "no_valid_consent_for_purpose_and_recipient"}
        for labels in (token, consent):
            assert counted(after, "avrr_refusals_total", **labels) == (
                counted(before, "avrr_refusals_total", **labels) + 1
            ), labels

    def test_a_delivery_counts_its_attempt_its_receipts_and_its_latency(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        before = scrape(host)
        flows.referral(host, partner.node_id)
        host.clock.advance(seconds=40)
        assert pair.deliver(host).delivered == 1
        after = scrape(host)
        for name, labels in (
            ("avrr_delivery_attempts_total", {"kind": "referral", "outcome": "delivered"}),
            ("avrr_receipts_total", {"direction": "verified", "kind": "referral"}),
            ("avrr_receipts_total", {"direction": "issued", "kind": "referral"}),
            ("avrr_delivery_latency_seconds_count", {"kind": "referral"}),
            ("avrr_delivery_latency_seconds_bucket", {"kind": "referral", "le": "60.0"}),
        ):
            assert counted(after, name, **labels) == counted(before, name, **labels) + 1, name
        # 40 s from queueing to receipt: not within 15 s.
        bucket = {"kind": "referral", "le": "15.0"}
        assert counted(after, "avrr_delivery_latency_seconds_bucket", **bucket) == counted(
            before, "avrr_delivery_latency_seconds_bucket", **bucket
        )
