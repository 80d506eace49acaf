"""The AVRR process both ways, on real nodes: replies, re-referral, plans, monitoring, notes,
the host's timeline and statistics, and every refusal.

Four nodes: the host mission (DE), a reception partner and a second one (SN), and a
reintegration partner (SN). Envelopes travel between their apps as in production.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from gateway.exchange.followup.models import FollowUpRow
from gateway.exchange.outbox.queue import pseudonym_for
from gateway.records.accesslog.models import AccessEventRow
from schemas.common import PartnerRole, StaffRole
from schemas.envelope import MessageKind
from tests.support import flows
from tests.support.envelopes import post, rejected, sealed_message
from tests.support.federation import TestFederation, TestNode

REINTEGRATION_CONTENT = {
    "arrival": {
        "contact_language": "fr",
        "final_destination": {"country": "SN", "locality": "Thies"},
    },
    "reintegration": {
        "needs": [{"dimension": "economic", "level": "individual"}],
        "plan": "vocational training",
        "grant_type": "in_kind",
    },
}
ANSWERS = {
    "economic_satisfaction": "satisfied",
    "ability_to_borrow": "yes",
    "housing_access": "good",
    "education_access": "fair",
    "social_participation": "often",
    "support_network": "strong",
    "food_insecurity": "rarely",
}


@dataclass
class World:
    fed: TestFederation
    host: TestNode
    reception: TestNode
    other_reception: TestNode
    reintegration: TestNode

    def deliver(self, *nodes: TestNode) -> None:
        for node in nodes:
            self.fed.deliver(node)


@pytest.fixture
def world(federation: TestFederation) -> World:
    host = federation.add_node("host-mission", [PartnerRole.HOST_MISSION], "DE")
    reception = federation.add_node("origin-reception", [PartnerRole.RECEPTION_PARTNER], "SN")
    other = federation.add_node("origin-reception-2", [PartnerRole.RECEPTION_PARTNER], "SN")
    reintegration = federation.add_node(
        "origin-reintegration", [PartnerRole.REINTEGRATION_PARTNER], "SN"
    )
    federation.publish()
    return World(federation, host, reception, other, reintegration)


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def officer(node: TestNode) -> dict[str, str]:
    return node.auth(StaffRole.PARTNER_OFFICER, user="officer-1", office="partner")


def delivered_referral(
    world: World,
    to: TestNode,
    purpose: str = "arrival_reception",
    content: dict[str, Any] | None = None,
    **consent: Any,
) -> dict[str, Any]:
    case = flows.create_case(world.host)
    flows.record_consent(world.host, case["id"], to.node_id, purpose, **consent)
    sent = ok(flows.post_referral(world.host, case["id"], to.node_id, purpose, body=content), 201)
    world.deliver(world.host)
    return dict(sent)


def answer(node: TestNode, packet_id: str, **body: Any) -> httpx.Response:
    return node.client.post(
        f"/api/v1/received/{packet_id}/replies", json=body, headers=officer(node)
    )


def timeline(world: World, case_id: str) -> list[dict[str, Any]]:
    return list(
        ok(world.host.client.get(f"/api/v1/cases/{case_id}/timeline", headers=world.host.auth()))
    )


def logged(node: TestNode, action: str) -> list[AccessEventRow]:
    with node.sessions() as session:
        return list(session.scalars(select(AccessEventRow).where(AccessEventRow.action == action)))


def follow_up_rows(node: TestNode) -> int:
    with node.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(FollowUpRow)) or 0)


class TestReplies:
    @pytest.mark.parametrize(
        ("body", "detail"),
        [
            ({"kind": "accepted"}, "accepted"),
            ({"kind": "declined", "reason": "no_capacity", "note": "full this month"}, "declined"),
            ({"kind": "needs_information", "question": "Which flight?"}, "needs_information"),
            ({"kind": "person_met"}, "person_met"),
            ({"kind": "did_not_arrive"}, "did_not_arrive"),
            (
                {
                    "kind": "assistance_delivered",
                    "items": ["cash", "training"],
                    "amount": "up_to_500",
                },
                "assistance_delivered",
            ),
        ],
        ids=lambda value: value if isinstance(value, str) else None,
    )
    def test_each_reply_reaches_the_host_bound_to_its_referral(
        self, world: World, body: dict[str, Any], detail: str
    ) -> None:
        sent = delivered_referral(world, world.reception)

        mine = ok(answer(world.reception, sent["packet_id"], **body), 201)
        world.deliver(world.reception)

        replies = [e for e in timeline(world, sent["case_id"]) if e["what"] == "reply"]
        assert [(e["detail"], e["referral_id"], e["organisation"]) for e in replies] == [
            (detail, sent["id"], "Origin Reception (test)")
        ]
        assert replies[0]["content"]["packet_id"] == sent["packet_id"]
        assert replies[0]["proof"] == mine["envelope_sha256"]
        assert [e.outcome for e in logged(world.reception, "follow_up_sent")] == [
            f"reply: {detail}"
        ]
        assert [e.outcome for e in logged(world.host, "follow_up_received")] == [f"reply: {detail}"]

    def test_the_person_met_records_the_arrival_and_moves_dates_on_both_sides(
        self, world: World
    ) -> None:
        sent = delivered_referral(world, world.reception)
        world.fed.clock.advance(hours=3)
        met = world.host.clock.now() - timedelta(hours=2)

        ok(
            answer(
                world.reception, sent["packet_id"], kind="person_met", occurred_at=met.isoformat()
            ),
            201,
        )
        world.deliver(world.reception)

        events = [e for e in timeline(world, sent["case_id"]) if e["what"].startswith("event")]
        assert [e["what"] for e in events] == ["event: arrival"]
        assert {e.outcome for e in logged(world.host, "deadline_moved")} == {"arrival"}
        world.deliver(world.host)  # the new dates go to the partner
        assert [e.outcome for e in logged(world.reception, "deadline_moved")] == ["arrival"]

    def test_assistance_delivered_records_that_assistance_started(self, world: World) -> None:
        sent = delivered_referral(world, world.reception)

        ok(
            answer(
                world.reception, sent["packet_id"], kind="assistance_delivered", items=["housing"]
            ),
            201,
        )
        world.deliver(world.reception)

        whats = [e["what"] for e in timeline(world, sent["case_id"])]
        assert "event: assistance_started" in whats

    def test_a_decline_deletes_what_the_partner_held(self, world: World) -> None:
        sent = delivered_referral(world, world.reception)

        ok(
            answer(world.reception, sent["packet_id"], kind="declined", reason="outside_mandate"),
            201,
        )

        opened = world.reception.client.get(
            f"/api/v1/received/{sent['packet_id']}", headers=officer(world.reception)
        )
        assert opened.status_code == 410
        assert [e.outcome for e in logged(world.reception, "deleted")] == ["declined"]
        assert answer(world.reception, sent["packet_id"], kind="accepted").status_code == 410

    def test_after_a_decline_the_person_is_referred_to_another_partner_in_one_call(
        self, world: World
    ) -> None:
        case = flows.create_case(world.host)
        flows.record_consent(
            world.host,
            case["id"],
            None,
            recipient_role="reception_partner",  # type: ignore[arg-type]
        )
        sent = ok(flows.post_referral(world.host, case["id"], world.reception.node_id), 201)
        world.deliver(world.host)
        ok(answer(world.reception, sent["packet_id"], kind="declined", reason="no_capacity"), 201)
        world.deliver(world.reception)

        again = ok(
            world.host.client.post(
                f"/api/v1/referrals/{sent['id']}/rereferral",
                json={"recipient": world.other_reception.node_id},
                headers=world.host.auth(),
            ),
            201,
        )
        world.deliver(world.host)

        assert (again["follows"], again["recipient"]) == (sent["id"], "origin-reception-2")
        assert again["sections_sent"] == sent["sections_sent"]
        received = ok(
            world.other_reception.client.get(
                "/api/v1/received", headers=officer(world.other_reception)
            )
        )
        assert [r["packet_id"] for r in received] == [again["packet_id"]]

    def test_a_referral_not_declined_is_not_referred_again(self, world: World) -> None:
        sent = delivered_referral(world, world.reception)

        response = world.host.client.post(
            f"/api/v1/referrals/{sent['id']}/rereferral",
            json={"recipient": world.other_reception.node_id},
            headers=world.host.auth(),
        )

        assert response.status_code == 409

    def test_a_question_is_answered_with_a_note(self, world: World) -> None:
        sent = delivered_referral(world, world.reception)
        question = ok(
            answer(
                world.reception,
                sent["packet_id"],
                kind="needs_information",
                question="Which flight?",
            ),
            201,
        )
        world.deliver(world.reception)
        world.fed.clock.advance(minutes=5)

        ok(
            world.host.client.post(
                f"/api/v1/referrals/{sent['id']}/notes",
                json={"text": "The morning flight.", "about": question["id"]},
                headers=world.host.auth(),
            ),
            201,
        )
        world.deliver(world.host)

        thread = ok(
            world.reception.client.get(
                f"/api/v1/received/{sent['packet_id']}/follow-up", headers=officer(world.reception)
            )
        )
        assert [(m["kind"], m["direction"]) for m in thread] == [
            ("reply", "sent"),
            ("note", "received"),
        ]
        assert thread[1]["content"] == {
            "packet_id": sent["packet_id"],
            "text": "The morning flight.",
            "about": question["id"],
        }

    @pytest.mark.parametrize(
        "body",
        [
            {"kind": "declined"},
            {"kind": "accepted", "reason": "no_capacity"},
            {"kind": "accepted", "items": ["cash"]},
            {"kind": "assistance_delivered"},
            {"kind": "assistance_delivered", "items": ["a car"]},
            {"kind": "needs_information"},
            {"kind": "accepted", "amount": "up_to_500"},
            {"kind": "accepted", "unknown": 1},
            {"kind": "approved"},
        ],
    )
    def test_a_malformed_reply_is_refused(self, world: World, body: dict[str, Any]) -> None:
        sent = delivered_referral(world, world.reception)

        assert answer(world.reception, sent["packet_id"], **body).status_code == 422
        assert follow_up_rows(world.reception) == 0

    def test_a_reply_dated_in_the_future_is_refused(self, world: World) -> None:
        sent = delivered_referral(world, world.reception)
        later = world.host.clock.now() + timedelta(days=1)

        response = answer(
            world.reception, sent["packet_id"], kind="person_met", occurred_at=later.isoformat()
        )

        assert response.status_code == 422

    def test_a_reply_to_a_packet_never_received_is_not_found(self, world: World) -> None:
        assert answer(world.reception, "ab" * 16, kind="accepted").status_code == 404

    def test_a_reply_past_the_referrals_date_is_gone(self, world: World) -> None:
        sent = delivered_referral(world, world.reception)
        world.fed.clock.advance(days=400)

        assert answer(world.reception, sent["packet_id"], kind="accepted").status_code == 410

    def test_a_child_handed_over_lets_the_arrival_be_recorded(self, world: World) -> None:
        case = flows.create_case(
            world.host,
            date_of_birth="2014-05-01",
            vulnerability_flags=["unaccompanied_or_separated_child"],
        )
        flows.record_consent(
            world.host,
            case["id"],
            world.reception.node_id,
            given_by="guardian",
            giver_relation="court-appointed guardian",
            child_view="agrees",
            best_interests_reference="BID-SYNTH-0002",
        )
        content = flows.content()
        content["arrival"]["child_custodian"] = {"kind": "relative", "name": "Synthetic Aunt"}
        sent = ok(
            flows.post_referral(world.host, case["id"], world.reception.node_id, body=content), 201
        )
        world.deliver(world.host)

        ok(answer(world.reception, sent["packet_id"], kind="handed_over"), 201)
        world.deliver(world.reception)
        ok(answer(world.reception, sent["packet_id"], kind="person_met"), 201)
        world.deliver(world.reception)

        whats = [e["what"] for e in timeline(world, case["id"])]
        assert {"event: handed_over", "event: arrival"} <= set(whats)
        assert logged(world.host, "event_refused") == []


class TestRefusedAtTheHost:
    def test_a_reply_about_a_referral_never_sent_is_refused(self, world: World) -> None:
        content = {
            "packet_id": "cd" * 16,
            "kind": "accepted",
            "occurred_at": world.host.clock.now().isoformat(),
        }
        subject = "ef" * 32

        response = post(
            world.reception,
            world.host,
            sealed_message(
                world.reception,
                world.host,
                kind=MessageKind.REPLY,
                content=content,
                subject=subject,
            ),
        )

        assert rejected(response)
        assert follow_up_rows(world.host) == 0
        assert [e.outcome for e in logged(world.host, "access_denied")] == [
            "names_no_referral_sent_to_the_sender"
        ]

    def test_a_reply_from_a_node_that_was_not_the_recipient_is_refused(self, world: World) -> None:
        sent = delivered_referral(world, world.reception)
        subject = pseudonym_for(
            world.host.client.app.state.node,  # type: ignore[attr-defined]
            sent["case_id"],
            world.other_reception.node_id,
        )
        content = {
            "packet_id": sent["packet_id"],
            "kind": "accepted",
            "occurred_at": world.host.clock.now().isoformat(),
        }

        response = post(
            world.other_reception,
            world.host,
            sealed_message(
                world.other_reception,
                world.host,
                kind=MessageKind.REPLY,
                content=content,
                subject=subject,
            ),
        )

        assert rejected(response)
        assert follow_up_rows(world.host) == 0

    def test_a_reply_after_the_referrals_date_is_refused(self, world: World) -> None:
        sent = delivered_referral(world, world.reception)
        subject = pseudonym_for(
            world.host.client.app.state.node,  # type: ignore[attr-defined]
            sent["case_id"],
            world.reception.node_id,
        )
        world.fed.clock.advance(days=200)
        world.fed.publish()
        content = {
            "packet_id": sent["packet_id"],
            "kind": "accepted",
            "occurred_at": world.host.clock.now().isoformat(),
        }

        response = post(
            world.reception,
            world.host,
            sealed_message(
                world.reception,
                world.host,
                kind=MessageKind.REPLY,
                content=content,
                subject=subject,
            ),
        )

        assert rejected(response)
        assert [e.outcome for e in logged(world.host, "access_denied")] == [
            "about_a_referral_past_its_delete_by"
        ]


class TestPlans:
    def referral(self, world: World, **consent: Any) -> dict[str, Any]:
        return delivered_referral(
            world,
            world.reintegration,
            "reintegration_assistance",
            REINTEGRATION_CONTENT,
            **consent,
        )

    def plan(self, world: World, packet_id: str) -> httpx.Response:
        return world.reintegration.client.post(
            f"/api/v1/received/{packet_id}/plans",
            json={
                "goals": [
                    {"dimension": "economic", "level": "individual", "goal": "a tailoring shop"}
                ],
                "assistance_planned": ["business_support", "training"],
                "referrals_to_services": ["district vocational centre"],
                "review_dates": ["2027-03-01"],
                "agreed_with_person": True,
            },
            headers=officer(world.reintegration),
        )

    def test_the_plan_returns_and_the_host_comments_on_it(self, world: World) -> None:
        sent = self.referral(world, sections=["arrival", "reintegration"])

        plan = ok(self.plan(world, sent["packet_id"]), 201)
        world.deliver(world.reintegration)
        world.fed.clock.advance(minutes=5)
        ok(
            world.host.client.post(
                f"/api/v1/referrals/{sent['id']}/notes",
                json={"text": "Please add a review after six months.", "about": plan["id"]},
                headers=world.host.auth(),
            ),
            201,
        )
        world.deliver(world.host)

        plans = [e for e in timeline(world, sent["case_id"]) if e["what"] == "reintegration_plan"]
        assert [(e["detail"], e["content"]["goals"][0]["goal"]) for e in plans] == [
            ("version 1", "a tailoring shop")
        ]
        thread = ok(
            world.reintegration.client.get(
                f"/api/v1/received/{sent['packet_id']}/follow-up",
                headers=officer(world.reintegration),
            )
        )
        assert [m["kind"] for m in thread] == ["reintegration_plan", "note"]

    def test_a_plan_no_consent_covers_is_refused_by_the_host(self, world: World) -> None:
        sent = self.referral(world, sections=["arrival"])

        ok(self.plan(world, sent["packet_id"]), 201)
        world.deliver(world.reintegration)

        assert [
            e["what"] for e in timeline(world, sent["case_id"]) if e["what"] == "reintegration_plan"
        ] == []
        assert [e.outcome for e in logged(world.host, "access_denied")] == [
            "no_consent_covers_sending_it_back"
        ]

    def test_a_plan_follows_only_a_reintegration_referral(self, world: World) -> None:
        sent = delivered_referral(world, world.reception)

        response = world.reception.client.post(
            f"/api/v1/received/{sent['packet_id']}/plans",
            json={
                "goals": [{"dimension": "social", "level": "community", "goal": "x"}],
                "agreed_with_person": True,
            },
            headers=officer(world.reception),
        )

        assert response.status_code == 422

    def test_a_plan_never_goes_to_an_authority(self, world: World) -> None:
        sent = self.referral(world, sections=["arrival", "reintegration"])
        world.host.roles = [PartnerRole.HOST_MISSION, PartnerRole.GOVERNMENT_AUTHORITY]
        world.fed.publish()

        response = self.plan(world, sent["packet_id"])

        assert response.status_code == 422
        assert "government authority" in response.json()["detail"]

    def test_a_plan_queued_before_the_host_became_an_authority_is_cancelled(
        self, world: World
    ) -> None:
        sent = self.referral(world, sections=["arrival", "reintegration"])
        ok(self.plan(world, sent["packet_id"]), 201)
        world.host.roles = [PartnerRole.HOST_MISSION, PartnerRole.GOVERNMENT_AUTHORITY]
        world.fed.publish()

        assert world.fed.deliver(world.reintegration).cancelled == 1
        assert [e.outcome for e in logged(world.reintegration, "delivery_cancelled")] == [
            "never_to_a_government_authority"
        ]


class TestMonitoring:
    def referral(self, world: World) -> dict[str, Any]:
        return delivered_referral(
            world,
            world.reintegration,
            "reintegration_monitoring",
            {"reintegration": {"needs": [{"dimension": "social", "level": "individual"}]}},
            sections=["reintegration"],
        )

    def monitor(
        self, world: World, packet_id: str, answers: dict[str, Any], months: int = 3
    ) -> httpx.Response:
        return world.reintegration.client.post(
            f"/api/v1/received/{packet_id}/monitoring",
            json={"round_months": months, "conducted_on": "2026-03-01", "answers": answers},
            headers=officer(world.reintegration),
        )

    def test_the_scores_reach_the_host_and_the_answers_stay(self, world: World) -> None:
        sent = self.referral(world)

        scored = ok(self.monitor(world, sent["packet_id"], ANSWERS), 201)
        world.deliver(world.reintegration)

        assert scored["elements_scored"] == 6
        assert scored["scoring_version"] == "rss-1.0"
        rounds = [e for e in timeline(world, sent["case_id"]) if e["what"] == "monitoring"]
        assert [(e["detail"], e["content"]["scores"]) for e in rounds] == [
            ("month 3", scored["scores"])
        ]
        assert "answers" not in rounds[0]["content"]

    def test_an_answer_outside_the_coding_is_a_422_naming_the_element(self, world: World) -> None:
        sent = self.referral(world)

        response = self.monitor(world, sent["packet_id"], {"housing_access": "superb"})

        assert response.status_code == 422
        assert "housing_access" in response.json()["detail"]
        assert follow_up_rows(world.reintegration) == 0

    def test_low_scores_flag_the_person_for_more_assistance(self, world: World) -> None:
        sent = self.referral(world)

        low = ok(
            self.monitor(
                world,
                sent["packet_id"],
                {"economic_satisfaction": "very_dissatisfied", "support_network": "none"},
            ),
            201,
        )

        assert low["needs_more_assistance"] is True
        flagged = ok(
            world.reintegration.client.get(
                "/api/v1/received/monitoring/needs-more-assistance",
                headers=officer(world.reintegration),
            )
        )
        assert [m["id"] for m in flagged] == [low["id"]]

    def test_statistics_suppress_every_small_cell(self, world: World) -> None:
        sent = self.referral(world)
        ok(self.monitor(world, sent["packet_id"], ANSWERS), 201)
        world.deliver(world.reintegration)

        for name in ("monitoring-counts", "score-distribution", "score-distribution-by-group"):
            built = ok(
                world.host.client.get(
                    f"/api/v1/statistics/{name}", headers=world.host.auth(StaffRole.DPO)
                )
            )
            shown = [v for row in built["rows"] for v in row.values() if isinstance(v, int)]
            assert all(v == 0 or v >= 10 for v in shown), built
            assert any(v == "suppressed" for row in built["rows"] for v in row.values())
        assert [e.outcome for e in logged(world.host, "statistics_produced")] == [
            "statistic:monitoring-counts",
            "statistic:score-distribution",
            "statistic:score-distribution-by-group",
        ]

    def test_statistics_are_for_the_dpo_only(self, world: World) -> None:
        response = world.host.client.get(
            "/api/v1/statistics/score-distribution", headers=world.host.auth()
        )

        assert response.status_code == 403
