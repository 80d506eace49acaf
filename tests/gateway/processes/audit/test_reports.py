"""The DPO's reports, built from real activity between two real apps (and, for the access
patterns, from access-log entries written directly), and never showing case content.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from gateway.kit.errors import NotFound
from gateway.processes.audit.reports import (
    NO_CURRENT_RULE,
    REPORTS,
    SUBJECTS_PER_HOUR,
    Report,
    build,
    to_csv,
)
from gateway.processes.retention import Purger
from gateway.records.accesslog.writer import Action, Actor, deny, record
from partners.default_policy import default_policy
from schemas.common import PartnerRole, StaffRole
from tests.support import flows
from tests.support.federation import TestFederation, TestNode

CANARY = "CANARY-5e1d-report-leak"
GROUND = "explicit_consent_informed_of_risks"


def report(node: TestNode, name: str) -> Report:
    with node.sessions() as session:
        return build(name, session, node.client.app.state.node, node.clock.now())  # type: ignore[attr-defined]


def iso(value: str) -> str:
    """A timestamp from the API, in the form reports use."""
    return datetime.fromisoformat(value).isoformat()


def withdraw(host: TestNode, case_id: str) -> dict[str, Any]:
    response = host.client.post(
        f"/api/v1/cases/{case_id}/withdrawals", json={}, headers=host.auth()
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def hold(node: TestNode, packet_id: str) -> None:
    until = (node.clock.now() + timedelta(days=400)).isoformat()
    response = node.client.post(
        "/api/v1/dpo/holds",
        json={"packet_id": packet_id, "reason": "inquiry", "until": until},
        headers=node.auth(StaffRole.DPO),
    )
    assert response.status_code == 201, response.text


def canary_referral(host: TestNode, partner: TestNode) -> dict[str, Any]:
    """A referral whose person and content carry the canary wherever free text goes."""
    case = flows.create_case(host, given_name=CANARY, family_name=CANARY)
    flows.record_consent(host, case["id"], partner.node_id)
    body = flows.content()
    body["travel"]["traveller_name"] = CANARY
    body["medical"]["mobility_needs_on_arrival"] = CANARY
    body["arrival"]["final_destination"]["locality"] = CANARY
    response = flows.post_referral(host, case["id"], partner.node_id, body=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


class TestProcessing:
    def test_each_purpose_and_role_has_a_row_with_its_recipients_retention_and_use(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        flows.referral(host, partner.node_id)
        pair.deliver(host)
        flows.referral(host, partner.node_id)  # queued, not delivered: nothing left the node

        rows = report(host, "processing").rows

        assert len(rows) == len(default_policy())
        by_key = {(r["purpose"], r["recipient_role"]): r for r in rows}
        assert by_key[("arrival_reception", "reception_partner")] == {
            "purpose": "arrival_reception",
            "recipient_role": "reception_partner",
            "data_categories": ["arrival", "medical", "travel"],
            "recipients": ["origin-reception"],
            "retention": "arrival: 90 days after arrival; medical: 30 days after arrival; "
            "travel: 30 days after arrival",
            "referrals_sent": 1,
        }
        assert by_key[("reintegration_assistance", "reintegration_partner")]["retention"] == (
            "arrival: 90 days after arrival; reintegration: 730 days after assistance started "
            "(at least 730 days for a child)"
        )
        assert by_key[("travel_assistance", "transit_office")]["recipients"] == []
        assert sum(int(r["referrals_sent"]) for r in rows) == 1  # type: ignore[call-overload]

    def test_referrals_no_current_rule_covers_keep_a_row_of_their_own(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        flows.referral(host, partner.node_id)
        pair.deliver(host)
        pair.policy = [r for r in default_policy() if r.role != PartnerRole.RECEPTION_PARTNER]
        pair.publish()

        rows = report(host, "processing").rows

        assert [r for r in rows if r["recipient_role"] == NO_CURRENT_RULE] == [
            {
                "purpose": "arrival_reception",
                "recipient_role": NO_CURRENT_RULE,
                "data_categories": ["arrival", "medical", "travel"],
                "recipients": ["origin-reception"],
                "retention": "arrival: 90 days after arrival; medical: 30 days after arrival; "
                "travel: 30 days after arrival",
                "referrals_sent": 1,
            }
        ]


class TestTransfers:
    def test_delivered_packets_are_counted_by_country_purpose_and_category(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        pair.add_node("origin-reintegration", [PartnerRole.REINTEGRATION_PARTNER], "GN")
        pair.publish()
        first = flows.referral(host, partner.node_id)
        host.clock.advance(days=2)
        second = flows.referral(host, partner.node_id)
        other = flows.referral(host, "origin-reintegration", "reintegration_assistance")
        pair.deliver(host)
        flows.referral(host, partner.node_id)  # queued: not transferred yet

        rows = report(host, "transfers").rows

        def row(country: str, purpose: str, section: str, packets: int, *sent: str) -> Any:
            return {
                "destination_country": country,
                "purpose": purpose,
                "data_category": section,
                "packets": packets,
                "first_sent": iso(sent[0]),
                "last_sent": iso(sent[-1]),
                "transfer_grounds": [GROUND],
                "recipients": ["origin-reintegration" if country == "GN" else "origin-reception"],
            }

        at = (first["created_at"], second["created_at"])
        assert rows == [
            row("GN", "reintegration_assistance", "arrival", 1, other["created_at"]),
            row("GN", "reintegration_assistance", "reintegration", 1, other["created_at"]),
            row("SN", "arrival_reception", "arrival", 2, *at),
            row("SN", "arrival_reception", "medical", 2, *at),
            row("SN", "arrival_reception", "travel", 2, *at),
        ]


class TestOverdueDeletions:
    def test_a_sent_packet_past_its_date_is_listed_until_its_deletion_is_proven(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = flows.referral(host, partner.node_id)
        pair.deliver(host)
        assert report(host, "overdue-deletions").rows == []
        host.clock.advance(days=151)
        pair.publish()

        expected = {
            "side": "sent",
            "packet_id": sent["packet_id"],
            "subject": sent["case_id"],
            "counterpart": partner.node_id,
            "purpose": "arrival_reception",
            "sections": ["arrival", "medical", "travel"],
            "delete_by": iso(sent["delete_by"]),
            "days_overdue": 1,
            "reason": "not_requested",
        }
        assert report(host, "overdue-deletions").rows == [expected]

        response = host.client.post(
            "/api/v1/dpo/deletion-proofs",
            json={"packet_ids": [sent["packet_id"]]},
            headers=host.auth(StaffRole.DPO),
        )
        assert response.status_code == 201, response.text
        assert report(host, "overdue-deletions").rows == [{**expected, "reason": "request_pending"}]

        pair.deliver(host)
        assert report(host, "overdue-deletions").rows == []

    def test_received_sections_past_their_date_say_whether_a_hold_or_the_purge_keeps_them(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        held = flows.referral(host, partner.node_id)
        behind = flows.referral(host, partner.node_id)
        pair.deliver(host)
        hold(partner, held["packet_id"])
        host.clock.advance(days=151)
        pair.publish()

        rows = report(partner, "overdue-deletions").rows

        assert [(r["packet_id"], r["reason"]) for r in rows] == sorted(
            [(held["packet_id"], "legal_hold"), (behind["packet_id"], "purge_behind")]
        )
        for row in rows:
            assert row["side"] == "received"
            assert row["counterpart"] == host.node_id
            assert row["sections"] == ["arrival", "medical", "travel"]
            # Travel and medical were due first: 60 days assumed until arrival, then 30 more.
            assert row["days_overdue"] == 61
            assert row["subject"] not in (held["case_id"], behind["case_id"])

        Purger(node=partner.client.app.state.node, sessions=partner.sessions).run_once()  # type: ignore[attr-defined]

        assert [
            (r["packet_id"], r["reason"]) for r in report(partner, "overdue-deletions").rows
        ] == [(held["packet_id"], "legal_hold")]


class TestPendingWithdrawals:
    def test_a_withdrawal_is_pending_until_the_recipient_confirms(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = flows.referral(host, partner.node_id)
        pair.deliver(host)
        withdrawal = withdraw(host, sent["case_id"])
        host.clock.advance(days=3, hours=1)
        pair.publish()

        assert report(host, "pending-withdrawals").rows == [
            {
                "withdrawal_id": withdrawal["id"],
                "case_id": sent["case_id"],
                "requested_at": iso(withdrawal["requested_at"]),
                "recipient": partner.node_id,
                "status": "pending",
                "age_days": 3,
            }
        ]

        pair.deliver(host)
        assert report(host, "pending-withdrawals").rows == []

    def test_a_withdrawal_that_never_reached_the_recipient_stays_listed_as_undeliverable(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        class Down(httpx.BaseTransport):
            def handle_request(self, request: httpx.Request) -> httpx.Response:
                raise httpx.ConnectError("down", request=request)

        sent = flows.referral(host, partner.node_id)
        pair.deliver(host)
        withdraw(host, sent["case_id"])
        host.clock.advance(days=151)  # past the revocation's own deadline
        pair.publish()
        pair.worker(host, http=httpx.Client(transport=Down())).run_once()

        assert [(r["case_id"], r["status"]) for r in report(host, "pending-withdrawals").rows] == [
            (sent["case_id"], "undeliverable")
        ]


class TestDenied:
    def test_denied_accesses_are_grouped_by_actor_and_outcome_over_ninety_days(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        with host.sessions.begin() as session:
            deny(
                session,
                at=host.clock.now() - timedelta(days=91),
                actor=Actor("user-2", "office-b", "caseworker"),
                outcome="case_not_in_office",
            )
        case = flows.create_case(host)
        stranger = host.auth(user="user-2", office="office-b")
        first = host.clock.now()
        assert host.client.get(f"/api/v1/cases/{case['id']}", headers=stranger).status_code == 404
        last = host.clock.advance(hours=5)
        assert host.client.get(f"/api/v1/cases/{case['id']}", headers=stranger).status_code == 404

        assert report(host, "denied").rows == [
            {
                "actor": "user-2",
                "actor_org": "office-b",
                "actor_role": "caseworker",
                "outcome": "case_not_in_office",
                "count": 2,
                "first_at": first.isoformat(),
                "last_at": last.isoformat(),
            }
        ]


class TestUnusual:
    def opens(
        self, host: TestNode, user: str, subjects: int, start: datetime, every: timedelta
    ) -> None:
        with host.sessions.begin() as session:
            for i in range(subjects):
                record(
                    session,
                    at=start + i * every,
                    actor=Actor(user, "office-a", "caseworker"),
                    action=Action.CASE_VIEWED if i % 2 else Action.OPENED,
                    subject=f"{user}-subject-{i:02d}",
                )

    def test_many_people_opened_within_an_hour_or_many_denials_in_a_day_are_flagged(
        self, host: TestNode
    ) -> None:
        now = host.clock.now()
        start = now - timedelta(days=2)
        self.opens(host, "snoop", 25, start, timedelta(seconds=72))  # 25 in 30 minutes
        self.opens(host, "normal", 5, start, timedelta(minutes=6))
        self.opens(host, "busy", SUBJECTS_PER_HOUR, start, timedelta(minutes=2))
        self.opens(host, "steady", 30, start, timedelta(hours=1))  # never two in one hour
        self.opens(host, "long-ago", 25, now - timedelta(days=40), timedelta(seconds=72))
        with host.sessions.begin() as session:
            for i in range(11):
                deny(
                    session,
                    at=start + timedelta(hours=i),
                    actor=Actor("prober", "office-b", "caseworker"),
                    outcome="case_not_in_office",
                )

        assert report(host, "unusual").rows == [
            {
                "actor": "prober",
                "actor_org": "office-b",
                "actor_role": "caseworker",
                "pattern": "many_denials_per_day",
                "window_start": start.isoformat(),
                "count": 11,
            },
            {
                "actor": "snoop",
                "actor_org": "office-a",
                "actor_role": "caseworker",
                "pattern": "many_subjects_per_hour",
                "window_start": start.isoformat(),
                "count": 25,
            },
        ]

    def test_opening_the_same_person_again_and_again_is_not_flagged(self, host: TestNode) -> None:
        start = host.clock.now() - timedelta(hours=3)
        with host.sessions.begin() as session:
            for i in range(60):
                record(
                    session,
                    at=start + i * timedelta(seconds=30),
                    actor=Actor("reader", "office-a", "caseworker"),
                    action=Action.CASE_VIEWED,
                    subject=f"subject-{i % 3}",
                )

        assert report(host, "unusual").rows == []


class TestCsv:
    def test_a_report_as_csv_has_its_header_and_one_line_per_row(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        flows.referral(host, partner.node_id)
        pair.deliver(host)
        processing = report(host, "processing")

        lines = list(csv.reader(io.StringIO(to_csv(processing))))

        assert lines[0] == processing.columns
        assert len(lines) == len(processing.rows) + 1
        first = dict(zip(lines[0], lines[1], strict=True))
        assert first["data_categories"] == ";".join(processing.rows[0]["data_categories"])  # type: ignore[arg-type]

    def test_lists_are_joined_none_is_empty_and_text_never_becomes_a_formula(self) -> None:
        made = Report(
            name="made",
            title="made up",
            columns=["list", "none", "text", "number"],
            rows=[{"list": ["a", "b"], "none": None, "text": "=HYPERLINK(1)", "number": -3}],
        )

        lines = list(csv.reader(io.StringIO(to_csv(made))))

        assert lines == [["list", "none", "text", "number"], ["a;b", "", "'=HYPERLINK(1)", "-3"]]


class TestBuild:
    def test_the_catalogue_holds_the_eight_reports_each_under_its_name(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        assert sorted(REPORTS) == sorted(
            [
                "processing",
                "transfers",
                "overdue-deletions",
                "pending-withdrawals",
                "denied",
                "unusual",
                "cancelled",
                "children",
            ]
        )
        for name in REPORTS:
            assert report(host, name).name == name

    def test_an_unknown_report_is_not_found(self, pair: TestFederation, host: TestNode) -> None:
        with pytest.raises(NotFound):
            report(host, "nope")


class TestNoCaseContent:
    def test_no_report_on_either_side_shows_a_name_or_any_content(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        withdrawn = canary_referral(host, partner)
        overdue = canary_referral(host, partner)
        pair.deliver(host)
        opened = partner.client.get(
            f"/api/v1/received/{overdue['packet_id']}",
            headers=partner.auth(StaffRole.PARTNER_OFFICER),
        )
        assert opened.status_code == 200
        assert CANARY in opened.text  # the canary is really there to leak
        stranger = host.auth(user="user-2", office="office-b")
        host.client.get(f"/api/v1/cases/{overdue['case_id']}", headers=stranger)
        withdraw(host, withdrawn["case_id"])
        host.clock.advance(days=151)
        pair.publish()

        shown = 0
        for node in (host, partner):
            for name in REPORTS:
                built = report(node, name)
                as_json = json.dumps([built.title, built.columns, built.rows])
                assert CANARY not in as_json, (node.node_id, name)
                assert CANARY not in to_csv(built), (node.node_id, name)
                shown += len(built.rows)
        # Not a vacuous check: processing, transfers, overdue (both sides), the pending
        # withdrawal and the denial all have rows.
        assert shown >= len(default_policy()) + 3 + 2 + 1 + 1
