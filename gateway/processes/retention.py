"""The purge: delete every section past its delete-by date, on the recipient and the sender side.

Invariants:
- work goes in bounded batches, each its own short transaction, so live traffic keeps flowing;
- a legal hold (active, not past its end) on the subject or the packet keeps its data; a hold
  lifts itself at its end date and the next purge takes what it held;
- every deletion leaves a tombstone in the access log: what kind of data (section names), which
  packet, when, under which rule. Never the content;
- on a recipient, when nothing of a person is left, their data key is destroyed, so any copy of
  their data in a backup can no longer be decrypted;
- on SQLite, deleted content is overwritten (``secure_delete``) and the WAL is checkpointed after
  a purge, so nothing stays in free pages of the file.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from gateway.exchange.followup import repository as followup
from gateway.exchange.inbox import repository as inbox
from gateway.exchange.inbox.models import ReceivedPacketRow
from gateway.exchange.kinds.access_notice import queue_notices
from gateway.exchange.referrals import repository as referrals
from gateway.exchange.referrals.sent import drop_sent_sections
from gateway.kit.metrics import PURGED
from gateway.kit.node import Node
from gateway.kit.periodic import run_periodically
from gateway.records.accesslog.writer import Action, Actor, record
from gateway.records.holds.service import active_holds
from gateway.records.person_access.cards import forget_throttles
from gateway.records.person_access.sessions import expire_old
from schemas.audit import NoticedAccess
from schemas.common import SectionName

log = logging.getLogger("avrr.retention")

RULE = "retention_period_ended"
BATCH, SQLITE_BATCH = 500, 25
SQLITE_PAUSE = 0.025


@dataclass
class PurgeReport:
    received_sections: int = 0
    sent_sections: int = 0
    subjects_erased: int = 0
    packets_forgotten: int = 0
    follow_up_deleted: int = 0
    batches: int = 0

    def __bool__(self) -> bool:
        return bool(
            self.received_sections
            or self.sent_sections
            or self.subjects_erased
            or self.packets_forgotten
            or self.follow_up_deleted
        )

    def __str__(self) -> str:
        return (
            f"purged {self.received_sections} received and {self.sent_sections} sent sections "
            f"in {self.batches} batches; erased the keys of {self.subjects_erased} people; "
            f"forgot {self.packets_forgotten} emptied packets; deleted "
            f"{self.follow_up_deleted} follow-up messages"
        )


class Purger:
    def __init__(
        self,
        *,
        node: Node,
        sessions: sessionmaker[Session],
        batch_size: int | None = None,
        pause: float | None = None,
    ) -> None:
        """``batch_size`` rows per transaction and ``pause`` seconds between transactions.

        Defaults depend on the database. PostgreSQL locks rows, so live requests pass alongside
        the purge: 500 rows, no pause. SQLite has one writer at a time, and a request waits for
        the batch holding it, so batches there are small (25 rows, a few milliseconds each) with
        a 25 ms pause in which a waiting request takes the lock. Measured (``bench/purge.py``):
        this keeps the referral p99 within 2x during a purge at about half the purge's speed of
        200-row batches, which let the p99 grow five-fold (docs/retention.md, section 9).
        """
        self._node = node
        self._sessions = sessions
        sqlite = sessions.kw["bind"].dialect.name == "sqlite" if sessions.kw.get("bind") else False
        self._batch = batch_size or (SQLITE_BATCH if sqlite else BATCH)
        self._pause = (SQLITE_PAUSE if sqlite else 0.0) if pause is None else pause

    @property
    def _actor(self) -> Actor:
        return Actor(user="purge", org=self._node.node_id, role="node")

    def run_once(self, *, max_batches: int = 10_000) -> PurgeReport:
        report = PurgeReport()
        for step in (
            self._received_batch,
            self._sent_batch,
            self._follow_up_batch,
            self._forget_batch,
        ):
            # Each side gets its own allowance, so a long recipient purge never starves the other.
            for _ in range(max_batches):
                erase: set[str] = set()
                with self._sessions.begin() as session:
                    done = step(session, self._node.clock.now(), report, erase)
                # Keys go only once the deletions they belong to are committed.
                for subject in erase:
                    self._node.keys.destroy(subject)
                report.batches += 1
                if done < self._batch:
                    break
                if self._pause:
                    time.sleep(self._pause)  # let waiting requests have the database
        with self._sessions.begin() as session:
            # Expired portal sessions and old sign-in counters go too (they name cards, cases).
            now = self._node.clock.now()
            expire_old(session, now)
            forget_throttles(session, now)
        if report.received_sections or report.sent_sections:
            self._compact()
        _count(report)
        return report

    # -- recipient side -------------------------------------------------------------------------

    def _received_batch(
        self, session: Session, now: datetime, report: PurgeReport, erase: set[str]
    ) -> int:
        held_subjects, held_packets = active_holds(session, now)
        rows = inbox.sections_due(
            session,
            now,
            self._batch,
            held_subjects=held_subjects,
            held_packets=held_packets,
        )
        expired: dict[str, list[str]] = defaultdict(list)
        packets: dict[str, ReceivedPacketRow] = {}
        for section_row, packet in rows:
            expired[packet.packet_id].append(section_row.section)
            packets[packet.packet_id] = packet
            inbox.delete_section(session, section_row)
        session.flush()
        noticed = [
            (packets[packet_id], self._expire(session, packets[packet_id], sections, now))
            for packet_id, sections in expired.items()
        ]
        queue_notices(session, self._node, noticed, now)
        report.received_sections += len(rows)
        subjects = {p.subject for p in packets.values()}
        for subject in sorted(subjects - inbox.subjects_holding(session, subjects)):
            erase.add(subject)
            record(
                session,
                at=now,
                actor=self._actor,
                action=Action.SUBJECT_KEY_DESTROYED,
                subject=subject,
                outcome=RULE,
            )
            report.subjects_erased += 1
        return len(rows)

    def _expire(
        self, session: Session, packet: ReceivedPacketRow, sections: list[str], now: datetime
    ) -> NoticedAccess:
        """Note sections of a received packet deleted at their date; what to tell its sender."""
        inbox.note_expired(packet, sections)
        record(
            session,
            at=now,
            actor=self._actor,
            action=Action.PURGED,
            subject=packet.subject,
            packet_id=packet.packet_id,
            sections=sections,
            purpose=packet.purpose,
            outcome=RULE,
        )
        return NoticedAccess(
            packet_id=packet.packet_id,
            action="purged",
            at=now,
            actor_role="node",
            sections=[SectionName(s) for s in sorted(sections)],
            outcome=RULE,
        )

    def _forget_batch(
        self, session: Session, now: datetime, report: PurgeReport, erase: set[str]
    ) -> int:
        """Drop the header facts of received packets that hold nothing any more.

        Kept until no copy of the envelope could still be accepted (its creation time is past
        the acceptance window), since the stored packet id is what refuses a replay until then.
        The tombstones stay in the access log.
        """
        settings = self._node.settings
        replayable_since = now - settings.acceptance_window - settings.clock_skew
        ids = inbox.forgettable(session, replayable_since, self._batch)
        inbox.forget(session, ids)
        report.packets_forgotten += len(ids)
        return len(ids)

    # -- sender side -----------------------------------------------------------------------------

    def _sent_batch(
        self, session: Session, now: datetime, report: PurgeReport, erase: set[str]
    ) -> int:
        held_subjects, held_packets = active_holds(session, now)
        due_referrals = referrals.due_for_purge(
            session, now, self._batch, held_subjects=held_subjects, held_packets=held_packets
        )
        for referral in due_referrals:
            due = sorted(
                s
                for s, d in referrals.dates(referral).items()
                if d <= now and s in referral.sent_sections
            )
            if due:
                drop_sent_sections(self._node, referral, due)
            referrals.note_expired(referral, due, now)
            if due:
                record(
                    session,
                    at=now,
                    actor=self._actor,
                    action=Action.PURGED,
                    subject=referral.case_id,
                    packet_id=referral.packet_id,
                    sections=due,
                    purpose=referral.purpose,
                    outcome=RULE,
                )
                report.sent_sections += len(due)
        return len(due_referrals)

    # -- both sides: a referral's follow-up ------------------------------------------------------

    def _follow_up_batch(
        self, session: Session, now: datetime, report: PurgeReport, erase: set[str]
    ) -> int:
        """Replies, plans, monitoring rounds and notes go with the date of their referral."""
        held_subjects, _ = active_holds(session, now)
        rows = followup.due_for_purge(session, now, self._batch, held_subjects=held_subjects)
        for row in rows:
            followup.delete(session, row)
            record(
                session,
                at=now,
                actor=self._actor,
                action=Action.PURGED,
                subject=row.subject_ref,
                packet_id=row.referral_packet_id,
                purpose=None,
                outcome=f"{RULE}: {row.kind}",
            )
        report.follow_up_deleted += len(rows)
        return len(rows)

    def run_forever(self, *, interval: float, stop: threading.Event) -> None:
        run_periodically(self.run_once, interval=interval, stop=stop, log=log, name="purge")

    def _compact(self) -> None:
        with self._sessions() as session:
            if session.get_bind().dialect.name == "sqlite":
                session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))


def _count(report: PurgeReport) -> None:
    """Add a purge's deletions to this process's ``avrr_purged`` counter (counts, never ids)."""
    for what, count in (
        ("received_sections", report.received_sections),
        ("sent_sections", report.sent_sections),
        ("follow_up", report.follow_up_deleted),
        ("forgotten_packets", report.packets_forgotten),
        ("erased_subject_keys", report.subjects_erased),
    ):
        if count:
            PURGED.labels(what=what).inc(count)
