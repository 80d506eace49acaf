"""Batched delivery between two real nodes: several envelopes in one request, each checked on its
own by the recipient, one signed batch receipt, the whole batch recorded in one transaction.

Requests are counted on the federation's transport; a transport wrapped around it stands in for
a recipient whose answers go wrong (a bad signature, a receipt naming the wrong envelopes) or for
an older node without the batch route.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from crypto.encoding import b64decode, b64encode, canonical_json
from crypto.envelope import envelope_digest
from crypto.signed import sign_document
from gateway.exchange.inbox.models import ReceivedPacketRow
from gateway.exchange.outbox.models import DeliveryAttemptRow, DeliveryReceiptRow, OutboxRow
from gateway.records.accesslog.models import AccessEventRow
from partners.client import BATCH_INBOX_PATH, INBOX_PATH
from schemas.envelope import BATCH_RECEIPT_FORMAT, MessageKind, WireEnvelope
from tests.support import envelopes, flows
from tests.support.federation import (
    FederationTransport,
    TestFederation,
    TestNode,
    gateway_node,
    logs_verify,
)

PARTNER = "origin-reception"
BATCH = (PARTNER, BATCH_INBOX_PATH)
ALONE = (PARTNER, INBOX_PATH)


# -- helpers ------------------------------------------------------------------------------------


def batch_size(node: TestNode, size: int) -> None:
    found = gateway_node(node)
    found.settings = found.settings.model_copy(update={"delivery_batch_size": size})


def referrals(host: TestNode, count: int) -> list[str]:
    """``count`` referrals queued for the partner; their packet ids."""
    return [flows.referral(host, PARTNER)["packet_id"] for _ in range(count)]


def outbox_rows(host: TestNode) -> dict[str, OutboxRow]:
    with host.sessions() as session:
        rows = list(session.scalars(select(OutboxRow).order_by(OutboxRow.id)))
        session.expunge_all()
    return {row.packet_id: row for row in rows}


def attempts(host: TestNode) -> dict[str, list[str]]:
    with host.sessions() as session:
        found = session.execute(
            select(OutboxRow.packet_id, DeliveryAttemptRow.outcome)
            .join(OutboxRow, OutboxRow.id == DeliveryAttemptRow.outbox_id)
            .order_by(DeliveryAttemptRow.id)
        ).all()
    result: dict[str, list[str]] = {}
    for packet_id, outcome in found:
        result.setdefault(packet_id, []).append(outcome)
    return result


def received(partner: TestNode) -> set[str]:
    with partner.sessions() as session:
        return set(session.scalars(select(ReceivedPacketRow.packet_id)))


def story(node: TestNode, packet_id: str) -> list[tuple[str, str, str, str]]:
    """What the access log says about a packet: actions, outcomes, actors, in order."""
    with node.sessions() as session:
        rows = session.execute(
            select(
                AccessEventRow.action,
                AccessEventRow.outcome,
                AccessEventRow.actor,
                AccessEventRow.actor_role,
            )
            .where(AccessEventRow.packet_id == packet_id)
            .order_by(AccessEventRow.seq)
        ).all()
    return [tuple(row) for row in rows]


def log_count(node: TestNode) -> int:
    with node.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(AccessEventRow)) or 0)


def tamper(host: TestNode, packet_id: str) -> None:
    """Break the signature of a queued envelope, as a faulty sender would have sealed it."""
    with host.sessions.begin() as session:
        row = session.scalars(select(OutboxRow).where(OutboxRow.packet_id == packet_id)).one()
        wire = json.loads(row.envelope)
        signature = bytearray(b64decode(wire["signature"]))
        signature[10] ^= 0x01
        wire["signature"] = b64encode(bytes(signature))
        row.envelope = canonical_json(wire).decode("ascii")
        row.envelope_sha256 = envelope_digest(WireEnvelope.model_validate(wire))


def payload(document: dict[str, Any]) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(b64decode(document["payload"]))
    return decoded


class Rewriting(httpx.BaseTransport):
    """The federation, with each batch answer changed by ``change`` (None: untouched), or the
    batch route missing (``older``); every batch request is kept."""

    def __init__(
        self,
        inner: FederationTransport,
        change: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        *,
        older: bool = False,
    ) -> None:
        self.inner = inner
        self.change = change
        self.older = older
        self.batches: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == BATCH_INBOX_PATH:
            self.batches.append(request)
            if self.older:
                return httpx.Response(404, json={"detail": "Not Found"})
        response = self.inner.handle_request(request)
        if request.url.path != BATCH_INBOX_PATH or self.change is None:
            return response
        return httpx.Response(200, json=self.change(json.loads(response.content)))


def deliver_through(pair: TestFederation, host: TestNode, transport: httpx.BaseTransport) -> Any:
    return pair.worker(host, http=httpx.Client(transport=transport)).run_once()


def resigned(partner: TestNode, change: Callable[[dict[str, Any]], None]) -> Callable[..., Any]:
    """A change to the batch receipt's payload, signed again with the partner's own key: only
    what it names is wrong, never the signature."""

    def rewrite(answer: dict[str, Any]) -> dict[str, Any]:
        content = payload(answer["receipt"])
        change(content)
        node = gateway_node(partner)
        key = node.signing_key(node.clock.now())
        document = sign_document(content, key, context=BATCH_RECEIPT_FORMAT)
        return {**answer, "receipt": document.model_dump()}

    return rewrite


# -- the batch ----------------------------------------------------------------------------------


class TestOneRequest:
    def test_several_envelopes_go_in_one_request_and_are_each_receipted(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = referrals(host, 5)
        report = pair.deliver(host)
        assert (report.delivered, report.retried, report.dead_lettered) == (5, 0, 0)
        assert pair.transport.paths == [BATCH]
        assert received(partner) == set(sent)
        assert attempts(host) == {packet: ["delivered"] for packet in sent}
        with host.sessions() as session:
            kept = {r.packet_id: r for r in session.scalars(select(DeliveryReceiptRow))}
        rows = outbox_rows(host)
        for packet in sent:
            batch = payload(kept[packet].document)
            assert batch["format"] == "avrr-batch-receipt/1"
            named = {e["packet_id"]: e["envelope_sha256"] for e in batch["receipts"]}
            assert named[packet] == rows[packet].envelope_sha256 == kept[packet].envelope_sha256
            assert rows[packet].status == "delivered"
        for packet in sent:
            shown = story(host, packet)
            assert [action for action, *_ in shown] == ["referral_sealed", "sent", "delivered"]

    def test_batch_size_caps_each_request(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        batch_size(host, 2)
        sent = referrals(host, 5)
        assert pair.deliver(host).delivered == 5
        assert sorted(pair.transport.paths) == sorted([BATCH, BATCH, ALONE])
        assert received(partner) == set(sent)

    def test_size_one_posts_each_envelope_alone(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        batch_size(host, 1)
        referrals(host, 3)
        assert pair.deliver(host).delivered == 3
        assert pair.transport.paths == [ALONE] * 3

    def test_a_batch_leaves_the_same_records_as_envelopes_sent_alone(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        batch_size(host, 1)
        alone = referrals(host, 2)
        pair.deliver(host)
        batch_size(host, 16)
        together = referrals(host, 3)
        pair.deliver(host)
        assert pair.transport.paths == [ALONE, ALONE, BATCH]
        for node in (host, partner):
            stories = {packet: story(node, packet) for packet in alone + together}
            assert len({tuple(s) for s in stories.values()}) == 1, node.node_id
        assert {len(a) for a in attempts(host).values()} == {1}
        logs_verify(host, partner)

    def test_an_older_node_gets_the_envelopes_one_by_one(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = referrals(host, 3)
        older = Rewriting(pair.transport, older=True)
        assert deliver_through(pair, host, older).delivered == 3
        assert len(older.batches) == 1
        assert pair.transport.paths == [ALONE] * 3
        assert received(partner) == set(sent)
        assert attempts(host) == {packet: ["delivered"] for packet in sent}


class TestEachEnvelopeOnItsOwn:
    def test_a_tampered_envelope_is_refused_alone_and_the_others_receipted(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = referrals(host, 4)
        tamper(host, sent[1])
        report = pair.deliver(host)
        assert (report.delivered, report.retried) == (3, 1)
        assert pair.transport.paths == [BATCH]
        assert received(partner) == set(sent) - {sent[1]}
        found = attempts(host)
        assert found[sent[1]] == ["http_400"]
        assert all(found[p] == ["delivered"] for p in sent if p != sent[1])
        row = outbox_rows(host)[sent[1]]
        assert (row.status, row.claim_token) == ("pending", None)
        assert row.next_attempt_at > host.clock.now()  # its own backoff
        assert [a for a, *_ in story(host, sent[1])] == ["referral_sealed", "sent"]

    def test_the_batch_answer_names_only_the_generic_refusal(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        good = json.loads(envelopes.sealed_body(host, partner))
        bad = json.loads(envelopes.sealed_body(host, partner))
        bad["ciphertext"] = bad["ciphertext"][:-4] + (
            "AAAA" if bad["ciphertext"][-4:] != "AAAA" else "BBBA"
        )
        body = canonical_json(
            {"envelopes": [good, bad, {"not": "an envelope"}], "format": "avrr-batch/1"}
        )
        token = envelopes.node_token(host, partner, body)
        response = partner.client.post(
            BATCH_INBOX_PATH, content=body, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200
        answer = response.json()
        assert answer["results"] == [
            {"outcome": "accepted"},
            {"outcome": "envelope_rejected"},
            {"outcome": "envelope_rejected"},
        ]
        named = payload(answer["receipt"])["receipts"]
        assert [e["envelope_sha256"] for e in named] == [
            envelope_digest(WireEnvelope.model_validate(good))
        ]
        assert envelopes.stored(partner) == 1

    def test_a_batch_that_is_not_a_batch_is_refused_whole(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        body = canonical_json({"envelopes": [], "format": "avrr-batch/1"})
        token = envelopes.node_token(host, partner, body)
        response = partner.client.post(
            BATCH_INBOX_PATH, content=body, headers={"Authorization": f"Bearer {token}"}
        )
        assert envelopes.rejected(response)

    def test_a_revocation_is_never_taken_in_a_batch(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        revocation = json.loads(
            envelopes.sealed_message(
                host,
                partner,
                kind=MessageKind.REVOCATION,
                content={
                    "packets": [{"packet_id": "ab" * 16, "sections": ["arrival"]}],
                    "reason": "retention_ended",
                    "withdrawal_id": None,
                },
                subject="ab" * 32,
            )
        )
        good = json.loads(envelopes.sealed_body(host, partner))
        body = canonical_json({"envelopes": [revocation, good], "format": "avrr-batch/1"})
        token = envelopes.node_token(host, partner, body)
        response = partner.client.post(
            BATCH_INBOX_PATH, content=body, headers={"Authorization": f"Bearer {token}"}
        )
        assert [r["outcome"] for r in response.json()["results"]] == [
            "envelope_rejected",
            "accepted",
        ]


class TestReplay:
    def test_a_replayed_batch_changes_nothing(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        referrals(host, 3)
        recording = Rewriting(pair.transport)
        assert deliver_through(pair, host, recording).delivered == 3
        (first,) = recording.batches
        body = first.content
        stored_before, log_before = envelopes.stored(partner), log_count(partner)
        partner.clock.advance(minutes=5)

        same_token = partner.client.post(
            BATCH_INBOX_PATH, content=body, headers=dict(first.headers)
        )
        assert same_token.status_code == 401

        token = envelopes.node_token(host, partner, body)
        again = partner.client.post(
            BATCH_INBOX_PATH, content=body, headers={"Authorization": f"Bearer {token}"}
        )
        assert again.status_code == 200
        assert [r["outcome"] for r in again.json()["results"]] == ["accepted"] * 3
        with host.sessions() as session:
            kept = session.scalars(select(DeliveryReceiptRow.document)).first()
        assert payload(again.json()["receipt"])["receipts"] == payload(kept)["receipts"]
        assert (envelopes.stored(partner), log_count(partner)) == (stored_before, log_before)

    def test_an_envelope_first_sent_alone_is_named_with_its_first_receipt(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        body = envelopes.sealed_body(host, partner)
        alone = envelopes.post(host, partner, body)
        assert alone.status_code == 200
        first = payload(alone.json())
        partner.clock.advance(minutes=5)
        batch = b'{"envelopes":[' + body + b'],"format":"avrr-batch/1"}'
        token = envelopes.node_token(host, partner, batch)
        answer = partner.client.post(
            BATCH_INBOX_PATH, content=batch, headers={"Authorization": f"Bearer {token}"}
        ).json()
        (entry,) = payload(answer["receipt"])["receipts"]
        assert entry == {
            "envelope_sha256": first["envelope_sha256"],
            "packet_id": first["packet_id"],
            "received_at": first["received_at"],
        }


class TestBadAnswers:
    @pytest.mark.parametrize(
        "change",
        ["signature", "foreign_digest", "foreign_packet", "missing", "refused_named"],
    )
    def test_a_receipt_that_does_not_hold_is_refused_and_every_row_retried(
        self, pair: TestFederation, host: TestNode, partner: TestNode, change: str
    ) -> None:
        sent = referrals(host, 3)

        def drop_first(content: dict[str, Any]) -> None:
            content["receipts"] = content["receipts"][1:]

        def foreign_digest(content: dict[str, Any]) -> None:
            content["receipts"][0]["envelope_sha256"] = "0" * 64

        def foreign_packet(content: dict[str, Any]) -> None:
            content["receipts"].append({**content["receipts"][-1], "packet_id": "f" * 32})

        def bad_signature(answer: dict[str, Any]) -> dict[str, Any]:
            signature = bytearray(b64decode(answer["receipt"]["signature"]))
            signature[0] ^= 0x01
            return {
                **answer,
                "receipt": {**answer["receipt"], "signature": b64encode(bytes(signature))},
            }

        def refused_named(answer: dict[str, Any]) -> dict[str, Any]:
            results = [{"outcome": "envelope_rejected"}, *answer["results"][1:]]
            return {**answer, "results": results}

        changes: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "signature": bad_signature,
            "foreign_digest": resigned(partner, foreign_digest),
            "foreign_packet": resigned(partner, foreign_packet),
            "missing": resigned(partner, drop_first),
            "refused_named": refused_named,
        }
        report = deliver_through(pair, host, Rewriting(pair.transport, changes[change]))
        assert (report.delivered, report.retried) == (0, 3)
        assert attempts(host) == {packet: ["bad_receipt"] for packet in sent}
        assert all(row.status == "pending" for row in outbox_rows(host).values())
        with host.sessions() as session:
            assert session.scalar(select(func.count()).select_from(DeliveryReceiptRow)) == 0

        # The partner did store them; the next attempt gets the same receipts, and holds.
        host.clock.advance(hours=1)
        assert pair.deliver(host).delivered == 3
        assert attempts(host) == {packet: ["bad_receipt", "delivered"] for packet in sent}
        assert received(partner) == set(sent)


class TestDeadLetters:
    def test_each_row_is_dead_lettered_on_its_own(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = referrals(host, 4)
        now = host.clock.now()
        tamper(host, sent[2])
        with host.sessions.begin() as session:
            session.execute(
                update(OutboxRow).where(OutboxRow.packet_id == sent[0]).values(deliver_by=now)
            )
            # Refused now, with no time left for a retry before its deadline.
            session.execute(
                update(OutboxRow)
                .where(OutboxRow.packet_id == sent[2])
                .values(deliver_by=now + timedelta(seconds=1))
            )
        report = pair.deliver(host)
        assert (report.delivered, report.dead_lettered, report.retried) == (2, 2, 0)
        found = attempts(host)
        assert found[sent[0]] == ["past_deadline", "dead_lettered"]
        assert found[sent[2]] == ["http_400", "dead_lettered"]
        assert found[sent[1]] == found[sent[3]] == ["delivered"]
        rows = outbox_rows(host)
        assert [rows[p].status for p in sent] == [
            "dead_lettered",
            "delivered",
            "dead_lettered",
            "delivered",
        ]
        assert pair.transport.paths == [BATCH]
        assert [a for a, *_ in story(host, sent[2])] == [
            "referral_sealed",
            "sent",
            "dead_lettered",
        ]
