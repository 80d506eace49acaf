"""The protection rules that no consent, role or API call may get around, on two real nodes.

Each test sets up a case every other rule allows and breaks exactly one rule, so removing that
rule from the code makes the test fail. docs/consent.md lists each rule, where it is enforced
(create, deliver, receive) and the test here that proves it.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from crypto.signed import sign_document
from gateway.exchange.inbox.models import ReceivedSectionRow
from gateway.processes.audit.reports import Report, build
from gateway.records.accesslog.models import AccessEventRow
from gateway.surfaces.cli.main import main
from partners.directory import DIRECTORY_CONTEXT, key_record, sign_directory
from partners.errors import DirectoryError
from schemas.common import PartnerRole, StaffRole
from schemas.directory import Directory, SharingRule
from tests.support import flows
from tests.support.envelopes import post, rejected, sealed_body, stored
from tests.support.federation import TestFederation, TestNode

CHILD_CASE = {
    "date_of_birth": "2014-05-01",
    "vulnerability_flags": ["unaccompanied_or_separated_child"],
}
GUARDIAN = {
    "given_by": "guardian",
    "giver_relation": "legal guardian appointed by the court",
    "child_view": "agrees",
    "best_interests_reference": "BID-SYNTH-0001",
}
CUSTODIAN = {"kind": "relative", "name": "Synthetic Aunt"}


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def refused_by(response: httpx.Response) -> str:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "sharing_refused"
    return str(body["rule"])


def logged(node: TestNode, action: str) -> list[AccessEventRow]:
    with node.sessions() as session:
        return list(
            session.scalars(select(AccessEventRow).where(AccessEventRow.action == action)).all()
        )


def report(node: TestNode, name: str) -> Report:
    with node.sessions() as session:
        return build(name, session, node.client.app.state.node, node.clock.now())  # type: ignore[attr-defined]


def read_referral(host: TestNode, referral_id: str) -> dict[str, Any]:
    return dict(ok(host.client.get(f"/api/v1/referrals/{referral_id}", headers=host.auth())))


def child_with_consent(host: TestNode, recipient: str, **consent: Any) -> dict[str, Any]:
    case = flows.create_case(host, **CHILD_CASE)
    flows.record_consent(host, case["id"], recipient, **{**GUARDIAN, **consent})
    return case


def with_custodian() -> dict[str, Any]:
    content = flows.content()
    content["arrival"]["child_custodian"] = CUSTODIAN
    return content


class TestRecheckAtDelivery:
    """The worker decides again, with the directory in force at each attempt."""

    def assert_cancelled(
        self,
        pair: TestFederation,
        host: TestNode,
        partner: TestNode,
        sent: dict[str, Any],
        rule: str,
    ) -> None:
        before = len(pair.transport.requests)
        report_ = pair.deliver(host)

        assert (report_.cancelled, report_.delivered, report_.retried) == (1, 0, 0)
        assert pair.transport.requests[before:] == []  # nothing was posted anywhere
        assert stored(partner) == 0
        referral = read_referral(host, sent["id"])
        assert (referral["status"], referral["status_reason"]) == ("cancelled", rule)
        assert referral["attempts"] == []
        [entry] = logged(host, "referral_cancelled")
        assert (entry.packet_id, entry.outcome, entry.subject) == (
            sent["packet_id"],
            rule,
            sent["case_id"],
        )
        assert [row["rule"] for row in report(host, "cancelled").rows] == [rule]
        # Nothing is left to try later, whatever the directory says then.
        host.clock.advance(hours=1)
        assert not pair.deliver(host)

    def test_suspending_the_country_after_queueing_cancels_the_packet(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = flows.referral(host, partner.node_id)
        pair.suspended.append(partner.country)
        pair.publish()

        self.assert_cancelled(pair, host, partner, sent, "country_suspended")

    def test_suspending_the_region_after_queueing_cancels_the_packet(
        self, federation: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        partner.region = "SN-TH"
        federation.publish()
        sent = flows.referral(host, partner.node_id)
        federation.suspended_regions.append("SN-TH")
        federation.publish()

        self.assert_cancelled(federation, host, partner, sent, "region_suspended")

    def test_a_role_change_after_queueing_cancels_the_packet(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = flows.referral(host, partner.node_id)
        partner.roles = [PartnerRole.TRANSIT_OFFICE]  # no rule for arrival reception
        pair.publish()

        self.assert_cancelled(pair, host, partner, sent, "no_sharing_rule_for_role_and_purpose")

    def test_a_policy_narrowed_after_queueing_cancels_the_packet(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = flows.referral(host, partner.node_id)
        pair.policy = [
            SharingRule(
                role=PartnerRole.RECEPTION_PARTNER,
                purpose=r.purpose,
                sections={s: f for s, f in r.sections.items() if s.value != "medical"},
            )
            if r.role is PartnerRole.RECEPTION_PARTNER
            else r
            for r in pair.policy
        ]
        pair.publish()

        self.assert_cancelled(pair, host, partner, sent, "field_not_allowed_for_role_and_purpose")

    def test_a_member_removed_after_queueing_cancels_the_packet(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = flows.referral(host, partner.node_id)
        directory = pair.directory()
        pair.publish(
            directory.model_copy(
                update={"nodes": [n for n in directory.nodes if n.node_id != partner.node_id]}
            ),
            only=[host],
        )

        self.assert_cancelled(pair, host, partner, sent, "recipient_not_in_the_directory")

    def test_a_correction_queued_before_a_suspension_is_cancelled(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = flows.referral(host, partner.node_id)
        assert pair.deliver(host).delivered == 1
        corrected = {"arrival": {"reception_requested": True, "onward_transport": True}}
        ok(
            host.client.post(
                f"/api/v1/referrals/{sent['id']}/corrections",
                json={"content": corrected},
                headers=host.auth(),
            )
        )
        pair.suspended.append(partner.country)
        pair.publish()

        assert pair.deliver(host).cancelled == 1
        [entry] = logged(host, "delivery_cancelled")
        assert (entry.outcome, entry.subject) == ("country_suspended", sent["case_id"])
        assert logged(partner, "corrected") == []

    def test_a_status_update_queued_before_a_suspension_is_cancelled(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = flows.referral(host, partner.node_id)
        assert pair.deliver(host).delivered == 1
        ok(
            host.client.post(
                f"/api/v1/cases/{sent['case_id']}/events",
                json={"event": "arrival", "occurred_at": host.clock.now().isoformat()},
                headers=host.auth(),
            ),
            201,
        )
        pair.suspended.append(partner.country)
        pair.publish()

        assert pair.deliver(host).cancelled == 1
        assert [e.outcome for e in logged(host, "delivery_cancelled")] == ["country_suspended"]

    def test_a_withdrawal_still_reaches_a_suspended_recipient(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = flows.referral(host, partner.node_id)
        assert pair.deliver(host).delivered == 1
        pair.suspended.append(partner.country)
        pair.publish()

        withdrawal = ok(
            host.client.post(
                f"/api/v1/cases/{sent['case_id']}/withdrawals", json={}, headers=host.auth()
            ),
            201,
        )
        assert pair.deliver(host).delivered == 1

        [read] = ok(
            host.client.get(f"/api/v1/cases/{sent['case_id']}/withdrawals", headers=host.auth())
        )
        assert read["id"] == withdrawal["id"]
        assert [r["status"] for r in read["revocations"]] == ["confirmed"]
        assert held_sections(partner, sent["packet_id"]) == []

    def test_a_withdrawal_queued_before_a_member_left_still_reaches_it(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = flows.referral(host, partner.node_id)
        assert pair.deliver(host).delivered == 1
        ok(
            host.client.post(
                f"/api/v1/cases/{sent['case_id']}/withdrawals", json={}, headers=host.auth()
            ),
            201,
        )
        directory = pair.directory()
        pair.publish(
            directory.model_copy(
                update={"nodes": [n for n in directory.nodes if n.node_id != partner.node_id]}
            ),
            only=[host],
        )

        pair.deliver(host)

        # Posted to the inbox it had when the request was queued, and carried out there. (Its
        # signed answer cannot be checked without the key the directory no longer lists, so the
        # withdrawal stays unconfirmed for the DPO to follow up.)
        assert pair.transport.requests[-1] == partner.node_id
        assert held_sections(partner, sent["packet_id"]) == []
        assert [e.outcome for e in logged(partner, "deleted")] == ["consent_withdrawn"]


def held_sections(node: TestNode, packet_id: str) -> list[str]:
    with node.sessions() as session:
        return sorted(
            session.scalars(
                select(ReceivedSectionRow.section).where(ReceivedSectionRow.packet_id == packet_id)
            ).all()
        )


class TestRecheckAtTheRecipient:
    @pytest.fixture
    def authority(self, federation: TestFederation) -> TestNode:
        # An authority that is also a reception partner: the reception rule lists protection
        # needs and mobility needs, and only the withholding protects them.
        return federation.add_node(
            "origin-authority",
            [PartnerRole.GOVERNMENT_AUTHORITY, PartnerRole.RECEPTION_PARTNER],
            "SN",
        )

    @pytest.mark.parametrize(
        "content",
        [
            {"arrival": {"reception_requested": True, "protection_needs": ["asylum_history"]}},
            {"medical": {"mobility_needs_on_arrival": "CANARY free text about trafficking"}},
        ],
        ids=["protection-flags", "free-text"],
    )
    def test_a_hand_made_packet_with_a_withheld_field_is_refused_by_an_authority(
        self,
        federation: TestFederation,
        host: TestNode,
        partner: TestNode,
        authority: TestNode,
        content: dict[str, Any],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        federation.publish()
        caplog.set_level(logging.WARNING, logger="avrr.inbox")

        response = post(host, authority, sealed_body(host, authority, content=content))

        assert rejected(response)
        assert stored(authority) == 0
        assert "field_withheld_from_recipient_role" in caplog.text
        assert "CANARY" not in caplog.text
        # The control: a reception partner that is no authority takes the same packet.
        assert post(host, partner, sealed_body(host, partner, content=content)).status_code == 200

    def test_a_policy_giving_an_authority_free_text_is_refused_when_installed(
        self, federation: TestFederation, host: TestNode
    ) -> None:
        careless = careless_directory(federation)
        # Signed by the operator's key without the check, as an old or faulty tool would.
        doc = sign_document(
            careless.model_dump(mode="json"), federation.operator, context=DIRECTORY_CONTEXT
        )
        host.home.pin_operator(key_record(federation.operator.public_key()))

        with pytest.raises(DirectoryError, match=r"reintegration\.plan"):
            host.home.install_directory(doc, host.clock.now())
        assert not host.home.directory_file.exists()

    def test_a_policy_giving_an_authority_free_text_is_refused_when_signed(
        self, federation: TestFederation, host: TestNode
    ) -> None:
        with pytest.raises(DirectoryError, match=r"reintegration\.plan"):
            sign_directory(careless_directory(federation), federation.operator)

    def test_the_operator_cannot_set_such_a_policy(self, tmp_path: Path) -> None:
        folder = tmp_path / "federation"
        runner = CliRunner()
        assert (
            runner.invoke(main, ["federation", "init", str(folder), "--id", "avrr-t"]).exit_code
            == 0
        )
        before = (folder / "directory.json").read_text()
        policy = tmp_path / "policy.json"
        policy.write_text(json.dumps([careless_rule().model_dump(mode="json")]))

        result = runner.invoke(main, ["federation", "set-policy", str(folder), str(policy)])

        assert result.exit_code != 0
        assert "withheld from authorities" in result.output
        assert (folder / "directory.json").read_text() == before


def careless_rule() -> SharingRule:
    return SharingRule(
        role=PartnerRole.GOVERNMENT_AUTHORITY,
        purpose="reintegration_assistance",  # type: ignore[arg-type]
        sections={"reintegration": ["grant_type", "plan"]},  # type: ignore[dict-item]
    )


def careless_directory(federation: TestFederation) -> Directory:
    return federation.directory().model_copy(
        update={"sharing_policy": [*federation.policy, careless_rule()]}
    )


class TestChildren:
    def test_an_unaccompanied_child_cannot_be_referred_for_arrival_without_a_custodian(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        case = child_with_consent(host, partner.node_id)

        without = flows.post_referral(host, case["id"], partner.node_id)
        assert refused_by(without) == (
            "unaccompanied_child_travel_or_arrival_must_name_the_custodian"
        )
        assert [e.outcome for e in logged(host, "referral_refused")] == [
            "unaccompanied_child_travel_or_arrival_must_name_the_custodian"
        ]

        named = flows.post_referral(host, case["id"], partner.node_id, body=with_custodian())
        assert named.status_code == 201, named.text

    def test_a_person_of_uncertain_age_needs_a_custodian_too(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        case = flows.create_case(host, date_of_birth=None, age_uncertain=True)
        flows.record_consent(host, case["id"], partner.node_id, **GUARDIAN)

        response = flows.post_referral(host, case["id"], partner.node_id)

        assert refused_by(response) == (
            "unaccompanied_child_travel_or_arrival_must_name_the_custodian"
        )

    def test_a_child_who_disagrees_is_not_referred_until_the_bid_weighs_their_view(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        case = child_with_consent(host, partner.node_id, child_view="disagrees")

        unweighed = flows.post_referral(host, case["id"], partner.node_id, body=with_custodian())
        assert refused_by(unweighed) == (
            "child_disagrees_and_best_interests_does_not_weigh_their_view"
        )

        flows.record_consent(
            host,
            case["id"],
            partner.node_id,
            **{
                **GUARDIAN,
                "child_view": "disagrees",
                "child_view_weighing": (
                    "The child's wish to stay was weighed against family tracing."
                ),
            },
        )
        weighed = flows.post_referral(host, case["id"], partner.node_id, body=with_custodian())
        assert weighed.status_code == 201, weighed.text

        # The DPO sees both in the report of children's referrals, and reads the weighing.
        rows = report(host, "children").rows
        assert [(r["status"], r.get("child_view"), r.get("view_weighed")) for r in rows] == [
            ("queued", "disagrees", True),
            ("refused", None, None),
        ]
        views = ok(
            host.client.get(
                f"/api/v1/dpo/referrals/{weighed.json()['id']}/child-view",
                headers=host.auth(StaffRole.DPO),
            )
        )
        assert [v["weighing"] for v in views] == [
            "The child's wish to stay was weighed against family tracing."
        ]
        [read] = logged(host, "child_view_read")
        assert read.subject == case["id"]

    def test_arrival_of_an_unaccompanied_child_needs_the_handover_first(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        case = child_with_consent(host, partner.node_id)
        ok(
            flows.post_referral(host, case["id"], partner.node_id, body=with_custodian()),
            201,
        )
        now = host.clock.now().isoformat()

        def event(name: str) -> httpx.Response:
            return host.client.post(
                f"/api/v1/cases/{case['id']}/events",
                json={"event": name, "occurred_at": now},
                headers=host.auth(),
            )

        assert refused_by(event("arrival")) == "unaccompanied_child_arrival_needs_recorded_handover"
        assert [e.outcome for e in logged(host, "event_refused")] == [
            "unaccompanied_child_arrival_needs_recorded_handover"
        ]
        ok(event("handed_over"), 201)
        ok(event("arrival"), 201)

    def test_a_partner_cannot_report_an_unaccompanied_childs_arrival_before_the_handover(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        case = child_with_consent(host, partner.node_id)
        sent = ok(
            flows.post_referral(host, case["id"], partner.node_id, body=with_custodian()), 201
        )
        assert pair.deliver(host).delivered == 1
        ok(
            partner.client.post(
                f"/api/v1/received/{sent['packet_id']}/events",
                json={"event": "arrival", "occurred_at": partner.clock.now().isoformat()},
                headers=partner.auth(StaffRole.PARTNER_OFFICER),
            ),
            201,
        )

        assert pair.deliver(partner).delivered == 1

        assert [e.outcome for e in logged(host, "event_refused")] == [
            "unaccompanied_child_arrival_needs_recorded_handover"
        ]
        assert logged(host, "event_recorded") == []


class TestSecondApproval:
    @pytest.fixture
    def flagged(self, pair: TestFederation, host: TestNode, partner: TestNode) -> dict[str, Any]:
        case = flows.create_case(host, vulnerability_flags=["victim_of_trafficking"])
        flows.record_consent(host, case["id"], partner.node_id)
        return dict(ok(flows.post_referral(host, case["id"], partner.node_id), 201))

    def approve(self, host: TestNode, referral: dict[str, Any], user: str) -> httpx.Response:
        return host.client.post(
            f"/api/v1/referrals/{referral['id']}/approval", headers=host.auth(user=user)
        )

    def test_a_trafficking_referral_waits_and_its_author_cannot_approve_it(
        self, pair: TestFederation, host: TestNode, flagged: dict[str, Any]
    ) -> None:
        assert flagged["status"] == "awaiting_approval"
        assert not pair.deliver(host)  # nothing sealed, nothing queued

        assert refused_by(self.approve(host, flagged, "user-1")) == (
            "second_approval_by_another_staff_member"
        )
        assert read_referral(host, flagged["id"])["status"] == "awaiting_approval"
        assert not pair.deliver(host)
        assert [e.outcome for e in logged(host, "referral_refused")] == [
            "second_approval_by_another_staff_member"
        ]
        assert logged(host, "referral_sealed") == []

    def test_a_second_caseworker_approves_and_it_is_sent(
        self, pair: TestFederation, host: TestNode, partner: TestNode, flagged: dict[str, Any]
    ) -> None:
        approved = ok(self.approve(host, flagged, "user-2"))

        assert (approved["status"], approved["approved_by"]) == ("queued", "user-2")
        assert pair.deliver(host).delivered == 1
        assert stored(partner) == 1
        [entry] = logged(host, "referral_approved")
        assert (entry.actor, entry.packet_id) == ("user-2", flagged["packet_id"])

    def test_a_caseworker_of_another_office_cannot_see_or_approve_it(
        self, pair: TestFederation, host: TestNode, flagged: dict[str, Any]
    ) -> None:
        response = host.client.post(
            f"/api/v1/referrals/{flagged['id']}/approval",
            headers=host.auth(user="user-9", office="office-b"),
        )

        assert response.status_code == 404
        assert read_referral(host, flagged["id"])["status"] == "awaiting_approval"

    def test_a_withdrawal_cancels_a_referral_awaiting_approval(
        self, pair: TestFederation, host: TestNode, flagged: dict[str, Any]
    ) -> None:
        ok(
            host.client.post(
                f"/api/v1/cases/{flagged['case_id']}/withdrawals", json={}, headers=host.auth()
            ),
            201,
        )

        referral = read_referral(host, flagged["id"])
        assert (referral["status"], referral["status_reason"]) == (
            "cancelled",
            "consent_withdrawn",
        )
        assert self.approve(host, flagged, "user-2").status_code == 409


class TestSuspensionByRegion:
    def test_a_referral_to_a_suspended_region_is_refused_when_created(
        self, federation: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        partner.region = "SN-TH"
        federation.suspended_regions.append("SN-TH")
        federation.publish()
        case = flows.create_case(host)
        flows.record_consent(host, case["id"], partner.node_id)

        assert refused_by(flows.post_referral(host, case["id"], partner.node_id)) == (
            "region_suspended"
        )

    def test_the_operator_suspends_a_region_by_its_iso_code(self, tmp_path: Path) -> None:
        folder = tmp_path / "federation"
        runner = CliRunner()
        assert (
            runner.invoke(main, ["federation", "init", str(folder), "--id", "avrr-t"]).exit_code
            == 0
        )

        result = runner.invoke(main, ["federation", "suspend", str(folder), "ml-7"])

        assert result.exit_code == 0, result.output
        shown = runner.invoke(main, ["federation", "show", str(folder)])
        assert json.loads(shown.output)["suspended_regions"] == ["ML-7"]
        assert runner.invoke(main, ["federation", "suspend", str(folder), "XX-1"]).exit_code != 0
