"""``make demo``: a federation of two real nodes on loopback, and a person's return through it.

Builds a federation in a temporary folder (operator key, signed directory), creates a host-country
mission node and an origin-country partner node for reception and reintegration (own keys, own
SQLite database), starts both as separate processes, and then acts as their users over HTTP: a
caseworker records a case, consent and a referral; the delivery worker seals and delivers it; the
partner returns a signed receipt; a partner officer opens it and sees only what the sharing
policy allows, accepts it and reports the person met; a reintegration referral comes back with a
plan and assistance delivered, a monitoring round with scores; the DPO gets statistics that
single nobody out; the person withdraws part of their consent; both access logs verify.

With ``pickup=True`` (``avrr demo --pickup``) the directory lists the partner with ``delivery:
pickup`` and no inbox URL, as a partner behind a shared router or on a mobile connection would
be: the host's worker posts nothing to it, and the partner's pickup (``avrr pickup --once``)
fetches everything the host has for it, the revocation too, and acknowledges it with the same
signed receipts. The partner still serves its API on loopback, for its staff only; the demo
checks, from the partner's request log, that no federation request ever reached it.

Every step is checked; the last line is ``demo: OK`` only if all of them held. The demo prints
field and section names, never the (synthetic) values.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx


class DemoFailed(Exception):
    pass


def _avrr(*args: str | Path) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "gateway", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if result.returncode != 0:
        raise DemoFailed(
            f"'avrr {args[0]} {args[1] if len(args) > 1 else ''}' failed: "
            f"{result.stderr.strip().splitlines()[-1:]}"
        )
    return result.stdout.strip()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _check(condition: bool, what: str) -> None:
    if not condition:
        raise DemoFailed(what)
    print(f"    ok: {what}")


def _step(text: str) -> None:
    print(f"\n== {text}")


@contextmanager
def _serving(home: Path, port: int, log: Path) -> Iterator[str]:
    url = f"http://127.0.0.1:{port}"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway", "serve", str(home), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                if process.poll() is not None:
                    raise DemoFailed(f"the node at {url} exited at start (see {log})")
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise DemoFailed(f"the node at {url} did not become healthy")
                time.sleep(0.2)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def _json(response: httpx.Response, status: int, what: str) -> Any:
    if response.status_code != status:
        raise DemoFailed(
            f"{what}: expected HTTP {status}, got {response.status_code}: {response.text[:300]}"
        )
    return response.json()


REFERRAL_CONTENT = {
    "travel": {
        "traveller_name": "Synthetic Person",
        "traveller_date_of_birth": "1990-01-01",
        "travel_document_status": "emergency_travel_document",
        "departure": {"airport": "FRA", "departs_at": "2026-12-01T09:00:00Z"},
        "arrival": {"airport": "DSS", "arrives_at": "2026-12-01T16:00:00Z"},
        "escort": "none",
        "assistance_at_arrival": True,
    },
    "medical": {
        "fit_to_travel": True,
        "conditions": ["synthetic condition needing continuity of treatment"],
        "medication": ["synthetic medication, twice daily"],
        "equipment": ["wheelchair"],
        "mobility_needs_on_arrival": "needs a wheelchair from the aircraft door",
    },
    "arrival": {
        "reception_requested": True,
        "contact_language": "fr",
        "onward_transport": True,
        "temporary_accommodation_nights": 2,
        "final_destination": {"country": "SN", "locality": "Thies"},
    },
    "reintegration": {
        "needs": [{"dimension": "economic", "level": "individual"}],
        "plan": "small business grant and vocational training",
        "grant_type": "in_kind",
    },
}


@dataclass
class _Walk:
    """What the steps of the demo hand on to each other."""

    work: Path
    fed: Path
    host_home: Path
    partner_home: Path
    host_port: int
    partner_port: int
    #: The partner is a pickup member: nothing is posted to it; it fetches what waits for it.
    pickup: bool = False
    host: str = ""
    partner: str = ""
    caseworker: str = ""
    officer: str = ""
    dpo: str = ""
    case: dict[str, Any] = field(default_factory=dict)
    referral: dict[str, Any] = field(default_factory=dict)
    reintegration: dict[str, Any] = field(default_factory=dict)
    monitoring: dict[str, Any] = field(default_factory=dict)

    @property
    def as_caseworker(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.caseworker}"}

    @property
    def as_officer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.officer}"}

    @property
    def as_dpo(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.dpo}"}


def _walk(work: Path, keep: bool = False, pickup: bool = False) -> None:
    walk = _Walk(
        work=work,
        fed=work / "federation",
        host_home=work / "host",
        partner_home=work / "partner",
        host_port=_free_port(),
        partner_port=_free_port(),
        pickup=pickup,
    )
    _create_federation(walk)
    _issue_tokens(walk)
    with (
        _serving(walk.host_home, walk.host_port, work / "host.log") as walk.host,
        _serving(walk.partner_home, walk.partner_port, work / "partner.log") as walk.partner,
    ):
        _check(
            True,
            f"host mission node serving on {walk.host}, reception partner node on {walk.partner}"
            + (" (for its own staff only: the federation does not know it)" if pickup else ""),
        )
        for step in (
            _record_case_and_consent,
            _refer,
            _check_minimised,
            _deliver,
            _open_at_partner,
            _partner_answers,
            _reintegrate,
            _monitor,
            _withdraw_medical,
            _check_access_logs,
        ):
            step(walk)
        _staff_pages(walk, keep)
    _step("12. Both nodes stopped")
    if pickup:
        _check_nothing_posted(walk)


def _create_federation(walk: _Walk) -> None:
    fed, host_home, partner_home = walk.fed, walk.host_home, walk.partner_home
    host_port, partner_port = walk.host_port, walk.partner_port
    _step("1. The operator creates a federation; two organisations create their nodes")
    _avrr("federation", "init", fed, "--id", "avrr-demo")
    for home, node_id, organisation, country in (
        (host_home, "host-mission", "Host-country mission (demo)", "DE"),
        (partner_home, "origin-reception", "Origin-country reception partner (demo)", "SN"),
    ):
        _avrr("node", "init", home, "--node-id", node_id, "--organisation", organisation,
              "--country", country)  # fmt: skip
    # A pickup member is listed without an inbox URL: nobody posts to it.
    partner_delivery = (
        ("--pickup",) if walk.pickup else ("--inbox-url", f"http://127.0.0.1:{partner_port}")
    )
    for home, roles, delivery in (
        (host_home, "host_mission", ("--inbox-url", f"http://127.0.0.1:{host_port}")),
        (partner_home, "reception_partner,reintegration_partner", partner_delivery),
    ):
        _avrr("node", "export", home, "--out", home / "public.json")
        _avrr(
            "federation",
            "add-node",
            fed,
            "--node-file",
            home / "public.json",
            "--roles",
            roles,
            *delivery,
        )
    for home in (host_home, partner_home):
        _avrr(
            "node",
            "install-directory",
            home,
            fed / "directory.json",
            "--operator-key",
            fed / "operator.json",
        )
    _check(True, "operator key created, two nodes listed in a signed directory, pinned by both")
    if walk.pickup:
        _check_listed_for_pickup(fed)


def _check_listed_for_pickup(fed: Path) -> None:
    listed = json.loads(_avrr("federation", "show", fed))
    partner = next(n for n in listed["nodes"] if n["node_id"] == "origin-reception")
    _check(
        partner["delivery"] == "pickup" and partner.get("inbox_url") is None,
        "the partner is listed with delivery: pickup and no inbox URL: "
        "it fetches what waits for it, nobody posts to it",
    )


def _issue_tokens(walk: _Walk) -> None:
    host_home, partner_home = walk.host_home, walk.partner_home
    walk.caseworker = _avrr(
        "node",
        "token",
        host_home,
        "--user",
        "cw-0001",
        "--role",
        "caseworker",
        "--office",
        "demo-office",
    )
    walk.officer = _avrr(
        "node",
        "token",
        partner_home,
        "--user",
        "po-0001",
        "--role",
        "partner_officer",
        "--office",
        "reception",
    )
    walk.dpo = _avrr(
        "node", "token", host_home, "--user", "dpo-0001", "--role", "dpo", "--office", "dpo"
    )


def _record_case_and_consent(walk: _Walk) -> None:
    _step("2. A caseworker records a case, the person's consent, and a referral")
    walk.case = _json(
        httpx.post(
            f"{walk.host}/api/v1/cases",
            headers=walk.as_caseworker,
            json={
                "given_name": "Synthetic",
                "family_name": "Person",
                "date_of_birth": "1990-01-01",
                "nationality": "SN",
                "preferred_language": "fr",
                "vulnerability_flags": ["health_needs"],
            },
        ),
        201,
        "record the case",
    )
    _check(len(walk.case["id"]) == 32, "case recorded with a random 128-bit id")
    consent = _json(
        httpx.post(
            f"{walk.host}/api/v1/cases/{walk.case['id']}/consents",
            headers=walk.as_caseworker,
            json={
                "purpose": "arrival_reception",
                "recipient": "origin-reception",
                "sections": ["travel", "medical", "arrival", "reintegration"],
                "method": "signed_form",
                "language": "fr",
                "informed_of_risks": True,
            },
        ),
        201,
        "record consent",
    )
    _check(
        consent["purpose"] == "arrival_reception",
        "consent recorded: arrival_reception, to origin-reception, four sections",
    )
    receipt_url = f"{walk.host}/api/v1/cases/{walk.case['id']}/consents/{consent['id']}/receipt"
    signed = _json(httpx.get(receipt_url, headers=walk.as_caseworker), 200, "consent receipt")
    printable = httpx.get(f"{receipt_url}?format=html", headers=walk.as_caseworker)
    _check(
        bool(signed["signature"]) and "Reçu de consentement" in printable.text,
        "the person's consent receipt is signed by the node, printable in French",
    )


def _refer(walk: _Walk) -> None:
    referral_body = {
        "case_id": walk.case["id"],
        "recipient": "origin-reception",
        "purpose": "arrival_reception",
        "transfer_ground": "explicit_consent_informed_of_risks",
        "content": REFERRAL_CONTENT,
    }
    headers = {**walk.as_caseworker, "Idempotency-Key": "demo-referral-1"}
    walk.referral = _json(
        httpx.post(f"{walk.host}/api/v1/referrals", headers=headers, json=referral_body),
        201,
        "create the referral",
    )
    again = _json(
        httpx.post(f"{walk.host}/api/v1/referrals", headers=headers, json=referral_body),
        201,
        "retry the referral",
    )
    _check(
        again["id"] == walk.referral["id"],
        "a retried submit (same Idempotency-Key) made no second referral",
    )


def _check_minimised(walk: _Walk) -> None:
    _step("3. The host keeps only what the policy and consent allow, seals, signs, queues")
    _check(
        walk.referral["sections_sent"] == ["arrival", "medical", "travel"],
        f"sections sealed for the reception partner: {walk.referral['sections_sent']}",
    )
    _check(
        walk.referral["withheld"].get("reintegration") == "whole section",
        "reintegration withheld: the policy gives reception partners none of it",
    )
    _check(
        {"conditions", "medication"} <= set(walk.referral["withheld"].get("medical", [])),
        f"medical fields withheld: {walk.referral['withheld'].get('medical')}",
    )
    _check(walk.referral["status"] == "queued", "the envelope waits in the outbox")


def _deliver(walk: _Walk) -> None:
    referral_url = f"{walk.host}/api/v1/referrals/{walk.referral['id']}"
    if walk.pickup:
        _step("4. The partner picks up what waits for it; it verifies, stores and signs a receipt")
        waiting = _json(httpx.get(referral_url, headers=walk.as_caseworker), 200, "read it again")
        since = str(waiting["travels_since"])[11:19]
        _check(
            waiting["status"] == "queued" and waiting["travels_by"] == "pickup",
            f"the caseworker sees it waiting for the partner to collect it, since {since} UTC",
        )
    else:
        _step("4. The delivery worker delivers; the partner verifies, stores and signs a receipt")
    _host_worker(walk)
    delivered = _json(httpx.get(referral_url, headers=walk.as_caseworker), 200, "read the referral")
    _check(delivered["status"] == "delivered", "the referral is delivered")
    _check(
        delivered["receipt"] is not None,
        "the partner's signed receipt was verified and stored by the host",
    )
    outcomes = [a["outcome"] for a in delivered["attempts"]]
    if walk.pickup:
        _check(
            outcomes == ["handed_out", "delivered"],
            "handed out at the partner's pickup, delivered by its receipt: both recorded",
        )
    else:
        _check(outcomes == ["delivered"], "one delivery attempt, recorded")


def _host_worker(walk: _Walk, prefix: str = "    ") -> None:
    """The host's worker, once. To a pickup member it posts nothing: what the host queued for
    the partner waits there until the partner's pickup fetches it, stores it and acknowledges it
    with the same signed receipts a post would have earned."""
    print(prefix + _avrr("worker", walk.host_home, "--once").replace("\n", "; "))
    if not walk.pickup:
        return
    waiting, for_pickup = _waiting_at_host(walk)
    if waiting:
        envelopes = "1 envelope waits" if waiting == 1 else f"{waiting} envelopes wait"
        posted = f"the host's worker posted nothing to the partner: {envelopes} for its pickup"
        fetched = (
            "the partner's pickup fetched it, stored it, acknowledged it"
            if waiting == 1
            else f"the partner's pickup fetched {waiting}, stored each, acknowledged each"
        )
    else:
        posted = "nothing waits at the host for the partner"
        fetched = "the partner's pickup found nothing more"
    _check(waiting == for_pickup, posted)
    picked_up = _avrr("pickup", walk.partner_home, "--once")
    print(f"    partner: {picked_up}")
    counted = re.search(r"picked up (\d+), refused (\d+)", picked_up)
    _check(counted is not None and counted.groups() == (str(waiting), "0"), fetched)


def _waiting_at_host(walk: _Walk) -> tuple[int, int]:
    """How many envelopes wait at the host for the partner, and how many of them for pickup,
    as ``avrr bundle status`` says."""
    for line in _avrr("bundle", "status", walk.host_home).splitlines():
        found = re.match(r"origin-reception: (\d+) envelopes waiting .*\((\d+) for pickup", line)
        if found:
            return int(found[1]), int(found[2])
    return 0, 0


def _check_nothing_posted(walk: _Walk) -> None:
    """From the partner's request log (routes only, never content): no federation request ever
    reached it, so everything it received came by its own pickup."""
    requests = (walk.work / "partner.log").read_text()
    _check(
        "/api/v1/received" in requests and "/federation/" not in requests,
        "the partner's request log shows its staff's requests and no federation request: "
        "the host never posted to it",
    )


def _open_at_partner(walk: _Walk) -> None:
    _step("5. A partner officer lists the referrals received and opens this one")
    listed = _json(
        httpx.get(f"{walk.partner}/api/v1/received", headers=walk.as_officer),
        200,
        "list received referrals",
    )
    _check(
        [r["packet_id"] for r in listed] == [walk.referral["packet_id"]],
        "exactly one referral received, with the sent packet id",
    )
    _check(
        listed[0]["subject"] != walk.case["id"],
        "the partner knows the person only by its own pseudonym",
    )
    opened = _json(
        httpx.get(
            f"{walk.partner}/api/v1/received/{walk.referral['packet_id']}", headers=walk.as_officer
        ),
        200,
        "open the referral",
    )
    content = opened["content"]
    _check(
        sorted(content) == ["arrival", "medical", "travel"],
        f"sections visible to the partner: {sorted(content)}",
    )
    _check(
        sorted(content["medical"]) == ["equipment", "mobility_needs_on_arrival"],
        f"medical fields visible: {sorted(content['medical'])} (no diagnosis, no medication)",
    )
    _check(
        "traveller_date_of_birth" not in content["travel"],
        f"travel fields visible: {sorted(content['travel'])}",
    )
    denied = httpx.get(
        f"{walk.partner}/api/v1/received/{walk.referral['packet_id']}", headers=walk.as_caseworker
    )
    _check(denied.status_code == 401, "a token from another node is refused by the partner")


def _reply(walk: _Walk, packet_id: str, **body: Any) -> dict[str, Any]:
    return dict(
        _json(
            httpx.post(
                f"{walk.partner}/api/v1/received/{packet_id}/replies",
                headers=walk.as_officer,
                json=body,
            ),
            201,
            f"reply {body['kind']}",
        )
    )


def _timeline(walk: _Walk) -> list[dict[str, Any]]:
    return list(
        _json(
            httpx.get(
                f"{walk.host}/api/v1/cases/{walk.case['id']}/timeline", headers=walk.as_caseworker
            ),
            200,
            "read the case's timeline",
        )
    )


def _partner_answers(walk: _Walk) -> None:
    _step("6. The partner answers: accepted, then the person met on arrival")
    packet = walk.referral["packet_id"]
    _reply(walk, packet, kind="accepted")
    _reply(walk, packet, kind="person_met")
    print("    " + _avrr("worker", walk.partner_home, "--once").replace("\n", "; "))
    whats = [e["what"] for e in _timeline(walk)]
    _check(
        whats.count("reply") == 2,
        "both signed replies reached the host, bound to the referral, with their proofs",
    )
    _check(
        "event: arrival" in whats,
        "'person met' recorded the arrival on the case: retention dates count from it",
    )


def _reintegrate(walk: _Walk) -> None:
    _step("7. Reintegration: a referral, the plan written with the person, assistance delivered")
    for purpose in ("reintegration_assistance", "reintegration_monitoring"):
        _json(
            httpx.post(
                f"{walk.host}/api/v1/cases/{walk.case['id']}/consents",
                headers=walk.as_caseworker,
                json={
                    "purpose": purpose,
                    "recipient": "origin-reception",
                    "sections": ["arrival", "reintegration"],
                    "method": "signed_form",
                    "language": "fr",
                    "informed_of_risks": True,
                },
            ),
            201,
            f"record consent for {purpose}",
        )
    walk.reintegration = _refer_for(walk, "reintegration_assistance")
    walk.monitoring = _refer_for(walk, "reintegration_monitoring")
    _host_worker(walk)
    packet = walk.reintegration["packet_id"]
    _json(
        httpx.post(
            f"{walk.partner}/api/v1/received/{packet}/plans",
            headers=walk.as_officer,
            json={
                "goals": [{"dimension": "economic", "level": "individual", "goal": "a small shop"}],
                "assistance_planned": ["business_support", "in_kind"],
                "review_dates": ["2027-06-01"],
                "agreed_with_person": True,
            },
        ),
        201,
        "return the reintegration plan",
    )
    _reply(walk, packet, kind="assistance_delivered", items=["in_kind"], amount="500_to_1000")
    print("    " + _avrr("worker", walk.partner_home, "--once").replace("\n", "; "))
    whats = [e["what"] for e in _timeline(walk)]
    _check("reintegration_plan" in whats, "the plan reached the host under the person's consent")
    _check(
        "event: assistance_started" in whats,
        "'assistance delivered' recorded that assistance started",
    )


def _refer_for(walk: _Walk, purpose: str) -> dict[str, Any]:
    return dict(
        _json(
            httpx.post(
                f"{walk.host}/api/v1/referrals",
                headers=walk.as_caseworker,
                json={
                    "case_id": walk.case["id"],
                    "recipient": "origin-reception",
                    "purpose": purpose,
                    "transfer_ground": "explicit_consent_informed_of_risks",
                    "content": {
                        "arrival": REFERRAL_CONTENT["arrival"],
                        "reintegration": REFERRAL_CONTENT["reintegration"],
                    },
                },
            ),
            201,
            f"refer for {purpose}",
        )
    )


def _monitor(walk: _Walk) -> None:
    _step("8. A monitoring round: scores at the host, and statistics that single nobody out")
    scored = _json(
        httpx.post(
            f"{walk.partner}/api/v1/received/{walk.monitoring['packet_id']}/monitoring",
            headers=walk.as_officer,
            json={
                "round_months": 3,
                "conducted_on": "2026-12-01",
                "answers": {
                    "economic_satisfaction": "satisfied",
                    "ability_to_borrow": "yes",
                    "housing_access": "good",
                    "social_participation": "often",
                    "support_network": "some",
                },
            },
        ),
        201,
        "record the monitoring round",
    )
    _check(
        scored["scores"]["composite"] is not None,
        f"the survey was coded and scored at the partner ({scored['scoring_version']})",
    )
    print("    " + _avrr("worker", walk.partner_home, "--once").replace("\n", "; "))
    rounds = [e for e in _timeline(walk) if e["what"] == "monitoring"]
    _check(
        [r["content"]["scores"] for r in rounds] == [scored["scores"]]
        and "answers" not in rounds[0]["content"],
        "the scores reached the host; the answers stayed with the partner",
    )
    statistic = _json(
        httpx.get(f"{walk.host}/api/v1/statistics/score-distribution", headers=walk.as_dpo),
        200,
        "produce the score distribution",
    )
    hidden = [v for row in statistic["rows"] for v in row.values() if v == "suppressed"]
    shown = [v for row in statistic["rows"] for v in row.values() if isinstance(v, int) and v]
    _check(
        bool(hidden) and not shown,
        "the statistics hide every cell of fewer than 10 people (here: all of them)",
    )


def _withdraw_medical(walk: _Walk) -> None:
    _step("9. The person withdraws consent for the medical section only")
    withdrawal = _json(
        httpx.post(
            f"{walk.host}/api/v1/cases/{walk.case['id']}/withdrawals",
            headers=walk.as_caseworker,
            json={"sections": ["medical"]},
        ),
        201,
        "withdraw the medical section",
    )
    _check(
        [r["status"] for r in withdrawal["revocations"]] == ["pending"],
        "a signed revocation to the partner is queued; the host shows it as pending",
    )
    _host_worker(walk)
    withdrawals = _json(
        httpx.get(
            f"{walk.host}/api/v1/cases/{walk.case['id']}/withdrawals", headers=walk.as_caseworker
        ),
        200,
        "read the withdrawals",
    )
    _check(
        [r["status"] for r in withdrawals[0]["revocations"]] == ["confirmed"],
        "the partner deleted the section and its signed deletion receipt was verified",
    )
    reopened = _json(
        httpx.get(
            f"{walk.partner}/api/v1/received/{walk.referral['packet_id']}", headers=walk.as_officer
        ),
        200,
        "open the referral again",
    )
    _check(
        sorted(reopened["content"]) == ["arrival", "travel"]
        and reopened["withdrawn_sections"] == ["medical"],
        "the partner now holds travel and arrival only; medical is gone",
    )


def _check_access_logs(walk: _Walk) -> None:
    _step("10. The access logs: partner notices reach the host; both logs are checkpointed")
    print("    partner: " + _avrr("worker", walk.partner_home, "--once").replace("\n", "; "))
    _host_worker(walk, "    host: ")
    for name, home in (("host", walk.host_home), ("partner", walk.partner_home)):
        _check(
            _avrr("audit", "verify", home).startswith("access log OK"),
            f"`avrr audit verify` recomputed the {name}'s whole log: every checkpoint holds",
        )
    history = _json(
        httpx.get(
            f"{walk.host}/api/v1/audit/subjects/{walk.case['id']}/history", headers=walk.as_dpo
        ),
        200,
        "read the person's history",
    )
    _print_history(history)
    _check(
        _proofs_hold(history, walk.host_home),
        "every entry carries an inclusion proof that verifies against the signed checkpoint",
    )
    by_partner = [
        e["entry"]["action"]
        for e in history["entries"]
        if e["entry"]["actor_org"] == "origin-reception"
    ]
    _check(
        by_partner.count("opened") == 2,
        "the partner's two openings are in the host's log for this person",
    )
    refused = httpx.get(f"{walk.host}/api/v1/cases/{walk.case['id']}", headers=walk.as_dpo)
    _check(refused.status_code == 403, "the DPO reads the log, never the case itself")


def _print_history(history: dict[str, Any]) -> None:
    print("    the person's history across the federation, as the host's DPO sees it:")
    for item in history["entries"]:
        entry = item["entry"]
        who = f"{entry['actor_org']}/{entry['actor_role']}"
        packet = f" packet {entry['packet_id'][:8]}" if entry["packet_id"] else ""
        sections = f" [{', '.join(entry['sections'])}]" if entry["sections"] else ""
        print(
            f"      #{entry['index']:<3} {entry['at'][:19]}  {who:<34} {entry['action']}"
            f"{packet}{sections}"
        )


def _proofs_hold(history: dict[str, Any], host_home: Path) -> bool:
    """Check every proof as the person (or anyone) could: with the node's key and nothing else."""
    from gateway.kit.clock import SystemClock
    from gateway.kit.config import Settings
    from gateway.kit.node import Node
    from partners.auditlog import entry_is_in, verify_checkpoint
    from schemas.audit import LogEntry
    from schemas.envelope import SignedDocument

    node = Node(settings=Settings.for_home(host_home), clock=SystemClock())
    checkpoint = verify_checkpoint(
        SignedDocument.model_validate(history["checkpoint"]), node.directory(), node.node_id
    )
    return bool(history["entries"]) and all(
        item["inclusion_proof"] is not None
        and entry_is_in(LogEntry.model_validate(item["entry"]), item["inclusion_proof"], checkpoint)
        for item in history["entries"]
    )


def _staff_pages(walk: _Walk, keep: bool) -> None:
    """Where the staff pages are, and a one-time link to sign in to each (the built-in issuer;
    a node with an identity provider signs staff in with it instead)."""
    _step("11. The staff pages: sign in with a one-time link (valid ten minutes, once)")
    for home, url, user, role, office, what in (
        (walk.host_home, walk.host, "cw-0001", "caseworker", "demo-office", "caseworker"),
        (walk.partner_home, walk.partner, "po-0001", "partner_officer", "reception", "officer"),
        (walk.host_home, walk.host, "dpo-0001", "dpo", "dpo", "DPO"),
    ):
        link = _avrr(
            "staff", "link", home, "--user", user, "--role", role, "--office", office, "--url", url
        )
        _check(link.startswith(f"{url}/staff/sign-in/link?token="), f"a sign-in link for {what}")
        print(f"    {what:10} {url}/staff/   sign in: {link}")
    print(f"    the person's portal: {walk.host}/portal/ (with an access card)")
    if not keep:
        print("    (the nodes stop now; `make demo-serve` keeps them running until Ctrl-C)")
        return
    print("    the nodes keep running; press Ctrl-C to stop them")
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        print()


def run(keep: bool = False, pickup: bool = False, work: Path | None = None) -> int:
    """Run the demo in a temporary folder, or in ``work`` (an empty folder, left as it is
    afterwards, with both nodes' homes and logs); 0 if every step held."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    os.environ.pop("AVRR_DATABASE_URL", None)
    with tempfile.TemporaryDirectory(prefix="avrr-demo-") as tmp:
        try:
            _walk(work or Path(tmp), keep, pickup)
        except DemoFailed as failure:
            print(f"\ndemo: FAILED: {failure}")
            return 1
    print("\ndemo: OK")
    return 0


if __name__ == "__main__":
    raise SystemExit(run())
