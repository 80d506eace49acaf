"""The outbox and delivery worker: retries with backoff, dead letters, deadlines, crash recovery.

respx stands in for the recipient where the recipient must misbehave (down, 500, timeout); the
real partner app answers where a real receipt is needed.
"""

from __future__ import annotations

import random
from datetime import timedelta

import httpx
import pytest
import respx
from sqlalchemy import func, select, update

from gateway.exchange.delivery import backoff
from gateway.exchange.inbox.models import ReceivedPacketRow
from gateway.exchange.outbox.models import DeliveryAttemptRow, OutboxRow
from gateway.exchange.outbox.models import DeliveryReceiptRow as ReceiptRow
from tests.support import flows
from tests.support.federation import FederationTransport, TestFederation, TestNode

INBOX = "https://origin-reception.test/federation/v1/inbox"


def outbox_row(host: TestNode) -> OutboxRow:
    with host.sessions() as session:
        row = session.scalars(select(OutboxRow)).one()
        session.expunge(row)
        return row


def attempts(host: TestNode) -> list[str]:
    with host.sessions() as session:
        return list(
            session.scalars(select(DeliveryAttemptRow.outcome).order_by(DeliveryAttemptRow.id))
        )


def mocked_worker(pair: TestFederation, host: TestNode) -> object:
    return pair.worker(host, http=httpx.Client())


class TestFailures:
    @pytest.mark.parametrize(
        ("failure", "outcome"),
        [
            (httpx.ConnectError("refused"), "unreachable"),
            (httpx.ReadTimeout("slow"), "timeout"),
            (httpx.Response(500), "http_500"),
            (httpx.Response(200, json={"not": "a receipt"}), "malformed_receipt"),
        ],
    )
    def test_failed_attempt_is_recorded_and_rescheduled_not_lost(
        self, pair: TestFederation, host: TestNode, failure: object, outcome: str
    ) -> None:
        flows.referral(host, "origin-reception")
        with respx.mock(assert_all_called=True) as mock:
            route = mock.post(INBOX)
            if isinstance(failure, Exception):
                route.side_effect = failure
            else:
                route.return_value = failure
            report = mocked_worker(pair, host).run_once()  # type: ignore[attr-defined]
        assert (report.delivered, report.retried) == (0, 1)
        row = outbox_row(host)
        assert row.status == "pending"
        assert row.attempts == 1
        assert row.next_attempt_at > host.clock.now()
        assert attempts(host) == [outcome]

    def test_receipt_signed_by_someone_else_is_not_accepted(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        flows.referral(host, partner.node_id)
        forged = {"payload": "e30", "key_id": "0" * 32, "signature": "AA"}
        with respx.mock() as mock:
            mock.post(INBOX).return_value = httpx.Response(200, json=forged)
            mocked_worker(pair, host).run_once()  # type: ignore[attr-defined]
        assert attempts(host) == ["bad_receipt"]
        assert outbox_row(host).status == "pending"

    def test_retry_after_recipient_comes_back_delivers_once(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = flows.referral(host, partner.node_id)
        with respx.mock() as mock:
            mock.post(INBOX).side_effect = httpx.ConnectError("down")
            mocked_worker(pair, host).run_once()  # type: ignore[attr-defined]
        assert pair.deliver(host).delivered == 0  # not due yet: backoff holds it back
        host.clock.advance(hours=1)
        assert pair.deliver(host).delivered == 1
        assert attempts(host) == ["unreachable", "delivered"]
        shown = host.client.get(f"/api/v1/referrals/{sent['id']}", headers=host.auth()).json()
        assert shown["status"] == "delivered"

    def test_dead_lettered_when_retries_would_pass_the_deadline(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        sent = flows.referral(host, "origin-reception")
        with respx.mock() as mock:
            mock.post(INBOX).side_effect = httpx.ConnectError("down")
            worker = mocked_worker(pair, host)
            for _ in range(200):
                report = worker.run_once()  # type: ignore[attr-defined]
                if report.dead_lettered:
                    break
                host.clock.advance(hours=2)
        assert outbox_row(host).status == "dead_lettered"
        shown = host.client.get(f"/api/v1/referrals/{sent['id']}", headers=host.auth()).json()
        assert shown["status"] == "dead_lettered"
        assert shown["attempts"][-1]["outcome"] == "dead_lettered"
        assert host.clock.now() <= outbox_row(host).deliver_by + timedelta(hours=2)

    def test_never_posted_at_or_after_its_deadline(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        flows.referral(host, "origin-reception")
        host.clock.advance(days=15)  # past the 14-day delivery window, before the delete-by date
        with respx.mock(assert_all_called=False) as mock:
            route = mock.post(INBOX).respond(500)
            report = mocked_worker(pair, host).run_once()  # type: ignore[attr-defined]
            assert not route.called
        assert report.dead_lettered == 1
        assert attempts(host) == ["past_deadline", "dead_lettered"]


class TestCrashes:
    def test_crash_after_commit_before_any_delivery_loses_nothing(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        flows.referral(host, partner.node_id)
        # A worker claims the row and dies before posting: its lease is left behind.
        with host.sessions.begin() as session:
            session.execute(
                update(OutboxRow).values(
                    claimed_until=host.clock.now() + timedelta(minutes=2), claim_token="f" * 32
                )
            )
        assert pair.deliver(host).delivered == 0  # still leased
        host.clock.advance(minutes=3)
        assert pair.deliver(host).delivered == 1
        with partner.sessions() as session:
            assert session.scalar(select(func.count()).select_from(ReceivedPacketRow)) == 1

    def test_answer_lost_after_the_partner_stored_it_is_delivered_once(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = flows.referral(host, partner.node_id)

        class LosesAnswers(httpx.BaseTransport):
            def __init__(self, inner: FederationTransport) -> None:
                self.inner = inner

            def handle_request(self, request: httpx.Request) -> httpx.Response:
                self.inner.handle_request(request)  # the partner stores it...
                raise httpx.ReadError("connection reset", request=request)  # ...the answer is lost

        lossy = pair.worker(host, http=httpx.Client(transport=LosesAnswers(pair.transport)))
        assert lossy.run_once().retried == 1
        host.clock.advance(hours=1)
        assert pair.deliver(host).delivered == 1
        with partner.sessions() as session:
            assert session.scalar(select(func.count()).select_from(ReceivedPacketRow)) == 1
        shown = host.client.get(f"/api/v1/referrals/{sent['id']}", headers=host.auth()).json()
        assert shown["receipt"] is not None

    def test_two_workers_claim_disjoint_rows(self, pair: TestFederation, host: TestNode) -> None:
        for _ in range(4):
            flows.referral(host, "origin-reception")
        first = pair.worker(host)._claim(2)
        second = pair.worker(host)._claim(10)
        assert len(first) == 2
        assert len(second) == 2
        assert not {c.outbox_id for c in first} & {c.outbox_id for c in second}

    @pytest.mark.parametrize("concurrency", [1, 4])
    def test_a_batch_posted_several_at_once_is_delivered_once_each(
        self, pair: TestFederation, host: TestNode, partner: TestNode, concurrency: int
    ) -> None:
        node = host.client.app.state.node  # type: ignore[attr-defined]
        node.settings = node.settings.model_copy(update={"delivery_concurrency": concurrency})
        for _ in range(6):
            flows.referral(host, partner.node_id)
        report = pair.deliver(host)
        assert (report.delivered, report.retried, report.dead_lettered) == (6, 0, 0)
        assert attempts(host) == ["delivered"] * 6
        with partner.sessions() as session:
            assert session.scalar(select(func.count()).select_from(ReceivedPacketRow)) == 6
        with host.sessions() as session:
            assert session.scalar(select(func.count()).select_from(ReceiptRow)) == 6


class TestBackoff:
    def test_grows_exponentially_and_stays_under_the_cap(self) -> None:
        rng = random.Random(1)
        base, cap = timedelta(seconds=2), timedelta(minutes=10)
        delays = [backoff(n, base=base, cap=cap, rng=rng) for n in range(1, 12)]
        assert all(d <= cap for d in delays)
        assert delays[0] >= timedelta(seconds=2)  # half of 4 s, at least
        assert delays[-1] >= cap / 2

    def test_is_jittered(self) -> None:
        rng = random.Random(2)
        base, cap = timedelta(seconds=2), timedelta(hours=1)
        assert len({backoff(5, base=base, cap=cap, rng=rng) for _ in range(10)}) > 1
