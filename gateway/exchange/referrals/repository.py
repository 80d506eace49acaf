"""Queries on referrals, the outbox, attempts and receipts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from gateway.exchange.referrals.models import DeliveryAttemptRow, OutboxRow, ReceiptRow, ReferralRow

PENDING, DELIVERED, DEAD, CANCELLED = "pending", "delivered", "dead_lettered", "cancelled"
#: A referral about one of the gravest cases, decided but not sealed until a second approval.
AWAITING_APPROVAL = "awaiting_approval"


def referral_in_office(session: Session, referral_id: str, office: str) -> ReferralRow | None:
    return session.scalar(
        select(ReferralRow).where(ReferralRow.id == referral_id, ReferralRow.office == office)
    )


def referrals_of_case(session: Session, case_id: str) -> Sequence[ReferralRow]:
    return session.scalars(
        select(ReferralRow).where(ReferralRow.case_id == case_id).order_by(ReferralRow.created_at)
    ).all()


def outbox_of(session: Session, referral_id: str) -> OutboxRow | None:
    return session.scalar(select(OutboxRow).where(OutboxRow.referral_id == referral_id))


def attempts_of(session: Session, outbox_id: int) -> Sequence[DeliveryAttemptRow]:
    return session.scalars(
        select(DeliveryAttemptRow)
        .where(DeliveryAttemptRow.outbox_id == outbox_id)
        .order_by(DeliveryAttemptRow.id)
    ).all()


def receipt_of(session: Session, packet_id: str) -> ReceiptRow | None:
    return session.get(ReceiptRow, packet_id)


def due_outbox_ids(session: Session, now: datetime, limit: int) -> Sequence[int]:
    """Ids of pending rows whose time has come and that no live worker holds.

    On PostgreSQL the rows are locked with SKIP LOCKED so concurrent workers pick disjoint sets;
    the claim itself is the conditional update in ``claim``, which is what makes it safe on SQLite.
    """
    return session.scalars(
        select(OutboxRow.id)
        .where(
            OutboxRow.status == PENDING,
            OutboxRow.next_attempt_at <= now,
            or_(OutboxRow.claimed_until.is_(None), OutboxRow.claimed_until < now),
        )
        .order_by(OutboxRow.next_attempt_at, OutboxRow.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()


def claim(session: Session, outbox_id: int, *, token: str, now: datetime, until: datetime) -> bool:
    result = session.execute(
        update(OutboxRow)
        .where(
            OutboxRow.id == outbox_id,
            OutboxRow.status == PENDING,
            or_(OutboxRow.claimed_until.is_(None), OutboxRow.claimed_until < now),
        )
        .values(claimed_until=until, claim_token=token)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
