"""Regressions found by a second read of the retention, audit and portal work.

Each test is one way a node could be made to lose, keep or show data it should not.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update

from gateway.exchange.inbox.models import ReceivedSectionRow
from gateway.exchange.outbox.queue import Message, queue_envelope
from gateway.records.accesslog.models import AccessEventRow, CheckpointRow, LogNodeRow, LogStateRow
from gateway.records.accesslog.tree import AccessLogTree, witness_document
from gateway.records.accesslog.verify import verify_log
from schemas.common import Purpose, SectionName, StaffRole
from schemas.envelope import MessageKind
from schemas.status import CorrectionContent
from tests.support import flows
from tests.support.federation import TestFederation, TestNode
from tests.support.nodes import canary_referral, open_packet, purge, report_event, sent_dates
from tests.support.portal import issue_card, portal_client, sign_in


def without(pair: TestFederation, node: TestNode) -> None:
    """Publish a directory from which ``node`` has left the federation."""
    directory = pair.directory()
    pair.publish(
        directory.model_copy(
            update={"nodes": [n for n in directory.nodes if n.node_id != node.node_id]}
        )
    )


class TestAMemberLeaves:
    def test_the_recipient_still_opens_and_purges_what_a_departed_sender_sent(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = canary_referral(host, partner)
        pair.deliver(host)
        without(pair, host)

        assert open_packet(partner, sent["packet_id"]).status_code == 200
        host.clock.advance(days=151)
        without(pair, host)
        assert purge(partner).received_sections == 3
        assert open_packet(partner, sent["packet_id"]).status_code == 410

    def test_a_withdrawal_still_works_when_the_recipient_has_left(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = canary_referral(host, partner)
        pair.deliver(host)
        without(pair, partner)

        response = host.client.post(
            f"/api/v1/cases/{sent['case_id']}/withdrawals", json={}, headers=host.auth()
        )

        assert response.status_code == 201, response.text
        assert [r["status"] for r in response.json()["revocations"]] == ["undeliverable"]


class TestEvents:
    def test_a_partner_cannot_back_date_an_event_before_the_referral(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = canary_referral(host, partner)
        pair.deliver(host)
        before = sent_dates(host, sent["id"])

        long_ago = datetime(2001, 1, 1, tzinfo=UTC)
        assert report_event(partner, sent["packet_id"], "arrival", long_ago).status_code == 201
        pair.deliver(partner)

        assert sent_dates(host, sent["id"]) == before

    def test_a_partner_cannot_move_an_event_already_recorded(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = canary_referral(host, partner)
        pair.deliver(host)
        host.clock.advance(days=2)
        arrived = host.clock.now().replace(microsecond=0)
        body = {"event": "arrival", "occurred_at": arrived.isoformat()}
        recorded = host.client.post(
            f"/api/v1/cases/{sent['case_id']}/events", json=body, headers=host.auth()
        )
        assert recorded.status_code == 201
        dates = sent_dates(host, sent["id"])
        host.clock.advance(days=20)

        report_event(partner, sent["packet_id"], "arrival", host.clock.now())
        pair.deliver(partner)

        assert sent_dates(host, sent["id"]) == dates


class TestWitness:
    def test_a_rewrite_behind_a_forged_checkpoint_row_is_not_signed(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        node = host.client.app.state.node  # type: ignore[attr-defined]
        for _ in range(5):
            flows.create_case(host)
        log = AccessLogTree(node=node, sessions=host.sessions)
        assert log.run_once().checkpoint is not None
        witness = witness_document(node.home)
        with host.sessions.begin() as session:
            first = session.scalars(select(AccessEventRow).order_by(AccessEventRow.seq)).first()
            session.delete(first)
            session.execute(update(AccessEventRow).values(leaf_index=None))
            session.execute(delete(LogNodeRow))
            session.execute(delete(LogStateRow))
            size = session.scalar(select(CheckpointRow.size))
            session.execute(delete(CheckpointRow))
            session.add(CheckpointRow(size=size, root="0" * 64, at=host.clock.now(), document={}))
        flows.create_case(host)
        host.clock.advance(seconds=30)

        assert log.run_once().checkpoint is None  # re-placed, but not signed
        assert witness_document(node.home) == witness
        with host.sessions() as session:
            report = verify_log(
                session,
                node_id=node.node_id,
                view=node.directory(),
                now=host.clock.now(),
                exported=[witness] if witness else [],
            )
        assert not report.ok


class TestErasure:
    def test_an_erased_persons_card_no_longer_opens_the_portal(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = canary_referral(host, partner)
        card = issue_card(host, sent["case_id"])
        browser = portal_client(host)
        assert sign_in(browser, card["reference"], card["code"]).status_code == 303

        erased = host.client.post(
            f"/api/v1/dpo/erasures/{sent['case_id']}", headers=host.auth(StaffRole.DPO)
        )

        assert erased.status_code == 201
        assert browser.get("/portal/home").status_code == 303  # signed out
        assert sign_in(portal_client(host), card["reference"], card["code"]).status_code == 401
        assert not (node_home(host) / "keys" / "subjects" / sent["case_id"]).exists()


def node_home(node: TestNode) -> Any:
    return node.home.path


class TestCorrections:
    def test_a_correction_under_another_purpose_changes_nothing(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = canary_referral(host, partner)
        pair.deliver(host)
        held_before = sealed_sections(partner, sent["packet_id"])
        arrival = dict(flows.content()["arrival"], contact_language="es")
        content = CorrectionContent.model_validate(
            {"packet_id": sent["packet_id"], "content": {"arrival": arrival}}
        )
        node = host.client.app.state.node  # type: ignore[attr-defined]
        now = host.clock.now()
        with host.sessions.begin() as session:
            queue_envelope(
                session,
                node,
                Message(
                    kind=MessageKind.CORRECTION,
                    recipient=partner.node_id,
                    purpose=Purpose.REINTEGRATION_ASSISTANCE,  # not the packet's purpose
                    case_id=sent["case_id"],
                    consent_ref=secrets.token_hex(16),
                    sections=[SectionName.ARRIVAL],
                    content=content.model_dump(mode="json"),
                    delete_by=now + timedelta(days=1),
                ),
                now,
            )

        pair.deliver(host)

        assert sealed_sections(partner, sent["packet_id"]) == held_before
        with partner.sessions() as session:
            corrected = session.scalars(
                select(AccessEventRow).where(AccessEventRow.action == "corrected")
            ).all()
        assert corrected == []


def sealed_sections(node: TestNode, packet_id: str) -> dict[str, bytes]:
    with node.sessions() as session:
        rows = session.scalars(
            select(ReceivedSectionRow).where(ReceivedSectionRow.packet_id == packet_id)
        ).all()
        return {r.section: r.sealed for r in rows}
