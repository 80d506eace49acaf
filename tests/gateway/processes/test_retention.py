"""Purpose-limited retention: per-section deadlines, the purge on both sides, legal holds, and
deletion that survives backups (crypto-shredding). Time moves by the fake clock, never by sleeping.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from crypto.storage import StoredDataUnreadable, open_at_rest
from gateway.exchange.inbox.models import ReceivedPacketRow, ReceivedSectionRow
from gateway.exchange.referrals.models import ReferralRow
from gateway.records.accesslog.models import AccessEventRow
from schemas.common import StaffRole
from tests.support import flows
from tests.support.federation import TestFederation, TestNode
from tests.support.nodes import (
    CANARY,
    canary_referral,
    database_text,
    open_packet,
    purge,
    sections_held,
)


class TestDeadlines:
    def test_each_section_gets_its_delete_by_date_from_the_federation_rules(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        sent = flows.referral(host, "origin-reception")
        start = host.clock.now().replace(microsecond=0)
        with host.sessions() as session:
            referral = session.get(ReferralRow, sent["id"])
            assert referral is not None
            dates = {s: datetime.fromisoformat(d) for s, d in referral.section_delete_by.items()}
        # Arrival assumed 60 days after sending; travel and medical kept 30 days after it, arrival 90.
        assert dates == {
            "travel": start + timedelta(days=90),
            "medical": start + timedelta(days=90),
            "arrival": start + timedelta(days=150),
        }

    def test_recipient_caps_a_deadline_longer_than_the_rules_allow(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        from tests.support.envelopes import post, sealed_body

        now = host.clock.now().replace(microsecond=0)
        body = sealed_body(host, partner, delete_by=now + timedelta(days=3000))
        assert post(host, partner, body).status_code == 200
        with partner.sessions() as session:
            stored = session.scalars(select(ReceivedSectionRow.delete_by)).one()
        assert stored == now + timedelta(days=150)


class TestPurge:
    def test_sections_past_their_date_are_purged_on_both_sides_and_tombstoned(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = canary_referral(host, partner)
        pair.deliver(host)
        host.clock.advance(days=91)
        pair.publish()
        assert purge(partner).received_sections == 2
        assert purge(host).sent_sections == 2
        assert sections_held(partner, sent["packet_id"]) == ["arrival"]
        opened = open_packet(partner, sent["packet_id"]).json()
        assert sorted(opened["content"]) == ["arrival"]
        with host.sessions() as session:
            referral = session.get(ReferralRow, sent["id"])
            assert referral is not None
            assert referral.sent_sections == ["arrival"]
            assert referral.expired_sections == ["medical", "travel"]
        for node in (host, partner):
            with node.sessions() as session:
                tombstones = session.scalars(
                    select(AccessEventRow).where(AccessEventRow.action == "purged")
                ).all()
            assert [(t.packet_id, t.sections, t.outcome) for t in tombstones] == [
                (sent["packet_id"], ["medical", "travel"], "retention_period_ended")
            ]

    def test_past_its_last_date_a_packet_is_gone_everywhere_and_the_api_says_410(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = canary_referral(host, partner)
        pair.deliver(host)
        host.clock.advance(days=151)
        pair.publish()
        purge(partner)
        purge(host)
        assert open_packet(partner, sent["packet_id"]).status_code == 410
        assert sections_held(partner, sent["packet_id"]) == []
        for node in (host, partner):
            assert CANARY.encode() not in database_text(node.engine), node.node_id

    def test_an_emptied_packet_is_forgotten_once_it_can_no_longer_be_replayed(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        from tests.support.envelopes import post, sealed_body

        body = sealed_body(host, partner)
        assert post(host, partner, body).status_code == 200
        # Withdrawn at once (no section left), but still inside the acceptance window: the
        # stored packet id is what refuses a replay, so it stays.
        with partner.sessions.begin() as session:
            row = session.scalars(select(ReceivedPacketRow)).one()
            packet_id = row.packet_id
            session.execute(text("DELETE FROM received_sections"))
            row.status = "withdrawn"
        assert purge(partner).packets_forgotten == 0
        assert post(host, partner, body).status_code == 200  # the same packet again: same receipt

        host.clock.advance(days=15)
        pair.publish()
        assert purge(partner).packets_forgotten == 1

        with partner.sessions() as session:
            assert session.get(ReceivedPacketRow, packet_id) is None
        # Now the envelope is too old to be accepted at all, so forgetting it opens no replay.
        assert post(host, partner, body).status_code == 400

    def test_a_packet_with_sections_left_is_never_forgotten(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = canary_referral(host, partner)
        pair.deliver(host)
        host.clock.advance(days=100)  # travel and medical are past their date, arrival is not
        pair.publish()

        report = purge(partner)

        assert (report.received_sections, report.packets_forgotten) == (2, 0)
        assert open_packet(partner, sent["packet_id"]).status_code == 200

    def test_a_forgotten_packet_still_answers_410_from_its_tombstone(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = canary_referral(host, partner)
        pair.deliver(host)
        host.clock.advance(days=151)
        pair.publish()
        assert purge(partner).packets_forgotten == 1

        response = open_packet(partner, sent["packet_id"])

        assert response.status_code == 410
        assert open_packet(partner, secrets.token_hex(16)).status_code == 404

    def test_purge_works_in_batches(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        for _ in range(3):
            canary_referral(host, partner)
        pair.deliver(host)
        host.clock.advance(days=151)
        report = purge(partner, batch_size=2)
        assert report.received_sections == 9
        assert report.batches >= 5

    def test_nothing_is_purged_before_its_date(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = canary_referral(host, partner)
        pair.deliver(host)
        host.clock.advance(days=89)
        assert purge(partner).received_sections == 0
        assert sections_held(partner, sent["packet_id"]) == ["arrival", "medical", "travel"]


class TestCryptoShredding:
    def test_a_backup_from_before_the_purge_cannot_be_read_after_it_but_others_can(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        old = canary_referral(host, partner)
        pair.deliver(host)
        host.clock.advance(days=100)
        pair.publish()  # directories are re-signed monthly; this one would have expired
        newer = canary_referral(host, partner)  # another person, sent later
        pair.deliver(host)
        with partner.sessions() as session:
            backup = [
                (row.packet_id, row.section, row.sealed, packet.subject)
                for row, packet in session.execute(
                    select(ReceivedSectionRow, ReceivedPacketRow).join(
                        ReceivedPacketRow,
                        ReceivedPacketRow.packet_id == ReceivedSectionRow.packet_id,
                    )
                ).all()
            ]
        host.clock.advance(days=51)  # past every date of the first person, none of the second
        pair.publish()
        assert purge(partner).subjects_erased == 1

        keys = partner.client.app.state.node.keys  # type: ignore[attr-defined]
        readable = {}
        for packet_id, section, sealed, subject in backup:
            key = keys.existing_key(subject)
            if key is None:
                readable[packet_id] = False
                continue
            context = f"received_sections/{packet_id}/{section}".encode()
            try:
                open_at_rest(key, sealed, context=context)
                readable[packet_id] = True
            except StoredDataUnreadable:
                readable[packet_id] = False
        assert readable == {old["packet_id"]: False, newer["packet_id"]: True}
        assert open_packet(partner, newer["packet_id"]).status_code == 200


class TestLegalHold:
    def hold(self, node: TestNode, **body: Any) -> Any:
        return node.client.post("/api/v1/dpo/holds", json=body, headers=node.auth(StaffRole.DPO))

    def test_hold_keeps_data_past_its_date_and_its_end_releases_it(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = canary_referral(host, partner)
        pair.deliver(host)
        until = (host.clock.now() + timedelta(days=200)).isoformat()
        response = self.hold(
            partner, packet_id=sent["packet_id"], reason="court order 2026/77", until=until
        )
        assert response.status_code == 201, response.text
        host.clock.advance(days=151)
        assert purge(partner).received_sections == 0
        assert sections_held(partner, sent["packet_id"]) == ["arrival", "medical", "travel"]
        host.clock.advance(days=50)  # the hold has ended
        assert purge(partner).received_sections == 3

    def test_hold_on_a_subject_keeps_all_their_packets(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = canary_referral(host, partner)
        pair.deliver(host)
        listed = partner.client.get(
            "/api/v1/received", headers=partner.auth(StaffRole.PARTNER_OFFICER)
        ).json()
        until = (host.clock.now() + timedelta(days=400)).isoformat()
        assert (
            self.hold(
                partner, subject=listed[0]["subject"], reason="inquiry", until=until
            ).status_code
            == 201
        )
        host.clock.advance(days=151)
        assert purge(partner).received_sections == 0
        assert sections_held(partner, sent["packet_id"]) == ["arrival", "medical", "travel"]

    def test_only_a_dpo_places_holds_and_it_is_logged(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        until = (host.clock.now() + timedelta(days=10)).isoformat()
        body = {"packet_id": secrets.token_hex(16), "reason": "review", "until": until}
        assert (
            host.client.post("/api/v1/dpo/holds", json=body, headers=host.auth()).status_code == 403
        )
        assert self.hold(host, **body).status_code == 201
        with host.sessions() as session:
            assert session.scalars(select(AccessEventRow.action)).all() == [
                "access_denied",
                "legal_hold",
            ]

    @pytest.mark.parametrize(
        "body",
        [
            {"reason": "neither subject nor packet"},
            {"subject": "a" * 32, "packet_id": "b" * 32, "reason": "both"},
        ],
    )
    def test_hold_names_exactly_one_target(
        self, pair: TestFederation, host: TestNode, body: dict[str, str]
    ) -> None:
        until = (host.clock.now() + timedelta(days=10)).isoformat()
        assert self.hold(host, **body, until=until).status_code == 422


class TestNothingInTheClear:
    def test_host_database_never_holds_names_or_sent_content_in_the_clear(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        case = flows.create_case(host, given_name=CANARY)
        flows.record_consent(host, case["id"], partner.node_id)
        body = flows.content()
        body["arrival"]["final_destination"]["locality"] = CANARY
        headers = {"Idempotency-Key": "k-1"}
        assert (
            flows.post_referral(
                host, case["id"], partner.node_id, body=body, headers=headers
            ).status_code
            == 201
        )
        pair.deliver(host)
        for node in (host, partner):
            assert CANARY.encode() not in database_text(node.engine), node.node_id
        shown = host.client.get(f"/api/v1/cases/{case['id']}", headers=host.auth()).json()
        assert shown["given_name"] == CANARY


class TestErasure:
    def erase(self, host: TestNode, case_id: str) -> Any:
        return host.client.post(f"/api/v1/dpo/erasures/{case_id}", headers=host.auth(StaffRole.DPO))

    def test_erasure_reaches_recipients_and_leaves_the_case_unreadable(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = canary_referral(host, partner)
        pair.deliver(host)
        with host.sessions() as session:
            backup = session.get(ReferralRow, sent["id"])
            assert backup is not None
            sealed_before = backup.sealed_content
        response = self.erase(host, sent["case_id"])
        assert response.status_code == 201
        assert [r["status"] for r in response.json()["withdrawal"]["revocations"]] == ["pending"]
        pair.deliver(host)
        assert open_packet(partner, sent["packet_id"]).status_code == 410
        assert (
            host.client.get(f"/api/v1/cases/{sent['case_id']}", headers=host.auth()).status_code
            == 410
        )
        # A copy of the host's data from before the erasure no longer opens: the key is gone.
        keys = host.client.app.state.node.keys  # type: ignore[attr-defined]
        assert keys.existing_key(sent["case_id"]) is None
        assert sealed_before

    def test_other_people_are_untouched_by_an_erasure(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        erased = canary_referral(host, partner)
        kept = canary_referral(host, partner)
        pair.deliver(host)
        assert self.erase(host, erased["case_id"]).status_code == 201
        pair.deliver(host)
        assert (
            host.client.get(f"/api/v1/cases/{kept['case_id']}", headers=host.auth()).status_code
            == 200
        )
        assert open_packet(partner, kept["packet_id"]).status_code == 200

    def test_a_purge_after_erasure_never_brings_a_key_back(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = canary_referral(host, partner)  # still queued: erasure cancels it
        assert self.erase(host, sent["case_id"]).status_code == 201
        host.clock.advance(days=151)
        assert purge(host).sent_sections == 3
        keys = host.client.app.state.node.keys  # type: ignore[attr-defined]
        assert keys.existing_key(sent["case_id"]) is None

    def test_only_a_dpo_erases(self, pair: TestFederation, host: TestNode) -> None:
        case = flows.create_case(host)
        response = host.client.post(f"/api/v1/dpo/erasures/{case['id']}", headers=host.auth())
        assert response.status_code == 403


class TestDeletionProof:
    """The host's DPO asks recipients to sign that packets past their date are gone."""

    def overdue(self, host: TestNode) -> Any:
        response = host.client.get(
            "/api/v1/dpo/deletions/overdue", headers=host.auth(StaffRole.DPO)
        )
        assert response.status_code == 200, response.text
        return response.json()

    def ask(self, host: TestNode, *packet_ids: str) -> Any:
        return host.client.post(
            "/api/v1/dpo/deletion-proofs",
            json={"packet_ids": list(packet_ids)},
            headers=host.auth(StaffRole.DPO),
        )

    def past_date(self, pair: TestFederation, host: TestNode, partner: TestNode) -> Any:
        sent = canary_referral(host, partner)
        pair.deliver(host)
        host.clock.advance(days=151)
        pair.publish()
        return sent

    def test_a_packet_past_its_date_is_overdue_until_the_recipient_signs_its_deletion(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = self.past_date(pair, host, partner)
        assert [
            (o["packet_id"], o["unproven_sections"], o["last_request"]) for o in self.overdue(host)
        ] == [(sent["packet_id"], ["arrival", "medical", "travel"], None)]

        response = self.ask(host, sent["packet_id"])
        assert response.status_code == 201, response.text
        assert [p["status"] for p in response.json()] == ["pending"]
        assert self.overdue(host)[0]["last_request"] == "pending"
        # The recipient's own purge has not run: the request deletes what is left, then signs.
        assert pair.deliver(host).delivered == 1

        assert sections_held(partner, sent["packet_id"]) == []
        assert open_packet(partner, sent["packet_id"]).status_code == 410
        assert self.overdue(host) == []
        with partner.sessions() as session:
            outcomes = session.scalars(
                select(AccessEventRow.outcome).where(AccessEventRow.action == "deleted")
            ).all()
        assert outcomes == ["retention_ended"]
        with host.sessions() as session:
            confirmed = session.scalars(
                select(AccessEventRow.outcome).where(AccessEventRow.action == "deletion_confirmed")
            ).all()
        assert confirmed == ["confirmed"]

    def test_asking_with_no_packet_named_covers_every_overdue_packet_once(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        self.past_date(pair, host, partner)

        assert len(self.ask(host).json()) == 1
        # Already asked and not yet answered: not asked again.
        assert self.ask(host).json() == []
        pair.deliver(host)
        assert self.overdue(host) == []
        assert self.ask(host).json() == []

    def test_proven_packets_leave_the_list_for_good_and_make_room_for_newer_ones(
        self,
        pair: TestFederation,
        host: TestNode,
        partner: TestNode,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        from gateway.processes import deletion_proof as proof

        monkeypatch.setattr(proof, "PROOF_BATCH", 1)
        first = canary_referral(host, partner)
        host.clock.advance(days=1)
        second = canary_referral(host, partner)
        pair.deliver(host)
        host.clock.advance(days=151)
        pair.publish()
        assert [o["packet_id"] for o in self.overdue(host)] == [first["packet_id"]]

        self.ask(host)
        pair.deliver(host)

        assert [o["packet_id"] for o in self.overdue(host)] == [second["packet_id"]]
        with host.sessions() as session:
            proven = session.scalars(
                select(ReferralRow.packet_id).where(ReferralRow.deletion_proven_at.is_not(None))
            ).all()
        assert proven == [first["packet_id"]]

    def test_a_recipient_hold_is_signed_as_held_not_as_deleted(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = canary_referral(host, partner)
        pair.deliver(host)
        until = (host.clock.now() + timedelta(days=400)).isoformat()
        hold = {"packet_id": sent["packet_id"], "reason": "inquiry", "until": until}
        assert (
            partner.client.post(
                "/api/v1/dpo/holds", json=hold, headers=partner.auth(StaffRole.DPO)
            ).status_code
            == 201
        )
        host.clock.advance(days=151)
        pair.publish()

        assert self.ask(host, sent["packet_id"]).status_code == 201
        pair.deliver(host)

        assert sections_held(partner, sent["packet_id"]) == ["arrival", "medical", "travel"]
        assert self.overdue(host)[0]["last_request"] == "held"

    def test_a_packet_not_yet_past_its_date_cannot_be_asked_about(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = canary_referral(host, partner)
        pair.deliver(host)

        response = self.ask(host, sent["packet_id"])

        assert response.status_code == 422
        assert "not past its date" in response.json()["detail"]
        assert sections_held(partner, sent["packet_id"]) == ["arrival", "medical", "travel"]

    def test_an_unknown_packet_is_refused(self, pair: TestFederation, host: TestNode) -> None:
        assert self.ask(host, secrets.token_hex(16)).status_code == 422

    def test_only_a_dpo_reads_or_asks(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        for role in (StaffRole.CASEWORKER, StaffRole.ADMIN):
            headers = host.auth(role)
            assert (
                host.client.get("/api/v1/dpo/deletions/overdue", headers=headers).status_code == 403
            )
            response = host.client.post(
                "/api/v1/dpo/deletion-proofs", json={"packet_ids": []}, headers=headers
            )
            assert response.status_code == 403
