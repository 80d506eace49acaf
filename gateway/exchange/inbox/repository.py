"""Every query on received packets, their sections and the node tokens seen, and every change.

What a later message from a sender (revocation, status update, correction) may act on is found
with ``received_from``: a packet this node holds from that sender about that person, nothing else.
Sections are sealed at rest under the person's data key; this module stores and deletes them but
never opens one (``exchange.inbox.received`` does, for a partner officer, and logs it).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, and_, delete, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from gateway.exchange.inbox.models import ReceivedPacketRow, ReceivedSectionRow, SeenNodeTokenRow
from gateway.kit.db import add_kept
from schemas.common import ReceivedStatus
from schemas.envelope import EnvelopeHeader, MessageKind

LoggedFor = Callable[[InstrumentedAttribute[str]], ColumnElement[bool]]
CountedFor = Callable[[InstrumentedAttribute[str]], ScalarSelect[int]]


# -- node tokens ------------------------------------------------------------------------------------


def token_seen(session: Session, token_id: str) -> bool:
    return session.get(SeenNodeTokenRow, token_id) is not None


def remember_token(
    session: Session, *, token_id: str, issuer: str, expires_at: datetime, now: datetime
) -> None:
    """Keep a token's id until it expires (it is used once), even if the request it came with
    is refused (a second try with the same token is then refused as a replay); forget those
    already expired."""
    session.execute(delete(SeenNodeTokenRow).where(SeenNodeTokenRow.expires_at < now))
    add_kept(
        session,
        SeenNodeTokenRow,
        {"token_id": token_id, "issuer": issuer, "expires_at": expires_at},
    )


# -- packets --------------------------------------------------------------------------------------


def by_id(session: Session, packet_id: str) -> ReceivedPacketRow | None:
    return session.get(ReceivedPacketRow, packet_id)


def received_from(
    session: Session, packet_id: str, *, sender: str, subject: str
) -> ReceivedPacketRow | None:
    """A packet this node holds from ``sender`` about ``subject``: what a later message from the
    same sender (revocation, status update, correction) may act on, and nothing else."""
    row = session.get(ReceivedPacketRow, packet_id)
    if row is None or row.sender != sender or row.subject != subject:
        return None
    return row


def referral(session: Session, packet_id: str) -> ReceivedPacketRow | None:
    """A referral this node received (not another kind of message)."""
    row = session.get(ReceivedPacketRow, packet_id)
    if row is None or row.kind != MessageKind.REFERRAL:
        return None
    return row


def newest_referrals(session: Session, limit: int, offset: int = 0) -> Sequence[ReceivedPacketRow]:
    return session.scalars(
        select(ReceivedPacketRow)
        .where(ReceivedPacketRow.kind == MessageKind.REFERRAL.value)
        .order_by(ReceivedPacketRow.received_at.desc(), ReceivedPacketRow.packet_id)
        .limit(limit)
        .offset(offset)
    ).all()


def add_packet(
    session: Session,
    header: EnvelopeHeader,
    *,
    digest: str,
    answer: dict[str, Any],
    now: datetime,
) -> ReceivedPacketRow:
    """A verified packet's header facts and the signed answer given for it (so a repeat of the
    same envelope gets exactly the same answer)."""
    row = ReceivedPacketRow(
        packet_id=header.packet_id,
        kind=header.kind.value,
        sender=header.sender,
        purpose=header.purpose.value,
        subject=header.subject,
        consent_ref=header.consent_ref,
        sections=[s.value for s in header.sections],
        created_at=header.created_at,
        delete_by=header.delete_by,
        received_at=now,
        envelope_sha256=digest,
        status=ReceivedStatus.ACTIVE,
        withdrawn_sections=[],
        expired_sections=[],
        opened_count=0,
        receipt=answer,
    )
    session.add(row)
    session.flush()
    return row


def opened(row: ReceivedPacketRow) -> None:
    row.opened_count += 1


def note_withdrawn(row: ReceivedPacketRow, sections: Iterable[str]) -> None:
    row.withdrawn_sections = sorted({*row.withdrawn_sections, *sections})
    _settle(row, withdrawn=True)


def note_expired(row: ReceivedPacketRow, sections: Iterable[str]) -> None:
    row.expired_sections = sorted({*row.expired_sections, *sections})
    _settle(row, withdrawn=False)


def _settle(row: ReceivedPacketRow, *, withdrawn: bool) -> None:
    gone = set(row.withdrawn_sections) | set(row.expired_sections)
    if gone >= set(row.sections):
        row.status = ReceivedStatus.WITHDRAWN if withdrawn else ReceivedStatus.EXPIRED
    elif withdrawn:
        row.status = ReceivedStatus.PARTLY_WITHDRAWN


def declined(session: Session, row: ReceivedPacketRow) -> list[str]:
    """This node declined the referral: every section it held goes; the names of those that went."""
    held = [s.section for s in sections_of(session, row.packet_id)]
    delete_sections(session, row.packet_id, held)
    row.status = ReceivedStatus.DECLINED
    return sorted(held)


def forgettable(session: Session, created_before: datetime, limit: int) -> Sequence[str]:
    """Packets that hold nothing any more (every other kind than a referral holds nothing once
    applied), created before ``created_before``: their header facts can go."""
    emptied = or_(
        ReceivedPacketRow.kind != MessageKind.REFERRAL.value,
        ReceivedPacketRow.status.in_(
            (ReceivedStatus.EXPIRED, ReceivedStatus.WITHDRAWN, ReceivedStatus.DECLINED)
        ),
    )
    return session.scalars(
        select(ReceivedPacketRow.packet_id)
        .where(emptied, ReceivedPacketRow.created_at < created_before)
        .order_by(ReceivedPacketRow.created_at)
        .limit(limit)
    ).all()


def forget(session: Session, packet_ids: Collection[str]) -> None:
    if packet_ids:
        session.execute(
            delete(ReceivedPacketRow).where(ReceivedPacketRow.packet_id.in_(packet_ids))
        )


def received_without_entry(session: Session, logged: LoggedFor, limit: int) -> Sequence[str]:
    """Referrals received for which ``logged`` finds no access-log entry (reconciliation)."""
    return session.scalars(
        select(ReceivedPacketRow.packet_id)
        .where(
            ReceivedPacketRow.kind == MessageKind.REFERRAL.value,
            ~logged(ReceivedPacketRow.packet_id),
        )
        .limit(limit)
    ).all()


def openings_beyond(session: Session, counted: CountedFor, limit: int) -> Sequence[Any]:
    """Packets opened more often than ``counted`` finds openings logged: packet id, openings
    counted here, openings logged (reconciliation)."""
    logged = counted(ReceivedPacketRow.packet_id)
    return session.execute(
        select(ReceivedPacketRow.packet_id, ReceivedPacketRow.opened_count, logged)
        .where(and_(ReceivedPacketRow.opened_count > 0, logged < ReceivedPacketRow.opened_count))
        .limit(limit)
    ).all()


# -- sections -------------------------------------------------------------------------------------


def add_section(
    session: Session, *, packet_id: str, section: str, sealed: bytes, delete_by: datetime
) -> None:
    session.add(
        ReceivedSectionRow(packet_id=packet_id, section=section, sealed=sealed, delete_by=delete_by)
    )


def section(session: Session, packet_id: str, name: str) -> ReceivedSectionRow | None:
    return session.get(ReceivedSectionRow, (packet_id, name))


def replace_section(session: Session, packet_id: str, name: str, sealed: bytes) -> bool:
    """New sealed content for a section still held; False if it is not held (any more)."""
    row = session.get(ReceivedSectionRow, (packet_id, name))
    if row is None:
        return False
    row.sealed = sealed
    return True


def sections_of(session: Session, packet_id: str) -> Sequence[ReceivedSectionRow]:
    return session.scalars(
        select(ReceivedSectionRow).where(ReceivedSectionRow.packet_id == packet_id)
    ).all()


def delete_sections(session: Session, packet_id: str, names: Collection[str]) -> None:
    session.execute(
        delete(ReceivedSectionRow).where(
            ReceivedSectionRow.packet_id == packet_id, ReceivedSectionRow.section.in_(names)
        )
    )


def move_section_dates(
    session: Session, packet: ReceivedPacketRow, dates: dict[str, datetime], now: datetime
) -> list[str]:
    """Give sections still held their new delete-by dates; the sections whose date moved. A
    date already passed stays (what is due for deletion is never revived)."""
    held = sections_of(session, packet.packet_id)
    moved = []
    for row in held:
        new = dates.get(row.section)
        if new is not None and new != row.delete_by and row.delete_by > now:
            row.delete_by = new
            moved.append(row.section)
    if moved:
        packet.delete_by = max(s.delete_by for s in held)
    return moved


def sections_due(
    session: Session,
    now: datetime,
    limit: int,
    *,
    held_subjects: Collection[str],
    held_packets: Collection[str],
) -> Sequence[tuple[ReceivedSectionRow, ReceivedPacketRow]]:
    """Sections past their date, none under a legal hold, with their packets; oldest first."""
    query = (
        select(ReceivedSectionRow, ReceivedPacketRow)
        .join(ReceivedPacketRow, ReceivedPacketRow.packet_id == ReceivedSectionRow.packet_id)
        .where(ReceivedSectionRow.delete_by <= now)
        .order_by(ReceivedSectionRow.delete_by)
        .limit(limit)
    )
    if held_subjects:
        query = query.where(ReceivedPacketRow.subject.not_in(held_subjects))
    if held_packets:
        query = query.where(ReceivedPacketRow.packet_id.not_in(held_packets))
    return [(s, p) for s, p in session.execute(query).all()]


def delete_section(session: Session, row: ReceivedSectionRow) -> None:
    session.delete(row)


def subjects_holding(session: Session, subjects: Collection[str]) -> set[str]:
    """Of these people, those of whom some section is still held here."""
    return set(
        session.scalars(
            select(ReceivedPacketRow.subject)
            .join(ReceivedSectionRow, ReceivedSectionRow.packet_id == ReceivedPacketRow.packet_id)
            .where(ReceivedPacketRow.subject.in_(subjects))
            .distinct()
        )
    )


def deletions_before(session: Session, until: datetime, limit: int) -> Sequence[datetime]:
    """When each held section is due for deletion, if before ``until``."""
    return session.scalars(
        select(ReceivedSectionRow.delete_by)
        .where(ReceivedSectionRow.delete_by < until)
        .limit(limit)
    ).all()


def overdue_columns(session: Session, now: datetime, limit: int) -> Sequence[Any]:
    """Sections past their date still held (a hold, or a purge not yet run), as named columns."""
    return session.execute(
        select(
            ReceivedSectionRow.packet_id,
            ReceivedSectionRow.section,
            ReceivedSectionRow.delete_by,
            ReceivedPacketRow.sender,
            ReceivedPacketRow.purpose,
            ReceivedPacketRow.subject,
        )
        .join(ReceivedPacketRow, ReceivedPacketRow.packet_id == ReceivedSectionRow.packet_id)
        .where(ReceivedSectionRow.delete_by <= now)
        .order_by(
            ReceivedSectionRow.delete_by, ReceivedSectionRow.packet_id, ReceivedSectionRow.section
        )
        .limit(limit)
    ).all()
