"""Delivering the outbox: claim, decide again, post, verify the answer, record; retry; dead-letter.

What the answer must be and what it records is the message kind's (``exchange.registry``): a
signed delivery receipt for most kinds, a signed deletion receipt for a revocation.

Invariants:
- before every attempt, a message that carries a person's data (a referral, a correction, a
  status update, an access notice) is checked again against the directory in force at that
  moment (``consent.policy.check_delivery``): a recipient no longer listed, a law-enforcement
  role, a suspended country or region, or fields the policy no longer allows for its roles and
  the purpose cancel it, and it is never sent; the cancellation is logged with the rule's name.
  Deletion requests (revocations) carry no personal data and always go, to the last known inbox
  of a member that has left, so a suspended or departed recipient is still told to delete;
- a row is only posted while it is claimed by this worker (a lease in the row), so workers on one
  PostgreSQL never post the same row at once; a worker that dies leaves a lease that expires, and
  the next run picks the row up again;
- a packet is never posted at or after its ``deliver_by`` (the earlier of its delete-by date and
  the recipients' acceptance window); it is dead-lettered instead and the caseworker sees so;
- every attempt is recorded, with a short outcome word and never content;
- a post that reached the recipient but whose answer was lost is simply posted again: the inbox
  is idempotent on the packet id and answers with the same receipt.

Batches: due rows are claimed with one statement; rows of kinds answered by a plain receipt that
go to the same recipient are posted together, up to ``delivery_batch_size`` envelopes a request
(``POST /federation/v1/inbox/batch``). The recipient takes or refuses each envelope on its own and
signs one batch receipt naming those it took; the worker verifies it and records the whole batch
(attempts, receipts, access-log entries, retries and dead letters, each row as if delivered
alone) in one transaction. A recipient without the batch route (an older node), or one that finds
the batch too large, gets the envelopes one by one. A revocation always goes alone.

Example::

    >>> worker = DeliveryWorker(node=node, sessions=sessions, client=NodeClient(http=http),
    ...                         kinds=message_kinds())                     # doctest: +SKIP
    >>> worker.run_once().delivered                                        # doctest: +SKIP
    1
"""

from __future__ import annotations

import logging
import random
import secrets
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy.orm import Session, sessionmaker

from consent.errors import SharingRefused
from consent.policy import Recipient, check_delivery
from gateway.exchange.kinds.base import worker_actor
from gateway.exchange.outbox import repository as outbox
from gateway.exchange.outbox.models import OutboxRow
from gateway.exchange.referrals import repository as referrals
from gateway.exchange.registry import Confirmation, Registry, Sent
from gateway.kit.errors import ServiceUnavailable
from gateway.kit.metrics import DELIVERY_ATTEMPTS, DELIVERY_LATENCY, RECEIPTS, REFUSALS
from gateway.kit.node import Node
from gateway.kit.periodic import run_periodically
from gateway.records.accesslog.writer import Action, record
from partners.client import BATCH_INBOX_PATH, BATCH_REFUSED, INBOX_PATH, NodeClient
from partners.directory import FederationView
from partners.errors import DeliveryFailed, DirectoryError
from partners.receipts import verify_batch_answer
from partners.tokens import issue_node_token
from schemas.common import SectionName
from schemas.directory import DeliveryMode
from schemas.envelope import (
    BATCH_FORMAT,
    BatchOutcome,
    BatchReceiptEntry,
    DeliveryReceipt,
    MessageKind,
    SignedDocument,
)

log = logging.getLogger("avrr.delivery")

#: A batch body stays under this many bytes (recipients refuse bodies over 1 MiB by default);
#: what does not fit goes in the next request.
BATCH_BODY_BYTES = 512 * 1024
#: How often the worker looks at rows waiting for pickup (deadlines, members pushed again).
PICKUP_SWEEP = timedelta(seconds=30)
#: The attempt outcome recorded for an envelope a batch answer refused, or deferred: the words a
#: lone post would have earned (400 and 503), so attempt histories read the same either way.
BATCH_REFUSAL_OUTCOMES = {BatchOutcome.REJECTED: "http_400", BatchOutcome.UNAVAILABLE: "http_503"}


class Claimed(NamedTuple):
    """A row this worker claimed: posted only while ``token`` still holds it."""

    outbox_id: int
    token: str
    recipient: str
    kind: str


@dataclass
class DeliveryReport:
    delivered: int = 0
    retried: int = 0
    dead_lettered: int = 0
    cancelled: int = 0

    def __bool__(self) -> bool:
        return bool(self.delivered or self.retried or self.dead_lettered or self.cancelled)

    def __str__(self) -> str:
        return (
            f"delivered {self.delivered}, to retry {self.retried}, "
            f"dead-lettered {self.dead_lettered}, cancelled {self.cancelled}"
        )

    def add(self, other: DeliveryReport) -> None:
        self.delivered += other.delivered
        self.retried += other.retried
        self.dead_lettered += other.dead_lettered
        self.cancelled += other.cancelled


def backoff(attempts: int, *, base: timedelta, cap: timedelta, rng: random.Random) -> timedelta:
    """Capped exponential backoff with equal jitter: half fixed, half random, never above ``cap``."""
    ceiling = min(cap.total_seconds(), base.total_seconds() * 2 ** min(attempts, 30))
    return timedelta(seconds=ceiling / 2 + rng.uniform(0, ceiling / 2))


class Recorder:
    """What becomes of a claimed outbox row, in the caller's transaction: the same for a post
    (``DeliveryWorker``), a pickup (``exchange.pickup``) and a bundle (``exchange.bundles``)."""

    def __init__(self, *, node: Node, kinds: Registry, rng: random.Random | None = None) -> None:
        self._node = node
        self._kinds = kinds
        self._rng = rng or random.SystemRandom()

    def sent(self, session: Session, row: OutboxRow) -> Sent:
        kind = MessageKind(row.kind)
        return Sent(
            outbox_id=row.id,
            kind=kind,
            envelope=row.envelope.encode("ascii"),
            recipient=row.recipient,
            packet_id=row.packet_id,
            digest=row.envelope_sha256,
            referral_id=row.referral_id,
            subject_ref=row.subject_ref,
            carried_fields=row.carried_fields,
            inbox_url=row.inbox_url,
            expected=self._kinds[kind].expect(session, row),
        )

    def recheck(self, sent: Sent, view: FederationView) -> None:
        """Raise ``SharingRefused`` if the directory in force now forbids sending this message."""
        kind = self._kinds[sent.kind]
        if not kind.personal:
            return
        header = sent.header()
        listed = view.directory.node(sent.recipient)
        carried = None
        if kind.referral_content:
            # A row queued before the field names were kept: check its sections whole.
            names = sent.carried_fields or {s.value: [] for s in header.sections}
            carried = {SectionName(s): frozenset(f) for s, f in names.items()}
        check_delivery(
            rule_for=view.rule,
            recipient=Recipient.of(listed) if listed is not None else None,
            purpose=header.purpose,
            carried=carried,
            suspended_countries=view.suspended_countries,
            suspended_regions=view.suspended_regions,
            never_to_authorities=kind.never_to_authorities,
        )

    def cancelled(
        self,
        session: Session,
        sent: Sent,
        row: OutboxRow,
        refusal: SharingRefused,
        now: datetime,
        report: DeliveryReport,
    ) -> None:
        """Never send it: the outbox row and its referral say why, and the access log keeps it."""
        header = sent.header()
        rule = refusal.rule.value
        outbox.cancel(row, reason=rule, now=now)
        referral = referrals.by_id(session, row.referral_id) if row.referral_id else None
        if referral is not None:
            referrals.cancel(referral, rule)
        record(
            session,
            at=now,
            actor=worker_actor(self._node),
            action=Action.REFERRAL_CANCELLED if referral else Action.DELIVERY_CANCELLED,
            subject=referral.case_id if referral else row.subject_ref,
            packet_id=row.packet_id,
            sections=[s.value for s in header.sections],
            purpose=header.purpose.value,
            outcome=rule,
        )
        report.cancelled += 1
        REFUSALS.labels(stage="delivery", reason=rule).inc()
        log.warning(
            "outbox row %s (%s) cancelled before delivery: %s", sent.outbox_id, sent.kind, rule
        )

    def reached(
        self, session: Session, sent: Sent, row: OutboxRow, now: datetime, outcome: str
    ) -> None:
        """An attempt that reached for the recipient without an answer yet (a pickup handing
        the envelope out, a bundle carrying it): recorded, the row stays pending."""
        self._kinds[sent.kind].attempted(session, self._node, row, now, outcome)
        outbox.attempt(session, row, at=now, outcome=outcome)
        DELIVERY_ATTEMPTS.labels(kind=sent.kind.value, outcome=outcome).inc()

    def failed(
        self,
        session: Session,
        sent: Sent,
        row: OutboxRow,
        outcome: str,
        now: datetime,
        report: DeliveryReport,
        *,
        dead: bool = False,
    ) -> None:
        """Record the attempt; retry after a backoff, or give up at the deadline."""
        settings = self._node.settings
        kind = self._kinds[sent.kind]
        if outcome not in outbox.NOT_SENT:
            kind.attempted(session, self._node, row, now, outcome)
        outbox.attempt(session, row, at=now, outcome=outcome)
        DELIVERY_ATTEMPTS.labels(kind=sent.kind.value, outcome=outcome).inc()
        delay = backoff(
            row.attempts, base=settings.retry_base, cap=settings.retry_cap, rng=self._rng
        )
        if not dead and now + delay < row.deliver_by:
            outbox.retry_at(row, now + delay)
            report.retried += 1
            return
        outbox.dead_letter(session, row, now)
        kind.dead_lettered(session, self._node, row, now)
        report.dead_lettered += 1
        log.warning("outbox row %s dead-lettered after %s attempts", sent.outbox_id, row.attempts)

    def delivered(
        self,
        session: Session,
        sent: Sent,
        row: OutboxRow,
        confirmation: Confirmation,
        attempted_at: datetime,
        done: datetime,
    ) -> None:
        """The recipient's verified answer: the row is done, its receipt kept. Counted in the
        metrics by ``count_delivered`` once the transaction commits."""
        self._kinds[sent.kind].attempted(session, self._node, row, attempted_at, "delivered")
        # Before the row lets go of its sealed copy: a confirmation may read the header.
        confirmation.record(session, self._node, row, done)
        outbox.delivered(session, row, attempted_at=attempted_at, done=done)


def count_delivered(kind: MessageKind, queued_at: datetime, done: datetime) -> None:
    DELIVERY_ATTEMPTS.labels(kind=kind.value, outcome="delivered").inc()
    RECEIPTS.labels(direction="verified", kind=kind.value).inc()
    DELIVERY_LATENCY.labels(kind=kind.value).observe((done - queued_at).total_seconds())


class DeliveryWorker:
    def __init__(
        self,
        *,
        node: Node,
        sessions: sessionmaker[Session],
        client: NodeClient,
        kinds: Registry,
        rng: random.Random | None = None,
    ) -> None:
        self._node = node
        self._sessions = sessions
        self._client = client
        self._kinds = kinds
        self._record = Recorder(node=node, kinds=kinds, rng=rng)
        self._swept_at: datetime | None = None

    def run_once(self, limit: int = 50) -> DeliveryReport:
        swept = self._sweep_pickups()
        tasks = self._tasks(self._claim(limit))
        concurrency = min(self._node.settings.delivery_concurrency, len(tasks))
        if concurrency <= 1:
            for task in tasks:
                self._run(task, swept)
            return swept

        def deliver(task: list[Claimed]) -> DeliveryReport:
            # Each task has its own transactions and its own report, so threads share nothing.
            own = DeliveryReport()
            self._run(task, own)
            return own

        with ThreadPoolExecutor(concurrency, thread_name_prefix="delivery") as pool:
            reports = list(pool.map(deliver, tasks))
        for report in reports:
            swept.add(report)
        return swept

    def run_forever(self, *, interval: float, stop: threading.Event) -> None:
        # A busy outbox is delivered batch after batch; the interval spaces the other polls.
        # A run that only rescheduled failures waits too, so a failing recipient cannot spin it.
        run_periodically(
            self.run_once,
            interval=interval,
            stop=stop,
            log=log,
            name="delivery",
            drain=lambda report: bool(report.delivered or report.dead_lettered or report.cancelled),
        )

    # -- steps ------------------------------------------------------------------------------------

    def _sweep_pickups(self) -> DeliveryReport:
        """Rows waiting for pickup: dead-lettered at their deadline if nobody came for them,
        pushed again if their recipient is no longer listed as a pickup member. At most every
        ``PICKUP_SWEEP`` seconds."""
        report = DeliveryReport()
        now = self._node.clock.now()
        if self._swept_at is not None and (now - self._swept_at) < PICKUP_SWEEP:
            return report
        self._swept_at = now
        with self._sessions.begin() as session:
            for row in outbox.pickup_past_deadline(session, now, limit=500):
                sent = self._record.sent(session, row)
                self._record.failed(session, sent, row, "past_deadline", now, report, dead=True)
            try:
                view = self._node.directory()
            except ServiceUnavailable:
                return report
            for recipient in outbox.pickup_recipients(session):
                listed = view.directory.node(recipient)
                if listed is None or listed.delivery is not DeliveryMode.PICKUP:
                    outbox.push_again(session, recipient)
        return report

    def _wait_for_pickup(self, sent: Sent, token: str, now: datetime) -> None:
        """The recipient now picks its envelopes up (the directory changed since it was queued)."""
        with self._sessions.begin() as session:
            row = outbox.pending(session, sent.outbox_id, token)
            if row is not None:
                outbox.wait_for_pickup(row, now)

    def _claim(self, limit: int) -> list[Claimed]:
        now = self._node.clock.now()
        until = now + self._node.settings.claim_lease
        token = secrets.token_hex(16)
        with self._sessions.begin() as session:
            rows = outbox.claim_due(session, token=token, now=now, until=until, limit=limit)
        return [Claimed(outbox_id, token, recipient, kind) for outbox_id, recipient, kind in rows]

    def _tasks(self, claimed: list[Claimed]) -> list[list[Claimed]]:
        """What goes in one request: rows of batched kinds to the same recipient, up to the
        batch size, together; every other row alone."""
        size = self._node.settings.delivery_batch_size
        tasks: list[list[Claimed]] = []
        open_batches: dict[tuple[str, str], list[Claimed]] = {}
        for item in claimed:
            kind = MessageKind(item.kind)
            if size <= 1 or kind not in self._kinds or not self._kinds[kind].batched:
                tasks.append([item])
                continue
            key = (item.recipient, item.token)
            batch = open_batches.get(key)
            if batch is None or len(batch) >= size:
                batch = open_batches[key] = []
                tasks.append(batch)
            batch.append(item)
        return tasks

    def _run(self, task: list[Claimed], report: DeliveryReport) -> None:
        if len(task) == 1:
            self._deliver(task[0].outbox_id, task[0].token, report)
        else:
            self._deliver_batch(task, report)

    def _load(self, outbox_id: int, token: str) -> tuple[Sent, datetime] | None:
        """The claimed row as the steps need it, and its deadline; None if no longer ours."""
        with self._sessions() as session:
            row = outbox.claimed(session, outbox_id, token)
            if row is None:
                return None
            return self._record.sent(session, row), row.deliver_by

    def _deliver(self, outbox_id: int, token: str, report: DeliveryReport) -> None:
        now = self._node.clock.now()
        loaded = self._load(outbox_id, token)
        if loaded is None:
            return
        ready = self._ready([loaded], token, now, report)
        if ready is not None and ready[1]:
            self._deliver_alone(ready[1][0], token, ready[0], now, report)

    def _ready(
        self,
        loaded: list[tuple[Sent, datetime]],
        token: str,
        now: datetime,
        report: DeliveryReport,
    ) -> tuple[FederationView, list[Sent]] | None:
        """Of the loaded rows, those that may be posted now, with the directory in force; the
        others are dead-lettered at their deadline, retried without a directory, or cancelled
        by the sharing policy."""
        ready = []
        for sent, deliver_by in loaded:
            if now >= deliver_by:
                self._failed(sent, token, "past_deadline", now, report, dead=True)
            else:
                ready.append(sent)
        try:
            view = self._node.directory()
        except ServiceUnavailable:
            for sent in ready:
                self._failed(sent, token, "no_directory_entry", now, report)
            return None
        allowed = []
        for sent in ready:
            listed = view.directory.node(sent.recipient)
            if listed is not None and listed.delivery is DeliveryMode.PICKUP:
                self._wait_for_pickup(sent, token, now)
                continue
            try:
                self._record.recheck(sent, view)
            except SharingRefused as refusal:
                self._cancel(sent, token, refusal, now, report)
                continue
            allowed.append(sent)
        return view, allowed

    def _deliver_alone(
        self, sent: Sent, token: str, view: FederationView, now: datetime, report: DeliveryReport
    ) -> None:
        try:
            confirmation = self._post(sent, view, now)
        except DeliveryFailed as failure:
            self._failed(sent, token, failure.outcome, self._node.clock.now(), report)
            return
        except (DirectoryError, ServiceUnavailable):
            self._failed(sent, token, "no_directory_entry", self._node.clock.now(), report)
            return
        self._delivered(sent, confirmation, now)
        report.delivered += 1

    # -- batches ----------------------------------------------------------------------------------

    def _deliver_batch(self, task: list[Claimed], report: DeliveryReport) -> None:
        now = self._node.clock.now()
        token = task[0].token
        with self._sessions() as session:
            rows = outbox.claimed_rows(session, [item.outbox_id for item in task], token)
            loaded = [(self._record.sent(session, row), row.deliver_by) for row in rows]
        ready = self._ready(loaded, token, now, report)
        if ready is None:
            return
        view, allowed = ready
        if not allowed:
            return
        if view.directory.node(allowed[0].recipient) is None:
            # Not listed (any more): each row finds its own way, or fails, alone.
            for sent in allowed:
                self._deliver_alone(sent, token, view, now, report)
            return
        for chunk in _chunks(allowed):
            self._post_batch(chunk, token, view, now, report)

    def _post_batch(
        self,
        chunk: list[Sent],
        token: str,
        view: FederationView,
        now: datetime,
        report: DeliveryReport,
    ) -> None:
        """Post one batch; record what became of every envelope in it, in one transaction."""
        if len(chunk) == 1:
            self._deliver_alone(chunk[0], token, view, now, report)
            return
        recipient = chunk[0].recipient
        body = batch_body([sent.envelope for sent in chunk])
        try:
            bearer = issue_node_token(
                key=self._node.signing_key(now),
                issuer=self._node.node_id,
                audience=recipient,
                body=body,
                now=now,
                token_id=secrets.token_hex(16),
            )
            url = str(view.node(recipient).inbox_url).rstrip("/") + BATCH_INBOX_PATH
            answer = self._client.deliver_batch(url, body, bearer)
            outcomes: Sequence[BatchReceiptEntry | BatchOutcome | str] = verify_batch_answer(
                answer,
                view=view,
                sender=self._node.node_id,
                recipient=recipient,
                sent=[(sent.packet_id, sent.digest) for sent in chunk],
            )
        except DeliveryFailed as failure:
            if failure.outcome in BATCH_REFUSED:
                for sent in chunk:
                    self._deliver_alone(sent, token, view, now, report)
                return
            self._record_batch(chunk, token, [failure.outcome] * len(chunk), None, now, report)
            return
        except (DirectoryError, ServiceUnavailable):
            self._record_batch(chunk, token, ["no_directory_entry"] * len(chunk), None, now, report)
            return
        self._record_batch(chunk, token, outcomes, answer.receipt, now, report)

    def _record_batch(
        self,
        chunk: list[Sent],
        token: str,
        outcomes: Sequence[BatchReceiptEntry | BatchOutcome | str],
        document: SignedDocument | None,
        attempted_at: datetime,
        report: DeliveryReport,
    ) -> None:
        """Every row of a posted batch, in one transaction: delivered with its receipt, or its
        attempt recorded and retried (or dead-lettered) as if it had gone alone."""
        done = self._node.clock.now()
        delivered: list[tuple[MessageKind, datetime]] = []
        with self._sessions.begin() as session:
            rows = outbox.pending_rows(session, [sent.outbox_id for sent in chunk])
            for sent, outcome in zip(chunk, outcomes, strict=True):
                row = rows.get(sent.outbox_id)
                if row is None:
                    continue  # cancelled meanwhile (a withdrawal): its revocation follows it
                if isinstance(outcome, BatchReceiptEntry):
                    assert document is not None
                    self._delivered_row(session, sent, row, outcome, document, attempted_at, done)
                    delivered.append((sent.kind, row.created_at))
                    report.delivered += 1
                elif row.claim_token == token:
                    word = (
                        BATCH_REFUSAL_OUTCOMES.get(outcome, "http_400")
                        if isinstance(outcome, BatchOutcome)
                        else outcome
                    )
                    self._record.failed(session, sent, row, word, done, report)
        for kind, queued_at in delivered:
            count_delivered(kind, queued_at, done)

    def _delivered_row(
        self,
        session: Session,
        sent: Sent,
        row: OutboxRow,
        entry: BatchReceiptEntry,
        document: SignedDocument,
        attempted_at: datetime,
        done: datetime,
    ) -> None:
        receipt = DeliveryReceipt(
            packet_id=entry.packet_id,
            sender=self._node.node_id,
            recipient=sent.recipient,
            envelope_sha256=entry.envelope_sha256,
            received_at=entry.received_at,
        )
        confirmation = self._kinds[sent.kind].confirmed(sent, receipt, document)
        self._record.delivered(session, sent, row, confirmation, attempted_at, done)

    def _post(self, sent: Sent, view: FederationView, now: datetime) -> Confirmation:
        """Post the envelope with a fresh node token; the recipient's answer, verified."""
        bearer = issue_node_token(
            key=self._node.signing_key(now),
            issuer=self._node.node_id,
            audience=sent.recipient,
            body=sent.envelope,
            now=now,
            token_id=secrets.token_hex(16),
        )
        document = self._client.deliver(self._inbox(sent, view), sent.envelope, bearer)
        return self._kinds[sent.kind].verify(sent, document, view, self._node.node_id)

    def _delivered(self, sent: Sent, confirmation: Confirmation, attempted_at: datetime) -> None:
        done = self._node.clock.now()
        with self._sessions.begin() as session:
            row = outbox.pending(session, sent.outbox_id)
            if row is None:
                return  # cancelled meanwhile (a withdrawal): its revocation follows it
            self._record.delivered(session, sent, row, confirmation, attempted_at, done)
            queued_at = row.created_at
        count_delivered(sent.kind, queued_at, done)

    def _inbox(self, sent: Sent, view: FederationView) -> str:
        """Where to post: the directory's inbox, or for a deletion request to a member that has
        left, the inbox it had when the request was queued."""
        listed = view.directory.node(sent.recipient)
        if listed is not None:
            url = str(listed.inbox_url)
        elif not self._kinds[sent.kind].personal and sent.inbox_url:
            url = sent.inbox_url
        else:
            raise DirectoryError(f"{sent.recipient} is not in the directory")
        return url.rstrip("/") + INBOX_PATH

    def _cancel(
        self, sent: Sent, token: str, refusal: SharingRefused, now: datetime, report: DeliveryReport
    ) -> None:
        with self._sessions.begin() as session:
            row = outbox.pending(session, sent.outbox_id, token)
            if row is not None:
                self._record.cancelled(session, sent, row, refusal, now, report)

    def _failed(
        self,
        sent: Sent,
        token: str,
        outcome: str,
        now: datetime,
        report: DeliveryReport,
        *,
        dead: bool = False,
    ) -> None:
        with self._sessions.begin() as session:
            row = outbox.pending(session, sent.outbox_id, token)
            if row is not None:
                self._record.failed(session, sent, row, outcome, now, report, dead=dead)


def batch_body(envelopes: Sequence[bytes]) -> bytes:
    """The canonical JSON of a batch request (``avrr-batch/1``), from the envelopes' own
    canonical wire JSON: members in order, nothing re-encoded."""
    return (
        b'{"envelopes":['
        + b",".join(envelopes)
        + b'],"format":"'
        + BATCH_FORMAT.encode("ascii")
        + b'"}'
    )


def _chunks(ready: list[Sent]) -> list[list[Sent]]:
    """The envelopes in order, cut so that no batch body passes ``BATCH_BODY_BYTES``."""
    chunks: list[list[Sent]] = []
    size = BATCH_BODY_BYTES
    for sent in ready:
        if size + len(sent.envelope) + 1 > BATCH_BODY_BYTES:
            chunks.append([])
            size = 40
        chunks[-1].append(sent)
        size += len(sent.envelope) + 1
    return chunks
