"""What the access log records: each action on a person's data exactly once, with ids and short
outcome words only; a recipient's openings and purges on the sender's log by signed notice; the
DPO's audit API for DPOs only, with its own reading on the record; search filters that select
exactly what they name.

Two real apps: ``host`` (a host mission, sends) and ``partner`` (a reception partner, receives).
Time moves by the fake clock, never by sleeping.
"""

from __future__ import annotations

import csv
import io
import re
import secrets
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from gateway.exchange.delivery import DeliveryWorker
from gateway.exchange.outbox.queue import Message, pseudonym_for, queue_envelope
from gateway.exchange.revocations.models import RevocationRow
from gateway.kit.home import files_changed
from gateway.processes.audit.reconcile import reconcile
from gateway.processes.retention import Purger, PurgeReport
from gateway.records.accesslog.models import AccessEventRow
from gateway.records.accesslog.tree import AccessLogTree
from partners.auditlog import entry_is_in, extends, verify_checkpoint
from schemas.audit import AccessNoticeContent, Checkpoint, NoticedAccess, SubjectHistory
from schemas.common import PartnerRole, Purpose, SectionName, StaffRole
from schemas.envelope import MessageKind, SignedDocument
from tests.support import flows
from tests.support.federation import (
    FederationTransport,
    TestFederation,
    TestNode,
    gateway_node,
    inbox_url,
)

CANARY = "CANARY-a41c-audit-entry-leak"
#: The partner's staff member who opens packets: their id must never reach the host.
OFFICER = "officer-4711"
OFFICER_OFFICE = "reception-desk"
DPO_USER = "dpo-1"
DPO_OFFICE = "dpo-office"
CLERK = {"actor": "user-1", "actor_org": "office-a", "actor_role": "caseworker"}
DPO = {"actor": DPO_USER, "actor_org": DPO_OFFICE, "actor_role": "dpo"}
SENT_SECTIONS = ["arrival", "medical", "travel"]  # what a reception partner may receive
PURPOSE = "arrival_reception"
REPORT_NAMES = [
    "processing",
    "transfers",
    "overdue-deletions",
    "pending-withdrawals",
    "denied",
    "unusual",
]
#: Every outcome is a machine word, except a legal hold's end date (``until YYYY-MM-DD``).
OUTCOME_WORD = re.compile(r"[a-z0-9_:.-]+")
HOLD_OUTCOME = re.compile(r"until \d{4}-\d{2}-\d{2}")
ID = re.compile(r"[a-z0-9._@:-]+")

Expected = dict[str, object]
Act = Callable[[], Expected]


# -- helpers ------------------------------------------------------------------------------------


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def dpo(node: TestNode) -> dict[str, str]:
    return node.auth(StaffRole.DPO, user=DPO_USER, office=DPO_OFFICE)


def officer(node: TestNode) -> dict[str, str]:
    return node.auth(StaffRole.PARTNER_OFFICER, user=OFFICER, office=OFFICER_OFFICE)


def entries(node: TestNode, action: str | None = None) -> list[AccessEventRow]:
    query = select(AccessEventRow).order_by(AccessEventRow.seq)
    if action is not None:
        query = query.where(AccessEventRow.action == action)
    with node.sessions() as session:
        return list(session.scalars(query).all())


def counts(node: TestNode) -> Counter[str]:
    with node.sessions() as session:
        rows = session.execute(
            select(AccessEventRow.action, func.count()).group_by(AccessEventRow.action)
        ).all()
    return Counter(dict(rows))


def logged_once(node: TestNode, action: str, act: Callable[[], object]) -> AccessEventRow:
    """Run ``act``; it must add exactly one ``action`` entry to ``node``'s log, returned."""
    before, seen = counts(node), {row.seq for row in entries(node, action)}
    act()
    added = counts(node)[action] - before[action]
    assert added == 1, f"{added} new {action} entries"
    (new,) = [row for row in entries(node, action) if row.seq not in seen]
    return new


def columns(row: AccessEventRow, names: Iterable[str]) -> Expected:
    return {name: getattr(row, name) for name in names}


def pseudonym(host: TestNode, case_id: str, recipient: str) -> str:
    return pseudonym_for(gateway_node(host), case_id, recipient)


def open_packet(partner: TestNode, packet_id: str) -> httpx.Response:
    response: httpx.Response = partner.client.get(
        f"/api/v1/received/{packet_id}", headers=officer(partner)
    )
    return response


def withdraw_all(host: TestNode, case_id: str) -> Any:
    return ok(
        host.client.post(f"/api/v1/cases/{case_id}/withdrawals", json={}, headers=host.auth()),
        201,
    )


def delivered_referral(pair: TestFederation, host: TestNode, recipient: str) -> dict[str, Any]:
    sent = flows.referral(host, recipient)
    assert pair.deliver(host).delivered == 1
    return sent


def purge(node: TestNode) -> PurgeReport:
    return Purger(node=gateway_node(node), sessions=node.sessions).run_once()


def past_every_date(pair: TestFederation, host: TestNode) -> None:
    """Past the last delete-by date of a referral sent now (arrival: 150 days)."""
    host.clock.advance(days=151)
    pair.publish()  # directories are re-signed monthly; the old one would have expired


def revocation_id(host: TestNode, case_id: str) -> str:
    with host.sessions() as session:
        found: str = session.scalars(
            select(RevocationRow.id).where(RevocationRow.case_id == case_id)
        ).one()
    return found


def audit(node: TestNode, path: str, headers: dict[str, str], **params: str) -> httpx.Response:
    response: httpx.Response = node.client.get(
        f"/api/v1/audit{path}", params=params, headers=headers
    )
    return response


def record_arrival(host: TestNode, case_id: str) -> Any:
    body = {"event": "arrival", "occurred_at": host.clock.now().isoformat()}
    return ok(
        host.client.post(f"/api/v1/cases/{case_id}/events", json=body, headers=host.auth()), 201
    )


class LosesAnswers(httpx.BaseTransport):
    """The recipient stores what is posted, but its answer never comes back."""

    def __init__(self, inner: FederationTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.inner.handle_request(request)
        raise httpx.ReadError("connection reset", request=request)


def lossy_worker(pair: TestFederation, sender: TestNode) -> DeliveryWorker:
    return pair.worker(sender, http=httpx.Client(transport=LosesAnswers(pair.transport)))


@dataclass(frozen=True)
class World:
    pair: TestFederation
    host: TestNode
    partner: TestNode


@pytest.fixture
def world(pair: TestFederation, host: TestNode, partner: TestNode) -> World:
    return World(pair, host, partner)


# -- each action, exactly once ------------------------------------------------------------------
#
# A scenario sets the scene and returns the node whose log is watched and the act, which makes
# its call(s) and returns the columns the one new entry must have.

Scenario = Callable[[World], tuple[TestNode, Act]]


def _case_created(w: World) -> tuple[TestNode, Act]:
    def act() -> Expected:
        case = flows.create_case(w.host)
        return {"subject": case["id"], **CLERK, "packet_id": None, "outcome": "ok"}

    return w.host, act


def _case_viewed(w: World) -> tuple[TestNode, Act]:
    case = flows.create_case(w.host)

    def act() -> Expected:
        ok(w.host.client.get(f"/api/v1/cases/{case['id']}", headers=w.host.auth()))
        return {"subject": case["id"], **CLERK, "sections": [], "outcome": "ok"}

    return w.host, act


def _case_corrected(w: World) -> tuple[TestNode, Act]:
    case = flows.create_case(w.host)

    def act() -> Expected:
        body = {**flows.CASE, "family_name": "Corrected"}
        ok(w.host.client.put(f"/api/v1/cases/{case['id']}", json=body, headers=w.host.auth()))
        return {"subject": case["id"], **CLERK, "outcome": "corrected"}

    return w.host, act


def _consent_recorded(w: World) -> tuple[TestNode, Act]:
    case = flows.create_case(w.host)

    def act() -> Expected:
        flows.record_consent(w.host, case["id"], w.partner.node_id)
        return {
            "subject": case["id"],
            **CLERK,
            "purpose": PURPOSE,
            "sections": sorted(flows.ALL_SECTIONS),
            "outcome": "ok",
        }

    return w.host, act


def _consent_narrowed(w: World) -> tuple[TestNode, Act]:
    case = flows.create_case(w.host)
    consent = flows.record_consent(w.host, case["id"], w.partner.node_id)

    def act() -> Expected:
        ok(
            w.host.client.post(
                f"/api/v1/cases/{case['id']}/consents/{consent['id']}/narrow",
                json={"sections": ["arrival", "travel"]},
                headers=w.host.auth(),
            ),
            201,
        )
        return {"subject": case["id"], **CLERK, "sections": ["medical", "reintegration"]}

    return w.host, act


def _consent_withdrawn(w: World) -> tuple[TestNode, Act]:
    case = flows.create_case(w.host)
    flows.record_consent(w.host, case["id"], w.partner.node_id)

    def act() -> Expected:
        withdraw_all(w.host, case["id"])
        return {
            "subject": case["id"],
            **CLERK,
            "purpose": PURPOSE,
            "sections": sorted(flows.ALL_SECTIONS),
        }

    return w.host, act


def _consent_receipt_issued(w: World) -> tuple[TestNode, Act]:
    case = flows.create_case(w.host)
    consent = flows.record_consent(w.host, case["id"], w.partner.node_id)

    def act() -> Expected:
        path = f"/api/v1/cases/{case['id']}/consents/{consent['id']}/receipt"
        ok(w.host.client.get(path, headers=w.host.auth()))
        return {"subject": case["id"], **CLERK, "purpose": PURPOSE}

    return w.host, act


def _referral_sealed(w: World) -> tuple[TestNode, Act]:
    case = flows.create_case(w.host)
    flows.record_consent(w.host, case["id"], w.partner.node_id)

    def act() -> Expected:
        sent = ok(flows.post_referral(w.host, case["id"], w.partner.node_id), 201)
        return {
            "subject": case["id"],
            **CLERK,
            "packet_id": sent["packet_id"],
            "sections": SENT_SECTIONS,
            "purpose": PURPOSE,
            "outcome": "ok",
        }

    return w.host, act


def _referral_refused(w: World) -> tuple[TestNode, Act]:
    case = flows.create_case(w.host)  # no consent recorded

    def act() -> Expected:
        refused = flows.post_referral(w.host, case["id"], w.partner.node_id)
        assert refused.status_code == 422, refused.text
        rule = refused.json()["rule"]
        assert rule == "no_valid_consent_for_purpose_and_recipient"
        return {"subject": case["id"], **CLERK, "purpose": PURPOSE, "outcome": rule}

    return w.host, act


def _referral_cancelled(w: World) -> tuple[TestNode, Act]:
    sent = flows.referral(w.host, w.partner.node_id)  # still queued

    def act() -> Expected:
        withdraw_all(w.host, sent["case_id"])
        return {
            "subject": sent["case_id"],
            **CLERK,
            "packet_id": sent["packet_id"],
            "outcome": "consent_withdrawn",
        }

    return w.host, act


def _delivery_step(outcome: str) -> Scenario:
    """``sent`` and ``delivered``: the host's entries for one delivery by its worker."""

    def scenario(w: World) -> tuple[TestNode, Act]:
        sent = flows.referral(w.host, w.partner.node_id)

        def act() -> Expected:
            assert w.pair.deliver(w.host).delivered == 1
            return {
                "subject": sent["case_id"],
                "actor": "delivery-worker",
                "actor_org": w.host.node_id,
                "actor_role": "node",
                "packet_id": sent["packet_id"],
                "sections": SENT_SECTIONS,
                "purpose": PURPOSE,
                "outcome": outcome,
            }

        return w.host, act

    return scenario


def _dead_lettered(w: World) -> tuple[TestNode, Act]:
    sent = flows.referral(w.host, w.partner.node_id)
    w.host.clock.advance(days=15)  # past the recipients' acceptance window (14 days)
    w.pair.publish()

    def act() -> Expected:
        assert w.pair.deliver(w.host).dead_lettered == 1
        return {
            "subject": sent["case_id"],
            "actor": "delivery-worker",
            "packet_id": sent["packet_id"],
            "outcome": "dead_lettered",
        }

    return w.host, act


def _received(w: World) -> tuple[TestNode, Act]:
    sent = flows.referral(w.host, w.partner.node_id)

    def act() -> Expected:
        assert w.pair.deliver(w.host).delivered == 1
        return {
            "subject": pseudonym(w.host, sent["case_id"], w.partner.node_id),
            "actor": f"node:{w.host.node_id}",
            "actor_org": w.host.node_id,
            "actor_role": "node",
            "packet_id": sent["packet_id"],
            "sections": SENT_SECTIONS,
            "purpose": PURPOSE,
            "outcome": "ok",
        }

    return w.partner, act


def _opened(w: World) -> tuple[TestNode, Act]:
    sent = delivered_referral(w.pair, w.host, w.partner.node_id)

    def act() -> Expected:
        ok(open_packet(w.partner, sent["packet_id"]))
        return {
            "subject": pseudonym(w.host, sent["case_id"], w.partner.node_id),
            "actor": OFFICER,
            "actor_org": OFFICER_OFFICE,
            "actor_role": "partner_officer",
            "packet_id": sent["packet_id"],
            "sections": SENT_SECTIONS,
            "purpose": PURPOSE,
            "outcome": "ok",
        }

    return w.partner, act


def _event_reported(w: World) -> tuple[TestNode, Act]:
    sent = delivered_referral(w.pair, w.host, w.partner.node_id)

    def act() -> Expected:
        body = {"event": "arrival", "occurred_at": w.partner.clock.now().isoformat()}
        path = f"/api/v1/received/{sent['packet_id']}/events"
        ok(w.partner.client.post(path, json=body, headers=officer(w.partner)), 201)
        return {"actor": OFFICER, "packet_id": sent["packet_id"], "outcome": "arrival"}

    return w.partner, act


def _revocation_queued(w: World) -> tuple[TestNode, Act]:
    sent = delivered_referral(w.pair, w.host, w.partner.node_id)

    def act() -> Expected:
        withdraw_all(w.host, sent["case_id"])
        return {
            "subject": sent["case_id"],
            **CLERK,
            # The revocation envelope's own id, not the referral's.
            "packet_id": revocation_id(w.host, sent["case_id"]),
            "sections": SENT_SECTIONS,
            "purpose": PURPOSE,
            "outcome": "consent_withdrawn",
        }

    return w.host, act


def _deleted(w: World) -> tuple[TestNode, Act]:
    sent = delivered_referral(w.pair, w.host, w.partner.node_id)
    withdraw_all(w.host, sent["case_id"])

    def act() -> Expected:
        assert w.pair.deliver(w.host).delivered == 1
        return {
            "subject": pseudonym(w.host, sent["case_id"], w.partner.node_id),
            "actor": f"node:{w.host.node_id}",
            "actor_role": "node",
            "packet_id": sent["packet_id"],
            "sections": SENT_SECTIONS,
            "outcome": "consent_withdrawn",
        }

    return w.partner, act


def _deletion_confirmed(w: World) -> tuple[TestNode, Act]:
    sent = delivered_referral(w.pair, w.host, w.partner.node_id)
    withdraw_all(w.host, sent["case_id"])

    def act() -> Expected:
        assert w.pair.deliver(w.host).delivered == 1
        return {
            "subject": sent["case_id"],
            "actor": "delivery-worker",
            "packet_id": revocation_id(w.host, sent["case_id"]),
            "sections": SENT_SECTIONS,
            "outcome": "confirmed",
        }

    return w.host, act


def _purged(w: World) -> tuple[TestNode, Act]:
    sent = delivered_referral(w.pair, w.host, w.partner.node_id)
    past_every_date(w.pair, w.host)

    def act() -> Expected:
        assert purge(w.partner).received_sections == len(SENT_SECTIONS)
        return {
            "subject": pseudonym(w.host, sent["case_id"], w.partner.node_id),
            "actor": "purge",
            "actor_org": w.partner.node_id,
            "actor_role": "node",
            "packet_id": sent["packet_id"],
            "sections": SENT_SECTIONS,
            "purpose": PURPOSE,
            "outcome": "retention_period_ended",
        }

    return w.partner, act


def _subject_key_destroyed(w: World) -> tuple[TestNode, Act]:
    case = flows.create_case(w.host)

    def act() -> Expected:
        ok(w.host.client.post(f"/api/v1/dpo/erasures/{case['id']}", headers=dpo(w.host)), 201)
        return {"subject": case["id"], **DPO, "outcome": "erasure_request"}

    return w.host, act


def _legal_hold(w: World) -> tuple[TestNode, Act]:
    case = flows.create_case(w.host)
    until = w.host.clock.now() + timedelta(days=400)

    def act() -> Expected:
        body = {"subject": case["id"], "reason": "inquiry 12", "until": until.isoformat()}
        ok(w.host.client.post("/api/v1/dpo/holds", json=body, headers=dpo(w.host)), 201)
        return {
            "subject": case["id"],
            **DPO,
            "packet_id": None,
            "outcome": f"until {until.date().isoformat()}",
        }

    return w.host, act


def _event_recorded(w: World) -> tuple[TestNode, Act]:
    case = flows.create_case(w.host)

    def act() -> Expected:
        record_arrival(w.host, case["id"])
        return {"subject": case["id"], **CLERK, "packet_id": None, "outcome": "arrival"}

    return w.host, act


def _deadline_moved(w: World) -> tuple[TestNode, Act]:
    sent = delivered_referral(w.pair, w.host, w.partner.node_id)

    def act() -> Expected:
        # Arrival the day of sending: every date moves from the assumed arrival (60 days on).
        assert record_arrival(w.host, sent["case_id"])["packets_updated"] == 1
        return {
            "subject": sent["case_id"],
            **CLERK,
            "packet_id": sent["packet_id"],
            "sections": SENT_SECTIONS,
            "outcome": "arrival",
        }

    return w.host, act


EVENTS: dict[str, Scenario] = {
    "case_created": _case_created,
    "case_viewed": _case_viewed,
    "case_corrected": _case_corrected,
    "consent_recorded": _consent_recorded,
    "consent_narrowed": _consent_narrowed,
    "consent_withdrawn": _consent_withdrawn,
    "consent_receipt_issued": _consent_receipt_issued,
    "referral_sealed": _referral_sealed,
    "referral_refused": _referral_refused,
    "referral_cancelled": _referral_cancelled,
    "sent": _delivery_step("delivered"),
    "delivered": _delivery_step("receipt_verified"),
    "dead_lettered": _dead_lettered,
    "received": _received,
    "opened": _opened,
    "event_reported": _event_reported,
    "revocation_queued": _revocation_queued,
    "deleted": _deleted,
    "deletion_confirmed": _deletion_confirmed,
    "purged": _purged,
    "subject_key_destroyed": _subject_key_destroyed,
    "legal_hold": _legal_hold,
    "event_recorded": _event_recorded,
    "deadline_moved": _deadline_moved,
}


def _wrong_role(w: World) -> tuple[TestNode, Act]:
    case = flows.create_case(w.host)

    def act() -> Expected:
        response = w.host.client.get(f"/api/v1/cases/{case['id']}", headers=dpo(w.host))
        assert response.status_code == 403
        return {**DPO, "outcome": "wrong_role"}

    return w.host, act


def _wrong_office(w: World) -> tuple[TestNode, Act]:
    case = flows.create_case(w.host)

    def act() -> Expected:
        other = w.host.auth(user="user-2", office="office-b")
        response = w.host.client.get(f"/api/v1/cases/{case['id']}", headers=other)
        assert response.status_code == 404
        return {
            "actor": "user-2",
            "actor_org": "office-b",
            "actor_role": "caseworker",
            "outcome": "case_not_in_office",
        }

    return w.host, act


def _wrong_partner(w: World) -> tuple[TestNode, Act]:
    w.pair.add_node("origin-other", [PartnerRole.RECEPTION_PARTNER], "SN")
    w.pair.publish()
    elsewhere = delivered_referral(w.pair, w.host, "origin-other")

    def act() -> Expected:
        assert open_packet(w.partner, elsewhere["packet_id"]).status_code == 404
        return {"actor": OFFICER, "actor_role": "partner_officer", "outcome": "no_such_packet"}

    return w.partner, act


def _withdrawn(w: World) -> tuple[TestNode, Act]:
    sent = delivered_referral(w.pair, w.host, w.partner.node_id)
    withdraw_all(w.host, sent["case_id"])
    assert w.pair.deliver(w.host).delivered == 1

    def act() -> Expected:
        assert open_packet(w.partner, sent["packet_id"]).status_code == 410
        return {
            "subject": pseudonym(w.host, sent["case_id"], w.partner.node_id),
            "actor": OFFICER,
            "packet_id": sent["packet_id"],
            "outcome": "consent_withdrawn",
        }

    return w.partner, act


def _expired(w: World) -> tuple[TestNode, Act]:
    sent = delivered_referral(w.pair, w.host, w.partner.node_id)
    past_every_date(w.pair, w.host)  # and no purge has run yet

    def act() -> Expected:
        assert open_packet(w.partner, sent["packet_id"]).status_code == 410
        return {
            "subject": pseudonym(w.host, sent["case_id"], w.partner.node_id),
            "actor": OFFICER,
            "packet_id": sent["packet_id"],
            "outcome": "past_delete_by",
        }

    return w.partner, act


def _forgotten(w: World) -> tuple[TestNode, Act]:
    sent = delivered_referral(w.pair, w.host, w.partner.node_id)
    past_every_date(w.pair, w.host)
    assert purge(w.partner).packets_forgotten == 1

    def act() -> Expected:
        assert open_packet(w.partner, sent["packet_id"]).status_code == 410
        return {"actor": OFFICER, "packet_id": sent["packet_id"], "outcome": "deleted"}

    return w.partner, act


DENIALS: dict[str, Scenario] = {
    "wrong_role": _wrong_role,
    "wrong_office": _wrong_office,
    "wrong_partner": _wrong_partner,
    "withdrawn": _withdrawn,
    "expired": _expired,
    "forgotten": _forgotten,
}


class TestEachActionIsLoggedOnce:
    @pytest.mark.parametrize("action", list(EVENTS))
    def test_the_action_adds_exactly_one_entry_of_its_kind(self, world: World, action: str) -> None:
        node, act = EVENTS[action](world)
        expected: Expected = {}

        def run() -> None:
            expected.update(act())

        entry = logged_once(node, action, run)

        assert columns(entry, expected) == expected

    @pytest.mark.parametrize("kind", list(DENIALS))
    def test_each_kind_of_denied_access_adds_exactly_one_denial(
        self, world: World, kind: str
    ) -> None:
        node, act = DENIALS[kind](world)
        expected: Expected = {}

        def run() -> None:
            expected.update(act())

        entry = logged_once(node, "access_denied", run)

        assert columns(entry, expected) == expected

    def test_a_correction_that_changes_nothing_says_so(self, world: World) -> None:
        case = flows.create_case(world.host)

        def act() -> None:
            path = f"/api/v1/cases/{case['id']}"
            ok(world.host.client.put(path, json=flows.CASE, headers=world.host.auth()))

        assert logged_once(world.host, "case_corrected", act).outcome == "unchanged"

    def test_a_delivery_retried_after_a_lost_answer_is_logged_once_on_each_side(
        self, world: World
    ) -> None:
        sent = flows.referral(world.host, world.partner.node_id)

        assert lossy_worker(world.pair, world.host).run_once().retried == 1
        world.host.clock.advance(hours=1)
        assert world.pair.deliver(world.host).delivered == 1

        host_log = [(e.action, e.packet_id) for e in entries(world.host) if e.packet_id]
        assert host_log == [
            ("referral_sealed", sent["packet_id"]),
            ("sent", sent["packet_id"]),
            ("delivered", sent["packet_id"]),
        ]
        assert [e.action for e in entries(world.partner)] == ["received"]

    def test_a_notice_retried_after_a_lost_answer_is_logged_once_by_the_sender(
        self, world: World
    ) -> None:
        sent = delivered_referral(world.pair, world.host, world.partner.node_id)
        ok(open_packet(world.partner, sent["packet_id"]))

        def deliver_twice() -> None:
            assert lossy_worker(world.pair, world.partner).run_once().retried == 1
            world.host.clock.advance(hours=1)
            assert world.pair.deliver(world.partner).delivered == 1

        logged_once(world.host, "opened", deliver_twice)


# -- nothing personal ---------------------------------------------------------------------------


def canary_content() -> dict[str, Any]:
    body = flows.content()
    body["travel"]["traveller_name"] = CANARY
    body["medical"]["conditions"] = [CANARY]
    body["medical"]["medication"] = [CANARY]
    body["medical"]["mobility_needs_on_arrival"] = CANARY
    body["arrival"]["final_destination"]["locality"] = CANARY
    body["reintegration"]["plan"] = CANARY
    return body


def all_cells(node: TestNode) -> list[tuple[str, str]]:
    """Every column of every access-log row, as text, read with SQL rather than the model."""
    with node.engine.connect() as connection:
        result = connection.execute(text("SELECT * FROM access_events"))
        names = list(result.keys())
        return [(names[i], str(value)) for row in result for i, value in enumerate(row)]


class TestNothingPersonal:
    def test_no_name_content_or_typed_text_reaches_any_entry_on_either_node(
        self, world: World
    ) -> None:
        host, partner, pair = world.host, world.partner, world.pair
        case = flows.create_case(host, given_name=CANARY, family_name=CANARY)
        case_id = case["id"]
        corrected = {**flows.CASE, "given_name": CANARY, "family_name": f"{CANARY}-2"}
        ok(host.client.put(f"/api/v1/cases/{case_id}", json=corrected, headers=host.auth()))
        ok(host.client.get(f"/api/v1/cases/{case_id}", headers=host.auth()))
        flows.record_consent(host, case_id, partner.node_id, witness=CANARY, giver_relation=CANARY)
        refused = flows.post_referral(
            host, case_id, partner.node_id, "reintegration_assistance", body=canary_content()
        )
        assert refused.status_code == 422  # no consent for that purpose
        sent = ok(flows.post_referral(host, case_id, partner.node_id, body=canary_content()), 201)
        until = host.clock.now() + timedelta(days=400)
        hold = {"subject": case_id, "reason": CANARY, "until": until.isoformat()}
        ok(host.client.post("/api/v1/dpo/holds", json=hold, headers=dpo(host)), 201)
        assert pair.deliver(host).delivered == 1
        opened = ok(open_packet(partner, sent["packet_id"]))
        assert CANARY in str(opened["content"])  # the canary did travel, so its absence counts
        assert pair.deliver(partner).delivered == 1
        withdraw_all(host, case_id)
        assert pair.deliver(host).delivered == 1
        ok(audit(host, f"/subjects/{case_id}/history", dpo(host)))

        for node in (host, partner):
            leaks = [name for name, cell in all_cells(node) if CANARY.lower() in cell.lower()]
            assert leaks == [], node.node_id
        shown = audit(host, "/entries", dpo(host))
        assert shown.status_code == 200
        assert CANARY not in shown.text

        host_actions = {e.action for e in entries(host)}
        assert {"referral_refused", "legal_hold", "opened", "deletion_confirmed"} <= host_actions
        assert {"received", "opened", "deleted"} <= {e.action for e in entries(partner)}
        actors = {
            "user-1",
            DPO_USER,
            OFFICER,
            "delivery-worker",
            f"node:{host.node_id}",
            f"node:{partner.node_id}",
        }
        for node in (host, partner):
            for entry in entries(node):
                what = (node.node_id, entry.action, entry.outcome, entry.actor)
                if entry.action == "legal_hold":
                    assert HOLD_OUTCOME.fullmatch(entry.outcome), what
                    assert entry.outcome == f"until {until.date().isoformat()}"
                else:
                    assert OUTCOME_WORD.fullmatch(entry.outcome), what
                assert ID.fullmatch(entry.actor), what
                assert entry.actor in actors, what
                assert ID.fullmatch(entry.actor_org), what
                assert entry.actor_role in {*StaffRole, "node"}, what
                assert entry.purpose in {None, *Purpose}, what
                assert set(entry.sections) <= set(SectionName), what


# -- the federated view -------------------------------------------------------------------------


def forge_notice(sender: TestNode, recipient: str, packet_id: str, subject: str) -> None:
    """Queue an access notice as a faulty or hostile node would, bypassing its own code paths."""
    node = gateway_node(sender)
    now = sender.clock.now()
    content = AccessNoticeContent(
        accesses=[
            NoticedAccess(
                packet_id=packet_id,
                action="opened",
                at=now,
                actor_role="partner_officer",
                sections=[SectionName.TRAVEL],
            )
        ]
    )
    with sender.sessions.begin() as session:
        queue_envelope(
            session,
            node,
            Message(
                kind=MessageKind.ACCESS_NOTICE,
                recipient=recipient,
                purpose=Purpose.ARRIVAL_RECEPTION,
                case_id=None,
                subject=subject,
                consent_ref=secrets.token_hex(16),
                sections=content.sections(),
                content=content.model_dump(mode="json"),
                delete_by=now + timedelta(days=1),
            ),
            now,
        )


def who(entry: AccessEventRow) -> tuple[str, str, str]:
    return entry.actor, entry.actor_org, entry.actor_role


class TestSent:
    def test_a_first_attempt_that_never_went_out_does_not_hide_the_real_sending(
        self, world: World
    ) -> None:
        host, partner = world.host, world.partner
        sent = flows.referral(host, partner.node_id)
        # The host has no directory for a while (its file is gone): nothing goes out.
        host.home.directory_file.unlink()
        files_changed()  # removed by hand: said at once, not found within the second
        assert world.pair.deliver(host).retried == 1
        assert entries(host, "sent") == []

        world.pair.publish()
        host.clock.advance(hours=1)
        entry = logged_once(host, "sent", lambda: world.pair.deliver(host))

        assert (entry.packet_id, entry.outcome) == (sent["packet_id"], "delivered")


class TestFederatedView:
    def test_the_partners_opening_is_logged_for_the_case_without_the_officers_id(
        self, world: World
    ) -> None:
        host, partner = world.host, world.partner
        sent = delivered_referral(world.pair, host, partner.node_id)
        ok(open_packet(partner, sent["packet_id"]))
        assert entries(host, "opened") == []  # nothing reaches the host before delivery

        entry = logged_once(host, "opened", lambda: world.pair.deliver(partner))

        assert columns(entry, ["subject", "packet_id", "sections", "outcome"]) == {
            "subject": sent["case_id"],
            "packet_id": sent["packet_id"],
            "sections": SENT_SECTIONS,
            "outcome": "ok",
        }
        assert who(entry) == (f"node:{partner.node_id}", partner.node_id, "partner_officer")
        leaks = [
            name for name, cell in all_cells(host) if OFFICER in cell or OFFICER_OFFICE in cell
        ]
        assert leaks == []

    def test_notices_and_their_receipts_leave_reconciliation_clean_on_both_nodes(
        self, world: World
    ) -> None:
        host, partner = world.host, world.partner
        sent = delivered_referral(world.pair, host, partner.node_id)
        ok(open_packet(partner, sent["packet_id"]))
        assert world.pair.deliver(partner).delivered == 1

        for node in (host, partner):
            with node.sessions() as session:
                assert reconcile(session) == [], node.node_id

    def test_a_purge_on_the_partner_is_logged_for_the_case(self, world: World) -> None:
        host, partner = world.host, world.partner
        sent = delivered_referral(world.pair, host, partner.node_id)
        past_every_date(world.pair, host)
        purge(partner)

        entry = logged_once(host, "purged", lambda: world.pair.deliver(partner))

        assert columns(entry, ["subject", "packet_id", "sections", "outcome"]) == {
            "subject": sent["case_id"],
            "packet_id": sent["packet_id"],
            "sections": SENT_SECTIONS,
            "outcome": "retention_period_ended",
        }
        assert who(entry) == (f"node:{partner.node_id}", partner.node_id, "node")

    def test_the_persons_history_shows_both_each_proven_in_the_signed_log(
        self, world: World
    ) -> None:
        host, partner, pair = world.host, world.partner, world.pair
        sent = delivered_referral(pair, host, partner.node_id)
        case_id = sent["case_id"]
        ok(open_packet(partner, sent["packet_id"]))
        assert pair.deliver(partner).delivered == 1
        past_every_date(pair, host)
        purge(partner)
        assert pair.deliver(partner).delivered == 1
        AccessLogTree(node=gateway_node(host), sessions=host.sessions).run_once()

        history = SubjectHistory.model_validate(
            ok(audit(host, f"/subjects/{case_id}/history", dpo(host)))
        )

        assert history.subject == case_id
        assert history.checkpoint is not None
        checkpoint = verify_checkpoint(
            history.checkpoint, gateway_node(host).directory(), host.node_id
        )
        about = [e for e in entries(host) if e.subject == case_id and e.action != "history_viewed"]
        assert [p.entry.action for p in history.entries] == [e.action for e in about]
        for proven in history.entries:
            assert proven.entry.subject == case_id
            assert proven.inclusion_proof is not None, proven.entry.action
            assert proven.checkpoint_size == checkpoint.size
            assert entry_is_in(proven.entry, proven.inclusion_proof, checkpoint)
        by_partner = [
            (p.entry.action, p.entry.actor_role)
            for p in history.entries
            if p.entry.actor == f"node:{partner.node_id}"
        ]
        assert by_partner == [("opened", "partner_officer"), ("purged", "node")]

    @pytest.mark.parametrize("forger", ["another_node", "right_node_wrong_person"])
    def test_a_forged_notice_logs_nothing(self, world: World, forger: str) -> None:
        host, partner, pair = world.host, world.partner, world.pair
        other = pair.add_node("origin-other", [PartnerRole.RECEPTION_PARTNER], "SN")
        pair.publish()
        sent = delivered_referral(pair, host, partner.node_id)
        if forger == "another_node":
            # Another node names the packet sent to the partner, and even the right pseudonym.
            sender = other
            subject = pseudonym(host, sent["case_id"], partner.node_id)
        else:
            sender, subject = partner, "b" * 64
        before = counts(host)

        forge_notice(sender, host.node_id, sent["packet_id"], subject)
        assert pair.deliver(sender).delivered == 1  # accepted and signed for, then ignored

        assert counts(host) == before


# -- roles ----------------------------------------------------------------------------------------


def audit_routes(case_id: str) -> list[tuple[str, dict[str, str]]]:
    routes: list[tuple[str, dict[str, str]]] = [
        ("/entries", {}),
        ("/entries", {"subject": case_id}),
        (f"/subjects/{case_id}/history", {}),
        ("/checkpoints", {}),
        ("/consistency", {"old": "1", "new": "1"}),
        ("/verify", {}),
        ("/reconcile", {}),
    ]
    for name in REPORT_NAMES:
        routes.append((f"/reports/{name}", {}))
        routes.append((f"/reports/{name}", {"format": "csv"}))
    return routes


def checkpointed(world: World) -> tuple[dict[str, Any], list[Checkpoint]]:
    """A delivered and opened referral, and the host's log checkpointed twice."""
    host = world.host
    sent = delivered_referral(world.pair, host, world.partner.node_id)
    log = AccessLogTree(node=gateway_node(host), sessions=host.sessions)
    assert log.run_once().checkpoint is not None
    host.clock.advance(minutes=1)
    ok(open_packet(world.partner, sent["packet_id"]))
    assert world.pair.deliver(world.partner).delivered == 1
    ok(host.client.get(f"/api/v1/cases/{sent['case_id']}", headers=host.auth()))
    assert log.run_once().checkpoint is not None
    documents = ok(audit(host, "/checkpoints", dpo(host)))
    view = gateway_node(host).directory()
    signed = [
        verify_checkpoint(SignedDocument.model_validate(d), view, host.node_id) for d in documents
    ]
    return sent, signed


class TestRoles:
    def test_a_dpo_is_refused_case_content_and_each_attempt_is_logged(self, world: World) -> None:
        host, partner = world.host, world.partner
        sent = delivered_referral(world.pair, host, partner.node_id)
        case_id = sent["case_id"]
        attempts: list[tuple[TestNode, str, str, dict[str, Any] | None]] = [
            (host, "GET", f"/api/v1/cases/{case_id}", None),
            (host, "PUT", f"/api/v1/cases/{case_id}", flows.CASE),
            (host, "GET", f"/api/v1/cases/{case_id}/consents", None),
            (host, "GET", f"/api/v1/referrals/{sent['id']}", None),
            (host, "GET", f"/api/v1/referrals?case_id={case_id}", None),
            (partner, "GET", f"/api/v1/received/{sent['packet_id']}", None),
            (partner, "GET", "/api/v1/received", None),
        ]
        for node, method, path, body in attempts:

            def attempt(
                node: TestNode = node,
                method: str = method,
                path: str = path,
                body: dict[str, Any] | None = body,
            ) -> None:
                response = node.client.request(method, path, json=body, headers=dpo(node))
                assert response.status_code == 403, (path, response.text)
                assert flows.CASE["family_name"] not in response.text

            entry = logged_once(node, "access_denied", attempt)
            assert columns(entry, [*DPO, "outcome"]) == {**DPO, "outcome": "wrong_role"}
        assert entries(partner, "opened") == []
        assert entries(host, "case_viewed") == []

    @pytest.mark.parametrize(
        "role", [StaffRole.CASEWORKER, StaffRole.PARTNER_OFFICER, StaffRole.ADMIN]
    )
    def test_only_a_dpo_reaches_the_audit_routes(self, world: World, role: StaffRole) -> None:
        host = world.host
        case = flows.create_case(host)
        headers = host.auth(role, user="someone-1")
        for path, params in audit_routes(case["id"]):

            def attempt(path: str = path, params: dict[str, str] = params) -> None:
                response = audit(host, path, headers, **params)
                assert response.status_code == 403, (path, params, response.text)

            entry = logged_once(host, "access_denied", attempt)
            assert (entry.actor, entry.actor_role, entry.outcome) == (
                "someone-1",
                role.value,
                "wrong_role",
            )
        assert entries(host, "history_viewed") == []
        assert entries(host, "exported") == []

    def test_a_dpo_reaches_every_audit_route(self, world: World) -> None:
        sent, signed = checkpointed(world)
        host = world.host
        old, new = signed[0], signed[-1]
        headers = dpo(host)
        assert len(signed) == 2

        assert ok(audit(host, "/entries", headers))
        assert ok(audit(host, "/entries", headers, subject=sent["case_id"]))
        assert ok(audit(host, f"/subjects/{sent['case_id']}/history", headers))["entries"]
        consistency = ok(audit(host, "/consistency", headers, old=str(old.size), new=str(new.size)))
        assert (consistency["old_size"], consistency["new_size"]) == (old.size, new.size)
        assert extends(old, new, consistency["proof"])
        verified = ok(audit(host, "/verify", headers))
        assert (verified["problems"], verified["checkpoints"]) == ([], 2)
        assert ok(audit(host, "/reconcile", headers)) == []
        for name in REPORT_NAMES:
            as_json = ok(audit(host, f"/reports/{name}", headers))
            assert as_json["name"] == name
            as_csv = audit(host, f"/reports/{name}", headers, format="csv")
            assert as_csv.status_code == 200, (name, as_csv.text)
            assert as_csv.headers["content-type"].startswith("text/csv")
            header = next(csv.reader(io.StringIO(as_csv.text)))
            assert header == as_json["columns"], name

    def test_an_unknown_report_is_not_found_and_not_logged_as_an_export(self, world: World) -> None:
        response = audit(world.host, "/reports/everything", dpo(world.host))
        assert response.status_code == 404
        assert entries(world.host, "exported") == []

    def test_consistency_between_sizes_that_are_not_both_checkpoints_is_refused(
        self, world: World
    ) -> None:
        host = world.host
        flows.create_case(host)
        flows.create_case(host)
        log = AccessLogTree(node=gateway_node(host), sessions=host.sessions)
        assert log.run_once().checkpoint == 2
        flows.create_case(host)
        assert log.run_once().checkpoint == 3
        assert audit(host, "/consistency", dpo(host), old="2", new="3").status_code == 200

        # The old size unsigned, the new size unsigned, neither, and the newer one first.
        for old, new in [(1, 3), (2, 4), (1, 1), (3, 2)]:
            response = audit(host, "/consistency", dpo(host), old=str(old), new=str(new))
            assert response.status_code == 422, (old, new, response.text)


# -- the DPO's own reading ------------------------------------------------------------------------


class TestDpoReadingIsLogged:
    @pytest.mark.parametrize("route", ["history", "search"])
    def test_reading_a_persons_entries_is_logged_for_that_person(
        self, world: World, route: str
    ) -> None:
        host = world.host
        case = flows.create_case(host)

        def read() -> None:
            if route == "history":
                ok(audit(host, f"/subjects/{case['id']}/history", dpo(host)))
            else:
                ok(audit(host, "/entries", dpo(host), subject=case["id"]))

        entry = logged_once(host, "history_viewed", read)

        assert columns(entry, [*DPO, "subject", "outcome"]) == {
            **DPO,
            "subject": case["id"],
            "outcome": "ok",
        }

    def test_each_report_taken_out_is_logged_as_an_export_under_its_name(
        self, world: World
    ) -> None:
        host = world.host
        flows.create_case(host)
        for name in REPORT_NAMES:
            for form in ("json", "csv"):

                def take_out(name: str = name, form: str = form) -> None:
                    response = audit(host, f"/reports/{name}", dpo(host), format=form)
                    assert response.status_code == 200, response.text

                entry = logged_once(host, "exported", take_out)

                assert columns(entry, [*DPO, "subject", "outcome"]) == {
                    **DPO,
                    "subject": None,
                    "outcome": f"report:{name}",
                }

    def test_the_history_shows_entries_not_yet_placed_in_the_log_without_a_proof(
        self, world: World
    ) -> None:
        host = world.host
        case = flows.create_case(host)
        ok(host.client.get(f"/api/v1/cases/{case['id']}", headers=host.auth()))

        history = SubjectHistory.model_validate(
            ok(audit(host, f"/subjects/{case['id']}/history", dpo(host)))
        )

        assert [(p.entry.action, p.inclusion_proof) for p in history.entries] == [
            ("case_created", None),
            ("case_viewed", None),
        ]


# -- search ---------------------------------------------------------------------------------------


def shown(response: httpx.Response) -> list[tuple[str, str | None]]:
    found = ok(response)
    times = [e["at"] for e in found]
    assert times == sorted(times, reverse=True), "not newest first"
    return [(e["action"], e["subject"]) for e in found]


class TestSearch:
    @pytest.fixture
    def story(self, world: World) -> dict[str, Any]:
        """A minute apart: two cases in two offices, a referral of the first, delivered,
        opened by the partner (noticed to the host), then each case viewed by its office."""
        host, partner, pair = world.host, world.partner, world.pair
        times: list[datetime] = []

        def step() -> None:
            times.append(host.clock.now())
            host.clock.advance(minutes=1)

        a = flows.create_case(host)["id"]
        step()
        other = host.auth(user="user-2", office="office-b")
        b = ok(host.client.post("/api/v1/cases", json=flows.CASE, headers=other), 201)["id"]
        step()
        flows.record_consent(host, a, partner.node_id)
        step()
        sent = ok(flows.post_referral(host, a, partner.node_id), 201)
        step()
        assert pair.deliver(host).delivered == 1
        step()
        ok(open_packet(partner, sent["packet_id"]))
        assert pair.deliver(partner).delivered == 1
        step()
        ok(host.client.get(f"/api/v1/cases/{a}", headers=host.auth()))
        step()
        ok(host.client.get(f"/api/v1/cases/{b}", headers=other))
        step()
        return {"a": a, "b": b, "t": times}

    def search(self, world: World, **params: str) -> list[tuple[str, str | None]]:
        return shown(audit(world.host, "/entries", dpo(world.host), **params))

    def test_by_action(self, world: World, story: dict[str, Any]) -> None:
        a, b = story["a"], story["b"]
        assert self.search(world, action="case_viewed") == [("case_viewed", b), ("case_viewed", a)]
        assert self.search(world, action="case_created") == [
            ("case_created", b),
            ("case_created", a),
        ]
        assert self.search(world, action="purged") == []

    def test_by_organisation_and_by_actor(self, world: World, story: dict[str, Any]) -> None:
        a, b = story["a"], story["b"]
        assert self.search(world, organisation="origin-reception") == [("opened", a)]
        by_office_b = [("case_viewed", b), ("case_created", b)]
        assert self.search(world, organisation="office-b") == by_office_b
        assert self.search(world, actor="user-2") == by_office_b
        assert self.search(world, actor="node:origin-reception") == [("opened", a)]

    def test_by_subject(self, world: World, story: dict[str, Any]) -> None:
        a, b = story["a"], story["b"]
        assert self.search(world, subject=b) == [("case_viewed", b), ("case_created", b)]
        assert self.search(world, subject=a) == [
            ("case_viewed", a),
            ("opened", a),
            ("delivered", a),
            ("sent", a),
            ("referral_sealed", a),
            ("consent_recorded", a),
            ("case_created", a),
        ]
        assert self.search(world, subject=a, action="case_viewed") == [("case_viewed", a)]

    def test_by_time_window_from_since_up_to_before_until(
        self, world: World, story: dict[str, Any]
    ) -> None:
        a, b, t = story["a"], story["b"], story["t"]
        assert self.search(world, since=t[2].isoformat(), until=t[5].isoformat()) == [
            ("delivered", a),
            ("sent", a),
            ("referral_sealed", a),
            ("consent_recorded", a),
        ]
        assert self.search(world, until=t[1].isoformat()) == [("case_created", a)]
        assert self.search(world, since=t[7].isoformat()) == [("case_viewed", b)]
        assert self.search(world, since=t[5].isoformat(), organisation="office-a") == [
            ("case_viewed", a)
        ]

    def test_a_time_without_a_zone_is_refused_as_invalid(self, world: World) -> None:
        host = world.host
        flows.create_case(host)
        naive = host.clock.now().replace(tzinfo=None).isoformat()
        # As a deployed app answers: an unexpected error becomes a 500, not a raised exception.
        with TestClient(
            host.client.app, base_url=inbox_url(host.node_id), raise_server_exceptions=False
        ) as client:
            for bound in ("since", "until"):
                response = client.get(
                    "/api/v1/audit/entries", params={bound: naive}, headers=dpo(host)
                )
                assert response.status_code == 422, (bound, response.status_code)

    def test_everything_newest_first_and_limited(self, world: World, story: dict[str, Any]) -> None:
        a, b = story["a"], story["b"]
        everything = self.search(world)
        assert len(everything) == len(entries(world.host))
        assert everything[:3] == [("case_viewed", b), ("case_viewed", a), ("opened", a)]
        assert everything[-2:] == [("case_created", b), ("case_created", a)]
        assert self.search(world, limit="2") == everything[:2]
