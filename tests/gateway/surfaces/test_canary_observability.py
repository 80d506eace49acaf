"""The canary: a person's data never reaches the operational logs or the metrics, on either node.

A referral is made with a unique marker in every name and free-text field, and taken through a
whole run on two real nodes (send, deliver, open, reply, purge, checkpoints, a refused request,
probes, metrics scrapes) with logging at DEBUG through the real JSON configuration of ``avrr serve``
and ``avrr worker``. No marker may appear in any log line or in either node's ``/metrics``.
"""

from __future__ import annotations

import logging
import re
import secrets
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from gateway.kit.logs import REQUEST_ID_HEADER
from gateway.records.accesslog.tree import AccessLogTree
from schemas.common import StaffRole
from tests.support import flows
from tests.support.federation import TestFederation, TestNode
from tests.support.logs import captured_logs
from tests.support.nodes import open_packet, purge

RUN = secrets.token_hex(3)
FIELDS = (
    "given_name",
    "family_name",
    "witness",
    "giver_relation",
    "traveller_name",
    "conditions",
    "medication",
    "mobility_needs_on_arrival",
    "receiving_health_facility",
    "locality",
    "plan",
    "skills",
    "education",
    "reply_note",
    "query",
    "path",
    "request_id",
)
#: One marker per field, unique to this run, so a hit says which field leaked.
MARKERS = {field: f"Canary{RUN}{field.replace('_', '')}" for field in FIELDS}
#: Label values a metric may carry: words, route templates, numbers. No ids, no text.
LABEL_VALUE = re.compile(r"[A-Za-z0-9_./{}+-]*|\+Inf")


def marked_content() -> dict[str, Any]:
    body = flows.content()
    body["travel"]["traveller_name"] = MARKERS["traveller_name"]
    body["medical"]["conditions"] = [MARKERS["conditions"]]
    body["medical"]["medication"] = [MARKERS["medication"]]
    body["medical"]["mobility_needs_on_arrival"] = MARKERS["mobility_needs_on_arrival"]
    body["medical"]["receiving_health_facility"] = MARKERS["receiving_health_facility"]
    body["arrival"]["final_destination"]["locality"] = MARKERS["locality"]
    body["reintegration"]["plan"] = MARKERS["plan"]
    body["reintegration"]["skills"] = [MARKERS["skills"]]
    body["reintegration"]["education"] = MARKERS["education"]
    return body


def leaks(text: str) -> list[str]:
    folded = text.lower()
    return [field for field, marker in MARKERS.items() if marker.lower() in folded]


def whole_run(pair: TestFederation, host: TestNode, partner: TestNode) -> dict[str, Any]:
    """Everything a person's referral goes through; returns what the partner opened."""
    case = flows.create_case(
        host, given_name=MARKERS["given_name"], family_name=MARKERS["family_name"]
    )
    flows.record_consent(
        host,
        case["id"],
        partner.node_id,
        witness=MARKERS["witness"],
        giver_relation=MARKERS["giver_relation"],
    )
    sent = flows.post_referral(host, case["id"], partner.node_id, body=marked_content())
    assert sent.status_code == 201, sent.text
    packet_id = sent.json()["packet_id"]
    assert pair.deliver(host).delivered == 1
    opened = open_packet(partner, packet_id)
    assert opened.status_code == 200
    officer = partner.auth(StaffRole.PARTNER_OFFICER)
    replied = partner.client.post(
        f"/api/v1/received/{packet_id}/replies",
        json={"kind": "accepted", "note": MARKERS["reply_note"]},
        headers=officer,
    )
    assert replied.status_code == 201, replied.text
    assert pair.deliver(partner).delivered >= 1
    # What a caller may put in a request: a query, a path, an id header. None is logged.
    host.client.get(
        f"/api/v1/cases/{case['id']}?q={MARKERS['query']}",
        headers={**host.auth(), REQUEST_ID_HEADER: MARKERS["request_id"]},
    )
    host.client.get(f"/api/v1/cases/{MARKERS['path']}", headers=host.auth())
    host.client.post("/federation/v1/inbox", content=b"{}", headers={"Authorization": "Bearer x"})
    for node in (host, partner):
        assert node.client.get("/readyz").status_code == 200
    # Past the referral's last date: the purge deletes everything on both sides.
    pair.clock.advance(days=151)
    pair.publish()
    assert purge(partner).received_sections >= 1
    assert purge(host).sent_sections >= 1
    for node in (host, partner):
        tree = AccessLogTree(node=node.client.app.state.node, sessions=node.sessions)  # type: ignore[attr-defined]
        assert tree.run_once().checkpoint
    return {"case": case, "packet_id": packet_id, "opened": opened.json()}


def label_values(exposition: str) -> set[str]:
    return {
        value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        for value in sample.labels.values()
    }


class TestNothingPersonalInLogsOrMetrics:
    def test_no_marker_reaches_a_log_line_or_the_metrics_of_either_node(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        with captured_logs(level=logging.DEBUG) as logs:
            run = whole_run(pair, host, partner)
            expositions = {}
            for node in (host, partner):
                node.client.app.state.state_gauges.ttl = 0  # type: ignore[attr-defined]
                scraped = node.client.get("/metrics")
                assert scraped.status_code == 200
                expositions[node.node_id] = scraped.text

        # The markers really travelled, so their absence below means something.
        opened = str(run["opened"])
        assert MARKERS["locality"] in opened
        assert MARKERS["mobility_needs_on_arrival"] in opened
        lines = logs.lines()  # every line is JSON
        events = " ".join(str(line.get("event")) for line in lines)
        assert "request" in events
        assert "node token refused" in events
        assert any(line["level"] == "debug" for line in lines)
        assert any(line.get("route") == "/api/v1/received/{packet_id}/replies" for line in lines)

        assert leaks(logs.text) == []
        for node_id, exposition in expositions.items():
            assert leaks(exposition) == [], node_id
            assert "avrr_purged_total" in exposition
            assert run["case"]["id"] not in exposition, node_id
            assert run["packet_id"] not in exposition, node_id
            odd = sorted(v for v in label_values(exposition) if not LABEL_VALUE.fullmatch(v))
            assert odd == [], node_id
