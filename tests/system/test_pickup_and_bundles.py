"""Pickup and hand-carried bundles between real nodes, each set up and run with ``avrr`` commands
as its operator runs it.

Pickup: the reception partner is listed with ``--pickup`` (no inbox URL) and runs no API: one
``avrr pickup --once``, then its ``avrr worker``, fetch what waits for it at the host's API
and acknowledge it; the host's caseworker sees the referral delivered with its receipt and the
withdrawal confirmed by the partner's deletion receipt; an opening by a partner officer (on a
staff API the partner starts on loopback for a moment, listed nowhere) reaches the host's
access log, pushed by the partner's worker.

Bundles: the partner never calls at all (the host runs its API for the caseworker, and no
worker: nothing is posted). ``avrr bundle export`` and ``avrr bundle import`` carry the referrals
there and the receipts back; a bundle imported twice, out of order, truncated, for another node,
or altered is refused with a one-line reason, and changes nothing; so is a bundle or a return
bundle that would overwrite a file already written (it may not have been carried yet).

Both tests end with ``avrr audit verify`` on every node that handled the referrals. On SQLite (the
default) each node's processes share its database file and key-store file; with
``AVRR_TEST_DATABASE=postgresql``, databases of their own. About 50 ``avrr`` commands, each some
1.5 seconds of start-up: together under two minutes on an idle machine of two cores.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.support import flows
from tests.support.databases import choice
from tests.support.processes import ProcessFederation, ProcessNode, avrr, run_avrr

HOST = "host-mission"
PARTNER = "origin-reception"
#: How long a step that a worker finishes in the background may take.
WAIT_SECONDS = 30.0
#: What a node holds that a bundle could change: each must be the same after a refusal.
HOLDINGS = (
    "received_packets",
    "received_sections",
    "access_events",
    "outbox",
    "receipts",
    "bundles",
    "owed_answers",
)


@pytest.fixture
def federation(tmp_path: Path) -> Iterator[ProcessFederation]:
    fed = ProcessFederation.create(tmp_path, choice())
    try:
        yield fed
    finally:
        fed.close()


class Staff:
    """One staff member calling a node's API with the token its operator issued."""

    def __init__(self, base_url: str, token: str) -> None:
        self.http = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )

    def get(self, path: str, **params: str) -> Any:
        response = self.http.get(path, params=params)
        assert response.status_code == 200, (path, response.status_code)
        return response.json()

    def post(self, path: str, body: dict[str, Any]) -> Any:
        response = self.http.post(path, json=body)
        assert response.status_code == 201, (path, response.status_code)
        return response.json()


def refer(caseworker: Staff) -> dict[str, Any]:
    """A case, the person's consent, and a referral for arrival reception to the partner."""
    case = caseworker.post("/api/v1/cases", flows.CASE)
    consent = {
        "purpose": "arrival_reception",
        "recipient": PARTNER,
        "sections": flows.ALL_SECTIONS,
        "method": "signed_form",
        "language": "fr",
        "informed_of_risks": True,
    }
    caseworker.post(f"/api/v1/cases/{case['id']}/consents", consent)
    referral = {
        "case_id": case["id"],
        "recipient": PARTNER,
        "purpose": "arrival_reception",
        "transfer_ground": "explicit_consent_informed_of_risks",
        "content": flows.content(),
    }
    created: dict[str, Any] = caseworker.post("/api/v1/referrals", referral)
    return created


def tokens(*requests: tuple[ProcessNode, str, str]) -> list[str]:
    """Staff tokens (node, role, user), issued side by side: each is a command of its own."""
    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(lambda r: r[0].token(r[1], user=r[2], office="office-1"), requests))


def wait_for(condition: Callable[[], bool], what: str) -> None:
    end = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def received(node: ProcessNode, packet_id: str) -> int:
    return node.count(
        "SELECT count(*) FROM received_packets WHERE packet_id = :packet AND kind = 'referral'",
        packet=packet_id,
    )


def sections_held(node: ProcessNode, packet_id: str) -> int:
    return node.count(
        "SELECT count(*) FROM received_sections WHERE packet_id = :packet", packet=packet_id
    )


def outcomes(node: ProcessNode, kind: str) -> list[str]:
    """The delivery attempts of the node's one envelope of ``kind``, in order."""
    engine = node.engine()
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT a.outcome FROM delivery_attempts a JOIN outbox o ON o.id = a.outbox_id "
                    "WHERE o.kind = :kind ORDER BY a.id"
                ),
                {"kind": kind},
            )
            return [str(row[0]) for row in rows]
    finally:
        engine.dispose()


def holdings(node: ProcessNode) -> dict[str, int]:
    return {table: node.count(f"SELECT count(*) FROM {table}") for table in HOLDINGS}  # noqa: S608


def logs_verify(*nodes: ProcessNode) -> None:
    """Each node's DPO places waiting entries, signs a checkpoint, and verifies the whole log."""

    def verify(node: ProcessNode) -> str:
        avrr("audit", "checkpoint", node.home)
        return avrr("audit", "verify", node.home)

    with ThreadPoolExecutor(len(nodes)) as pool:
        for node, verified in zip(nodes, pool.map(verify, nodes), strict=True):
            assert verified.startswith("access log OK"), (node.node_id, verified)


def assert_ran_cleanly(*nodes: ProcessNode) -> None:
    for node in nodes:
        for process in node.processes:
            log = process.log()
            assert "Traceback" not in log, f"{node.node_id} {process.name}:\n{log[-2000:]}"
            assert '"status": 500' not in log, f"{node.node_id} {process.name}"


def test_a_pickup_member_without_an_address_fetches_answers_and_reports_back(
    federation: ProcessFederation,
) -> None:
    host = federation.add_node(HOST, "host_mission", "DE")
    partner = federation.add_node(PARTNER, "reception_partner", "SN", pickup=True)
    partner.configure(pickup_interval=1)
    federation.publish()
    [host_api] = host.serve()
    host.work()
    caseworker_token, dpo_token, officer_token = tokens(
        (host, "caseworker", "cw-1"), (host, "dpo", "dpo-1"), (partner, "partner_officer", "po-1")
    )
    caseworker, dpo = Staff(host_api, caseworker_token), Staff(host_api, dpo_token)
    referral = refer(caseworker)
    case_id, packet = referral["case_id"], referral["packet_id"]

    # The host's worker runs, but has no address to post to: the envelope waits for pickup.
    assert host.count(
        "SELECT count(*) FROM outbox WHERE packet_id = :packet "
        "AND inbox_url IS NULL AND pickup_since IS NOT NULL",
        packet=packet,
    )
    time.sleep(1.0)  # some runs of the host's worker
    assert caseworker.get(f"/api/v1/referrals/{referral['id']}")["attempts"] == []

    # The partner runs no process at all: one command fetches, stores and acknowledges it.
    out = avrr("pickup", partner.home, "--once")
    assert "pickup: picked up 1, refused 0 from 1 senders" in out, out
    assert received(partner, packet) == 1
    sent = caseworker.get(f"/api/v1/referrals/{referral['id']}")
    assert sent["status"] == "delivered"
    assert [attempt["outcome"] for attempt in sent["attempts"]] == ["handed_out", "delivered"]
    # The receipt names the very envelope the partner stored.
    assert (
        partner.count(
            "SELECT count(*) FROM received_packets WHERE packet_id = :packet "
            "AND envelope_sha256 = :digest",
            packet=packet,
            digest=sent["receipt"]["envelope_sha256"],
        )
        == 1
    )
    assert sections_held(partner, packet) == len(sent["sections_sent"]) > 0

    # Nothing listens for the partner: no process of its own is running.
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{partner.port}/livez")

    # From now on the partner's worker picks up every second, and pushes its own messages.
    partner.work()
    # A partner officer opens the referral on a staff API the partner starts on loopback for
    # the moment (the directory lists no address for it; the host never calls it).
    with partner.staff_api() as partner_api:
        opened = Staff(partner_api, officer_token).get(f"/api/v1/received/{packet}")
    assert opened["sections"] == sent["sections_sent"]
    assert sorted(opened["content"]) == sorted(sent["sections_sent"])
    assert "reintegration" not in opened["content"]  # the policy for reception leaves it out

    # The worker pushes the access notice; the host's DPO sees the opening in the access log.
    def reported() -> list[Any]:
        found: list[Any] = dpo.get(
            "/api/v1/audit/entries", subject=case_id, organisation=PARTNER, action="opened"
        )
        return found

    wait_for(lambda: bool(reported()), "the partner's access notice in the host's log")
    assert [entry["packet_id"] for entry in reported()] == [packet]

    # The person withdraws; the revocation waits for pickup and the partner's worker takes it,
    # deletes, and its deletion receipt confirms the withdrawal on the host.
    withdrawal = caseworker.post(f"/api/v1/cases/{case_id}/withdrawals", {})
    assert [(r["recipient"], r["status"]) for r in withdrawal["revocations"]] == [
        (PARTNER, "pending")
    ]

    def revocations() -> list[tuple[str, str]]:
        listed = caseworker.get(f"/api/v1/cases/{case_id}/withdrawals")
        return [(r["recipient"], r["status"]) for w in listed for r in w["revocations"]]

    wait_for(lambda: revocations() == [(PARTNER, "confirmed")], "the deletion receipt")
    assert sections_held(partner, packet) == 0
    assert outcomes(host, "revocation") == ["handed_out", "delivered"]  # picked up, not posted

    for process in host.processes + partner.processes:
        assert process.alive() or process.name == "staff-api", process.name
    assert_ran_cleanly(host, partner)
    logs_verify(host, partner)


def bundle_path(folder: Path, name: str) -> Path:
    return folder / f"{name}.avrrb"


def export(node: ProcessNode, recipient: str, out: Path) -> str:
    written = avrr("bundle", "export", node.home, "--to", recipient, "--out", out)
    assert out.exists(), written
    return written


def import_(node: ProcessNode, bundle: Path, reply: Path) -> str:
    return avrr("bundle", "import", node.home, bundle, "--reply", reply)


def refused(node: ProcessNode, bundle: Path, reason: str, *, reply: Path | None = None) -> None:
    """``avrr bundle import`` fails with one line naming ``reason``, and nothing changed (no
    return bundle written, or the file named ``reply`` left as it was)."""
    reply = reply or bundle.with_suffix(".reply")
    kept = reply.read_bytes() if reply.exists() else None
    before = holdings(node)
    done = run_avrr("bundle", "import", node.home, bundle, "--reply", reply)
    assert done.returncode != 0, done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert reason in lines[0], done.stderr
    assert holdings(node) == before
    assert (reply.read_bytes() if reply.exists() else None) == kept


def damaged(bundle: Path, out: Path) -> Path:
    """The bundle with one base64 character of its ciphertext changed, as a bad sector would."""
    data = bytearray(bundle.read_bytes())
    start = data.index(b'"ciphertext":"') + len(b'"ciphertext":"')
    end = data.index(b'"', start)
    middle = (start + end) // 2
    data[middle] = ord("B") if data[middle] == ord("A") else ord("A")
    out.write_bytes(bytes(data))
    return out


def truncated(bundle: Path, out: Path) -> Path:
    data = bundle.read_bytes()
    out.write_bytes(data[: len(data) // 2])
    return out


def test_bundles_carry_referrals_and_receipts_and_refuse_what_they_must(
    federation: ProcessFederation,
) -> None:
    host = federation.add_node(HOST, "host_mission", "DE")
    partner = federation.add_node(PARTNER, "reception_partner", "SN", pickup=True)
    other = federation.add_node("origin-reintegration", "reintegration_partner", "SN", pickup=True)
    federation.publish()
    [host_api] = host.serve()
    caseworker = Staff(host_api, host.token("caseworker", user="cw-1", office="office-1"))
    carried = federation.folder / "carried"
    carried.mkdir()

    def path(name: str) -> Path:
        return bundle_path(carried, name)

    # Bundle 1 carries the first referral; before it is carried, bundle 2 carries it again
    # (nothing answered it yet) with the second.
    first = refer(caseworker)
    written = export(host, PARTNER, path("b1"))
    assert "bundle 1 for origin-reception written" in written
    assert "1 envelopes, 0 answers" in written
    # Exporting again over that file (on the stick, not yet carried) is refused and keeps it.
    kept, before = path("b1").read_bytes(), holdings(host)
    again = run_avrr("bundle", "export", host.home, "--to", PARTNER, "--out", path("b1"))
    assert again.returncode != 0
    assert "exists; nothing done" in again.stderr
    assert path("b1").read_bytes() == kept
    assert holdings(host) == before
    second = refer(caseworker)
    assert "2 envelopes, 0 answers" in export(host, PARTNER, path("b2"))
    status = avrr("bundle", "status", host.home)
    assert "origin-reception: 2 envelopes waiting since" in status
    assert "(2 for pickup, 2 in a bundle); 0 answers owed" in status

    # There and back: the partner takes bundle 2 and writes the return bundle; the host takes
    # that, and both referrals are delivered, with their receipts.
    taken = import_(partner, path("b2"), path("r1"))
    assert "bundle 2 from host-mission: 2 envelopes stored, 0 refused" in taken
    assert "bundle 1 for host-mission written" in taken
    assert "0 envelopes, 2 answers" in taken
    back = import_(host, path("r1"), path("h1"))
    assert "bundle 1 from origin-reception: 0 envelopes stored, 0 refused" in back
    assert "2 answers recorded, 0 not applicable" in back
    assert "nothing to return to origin-reception" in back
    for referral in (first, second):
        assert received(partner, referral["packet_id"]) == 1
        sent = caseworker.get(f"/api/v1/referrals/{referral['id']}")
        assert sent["status"] == "delivered"
        assert sent["attempts"][-1]["outcome"] == "delivered"
        assert {attempt["outcome"] for attempt in sent["attempts"][:-1]} == {"bundled"}
        assert sent["receipt"] is not None

    # Bundle 1 arrives late, after bundle 2; bundle 2 is imported twice.
    refused(partner, path("b1"), "older than")
    refused(partner, path("b2"), "already imported")

    # Bundle 3: a truncated copy, an altered copy, the bundle itself taken to the wrong node or
    # with its return bundle over an existing file are refused; then it is taken.
    third = refer(caseworker)
    export(host, PARTNER, path("b3"))
    refused(partner, truncated(path("b3"), path("b3-truncated")), "not a whole bundle")
    refused(partner, damaged(path("b3"), path("b3-altered")), "altered or damaged")
    refused(other, path("b3"), "not for this node")
    # The return bundle would overwrite one already written: refused before taking anything.
    refused(partner, path("b3"), "exists; nothing done", reply=path("r1"))
    assert received(partner, third["packet_id"]) == 0
    assert "1 envelopes stored, 0 refused" in import_(partner, path("b3"), path("r2"))
    assert "1 answers recorded" in import_(host, path("r2"), path("h2"))
    assert caseworker.get(f"/api/v1/referrals/{third['id']}")["status"] == "delivered"

    status = avrr("bundle", "status", host.home)
    assert "nothing waits for any node" in status
    for sequence in (1, 2, 3):
        assert f"bundle {sequence} written for origin-reception" in status
    for sequence in (1, 2):
        assert f"bundle {sequence} taken from origin-reception" in status
    assert partner.count("SELECT count(*) FROM received_packets WHERE kind = 'referral'") == 3
    assert_ran_cleanly(host)
    logs_verify(host, partner)
