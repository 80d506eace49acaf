"""Pickup: a member without a public address fetches what waits for it from each sender.

A member listed with ``delivery: pickup`` has no inbox URL. Its senders queue envelopes for it
as for anyone (``exchange.outbox.queue``), but the rows wait (``pickup_since``) instead of being
posted. The member's worker (``PickupFetcher``) calls each sender in turn, whenever it is online:

1. ``POST /federation/v1/pickup`` (``avrr-pickup/1``), with a one-time node token whose audience
   is the sender: the sender (``hand_out``) claims up to ``limit`` of the rows waiting for the
   caller, oldest first, decides each again exactly as its delivery worker would before a post
   (past its deadline: dead-lettered; forbidden by the directory in force: cancelled and
   logged), and hands out the rest as sealed envelopes, with whether more wait;
2. the member verifies, applies and stores each exactly as its inbox would
   (``exchange.inbox.receive.take_carried``), and commits;
3. ``POST /federation/v1/pickup/ack`` (``avrr-pickup-ack/1``) carries back, per envelope, the very
   signed answer a post would have earned (a delivery receipt; for a revocation a deletion
   receipt), or none for a refusal. The sender verifies each as its worker verifies a post's
   answer (``record_answers``, also used for bundles), and the row is delivered, or retried.

Invariants:
- an envelope handed out stays claimed for the lease; one not acknowledged by then (the member
  went offline, crashed before its commit or lost the answer) is handed out again, and the
  member's inbox, idempotent on the packet id, answers it with the answer it stored;
- everything else is as with push: retries with backoff after a refusal, never after the
  deadline (``deliver_by`` <= delete-by), revocations, the policy decided again at each hand-out,
  attempts recorded, the referral's first hand-out logged as sent.

Example::

    >>> PickupFetcher(node=node, sessions=sessions, client=client, kinds=kinds).run_once()  # doctest: +SKIP
    PickupReport(picked_up=3, refused=0, senders=1, failed={})
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from consent.errors import SharingRefused
from crypto.encoding import canonical_json
from gateway.exchange.delivery import DeliveryReport, Recorder, count_delivered
from gateway.exchange.inbox.receive import caller_token, take_carried
from gateway.exchange.outbox import repository as outbox
from gateway.exchange.outbox.models import OutboxStatus
from gateway.exchange.registry import Registry
from gateway.kit.errors import ServiceUnavailable, Unprocessable
from gateway.kit.node import Node
from gateway.kit.periodic import run_periodically
from partners.client import PICKUP_ACK_PATH, PICKUP_PATH, NodeClient
from partners.directory import FederationView
from partners.errors import DeliveryFailed
from partners.tokens import issue_node_token
from schemas.directory import DeliveryMode, NodeRecord
from schemas.envelope import (
    PICKUP_ACK_FORMAT,
    PICKUP_FORMAT,
    AckOutcome,
    CarriedAnswer,
    PickupAck,
    PickupAckResult,
    PickupPage,
    PickupRequest,
    WireEnvelope,
)

log = logging.getLogger("avrr.pickup")

#: The attempt outcome recorded when an envelope is handed out to its recipient.
HANDED_OUT = "handed_out"
#: The attempt outcome recorded when the recipient refused an envelope it picked up or was
#: carried (the word a post's 400 earns).
REFUSED = "http_400"


# -- the sender's side ---------------------------------------------------------------------------


def hand_out(
    session: Session, node: Node, kinds: Registry, *, authorization: str | None, body: bytes
) -> PickupPage:
    """``POST /federation/v1/pickup``: the envelopes waiting for the calling member."""
    now = node.clock.now()
    view = node.directory()
    claims = caller_token(session, node, view, authorization, body, now)
    try:
        request = PickupRequest.model_validate_json(body)
    except ValidationError as exc:
        raise Unprocessable("the pickup request is not valid (docs/protocol.md, 6b)") from exc
    recorder = Recorder(node=node, kinds=kinds)
    token = secrets.token_hex(16)
    claimed = outbox.claim_due(
        session,
        token=token,
        now=now,
        until=now + node.settings.claim_lease,
        limit=request.limit,
        pickup_by=claims.issuer,
    )
    order = {outbox_id: place for place, (outbox_id, _, _) in enumerate(claimed)}
    rows = sorted(outbox.claimed_rows(session, list(order), token), key=lambda row: order[row.id])
    report = DeliveryReport()
    envelopes = []
    for row in rows:
        sent = recorder.sent(session, row)
        if now >= row.deliver_by:
            recorder.failed(session, sent, row, "past_deadline", now, report, dead=True)
            continue
        try:
            recorder.recheck(sent, view)
        except SharingRefused as refusal:
            recorder.cancelled(session, sent, row, refusal, now, report)
            continue
        recorder.reached(session, sent, row, now, HANDED_OUT)
        envelopes.append(WireEnvelope.model_validate_json(row.envelope))
    return PickupPage(envelopes=envelopes, more=outbox.more_for_pickup(session, claims.issuer, now))


def acknowledge(
    session: Session, node: Node, kinds: Registry, *, authorization: str | None, body: bytes
) -> PickupAckResult:
    """``POST /federation/v1/pickup/ack``: the calling member's answers, each verified."""
    now = node.clock.now()
    view = node.directory()
    claims = caller_token(session, node, view, authorization, body, now)
    try:
        ack = PickupAck.model_validate_json(body)
    except ValidationError as exc:
        raise Unprocessable("the acknowledgement is not valid (docs/protocol.md, 6b)") from exc
    outcomes = record_answers(
        session, node, kinds, view, recipient=claims.issuer, answers=ack.answers, now=now
    )
    return PickupAckResult(outcomes=outcomes)


def record_answers(
    session: Session,
    node: Node,
    kinds: Registry,
    view: FederationView,
    *,
    recipient: str,
    answers: Sequence[CarriedAnswer],
    now: datetime,
) -> list[AckOutcome]:
    """What ``recipient`` answered to envelopes it picked up or was carried, each verified as a
    post's answer is: delivered with its receipt kept, or refused and retried later. An answer
    for an envelope that no longer waits (delivered, cancelled, never ours) changes nothing."""
    recorder = Recorder(node=node, kinds=kinds)
    rows = outbox.pending_packets(session, recipient, [item.packet_id for item in answers])
    report = DeliveryReport()
    outcomes = []
    for item in answers:
        row = rows.get(item.packet_id)
        if (
            row is None
            or row.status != OutboxStatus.PENDING
            or row.envelope_sha256 != item.envelope_sha256
        ):
            outcomes.append(AckOutcome.UNKNOWN)
            continue
        sent = recorder.sent(session, row)
        if item.answer is None:
            recorder.failed(session, sent, row, REFUSED, now, report)
            outcomes.append(AckOutcome.RECORDED)
            continue
        try:
            confirmation = kinds[sent.kind].verify(sent, item.answer, view, node.node_id)
        except DeliveryFailed as failure:
            recorder.failed(session, sent, row, failure.outcome, now, report)
            outcomes.append(AckOutcome.BAD_RECEIPT)
            continue
        recorder.delivered(session, sent, row, confirmation, now, now)
        count_delivered(sent.kind, row.created_at, now)
        outcomes.append(AckOutcome.RECORDED)
    return outcomes


# -- the pickup member's side ----------------------------------------------------------------------


@dataclass
class PickupReport:
    picked_up: int = 0
    refused: int = 0
    #: Senders called.
    senders: int = 0
    #: Senders that could not be reached, with the outcome word.
    failed: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.picked_up or self.refused)

    def __str__(self) -> str:
        failed = "".join(f"; {node}: {word}" for node, word in sorted(self.failed.items()))
        return (
            f"picked up {self.picked_up}, refused {self.refused} "
            f"from {self.senders} senders{failed}"
        )


class PickupFetcher:
    """Fetch, store and acknowledge what waits for this node at each sender, if the directory
    lists this node as a pickup member (otherwise there is nothing to do)."""

    def __init__(
        self,
        *,
        node: Node,
        sessions: sessionmaker[Session],
        client: NodeClient,
        kinds: Registry,
        page_size: int = 16,
        max_pages: int = 100,
    ) -> None:
        self._node = node
        self._sessions = sessions
        self._client = client
        self._kinds = kinds
        self._page_size = page_size
        self._max_pages = max_pages

    def run_once(self) -> PickupReport:
        report = PickupReport()
        try:
            view = self._node.directory()
        except ServiceUnavailable:
            return report
        me = view.directory.node(self._node.node_id)
        if me is None or me.delivery is not DeliveryMode.PICKUP:
            return report
        for sender in view.directory.nodes:
            if sender.node_id == me.node_id or sender.inbox_url is None:
                continue
            report.senders += 1
            try:
                self._from(sender, report)
            except DeliveryFailed as failure:
                report.failed[sender.node_id] = failure.outcome
                log.warning("pickup from %s failed: %s", sender.node_id, failure.outcome)
        return report

    def run_forever(self, *, interval: float, stop: threading.Event) -> None:
        run_periodically(self.run_once, interval=interval, stop=stop, log=log, name="pickup")

    def _from(self, sender: NodeRecord, report: PickupReport) -> None:
        base = str(sender.inbox_url).rstrip("/")
        for _ in range(self._max_pages):
            request = PickupRequest(format=PICKUP_FORMAT, limit=self._page_size)
            body = canonical_json(request.model_dump(mode="json"))
            page = self._client.pickup(base + PICKUP_PATH, body, self._token(sender, body))
            if not page.envelopes:
                return
            with self._sessions.begin() as session:
                answers = take_carried(
                    session,
                    self._node,
                    self._kinds,
                    caller=sender.node_id,
                    envelopes=page.envelopes,
                    now=self._node.clock.now(),
                )
            report.picked_up += sum(1 for item in answers if item.answer is not None)
            report.refused += sum(1 for item in answers if item.answer is None)
            if answers:
                ack = PickupAck(format=PICKUP_ACK_FORMAT, answers=answers)
                body = canonical_json(ack.model_dump(mode="json"))
                self._client.acknowledge(base + PICKUP_ACK_PATH, body, self._token(sender, body))
            if not page.more:
                return

    def _token(self, sender: NodeRecord, body: bytes) -> str:
        now = self._node.clock.now()
        return issue_node_token(
            key=self._node.signing_key(now),
            issuer=self._node.node_id,
            audience=sender.node_id,
            body=body,
            now=now,
            token_id=secrets.token_hex(16),
        )
