"""Every query on the bundles written and taken and on the answers owed to peers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from gateway.exchange.bundles.models import BundleDirection, BundleRow, OwedAnswerRow
from schemas.envelope import BundleHeader, CarriedAnswer, SignedDocument


def by_id(session: Session, bundle_id: str) -> BundleRow | None:
    return session.get(BundleRow, bundle_id)


def last(session: Session, direction: BundleDirection, peer: str) -> BundleRow | None:
    """The bundle of the highest sequence written for, or taken from, ``peer``."""
    return session.scalar(
        select(BundleRow)
        .where(BundleRow.direction == direction, BundleRow.peer == peer)
        .order_by(BundleRow.sequence.desc())
        .limit(1)
    )


def next_sequence(session: Session, peer: str) -> int:
    highest = session.scalar(
        select(func.max(BundleRow.sequence)).where(
            BundleRow.direction == BundleDirection.WRITTEN, BundleRow.peer == peer
        )
    )
    return int(highest or 0) + 1


def add(session: Session, header: BundleHeader, direction: BundleDirection, now: datetime) -> None:
    session.add(
        BundleRow(
            bundle_id=header.bundle_id,
            direction=direction,
            peer=header.recipient if direction is BundleDirection.WRITTEN else header.sender,
            sequence=header.sequence,
            created_at=header.created_at,
            recorded_at=now,
            envelopes=header.envelopes,
            answers=header.answers,
        )
    )
    # The unique (direction, peer, sequence) is checked now, inside the caller's transaction.
    session.flush()


def owe(session: Session, peer: str, answers: Sequence[CarriedAnswer], now: datetime) -> None:
    """Keep our answers to a peer's envelopes until the next bundle written for it (an answer
    owed twice for one packet is the same stored answer: kept once)."""
    for item in answers:
        row = session.get(OwedAnswerRow, (peer, item.packet_id))
        answer = item.answer.model_dump(mode="json") if item.answer is not None else None
        if row is None:
            session.add(
                OwedAnswerRow(
                    peer=peer,
                    packet_id=item.packet_id,
                    envelope_sha256=item.envelope_sha256,
                    answer=answer,
                    owed_since=now,
                )
            )
        else:
            row.envelope_sha256, row.answer = item.envelope_sha256, answer


def take_owed(session: Session, peer: str, limit: int) -> list[CarriedAnswer]:
    """The answers owed to ``peer``, oldest first, removed: they travel in the bundle now."""
    rows = session.scalars(
        select(OwedAnswerRow)
        .where(OwedAnswerRow.peer == peer)
        .order_by(OwedAnswerRow.owed_since, OwedAnswerRow.packet_id)
        .limit(limit)
    ).all()
    answers = [
        CarriedAnswer(
            packet_id=row.packet_id,
            envelope_sha256=row.envelope_sha256,
            answer=SignedDocument.model_validate(row.answer) if row.answer is not None else None,
        )
        for row in rows
    ]
    if rows:
        session.execute(
            delete(OwedAnswerRow).where(
                OwedAnswerRow.peer == peer,
                OwedAnswerRow.packet_id.in_([row.packet_id for row in rows]),
            )
        )
    return answers


def owed_counts(session: Session) -> dict[str, int]:
    """How many answers wait to travel back to each peer."""
    rows = session.execute(
        select(OwedAnswerRow.peer, func.count()).group_by(OwedAnswerRow.peer)
    ).all()
    return {peer: int(count) for peer, count in rows}


def recent(session: Session, limit: int = 50) -> Sequence[BundleRow]:
    return session.scalars(
        select(BundleRow).order_by(BundleRow.recorded_at.desc()).limit(limit)
    ).all()
