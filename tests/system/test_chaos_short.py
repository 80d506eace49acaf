"""A short crash campaign (``bench.chaos``) on the suite's database, as CI runs it; and what
the campaign found, each reproduced in a few lines on two in-process apps.

The campaign: two nodes, each with its API and its worker in processes of their own, set up
with ``avrr`` commands; caseworkers refer, withdraw, correct and report events and partner
officers open referrals over HTTP while a killer sends SIGKILL to a random member ``KILLS``
times and starts it again. After the drain, nothing accepted may be lost, nothing applied twice,
and nothing may be there that no request asked for; both access logs verify. ``make chaos``
runs the full campaign (1,000 kill points).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import httpx
import respx
from sqlalchemy import select

from bench.chaos import report, run_campaign
from bench.harness import emit
from gateway.exchange.inbox.models import ReceivedSectionRow
from tests.support import flows
from tests.support.databases import choice
from tests.support.federation import TestFederation, TestNode
from tests.support.nodes import sent_dates

KILLS = 15
#: A kill every 0.3 to 1.2 s: the short run packs its kill points closer than the full one.
GAP = (0.3, 1.2)
SEED = 19


def test_nothing_is_lost_duplicated_or_unexpected_after_kills(tmp_path: Path) -> None:
    campaign = run_campaign(choice(), kills=KILLS, seed=SEED, gap=GAP, log=emit, keep=tmp_path)
    summary = report(campaign)
    assert len(campaign.kills) == KILLS
    assert sum(r.accepted for r in campaign.ledger.requests if r.op == "referral") > 0
    assert campaign.findings.lost == [], summary
    assert campaign.findings.duplicated == [], summary
    assert campaign.findings.unexpected == [], summary


# -- found by the campaign ----------------------------------------------------------------------


def held(partner: TestNode, packet_id: str) -> dict[str, datetime]:
    """The sections the partner holds of a packet, with their delete-by dates."""
    with partner.sessions() as session:
        rows = session.scalars(
            select(ReceivedSectionRow).where(ReceivedSectionRow.packet_id == packet_id)
        )
        return {row.section: row.delete_by for row in rows}


class LosesAnswers(httpx.BaseTransport):
    """The recipient gets the post and acts on it; its answer never comes back (its API was
    killed after committing, or the sender's worker was killed while reading)."""

    def __init__(self, pair: TestFederation) -> None:
        self._pair = pair

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self._pair.transport.handle_request(request)
        raise httpx.ReadError("connection reset", request=request)


class TestFoundByTheCampaign:
    def test_a_withdrawal_after_a_lost_answer_still_reaches_the_partner(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = flows.referral(host, partner.node_id)
        lossy = httpx.Client(transport=LosesAnswers(pair))
        assert pair.worker(host, http=lossy).run_once().retried == 1
        assert sorted(held(partner, sent["packet_id"])) == ["arrival", "medical", "travel"]

        withdrawal = host.client.post(
            f"/api/v1/cases/{sent['case_id']}/withdrawals", json={}, headers=host.auth()
        ).json()
        host.clock.advance(hours=1)
        pair.deliver(host)

        # Before the fix the referral was cancelled as never sent, no revocation went, and the
        # partner kept all three sections.
        assert withdrawal["packets_cancelled"] == []
        assert [r["status"] for r in withdrawal["revocations"]] == ["pending"]
        assert held(partner, sent["packet_id"]) == {}

    def test_a_status_update_queued_while_its_referral_waits_for_a_retry_moves_the_dates(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = flows.referral(host, partner.node_id)
        with respx.mock() as mock:  # the partner is down for the referral's first attempt
            mock.post(url__regex=r".*/federation/v1/inbox.*").side_effect = httpx.ConnectError(
                "down"
            )
            assert pair.worker(host, http=httpx.Client()).run_once().retried == 1
        arrived = host.clock.now().replace(microsecond=0)
        answer = host.client.post(
            f"/api/v1/cases/{sent['case_id']}/events",
            json={"event": "arrival", "occurred_at": arrived.isoformat()},
            headers=host.auth(),
        )
        assert answer.json()["packets_updated"] == 1

        pair.deliver(host)  # the status update is due at once; the referral's retry is not
        host.clock.advance(minutes=5)
        while pair.deliver(host):
            pass

        assert held(partner, sent["packet_id"]) == sent_dates(host, sent["id"])
