"""Delivering the outbox: claim, post, verify the answer, record; retry with backoff; dead-letter.

A referral is answered with a signed receipt (stored in ``receipts``); a revocation with a signed
deletion receipt (stored on its ``revocations`` row, which then shows as confirmed).

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

    >>> worker = DeliveryWorker(node=node, sessions=sessions, client=NodeClient(http=http))  # doctest: +SKIP
    >>> worker.run_once().delivered                                                         # doctest: +SKIP
    1
"""

from __future__ import annotations

import logging
import random
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from consent.errors import SharingRefused
from consent.policy import Recipient, check_delivery
from crypto.envelope import parse
from gateway.exchange.referrals import repository
from gateway.exchange.referrals.models import DeliveryAttemptRow, OutboxRow, ReceiptRow, ReferralRow
from gateway.kit.errors import ServiceUnavailable
from gateway.kit.node import Node
from gateway.kit.periodic import run_periodically
from gateway.processes.deletion_proof import note_answer
from gateway.records.accesslog.writer import Action, Actor, record
from gateway.records.consents.models import RevocationRow
from partners.client import INBOX_PATH, NodeClient
from partners.directory import FederationView
from partners.errors import DeliveryFailed, DirectoryError
from partners.receipts import verify_deletion_receipt, verify_receipt
from partners.tokens import issue_node_token
from schemas.common import SectionName
from schemas.consent import (
    DeletionReceipt,
    RevocationContent,
    RevocationReason,
    RevokedPacket,
)
from schemas.envelope import EnvelopeHeader, MessageKind, SignedDocument, WireEnvelope

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


@dataclass(frozen=True)
class _Sent:
    """What the worker needs of an outbox row once its session is closed."""

    kind: MessageKind
    envelope: bytes
    recipient: str
    packet_id: str
    digest: str
    revocation: RevocationContent | None
    carried_fields: dict[str, list[str]] | None
    inbox_url: str | None

    def header(self) -> EnvelopeHeader:
        return parse(WireEnvelope.model_validate_json(self.envelope)).header


#: Kinds that carry a person's data: each attempt is decided again. A revocation carries only
#: packet ids and section names, and must reach even a suspended or departed recipient.
_PERSONAL = frozenset(
    {
        MessageKind.REFERRAL,
        MessageKind.CORRECTION,
        MessageKind.STATUS_UPDATE,
        MessageKind.ACCESS_NOTICE,
    }
)
#: Kinds that carry sections of a referral: the sharing policy must still allow what they carry.
_CONTENT = frozenset({MessageKind.REFERRAL, MessageKind.CORRECTION})


#: Attempt outcomes that mean nothing went out (no ``sent`` entry for them).
_NOT_SENT = frozenset({"past_deadline", "no_directory_entry"})

_Confirm = Callable[[Session, OutboxRow, SignedDocument, datetime], None]


def _revocation_of(session: Session, row: OutboxRow) -> RevocationContent | None:
    """What a revocation asked for, to check the deletion receipt against."""
    if row.kind != MessageKind.REVOCATION.value:
        return None
    revocation = session.get(RevocationRow, row.packet_id)
    if revocation is None:
        return None
    return RevocationContent(
        reason=RevocationReason(revocation.reason),
        withdrawal_id=revocation.withdrawal_id,
        packets=[RevokedPacket.model_validate(p) for p in revocation.packets],
    )


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
        rng: random.Random | None = None,
    ) -> None:
        self._node = node
        self._sessions = sessions
        self._client = client
        self._rng = rng or random.SystemRandom()

    @property
    def _actor(self) -> Actor:
        return Actor(user="delivery-worker", org=self._node.node_id, role="node")

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
            for outbox_id in repository.due_outbox_ids(session, now, limit):
                token = secrets.token_hex(16)
                if repository.claim(session, outbox_id, token=token, now=now, until=until):
                    claimed.append((outbox_id, token))
        return claimed

    def _deliver(self, outbox_id: int, token: str, report: DeliveryReport) -> None:
        now = self._node.clock.now()
        with self._sessions() as session:
            row = session.get(OutboxRow, outbox_id)
            if row is None or row.claim_token != token:
                return
            sent = _Sent(
                kind=MessageKind(row.kind),
                envelope=row.envelope.encode("ascii"),
                recipient=row.recipient,
                packet_id=row.packet_id,
                digest=row.envelope_sha256,
                revocation=_revocation_of(session, row),
                carried_fields=row.carried_fields,
                inbox_url=row.inbox_url,
            )
            deliver_by = row.deliver_by
        if now >= deliver_by:
            self._finish_failed(outbox_id, token, "past_deadline", now, report, dead=True)
            return
        try:
            view = self._node.directory()
        except ServiceUnavailable:
            self._retry_or_dead(outbox_id, token, "no_directory_entry", report)
            return
        try:
            self._recheck(sent, view)
        except SharingRefused as refusal:
            self._cancel(outbox_id, token, sent, refusal, now, report)
            return
        try:
            inbox = self._inbox(sent, view)
            bearer = issue_node_token(
                key=self._node.signing_key(now),
                issuer=self._node.node_id,
                audience=sent.recipient,
                body=sent.envelope,
                now=now,
                token_id=secrets.token_hex(16),
            )
            document = self._client.deliver(inbox, sent.envelope, bearer)
            confirm = self._verify(sent, document, view)
        except DeliveryFailed as failure:
            self._retry_or_dead(outbox_id, token, failure.outcome, report)
            return
        except (DirectoryError, ServiceUnavailable):
            self._retry_or_dead(outbox_id, token, "no_directory_entry", report)
            return
        done = self._node.clock.now()
        with self._sessions.begin() as session:
            row = session.get(OutboxRow, outbox_id)
            if row is None or row.status != repository.PENDING:
                return
            row.status, row.finished_at, row.claimed_until = repository.DELIVERED, done, None
            # Nothing needs the sealed copy any more; keep only its digest.
            row.envelope = ""
            self._note_sent(session, row, now, "delivered")
            row.attempts += 1
            session.add(
                DeliveryAttemptRow(outbox_id=outbox_id, attempted_at=now, outcome="delivered")
            )
            confirm(session, row, document, done)
        report.delivered += 1

    def _recheck(self, sent: _Sent, view: FederationView) -> None:
        """Raise ``SharingRefused`` if the directory in force now forbids sending this message."""
        if sent.kind not in _PERSONAL:
            return
        header = sent.header()
        record = view.directory.node(sent.recipient)
        carried = None
        if sent.kind in _CONTENT:
            # A row queued before the field names were kept: check its sections whole.
            names = sent.carried_fields or {s.value: [] for s in header.sections}
            carried = {SectionName(s): frozenset(f) for s, f in names.items()}
        check_delivery(
            rule_for=view.rule,
            recipient=Recipient.of(record) if record is not None else None,
            purpose=header.purpose,
            carried=carried,
            suspended_countries=view.suspended_countries,
            suspended_regions=view.suspended_regions,
        )

    def _inbox(self, sent: _Sent, view: FederationView) -> str:
        """Where to post: the directory's inbox, or for a deletion request to a member that has
        left, the inbox it had when the request was queued."""
        record = view.directory.node(sent.recipient)
        if record is not None:
            url = str(record.inbox_url)
        elif sent.kind not in _PERSONAL and sent.inbox_url:
            url = sent.inbox_url
        else:
            raise DirectoryError(f"{sent.recipient} is not in the directory")
        return url.rstrip("/") + INBOX_PATH

    def _cancel(
        self,
        outbox_id: int,
        token: str,
        sent: _Sent,
        refusal: SharingRefused,
        now: datetime,
        report: DeliveryReport,
    ) -> None:
        """Never send it: the outbox row and its referral say why, and the access log keeps it."""
        header = sent.header()
        with self._sessions.begin() as session:
            row = session.get(OutboxRow, outbox_id)
            if row is None or row.claim_token != token or row.status != repository.PENDING:
                return
            row.status, row.finished_at, row.claimed_until = repository.CANCELLED, now, None
            row.envelope, row.cancel_reason = "", refusal.rule.value
            referral = session.get(ReferralRow, row.referral_id) if row.referral_id else None
            if referral is not None:
                referral.status, referral.status_reason = repository.CANCELLED, refusal.rule.value
            record(
                session,
                at=now,
                actor=self._actor,
                action=Action.REFERRAL_CANCELLED if referral else Action.DELIVERY_CANCELLED,
                subject=referral.case_id if referral else row.subject_ref,
                packet_id=row.packet_id,
                sections=[s.value for s in header.sections],
                purpose=header.purpose.value,
                outcome=refusal.rule.value,
            )
        report.cancelled += 1
        log.warning(
            "outbox row %s (%s) cancelled before delivery: %s",
            outbox_id,
            sent.kind.value,
            refusal.rule.value,
        )

    def _verify(self, sent: _Sent, document: SignedDocument, view: FederationView) -> _Confirm:
        """Check the recipient's signed answer; return what to record once it is accepted."""
        if sent.kind is MessageKind.REVOCATION:
            if sent.revocation is None:
                raise DeliveryFailed("bad_deletion_receipt")
            deletion = verify_deletion_receipt(
                document,
                view=view,
                revocation_id=sent.packet_id,
                revocation=sent.revocation,
                sender=self._node.node_id,
                recipient=sent.recipient,
            )

            def confirm_deletion(
                session: Session, row: OutboxRow, doc: SignedDocument, done: datetime
            ) -> None:
                self._confirm_deletion(session, row, doc, deletion, done)

            return confirm_deletion
        receipt = verify_receipt(
            document,
            view=view,
            packet_id=sent.packet_id,
            sender=self._node.node_id,
            recipient=sent.recipient,
            envelope_sha256=sent.digest,
        )

        def confirm_receipt(
            session: Session, row: OutboxRow, doc: SignedDocument, done: datetime
        ) -> None:
            if session.get(ReceiptRow, row.packet_id) is None:
                session.add(
                    ReceiptRow(
                        packet_id=row.packet_id,
                        outbox_id=row.id,
                        received_at=receipt.received_at,
                        verified_at=done,
                        envelope_sha256=receipt.envelope_sha256,
                        document=doc.model_dump(mode="json"),
                    )
                )
            self._mark_referral(
                session, row, repository.DELIVERED, Action.DELIVERED, done, "receipt_verified"
            )

        return confirm_receipt

    def _confirm_deletion(
        self,
        session: Session,
        row: OutboxRow,
        doc: SignedDocument,
        deletion: DeletionReceipt,
        done: datetime,
    ) -> None:
        revocation = session.get(RevocationRow, row.packet_id)
        if revocation is None:
            return
        revocation.status = "held" if deletion.held else "confirmed"
        revocation.held = list(deletion.held)
        revocation.confirmed_at = done
        revocation.deletion_receipt = doc.model_dump(mode="json")
        note_answer(session, revocation, done)
        record(
            session,
            at=done,
            actor=self._actor,
            action=Action.DELETION_CONFIRMED,
            subject=revocation.case_id,
            packet_id=row.packet_id,
            sections=sorted({s for p in revocation.packets for s in p["sections"]}),
            outcome=revocation.status,
        )

    def _retry_or_dead(
        self, outbox_id: int, token: str, outcome: str, report: DeliveryReport
    ) -> None:
        self._finish_failed(outbox_id, token, outcome, self._node.clock.now(), report, dead=False)

    def _finish_failed(
        self,
        outbox_id: int,
        token: str,
        outcome: str,
        now: datetime,
        report: DeliveryReport,
        *,
        dead: bool,
    ) -> None:
        settings = self._node.settings
        with self._sessions.begin() as session:
            row = session.get(OutboxRow, outbox_id)
            if row is None or row.claim_token != token or row.status != repository.PENDING:
                return
            if outcome not in _NOT_SENT:
                self._note_sent(session, row, now, outcome)
            row.attempts += 1
            session.add(DeliveryAttemptRow(outbox_id=outbox_id, attempted_at=now, outcome=outcome))
            delay = backoff(
                row.attempts, base=settings.retry_base, cap=settings.retry_cap, rng=self._rng
            )
            if dead or now + delay >= row.deliver_by:
                row.status, row.finished_at, row.claimed_until = repository.DEAD, now, None
                row.envelope = ""
                session.add(
                    DeliveryAttemptRow(
                        outbox_id=outbox_id, attempted_at=now, outcome="dead_lettered"
                    )
                )
                self._mark_referral(session, row, repository.DEAD, Action.DEAD_LETTERED, now)
                revocation = session.get(RevocationRow, row.packet_id)
                if revocation is not None:
                    revocation.status = "undeliverable"
                report.dead_lettered += 1
                log.warning(
                    "outbox row %s dead-lettered after %s attempts", outbox_id, row.attempts
                )
            else:
                row.next_attempt_at, row.claimed_until, row.claim_token = now + delay, None, None
                report.retried += 1

    def _note_sent(self, session: Session, row: OutboxRow, now: datetime, outcome: str) -> None:
        """The first time a referral goes out to its recipient (whatever came of it) is logged."""
        if row.referral_id is None:
            return
        went_out = session.scalar(
            select(DeliveryAttemptRow.id)
            .where(
                DeliveryAttemptRow.outbox_id == row.id,
                DeliveryAttemptRow.outcome.not_in(_NOT_SENT),
            )
            .limit(1)
        )
        if went_out is not None:
            return
        referral = session.get(ReferralRow, row.referral_id)
        if referral is None:
            return
        record(
            session,
            at=now,
            actor=self._actor,
            action=Action.SENT,
            subject=referral.case_id,
            packet_id=row.packet_id,
            sections=sorted(referral.sent_sections),
            purpose=referral.purpose,
            outcome=outcome,
        )

    def _mark_referral(
        self,
        session: Session,
        row: OutboxRow,
        status: str,
        action: Action,
        now: datetime,
        outcome: str | None = None,
    ) -> None:
        if row.referral_id is None:
            return
        referral = session.get(ReferralRow, row.referral_id)
        if referral is None:
            return
        referral.status = status
        record(
            session,
            at=now,
            actor=self._actor,
            action=action,
            subject=referral.case_id,
            packet_id=row.packet_id,
            sections=sorted(referral.sent_sections),
            purpose=referral.purpose,
            outcome=outcome or status,
        )
