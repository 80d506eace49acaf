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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from consent.errors import SharingRefused
from consent.policy import Recipient, check_delivery
from gateway.exchange.kinds.base import worker_actor
from gateway.exchange.outbox import repository as outbox
from gateway.exchange.referrals import repository as referrals
from gateway.exchange.registry import Confirmation, Registry, Sent
from gateway.kit.errors import ServiceUnavailable
from gateway.kit.metrics import DELIVERY_ATTEMPTS, DELIVERY_LATENCY, RECEIPTS, REFUSALS
from gateway.kit.node import Node
from gateway.kit.periodic import run_periodically
from gateway.records.accesslog.writer import Action, record
from partners.client import INBOX_PATH, NodeClient
from partners.directory import FederationView
from partners.errors import DeliveryFailed, DirectoryError
from partners.tokens import issue_node_token
from schemas.common import SectionName
from schemas.envelope import MessageKind

log = logging.getLogger("avrr.delivery")


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
        self._rng = rng or random.SystemRandom()

    def run_once(self, limit: int = 50) -> DeliveryReport:
        claimed = self._claim(limit)
        concurrency = min(self._node.settings.delivery_concurrency, len(claimed))
        if concurrency <= 1:
            report = DeliveryReport()
            for outbox_id, token in claimed:
                self._deliver(outbox_id, token, report)
            return report

        def deliver(item: tuple[int, str]) -> DeliveryReport:
            # Each row has its own transactions and its own report, so threads share nothing.
            own = DeliveryReport()
            self._deliver(*item, own)
            return own

        with ThreadPoolExecutor(concurrency, thread_name_prefix="delivery") as pool:
            reports = list(pool.map(deliver, claimed))
        total = DeliveryReport()
        for report in reports:
            total.add(report)
        return total

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

    def _claim(self, limit: int) -> list[tuple[int, str]]:
        now = self._node.clock.now()
        until = now + self._node.settings.claim_lease
        claimed = []
        with self._sessions.begin() as session:
            for outbox_id in outbox.due_ids(session, now, limit):
                token = secrets.token_hex(16)
                if outbox.claim(session, outbox_id, token=token, now=now, until=until):
                    claimed.append((outbox_id, token))
        return claimed

    def _load(self, outbox_id: int, token: str) -> tuple[Sent, datetime] | None:
        """The claimed row as the steps need it, and its deadline; None if no longer ours."""
        with self._sessions() as session:
            row = outbox.claimed(session, outbox_id, token)
            if row is None:
                return None
            kind = MessageKind(row.kind)
            sent = Sent(
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
            return sent, row.deliver_by

    def _deliver(self, outbox_id: int, token: str, report: DeliveryReport) -> None:
        now = self._node.clock.now()
        loaded = self._load(outbox_id, token)
        if loaded is None:
            return
        sent, deliver_by = loaded
        if now >= deliver_by:
            self._failed(sent, token, "past_deadline", now, report, dead=True)
            return
        try:
            view = self._node.directory()
        except ServiceUnavailable:
            self._failed(sent, token, "no_directory_entry", now, report)
            return
        try:
            self._recheck(sent, view)
        except SharingRefused as refusal:
            self._cancel(sent, token, refusal, now, report)
            return
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
            self._kinds[sent.kind].attempted(session, self._node, row, attempted_at, "delivered")
            outbox.delivered(session, row, attempted_at=attempted_at, done=done)
            confirmation.record(session, self._node, row, done)
            queued_at = row.created_at
        DELIVERY_ATTEMPTS.labels(kind=sent.kind.value, outcome="delivered").inc()
        RECEIPTS.labels(direction="verified", kind=sent.kind.value).inc()
        DELIVERY_LATENCY.labels(kind=sent.kind.value).observe((done - queued_at).total_seconds())

    def _recheck(self, sent: Sent, view: FederationView) -> None:
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
        """Never send it: the outbox row and its referral say why, and the access log keeps it."""
        header = sent.header()
        rule = refusal.rule.value
        with self._sessions.begin() as session:
            row = outbox.pending(session, sent.outbox_id, token)
            if row is None:
                return
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
        """Record the attempt; retry after a backoff, or give up at the deadline."""
        settings = self._node.settings
        kind = self._kinds[sent.kind]
        with self._sessions.begin() as session:
            row = outbox.pending(session, sent.outbox_id, token)
            if row is None:
                return
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
            log.warning(
                "outbox row %s dead-lettered after %s attempts", sent.outbox_id, row.attempts
            )
