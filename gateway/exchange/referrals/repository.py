"""Every query on the referrals this node sent, and every change to them.

Reads for staff are scoped to the caller's office (``in_office``, ``of_case`` after the case's
own office check); reads for reports select named columns only, so the sealed content is not
even read from the database. Other domains change a referral only through these functions.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from gateway.exchange.referrals.models import ReferralRow
from schemas.common import ReferralStatus

#: Referral states whose recipient holds, or will hold, the packet.
LIVE = (ReferralStatus.QUEUED, ReferralStatus.DELIVERED)
#: Rows per page where a caller reads every referral.
PAGE = 10_000

#: Whether the access log holds an entry for the packet in a column (built by the access log).
LoggedFor = Callable[[InstrumentedAttribute[str]], ColumnElement[bool]]


# -- reads ------------------------------------------------------------------------------------------


def in_office(session: Session, referral_id: str, office: str) -> ReferralRow | None:
    """The referral if the caller's office sent it; None for any other (ids cannot be probed)."""
    return session.scalar(
        select(ReferralRow).where(ReferralRow.id == referral_id, ReferralRow.office == office)
    )


def of_case(session: Session, case_id: str) -> Sequence[ReferralRow]:
    """The case's referrals, oldest first (the caller has checked the case is its office's)."""
    return session.scalars(
        select(ReferralRow).where(ReferralRow.case_id == case_id).order_by(ReferralRow.created_at)
    ).all()


def by_id(session: Session, referral_id: str) -> ReferralRow | None:
    return session.get(ReferralRow, referral_id)


def by_packet_ids(session: Session, packet_ids: Collection[str]) -> Sequence[ReferralRow]:
    return session.scalars(
        select(ReferralRow).where(ReferralRow.packet_id.in_(set(packet_ids)))
    ).all()


def sent_to(session: Session, packet_ids: Collection[str], recipient: str) -> Sequence[ReferralRow]:
    """Of these packets, those this node sent to ``recipient``: what a message from it may name."""
    return session.scalars(
        select(ReferralRow).where(
            ReferralRow.packet_id.in_(set(packet_ids)), ReferralRow.recipient == recipient
        )
    ).all()


def past_date_unproven(session: Session, now: datetime, limit: int) -> Sequence[ReferralRow]:
    """Delivered packets past their date whose deletion is not proven yet, oldest first."""
    return session.scalars(
        select(ReferralRow)
        .where(
            ReferralRow.status == ReferralStatus.DELIVERED,
            ReferralRow.delete_by <= now,
            ReferralRow.deletion_proven_at.is_(None),
        )
        .order_by(ReferralRow.delete_by, ReferralRow.id)
        .limit(limit)
    ).all()


def lock_unproven(session: Session, packet_ids: Collection[str]) -> Sequence[ReferralRow]:
    """These packets' referrals not yet proven deleted, locked until the transaction ends.

    Two answers about one packet may be confirmed at once (the worker delivers in parallel):
    the lock makes the second wait for the first to commit, and then see the first's answer.
    (SQLite has one writer at a time and needs no lock.)
    """
    return session.scalars(
        select(ReferralRow)
        .where(ReferralRow.packet_id.in_(set(packet_ids)), ReferralRow.deletion_proven_at.is_(None))
        .with_for_update()
    ).all()


def due_for_purge(
    session: Session,
    now: datetime,
    limit: int,
    *,
    held_subjects: Collection[str],
    held_packets: Collection[str],
) -> Sequence[ReferralRow]:
    """Referrals with a section past its date here, none under a legal hold, oldest date first."""
    query = (
        select(ReferralRow)
        .where(ReferralRow.next_delete_at.is_not(None), ReferralRow.next_delete_at <= now)
        .order_by(ReferralRow.next_delete_at)
        .limit(limit)
    )
    if held_subjects:
        query = query.where(ReferralRow.case_id.not_in(held_subjects))
    if held_packets:
        query = query.where(ReferralRow.packet_id.not_in(held_packets))
    return session.scalars(query).all()


def next_deletions_before(
    session: Session, until: datetime, limit: int
) -> Sequence[datetime | None]:
    """When each referral's next section is due for deletion here, if before ``until``."""
    return session.scalars(
        select(ReferralRow.next_delete_at)
        .where(ReferralRow.next_delete_at.is_not(None), ReferralRow.next_delete_at < until)
        .limit(limit)
    ).all()


def delivered_columns(session: Session) -> Iterator[Any]:
    """Every delivered referral's id, recipient, purpose, ground, time and section names, page by
    page: what a register of transfers needs, without the sealed content."""
    last = ""
    while True:
        page = session.execute(
            select(
                ReferralRow.id,
                ReferralRow.recipient,
                ReferralRow.purpose,
                ReferralRow.transfer_ground,
                ReferralRow.created_at,
                ReferralRow.sent_sections,
                ReferralRow.withdrawn_sections,
                ReferralRow.expired_sections,
            )
            .where(ReferralRow.status == ReferralStatus.DELIVERED, ReferralRow.id > last)
            .order_by(ReferralRow.id)
            .limit(PAGE)
        ).all()
        yield from page
        if len(page) < PAGE:
            return
        last = page[-1].id


def overdue_columns(session: Session, now: datetime, limit: int) -> Sequence[Any]:
    """``past_date_unproven`` as named columns, for reports."""
    return session.execute(
        select(
            ReferralRow.packet_id,
            ReferralRow.case_id,
            ReferralRow.recipient,
            ReferralRow.purpose,
            ReferralRow.delete_by,
            ReferralRow.section_delete_by,
        )
        .where(
            ReferralRow.status == ReferralStatus.DELIVERED,
            ReferralRow.delete_by <= now,
            ReferralRow.deletion_proven_at.is_(None),
        )
        .order_by(ReferralRow.delete_by, ReferralRow.id)
        .limit(limit)
    ).all()


def resting_on(session: Session, consent_ids: Collection[str], limit: int) -> list[Any]:
    """Referrals whose decision rested on any of these consents, as named columns, by id."""
    wanted = set(consent_ids)
    found: list[Any] = []
    last = ""
    while len(found) < limit:
        page = session.execute(
            select(
                ReferralRow.id,
                ReferralRow.packet_id,
                ReferralRow.created_at,
                ReferralRow.recipient,
                ReferralRow.purpose,
                ReferralRow.status,
                ReferralRow.status_reason,
                ReferralRow.consent_ids,
            )
            .where(ReferralRow.id > last)
            .order_by(ReferralRow.id)
            .limit(PAGE)
        ).all()
        found.extend(row for row in page if wanted.intersection(row.consent_ids))
        if len(page) < PAGE:
            break
        last = page[-1].id
    return found[:limit]


def register(session: Session) -> Sequence[ReferralRow]:
    """Every referral, oldest first (the DPO's register of transfers)."""
    return session.scalars(
        select(ReferralRow).order_by(ReferralRow.created_at, ReferralRow.id)
    ).all()


def sealed_without_entry(session: Session, logged: LoggedFor, limit: int) -> Sequence[str]:
    """Packet ids of referrals that were sealed (one held for approval is sealed only once
    approved) for which ``logged`` finds no access-log entry: for reconciliation."""
    sealed = ReferralRow.submitted_at.is_(None) | ReferralRow.approved_by.is_not(None)
    return session.scalars(
        select(ReferralRow.packet_id).where(sealed, ~logged(ReferralRow.packet_id)).limit(limit)
    ).all()


# -- changes -------------------------------------------------------------------------------------


def add(session: Session, referral: ReferralRow) -> None:
    session.add(referral)
    session.flush()


def set_status(referral: ReferralRow, status: ReferralStatus, reason: str | None = None) -> None:
    referral.status = status
    if reason is not None:
        referral.status_reason = reason


def cancel(referral: ReferralRow, reason: str) -> None:
    """It will never be sent: a withdrawal, or a protection rule at delivery."""
    set_status(referral, ReferralStatus.CANCELLED, reason)


def approve(referral: ReferralRow, *, by: str, at: datetime) -> None:
    """A second staff member approved it: it is sealed and queued now, so it counts from now."""
    referral.created_at, referral.approved_by = at, by
    set_status(referral, ReferralStatus.QUEUED)


def note_withdrawn(referral: ReferralRow, sections: Iterable[str]) -> None:
    referral.withdrawn_sections = sorted({*referral.withdrawn_sections, *sections})


def note_expired(referral: ReferralRow, sections: Iterable[str], now: datetime) -> None:
    """Sections deleted here at their date; the next date is that of a section still held."""
    referral.expired_sections = sorted({*referral.expired_sections, *sections})
    later = [d for s, d in dates(referral).items() if d > now and s in referral.sent_sections]
    referral.next_delete_at = min(later) if later else None


def set_dates(referral: ReferralRow, section_dates: dict[str, datetime]) -> None:
    """Each section's delete-by date (as in the signed header), and what follows from them."""
    referral.section_delete_by = {s: d.isoformat() for s, d in section_dates.items()}
    referral.delete_by = max(section_dates.values())
    held = [d for s, d in section_dates.items() if s in referral.sent_sections]
    referral.next_delete_at = min(held) if held else None


def dates(referral: ReferralRow) -> dict[str, datetime]:
    return {s: datetime.fromisoformat(d) for s, d in referral.section_delete_by.items()}


def proven_deleted(referral: ReferralRow, now: datetime) -> None:
    referral.deletion_proven_at = now
