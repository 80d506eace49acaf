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
import secrets
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, delete, or_, select, text
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from gateway.exchange.inbox.models import EXPIRED, WITHDRAWN, ReceivedPacketRow, ReceivedSectionRow
from gateway.exchange.kinds.access_notice import queue_notices
from gateway.exchange.referrals.models import ReferralRow
from gateway.exchange.referrals.sent import drop_sent_sections
from gateway.kit.auth import Principal
from gateway.kit.errors import Unprocessable
from gateway.kit.node import Node
from gateway.kit.periodic import run_periodically
from gateway.records.accesslog.writer import Action, Actor, record
from gateway.records.holds.models import LegalHoldRow
from gateway.records.person_access.cards import forget_throttles
from gateway.records.person_access.sessions import expire_old
from schemas.audit import NoticedAccess
from schemas.common import SectionName, StaffRole
from schemas.envelope import MessageKind

log = logging.getLogger("avrr.retention")

RULE = "retention_period_ended"
BATCH, SQLITE_BATCH = 500, 25
SQLITE_PAUSE = 0.025

Q = TypeVar("Q", bound=Select[*tuple[Any, ...]])


@dataclass
class PurgeReport:
    received_sections: int = 0
    sent_sections: int = 0
    subjects_erased: int = 0
    packets_forgotten: int = 0
    batches: int = 0

    def __bool__(self) -> bool:
        return bool(
            self.received_sections
            or self.sent_sections
            or self.subjects_erased
            or self.packets_forgotten
        )

    def __str__(self) -> str:
        return (
            f"purged {self.received_sections} received and {self.sent_sections} sent sections "
            f"in {self.batches} batches; erased the keys of {self.subjects_erased} people; "
            f"forgot {self.packets_forgotten} emptied packets"
        )


def active_holds(session: Session, now: datetime) -> tuple[set[str], set[str]]:
    """Subjects and packets under a legal hold that has not ended."""
    rows = session.execute(
        select(LegalHoldRow.subject, LegalHoldRow.packet_id).where(
            LegalHoldRow.released_at.is_(None), LegalHoldRow.until > now
        )
    ).all()
    return {s for s, _ in rows if s}, {p for _, p in rows if p}


def _not_held(
    query: Q,
    subject: InstrumentedAttribute[str],
    packet: InstrumentedAttribute[str],
    session: Session,
    now: datetime,
) -> Q:
    """The query without rows whose subject or packet is under an active legal hold."""
    held_subjects, held_packets = active_holds(session, now)
    if held_subjects:
        query = query.where(subject.not_in(held_subjects))
    if held_packets:
        query = query.where(packet.not_in(held_packets))
    return query


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
        for step in (self._received_batch, self._sent_batch, self._forget_batch):
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
        return report

    # -- recipient side -------------------------------------------------------------------------

    def _received_batch(
        self, session: Session, now: datetime, report: PurgeReport, erase: set[str]
    ) -> int:
        query = (
            select(ReceivedSectionRow, ReceivedPacketRow)
            .join(ReceivedPacketRow, ReceivedPacketRow.packet_id == ReceivedSectionRow.packet_id)
            .where(ReceivedSectionRow.delete_by <= now)
            .order_by(ReceivedSectionRow.delete_by)
            .limit(self._batch)
        )
        query = _not_held(
            query, ReceivedPacketRow.subject, ReceivedPacketRow.packet_id, session, now
        )
        rows = session.execute(query).all()
        expired: dict[str, list[str]] = defaultdict(list)
        packets: dict[str, ReceivedPacketRow] = {}
        for section_row, packet in rows:
            expired[packet.packet_id].append(section_row.section)
            packets[packet.packet_id] = packet
            session.delete(section_row)
        session.flush()
        noticed = []
        for packet_id, sections in expired.items():
            packet = packets[packet_id]
            noticed.append(
                (
                    packet,
                    NoticedAccess(
                        packet_id=packet_id,
                        action="purged",
                        at=now,
                        actor_role="node",
                        sections=[SectionName(s) for s in sorted(sections)],
                        outcome=RULE,
                    ),
                )
            )
            packet.expired_sections = sorted({*packet.expired_sections, *sections})
            gone = set(packet.expired_sections) | set(packet.withdrawn_sections)
            packet.status = EXPIRED if gone >= set(packet.sections) else packet.status
            record(
                session,
                at=now,
                actor=self._actor,
                action=Action.PURGED,
                subject=packet.subject,
                packet_id=packet_id,
                sections=sections,
                purpose=packet.purpose,
                outcome=RULE,
            )
        queue_notices(session, self._node, noticed, now)
        report.received_sections += len(rows)
        subjects = {p.subject for p in packets.values()}
        still_held = set(
            session.scalars(
                select(ReceivedPacketRow.subject)
                .join(
                    ReceivedSectionRow, ReceivedSectionRow.packet_id == ReceivedPacketRow.packet_id
                )
                .where(ReceivedPacketRow.subject.in_(subjects))
                .distinct()
            )
        )
        for subject in sorted(subjects - still_held):
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
        emptied = or_(
            ReceivedPacketRow.kind != MessageKind.REFERRAL.value,
            ReceivedPacketRow.status.in_((EXPIRED, WITHDRAWN)),
        )
        ids = session.scalars(
            select(ReceivedPacketRow.packet_id)
            .where(emptied, ReceivedPacketRow.created_at < replayable_since)
            .order_by(ReceivedPacketRow.created_at)
            .limit(self._batch)
        ).all()
        if ids:
            session.execute(delete(ReceivedPacketRow).where(ReceivedPacketRow.packet_id.in_(ids)))
        report.packets_forgotten += len(ids)
        return len(ids)

    # -- sender side -----------------------------------------------------------------------------

    def _sent_batch(
        self, session: Session, now: datetime, report: PurgeReport, erase: set[str]
    ) -> int:
        query = (
            select(ReferralRow)
            .where(ReferralRow.next_delete_at.is_not(None), ReferralRow.next_delete_at <= now)
            .order_by(ReferralRow.next_delete_at)
            .limit(self._batch)
        )
        query = _not_held(query, ReferralRow.case_id, ReferralRow.packet_id, session, now)
        referrals = session.scalars(query).all()
        for referral in referrals:
            deadlines = {
                s: datetime.fromisoformat(d) for s, d in referral.section_delete_by.items()
            }
            due = sorted(
                s for s, d in deadlines.items() if d <= now and s in referral.sent_sections
            )
            if due:
                drop_sent_sections(self._node, referral, due)
            referral.expired_sections = sorted({*referral.expired_sections, *due})
            later = [d for s, d in deadlines.items() if d > now and s in referral.sent_sections]
            referral.next_delete_at = min(later) if later else None
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
        return len(referrals)

    def run_forever(self, *, interval: float, stop: threading.Event) -> None:
        run_periodically(self.run_once, interval=interval, stop=stop, log=log, name="purge")

    def _compact(self) -> None:
        with self._sessions() as session:
            if session.get_bind().dialect.name == "sqlite":
                session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))


def place_hold(
    session: Session,
    principal: Principal,
    *,
    subject: str | None,
    packet_id: str | None,
    reason: str,
    until: datetime,
    now: datetime,
) -> LegalHoldRow:
    principal.require(StaffRole.DPO)
    if (subject is None) == (packet_id is None):
        raise Unprocessable("a hold names either a subject or a packet")
    if until <= now:
        raise Unprocessable("a hold must end in the future")
    hold = LegalHoldRow(
        id=secrets.token_hex(16),
        subject=subject,
        packet_id=packet_id,
        reason=reason,
        until=until,
        created_by=principal.user,
        created_at=now,
        released_at=None,
    )
    session.add(hold)
    record(
        session,
        at=now,
        actor=Actor.of(principal),
        action=Action.LEGAL_HOLD,
        subject=subject,
        packet_id=packet_id,
        outcome=f"until {until.date().isoformat()}",
    )
    return hold


def list_holds(session: Session, principal: Principal) -> list[LegalHoldRow]:
    principal.require(StaffRole.DPO)
    return list(session.scalars(select(LegalHoldRow).order_by(LegalHoldRow.created_at)).all())
