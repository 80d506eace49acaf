"""Every query on the outbox, its attempts and its delivery receipts, and every change to them.

Other domains act on the outbox only through these functions (``stop_for_referral`` when consent
is withdrawn, ``for_referral`` to show a referral's attempts), never by setting a column.

Invariants:
- a row is claimed with a lease (``claim_due``, one statement for every row a worker takes):
  workers on one PostgreSQL never post the same row at once; an expired lease lets the next
  worker take the row again;
- a finished row (delivered, dead-lettered, cancelled) keeps only the digest of its envelope;
- every attempt is a row of its own, with a short outcome word and never content.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from gateway.exchange.outbox.models import (
    DeliveryAttemptRow,
    DeliveryReceiptRow,
    OutboxRow,
    OutboxStatus,
)
from schemas.envelope import DeliveryReceipt, SignedDocument

#: Attempt outcomes that mean nothing went out.
NOT_SENT = frozenset({"past_deadline", "no_directory_entry"})


def claim_due(
    session: Session,
    *,
    token: str,
    now: datetime,
    until: datetime,
    limit: int,
    pickup_by: str | None = None,
) -> list[tuple[int, str, str]]:
    """Claim up to ``limit`` due rows in one statement: (id, recipient, kind) of each, oldest due
    first. Rows to push by default; given ``pickup_by``, the rows waiting for that member to
    pick them up.

    ``WITH due AS MATERIALIZED (SELECT ... FOR UPDATE SKIP LOCKED LIMIT n) UPDATE ... WHERE id IN
    (SELECT id FROM due) RETURNING``: on PostgreSQL, concurrent workers lock and take disjoint
    rows; on SQLite the statement runs under the database's one write lock. The rows to take are
    chosen once, in the materialised CTE: a ``LIMIT ... SKIP LOCKED`` subquery written straight
    into ``IN (...)`` may be run again by PostgreSQL's planner and take more rows than the limit.
    The lease conditions are repeated on the update itself, so a row another worker claimed
    meanwhile is never taken twice.
    """
    free = or_(OutboxRow.claimed_until.is_(None), OutboxRow.claimed_until < now)
    route = (
        OutboxRow.pickup_since.is_(None)
        if pickup_by is None
        else (OutboxRow.recipient == pickup_by) & OutboxRow.pickup_since.is_not(None)
    )
    due = (
        select(OutboxRow.id)
        .where(
            OutboxRow.status == OutboxStatus.PENDING, OutboxRow.next_attempt_at <= now, free, route
        )
        .order_by(OutboxRow.next_attempt_at, OutboxRow.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("due")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    rows = session.execute(
        update(OutboxRow)
        .where(OutboxRow.id.in_(select(due.c.id)), OutboxRow.status == OutboxStatus.PENDING, free)
        .values(claimed_until=until, claim_token=token)
        .returning(OutboxRow.id, OutboxRow.recipient, OutboxRow.kind, OutboxRow.next_attempt_at)
        .execution_options(synchronize_session=False)
    ).all()
    ordered = sorted(rows, key=lambda r: (r.next_attempt_at, r.id))
    return [(r.id, r.recipient, r.kind) for r in ordered]


def more_for_pickup(session: Session, recipient: str, now: datetime) -> bool:
    """Whether rows still wait for ``recipient`` to pick them up, due and not held by a claim."""
    free = or_(OutboxRow.claimed_until.is_(None), OutboxRow.claimed_until < now)
    return (
        session.scalar(
            select(OutboxRow.id)
            .where(
                OutboxRow.recipient == recipient,
                OutboxRow.pickup_since.is_not(None),
                OutboxRow.status == OutboxStatus.PENDING,
                OutboxRow.next_attempt_at <= now,
                free,
            )
            .limit(1)
        )
        is not None
    )


def wait_for_pickup(row: OutboxRow, now: datetime) -> None:
    """The recipient picks its envelopes up: the row waits for it (since the first time), due."""
    row.pickup_since = row.pickup_since or now
    row.next_attempt_at, row.claimed_until, row.claim_token = now, None, None


def pickup_past_deadline(session: Session, now: datetime, limit: int) -> Sequence[OutboxRow]:
    """Rows nobody picked up before their deadline, not held by a claim."""
    free = or_(OutboxRow.claimed_until.is_(None), OutboxRow.claimed_until < now)
    return session.scalars(
        select(OutboxRow)
        .where(
            OutboxRow.status == OutboxStatus.PENDING,
            OutboxRow.pickup_since.is_not(None),
            OutboxRow.deliver_by <= now,
            free,
        )
        .order_by(OutboxRow.id)
        .limit(limit)
    ).all()


def pickup_recipients(session: Session) -> Sequence[str]:
    """Members that rows wait for to pick them up."""
    return session.scalars(
        select(OutboxRow.recipient)
        .where(OutboxRow.status == OutboxStatus.PENDING, OutboxRow.pickup_since.is_not(None))
        .distinct()
    ).all()


def push_again(session: Session, recipient: str) -> None:
    """The member is reached by push again: its waiting rows go back to the delivery worker."""
    session.execute(
        update(OutboxRow)
        .where(
            OutboxRow.recipient == recipient,
            OutboxRow.status == OutboxStatus.PENDING,
            OutboxRow.pickup_since.is_not(None),
        )
        .values(pickup_since=None)
        .execution_options(synchronize_session=False)
    )


def pending_to(session: Session, recipient: str, limit: int) -> Sequence[OutboxRow]:
    """Rows still waiting to reach ``recipient``, however they travel: those never written
    into a bundle first, oldest first, then those written into one longest ago (so a bundle
    that cannot hold everything never keeps the newer rows waiting behind the older)."""
    return session.scalars(
        select(OutboxRow)
        .where(OutboxRow.recipient == recipient, OutboxRow.status == OutboxStatus.PENDING)
        .order_by(
            OutboxRow.bundled_at.is_not(None),
            OutboxRow.bundled_at,
            OutboxRow.created_at,
            OutboxRow.id,
        )
        .limit(limit)
    ).all()


def pending_packets(
    session: Session, recipient: str, packet_ids: Sequence[str]
) -> dict[str, OutboxRow]:
    """Of these packets, those still waiting to reach ``recipient``, by packet id."""
    rows = session.scalars(
        select(OutboxRow).where(
            OutboxRow.packet_id.in_(packet_ids),
            OutboxRow.recipient == recipient,
            OutboxRow.status == OutboxStatus.PENDING,
        )
    ).all()
    return {row.packet_id: row for row in rows}


def bundled(row: OutboxRow, now: datetime) -> None:
    """Written into a hand-carried bundle: it may now arrive whenever the bundle does."""
    row.bundled_at = now


def waiting(session: Session) -> Sequence[tuple[str, int, int, int, datetime]]:
    """Per recipient with envelopes still to reach it: (recipient, how many, of which waiting
    for pickup, of which in a bundle, since when the oldest waits)."""
    rows = session.execute(
        select(
            OutboxRow.recipient,
            func.count(),
            func.count(OutboxRow.pickup_since),
            func.count(OutboxRow.bundled_at),
            func.min(OutboxRow.created_at),
        )
        .where(OutboxRow.status == OutboxStatus.PENDING)
        .group_by(OutboxRow.recipient)
        .order_by(OutboxRow.recipient)
    ).all()
    return [(r[0], int(r[1]), int(r[2]), int(r[3]), r[4]) for r in rows]


def claimed_rows(session: Session, ids: Sequence[int], token: str) -> Sequence[OutboxRow]:
    """Of these rows, those the claim ``token`` still holds, in one query, by id."""
    return session.scalars(
        select(OutboxRow)
        .where(OutboxRow.id.in_(ids), OutboxRow.claim_token == token)
        .order_by(OutboxRow.id)
    ).all()


def pending_rows(session: Session, ids: Sequence[int]) -> dict[int, OutboxRow]:
    """Of these rows, those still waiting to be delivered, by id, in one query."""
    rows = session.scalars(
        select(OutboxRow).where(OutboxRow.id.in_(ids), OutboxRow.status == OutboxStatus.PENDING)
    ).all()
    return {row.id: row for row in rows}


def claimed(session: Session, outbox_id: int, token: str) -> OutboxRow | None:
    """The row, if the claim ``token`` still holds it (it may have been cancelled meanwhile)."""
    row = session.get(OutboxRow, outbox_id)
    if row is None or row.claim_token != token:
        return None
    return row


def pending(session: Session, outbox_id: int, token: str | None = None) -> OutboxRow | None:
    """The row if it still waits to be delivered (and, given a ``token``, this claim holds it).

    Locked for the rest of the transaction, before anything else of its referral is written: a
    withdrawal deciding about the same row (``stop_for_referral``) locks it first too, so the
    two wait for each other instead of overwriting each other's decision."""
    row = session.get(OutboxRow, outbox_id, with_for_update=True)
    if row is None or row.status != OutboxStatus.PENDING:
        return None
    if token is not None and row.claim_token != token:
        return None
    return row


def went_out(session: Session, outbox_id: int) -> bool:
    """Whether any earlier attempt actually reached for the recipient."""
    return (
        session.scalar(
            select(DeliveryAttemptRow.id)
            .where(
                DeliveryAttemptRow.outbox_id == outbox_id,
                DeliveryAttemptRow.outcome.not_in(NOT_SENT),
            )
            .limit(1)
        )
        is not None
    )


def attempt(session: Session, row: OutboxRow, *, at: datetime, outcome: str) -> None:
    row.attempts += 1
    session.add(DeliveryAttemptRow(outbox_id=row.id, attempted_at=at, outcome=outcome))


def delivered(session: Session, row: OutboxRow, *, attempted_at: datetime, done: datetime) -> None:
    row.status, row.finished_at, row.claimed_until = OutboxStatus.DELIVERED, done, None
    # Nothing needs the sealed copy any more; keep only its digest.
    row.envelope = ""
    attempt(session, row, at=attempted_at, outcome="delivered")


def retry_at(row: OutboxRow, when: datetime) -> None:
    row.next_attempt_at, row.claimed_until, row.claim_token = when, None, None


def dead_letter(session: Session, row: OutboxRow, now: datetime) -> None:
    row.status, row.finished_at, row.claimed_until = OutboxStatus.DEAD_LETTERED, now, None
    row.envelope = ""
    session.add(DeliveryAttemptRow(outbox_id=row.id, attempted_at=now, outcome="dead_lettered"))


def cancel(row: OutboxRow, *, reason: str, now: datetime) -> None:
    """Never send it; ``reason`` names the rule or the withdrawal that stopped it."""
    row.status, row.finished_at, row.claimed_until = OutboxStatus.CANCELLED, now, None
    row.envelope, row.cancel_reason = "", reason


def digest_of(session: Session, packet_id: str) -> str:
    """The digest of an envelope queued in this transaction or before."""
    digest = session.scalar(
        select(OutboxRow.envelope_sha256).where(OutboxRow.packet_id == packet_id)
    )
    if digest is None:
        raise LookupError(f"no envelope {packet_id} in the outbox")
    return digest


def for_referral(session: Session, referral_id: str) -> OutboxRow | None:
    return session.scalar(select(OutboxRow).where(OutboxRow.referral_id == referral_id))


def stop_for_referral(session: Session, referral_id: str, *, reason: str, now: datetime) -> bool:
    """Stop a referral's envelope that still waits; True if it may have reached its recipient.

    Never sent, it is cancelled and its sealed copy dropped. Otherwise it is marked cancelled
    so no retry follows, and the caller must assume it arrived (or may still arrive): a worker
    holds it (claimed), or held it and died before recording what came of it (a claim never
    released, whether or not its lease is over); an earlier attempt reached for the recipient
    and its answer was lost (a post, or a pickup member that fetched it); or it was written
    into a bundle someone may be carrying.
    """
    # Locked: a worker claiming it meanwhile either waits for this decision (and finds it
    # cancelled) or has claimed it already (and this sees the claim), never neither.
    row = session.scalar(
        select(OutboxRow).where(OutboxRow.referral_id == referral_id).with_for_update()
    )
    if row is None or row.status != OutboxStatus.PENDING:
        return False
    # A claim whose lease is over proves nothing: its worker may have posted, then died.
    in_flight = (
        row.claimed_until is not None or row.bundled_at is not None or went_out(session, row.id)
    )
    row.status, row.finished_at, row.cancel_reason = OutboxStatus.CANCELLED, now, reason
    if not in_flight:
        row.envelope = ""
    return in_flight


def attempts_of(session: Session, outbox_id: int) -> Sequence[DeliveryAttemptRow]:
    return session.scalars(
        select(DeliveryAttemptRow)
        .where(DeliveryAttemptRow.outbox_id == outbox_id)
        .order_by(DeliveryAttemptRow.id)
    ).all()


def receipt_of(session: Session, packet_id: str) -> DeliveryReceiptRow | None:
    return session.get(DeliveryReceiptRow, packet_id)


def keep_receipt(
    session: Session,
    row: OutboxRow,
    receipt: DeliveryReceipt,
    document: SignedDocument,
    verified_at: datetime,
) -> None:
    """Keep the recipient's verified receipt exactly as it came, once."""
    if session.get(DeliveryReceiptRow, row.packet_id) is not None:
        return
    session.add(
        DeliveryReceiptRow(
            packet_id=row.packet_id,
            outbox_id=row.id,
            received_at=receipt.received_at,
            verified_at=verified_at,
            envelope_sha256=receipt.envelope_sha256,
            document=document.model_dump(mode="json"),
        )
    )


def referral_receipts_without_entry(
    session: Session,
    logged: Callable[[InstrumentedAttribute[str]], ColumnElement[bool]],
    limit: int,
) -> Sequence[str]:
    """Packets of referrals with a verified receipt for which ``logged`` finds no access-log
    entry (reconciliation)."""
    return session.scalars(
        select(DeliveryReceiptRow.packet_id)
        .join(OutboxRow, OutboxRow.id == DeliveryReceiptRow.outbox_id)
        .where(OutboxRow.referral_id.is_not(None), ~logged(DeliveryReceiptRow.packet_id))
        .limit(limit)
    ).all()


def depth(session: Session) -> Sequence[tuple[str, str, int]]:
    """(status, kind, how many) of the rows still in the queue or given up: pending and
    dead-lettered (delivered and cancelled rows are history, counted by the workers)."""
    rows = session.execute(
        select(OutboxRow.status, OutboxRow.kind, func.count())
        .where(OutboxRow.status.in_([OutboxStatus.PENDING, OutboxStatus.DEAD_LETTERED]))
        .group_by(OutboxRow.status, OutboxRow.kind)
    ).all()
    return [(str(status), str(kind), int(count)) for status, kind, count in rows]


def oldest_due(session: Session, now: datetime) -> datetime | None:
    """When the longest-waiting pending row fell due, if any is due now."""
    return session.scalar(
        select(func.min(OutboxRow.next_attempt_at)).where(
            OutboxRow.status == OutboxStatus.PENDING, OutboxRow.next_attempt_at <= now
        )
    )
