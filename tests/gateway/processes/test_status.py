"""Status updates: events in a person's return move retention dates on the host and recipients.

Time moves by the fake clock. Default rules (``partners.default_policy``): for reception, travel
and medical are kept 30 days after arrival and arrival 90 days; until arrival is reported it is
assumed 60 days after sending.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from gateway.exchange.inbox.models import ReceivedSectionRow
from gateway.exchange.outbox.models import OutboxRow
from gateway.exchange.outbox.queue import Message, queue_envelope
from gateway.records.accesslog.models import AccessEventRow
from schemas.common import PartnerRole, Purpose, StaffRole
from schemas.directory import RetentionEvent
from schemas.envelope import MessageKind
from schemas.status import StatusPacket, StatusUpdateContent
from tests.support import flows
from tests.support.federation import TestFederation, TestNode
from tests.support.nodes import open_packet, purge, report_event, sections_held, sent_dates


def received_dates(partner: TestNode, packet_id: str) -> dict[str, datetime]:
    with partner.sessions() as session:
        rows = session.scalars(
            select(ReceivedSectionRow).where(ReceivedSectionRow.packet_id == packet_id)
        ).all()
        return {r.section: r.delete_by for r in rows}


def actions(node: TestNode, action: str) -> list[tuple[str | None, str]]:
    with node.sessions() as session:
        rows = session.execute(
            select(AccessEventRow.packet_id, AccessEventRow.outcome).where(
                AccessEventRow.action == action
            )
        ).all()
        return [(p, o) for p, o in rows]


def outbox_size(node: TestNode) -> int:
    with node.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(OutboxRow)) or 0)


def record_event(host: TestNode, case_id: str, event: str, at: datetime, **headers: Any) -> Any:
    return host.client.post(
        f"/api/v1/cases/{case_id}/events",
        json={"event": event, "occurred_at": at.isoformat()},
        headers=headers or host.auth(),
    )


def delivered_referral(pair: TestFederation, host: TestNode) -> dict[str, Any]:
    sent = flows.referral(host, "origin-reception")
    assert pair.deliver(host).delivered == 1
    return sent


class TestHostReportsAnEvent:
    def test_arrival_moves_the_dates_it_governs_on_both_sides(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = delivered_referral(pair, host)
        host.clock.advance(days=5)
        arrived = host.clock.now().replace(microsecond=0)

        response = record_event(host, sent["case_id"], "arrival", arrived)

        assert response.status_code == 201, response.text
        assert response.json()["packets_updated"] == 1
        expected = {
            "travel": arrived + timedelta(days=30),
            "medical": arrived + timedelta(days=30),
            "arrival": arrived + timedelta(days=90),
        }
        assert sent_dates(host, sent["id"]) == expected
        assert pair.deliver(host).delivered == 1
        assert received_dates(partner, sent["packet_id"]) == expected
        assert actions(partner, "deadline_moved") == [
            (sent["packet_id"], "arrival"),
        ]

    def test_the_moved_dates_are_what_the_purge_enforces(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = delivered_referral(pair, host)
        record_event(host, sent["case_id"], "arrival", host.clock.now())
        pair.deliver(host)

        host.clock.advance(days=31)  # assumed dates were 90 days away; the real ones have passed
        pair.publish()

        assert purge(partner).received_sections == 2
        assert purge(host).sent_sections == 2
        assert sections_held(partner, sent["packet_id"]) == ["arrival"]
        host.clock.advance(days=60)
        pair.publish()
        assert purge(partner).received_sections == 1
        assert open_packet(partner, sent["packet_id"]).status_code == 410

    def test_a_late_arrival_keeps_travel_data_longer_than_assumed(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = delivered_referral(pair, host)
        host.clock.advance(days=80)
        pair.publish()
        arrived = host.clock.now().replace(microsecond=0)

        record_event(host, sent["case_id"], "arrival", arrived)
        pair.deliver(host)

        assert received_dates(partner, sent["packet_id"])["travel"] == arrived + timedelta(days=30)

    def test_reporting_the_same_event_again_changes_nothing_and_sends_nothing(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        sent = delivered_referral(pair, host)
        arrived = host.clock.now()
        record_event(host, sent["case_id"], "arrival", arrived)
        queued = outbox_size(host)

        again = record_event(host, sent["case_id"], "arrival", arrived)

        assert again.json()["packets_updated"] == 0
        assert outbox_size(host) == queued
        assert len(actions(host, "event_recorded")) == 1

    def test_an_event_of_another_kind_moves_no_reception_date(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        sent = delivered_referral(pair, host)
        before = sent_dates(host, sent["id"])

        response = record_event(host, sent["case_id"], "assistance_started", host.clock.now())

        assert response.json()["packets_updated"] == 0
        assert sent_dates(host, sent["id"]) == before

    def test_a_referral_sent_after_the_event_counts_from_it(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        case = flows.create_case(host)
        arrived = host.clock.now().replace(microsecond=0) - timedelta(days=10)
        assert record_event(host, case["id"], "arrival", arrived).status_code == 201
        flows.record_consent(host, case["id"], "origin-reception")

        sent = flows.post_referral(host, case["id"], "origin-reception").json()

        assert sent_dates(host, sent["id"])["travel"] == arrived + timedelta(days=30)

    def test_an_event_in_the_future_is_refused(self, pair: TestFederation, host: TestNode) -> None:
        sent = delivered_referral(pair, host)
        later = host.clock.now() + timedelta(days=2)

        response = record_event(host, sent["case_id"], "arrival", later)

        assert response.status_code == 422
        assert "happened" in response.json()["detail"]

    def test_sending_is_not_an_event_to_report(self, pair: TestFederation, host: TestNode) -> None:
        sent = delivered_referral(pair, host)

        response = record_event(host, sent["case_id"], "referral_sent", host.clock.now())

        assert response.status_code == 422

    def test_only_the_cases_office_reports_its_events(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        sent = delivered_referral(pair, host)
        now = host.clock.now()
        other_office = host.auth(office="another-office")

        assert (
            record_event(host, sent["case_id"], "arrival", now, **other_office).status_code == 404
        )
        dpo = host.auth(StaffRole.DPO)
        assert record_event(host, sent["case_id"], "arrival", now, **dpo).status_code == 403


class TestPartnerReportsAnEvent:
    def test_a_partners_report_reaches_the_host_and_the_new_dates_come_back(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = delivered_referral(pair, host)
        host.clock.advance(days=3)
        arrived = host.clock.now().replace(microsecond=0)

        response = report_event(partner, sent["packet_id"], "arrival", arrived)
        assert response.status_code == 201, response.text
        # Nothing moves on the partner until the host, who decides the dates, answers.
        assert received_dates(partner, sent["packet_id"])["travel"] != arrived + timedelta(days=30)
        assert pair.deliver(partner).delivered == 1

        assert sent_dates(host, sent["id"])["travel"] == arrived + timedelta(days=30)
        with host.sessions() as session:
            reporter = session.execute(
                select(AccessEventRow.actor_org, AccessEventRow.actor_role).where(
                    AccessEventRow.action == "event_recorded"
                )
            ).one()
        assert tuple(reporter) == ("origin-reception", "node")
        assert pair.deliver(host).delivered == 1
        assert received_dates(partner, sent["packet_id"])["travel"] == arrived + timedelta(days=30)
        assert actions(partner, "event_reported") == [(sent["packet_id"], "arrival")]

    def test_only_partner_officers_report_and_only_on_packets_they_hold(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = delivered_referral(pair, host)
        now = host.clock.now()
        response = partner.client.post(
            f"/api/v1/received/{sent['packet_id']}/events",
            json={"event": "arrival", "occurred_at": now.isoformat()},
            headers=partner.auth(StaffRole.DPO),
        )
        assert response.status_code == 403
        assert report_event(partner, "0" * 32, "arrival", now).status_code == 404
        assert outbox_size(partner) == 0


class TestForgedUpdates:
    def forge(self, sender: TestNode, recipient: str, packet_id: str, subject: str) -> None:
        """Queue a status update as a faulty or hostile node would, bypassing its own API."""
        node = sender.client.app.state.node  # type: ignore[attr-defined]
        now = sender.clock.now()
        content = StatusUpdateContent(
            event=RetentionEvent.ARRIVAL,
            occurred_at=now.replace(microsecond=0),
            packets=[StatusPacket(packet_id=packet_id)],
        )
        with sender.sessions.begin() as session:
            queue_envelope(
                session,
                node,
                Message(
                    kind=MessageKind.STATUS_UPDATE,
                    recipient=recipient,
                    purpose=Purpose.ARRIVAL_RECEPTION,
                    case_id=None,
                    subject=subject,
                    consent_ref=secrets.token_hex(16),
                    sections=[],
                    content=content.model_dump(mode="json"),
                    delete_by=now + timedelta(days=1),
                ),
                now,
            )

    def test_a_node_cannot_move_dates_of_packets_sent_to_another(
        self, federation: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        other = federation.add_node("origin-other", [PartnerRole.RECEPTION_PARTNER], "SN")
        federation.publish()
        sent = delivered_referral(federation, host)
        before = sent_dates(host, sent["id"])

        self.forge(other, host.node_id, sent["packet_id"], subject="a" * 64)
        assert federation.deliver(other).delivered == 1

        assert sent_dates(host, sent["id"]) == before
        assert actions(host, "event_recorded") == []

    def test_the_right_recipient_naming_another_person_moves_nothing(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = delivered_referral(pair, host)
        before = sent_dates(host, sent["id"])

        self.forge(partner, host.node_id, sent["packet_id"], subject="b" * 64)
        assert pair.deliver(partner).delivered == 1

        assert sent_dates(host, sent["id"]) == before
        assert actions(host, "event_recorded") == []
