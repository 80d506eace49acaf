"""Scale-out on PostgreSQL: two nodes, each with three API processes and two workers, the
processes from home folders of their own, sharing the node's database and key store; referrals
sent round-robin to the host's APIs while the database connections are killed again and again.

What must hold: every referral is stored once (its client retried with the same
Idempotency-Key after a 503), delivered once, and receipted; the partner stores each packet
once; every access-log entry is sequenced once; both logs verify; the clients only ever saw
201 or 503 with Retry-After, never a 500; the workers recovered by themselves.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.support import flows
from tests.support.databases import LOCAL_POSTGRES, choice
from tests.support.processes import ProcessFederation, ProcessNode, avrr

pytestmark = pytest.mark.skipif(
    choice() == "sqlite",
    reason="several processes of one node share a PostgreSQL database; "
    "run with AVRR_TEST_DATABASE=postgresql",
)

REFERRALS = 1000
CASES = 20
CLIENTS = 6
#: Times every database connection of both nodes is killed during the run, and how far apart.
KILLS, KILL_EVERY = 5, 2.0
DEADLINE = 300.0


@pytest.fixture
def federation(tmp_path: Path) -> Iterator[ProcessFederation]:
    admin = choice() if choice() != "sqlite" else LOCAL_POSTGRES
    fed = ProcessFederation.create(tmp_path, admin)
    try:
        yield fed
    finally:
        fed.close()


class Client:
    """A caseworker's script that follows the API's rules: a fresh Idempotency-Key per
    referral, the same key again after a 503 or a dropped connection, waiting Retry-After."""

    def __init__(self, urls: list[str], token: str) -> None:
        self.urls = urls
        self.headers = {"Authorization": f"Bearer {token}"}
        self.answers: Counter[int] = Counter()
        self.without_retry_after = 0
        self._lock = threading.Lock()

    def send(self, number: int, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        key = uuid.uuid4().hex
        for attempt in range(40):
            url = self.urls[(number + attempt) % len(self.urls)]
            try:
                response = httpx.request(
                    method,
                    url + path,
                    json=body,
                    headers={**self.headers, "Idempotency-Key": key},
                    timeout=30,
                )
            except httpx.TransportError:
                time.sleep(0.2)
                continue
            with self._lock:
                self.answers[response.status_code] += 1
                if response.status_code == 503 and "Retry-After" not in response.headers:
                    self.without_retry_after += 1
            if response.status_code == 503:
                time.sleep(min(float(response.headers.get("Retry-After", "1")), 1.0))
                continue
            assert response.status_code == 201, (path, response.status_code)
            answer: dict[str, Any] = response.json()
            return answer
        raise AssertionError(f"{path} never succeeded")


def count(node: ProcessNode, sql: str) -> int:
    engine = node.engine()
    with engine.connect() as conn:
        value = int(conn.execute(text(sql)).scalar_one())
    engine.dispose()
    return value


def killer(federation: ProcessFederation, stop: threading.Event, killed: list[int]) -> None:
    for _ in range(KILLS):
        if stop.wait(KILL_EVERY):
            return
        killed.append(federation.terminate_connections())


def wait_for(condition: Any, deadline: float, what: str) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(1.0)
    raise AssertionError(f"timed out waiting for {what}")


def assert_sequenced_once(node: ProcessNode) -> None:
    entries = count(node, "SELECT count(*) FROM access_events")
    assert entries > 0
    assert count(node, "SELECT count(*) FROM access_events WHERE leaf_index IS NULL") == 0
    assert count(node, "SELECT count(DISTINCT leaf_index) FROM access_events") == entries
    assert count(node, "SELECT max(leaf_index) FROM access_events") == entries - 1


def test_two_nodes_of_several_processes_survive_killed_connections(
    federation: ProcessFederation,
) -> None:
    host = federation.add_node("host-mission", "host_mission", "DE")
    partner = federation.add_node("origin-reception", "reception_partner", "SN")
    federation.publish()
    # The host's three APIs each have a port and a home; the partner's three share one port
    # (``avrr serve --workers 3``), the inbox address the directory lists.
    host_apis = host.serve(replicas=3)
    partner.serve(replicas=1, workers_per_replica=3)
    host.work(replicas=2)
    partner.work(replicas=2)
    client = Client(host_apis, host.token("caseworker", user="cw-1", office="tunis"))

    # A person recorded through one API process is read through another, from another home.
    cases = []
    for number in range(CASES):
        case = client.send(number, "POST", "/api/v1/cases", flows.CASE)
        body = {
            "purpose": "arrival_reception",
            "recipient": "origin-reception",
            "sections": flows.ALL_SECTIONS,
            "method": "signed_form",
            "language": "fr",
            "informed_of_risks": True,
        }
        client.send(number + 1, "POST", f"/api/v1/cases/{case['id']}/consents", body)
        read = httpx.get(
            f"{host_apis[(number + 2) % 3]}/api/v1/cases/{case['id']}",
            headers=client.headers,
            timeout=30,
        )
        assert read.status_code == 200
        assert read.json()["given_name"] == flows.CASE["given_name"]
        cases.append(case["id"])

    stop, killed = threading.Event(), list[int]()
    kills = threading.Thread(target=killer, args=(federation, stop, killed))
    kills.start()

    def refer(number: int) -> str:
        body = {
            "case_id": cases[number % CASES],
            "recipient": "origin-reception",
            "purpose": "arrival_reception",
            "transfer_ground": "explicit_consent_informed_of_risks",
            "content": flows.content(),
        }
        return str(client.send(number, "POST", "/api/v1/referrals", body)["packet_id"])

    with ThreadPoolExecutor(CLIENTS) as pool:
        packets = list(pool.map(refer, range(REFERRALS)))
    kills.join()
    stop.set()

    assert len(set(packets)) == REFERRALS
    assert sum(killed) > 0, "no connection was killed: the faults were not injected"
    wait_for(
        lambda: count(host, "SELECT count(*) FROM receipts") >= REFERRALS,
        DEADLINE,
        "every referral's receipt",
    )

    # Once each: stored, queued, delivered, received, receipted.
    assert count(host, "SELECT count(*) FROM referrals") == REFERRALS
    assert count(host, "SELECT count(*) FROM outbox WHERE kind = 'referral'") == REFERRALS
    assert count(host, "SELECT count(*) FROM outbox WHERE status = 'dead_lettered'") == 0
    assert count(host, "SELECT count(*) FROM receipts") == REFERRALS
    assert count(partner, "SELECT count(*) FROM received_packets") == REFERRALS
    assert count(partner, "SELECT count(DISTINCT packet_id) FROM received_packets") == REFERRALS

    # The clients saw only created, or unavailable with a time to come back.
    assert set(client.answers) <= {201, 503}, client.answers
    assert client.without_retry_after == 0

    # The workers recovered by themselves; nothing crashed; no request ended in a 500.
    for process in host.processes + partner.processes:
        assert process.alive(), f"{process.name} stopped:\n{process.log()[-2000:]}"
        log = process.log()
        assert "Traceback" not in log, process.name
        assert '"status": 500' not in log, process.name

    for node in (host, partner):
        wait_for(
            lambda node=node: (
                count(node, "SELECT count(*) FROM access_events WHERE leaf_index IS NULL") == 0
            ),
            60,
            f"{node.node_id}'s access log to be sequenced",
        )
        assert_sequenced_once(node)
        avrr("audit", "checkpoint", node.home)
        assert "access log OK" in avrr("audit", "verify", node.home)
