"""Every query on a referral's follow-up, and every change to it.

Content is sealed and opened here (at rest, under the person's key, bound to the row's id), so
no other module handles the sealed bytes. A person already erased on this node gets nothing
stored: their key is never created again.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.exchange.followup.models import FollowUpRow
from gateway.kit.at_rest import PersonErased, open_json, seal_json
from gateway.kit.node import Node
from schemas.envelope import MessageKind

SENT, RECEIVED = "sent", "received"
_CONTEXT = "follow_up"


@dataclass(frozen=True)
class FollowUp:
    """A row and its content, opened."""

    row: FollowUpRow
    content: dict[str, Any]


def add(
    session: Session,
    node: Node,
    *,
    message_id: str,
    direction: str,
    kind: MessageKind,
    referral_packet_id: str,
    subject_ref: str,
    counterpart: str,
    detail: str | None,
    occurred_at: datetime,
    content: dict[str, Any],
    envelope_sha256: str,
    delete_by: datetime,
    now: datetime,
    needs_more_assistance: bool = False,
) -> FollowUpRow | None:
    """Keep a message of the follow-up; None (nothing kept) if the person was erased here."""
    if node.keys.existing_key(subject_ref) is None:
        return None
    row = FollowUpRow(
        id=message_id,
        direction=direction,
        kind=kind.value,
        referral_packet_id=referral_packet_id,
        subject_ref=subject_ref,
        counterpart=counterpart,
        detail=detail,
        occurred_at=occurred_at,
        recorded_at=now,
        sealed=seal_json(node.keys, subject_ref, content, context=f"{_CONTEXT}/{message_id}"),
        envelope_sha256=envelope_sha256,
        delete_by=delete_by,
        needs_more_assistance=needs_more_assistance,
    )
    session.add(row)
    return row


def opened(node: Node, row: FollowUpRow) -> dict[str, Any] | None:
    """The row's content, or None if the person was erased."""
    try:
        value: dict[str, Any] = open_json(
            node.keys, row.subject_ref, row.sealed, context=f"{_CONTEXT}/{row.id}"
        )
    except PersonErased:
        return None
    return value


def of_referrals(session: Session, packet_ids: Collection[str]) -> Sequence[FollowUpRow]:
    """The follow-up of these referrals, in the order things happened."""
    return session.scalars(
        select(FollowUpRow)
        .where(FollowUpRow.referral_packet_id.in_(set(packet_ids)))
        .order_by(FollowUpRow.occurred_at, FollowUpRow.recorded_at, FollowUpRow.id)
    ).all()


def last_reply(session: Session, referral_packet_id: str) -> FollowUpRow | None:
    return session.scalar(
        select(FollowUpRow)
        .where(
            FollowUpRow.referral_packet_id == referral_packet_id,
            FollowUpRow.kind == MessageKind.REPLY.value,
        )
        .order_by(FollowUpRow.occurred_at.desc(), FollowUpRow.recorded_at.desc())
        .limit(1)
    )


def count(session: Session, referral_packet_id: str, kind: MessageKind, direction: str) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(FollowUpRow)
            .where(
                FollowUpRow.referral_packet_id == referral_packet_id,
                FollowUpRow.kind == kind.value,
                FollowUpRow.direction == direction,
            )
        )
        or 0
    )


def flagged(session: Session, limit: int) -> Sequence[FollowUpRow]:
    """Monitoring rounds taken here whose scores call for more assistance, newest first."""
    return session.scalars(
        select(FollowUpRow)
        .where(FollowUpRow.needs_more_assistance.is_(True), FollowUpRow.direction == SENT)
        .order_by(FollowUpRow.occurred_at.desc())
        .limit(limit)
    ).all()


def received_monitoring(session: Session, limit: int) -> Sequence[FollowUpRow]:
    """Every monitoring round received (a host's statistics)."""
    return session.scalars(
        select(FollowUpRow)
        .where(FollowUpRow.kind == MessageKind.MONITORING.value, FollowUpRow.direction == RECEIVED)
        .order_by(FollowUpRow.id)
        .limit(limit)
    ).all()


def due_for_purge(
    session: Session, now: datetime, limit: int, *, held_subjects: Collection[str]
) -> Sequence[FollowUpRow]:
    query = (
        select(FollowUpRow)
        .where(FollowUpRow.delete_by <= now)
        .order_by(FollowUpRow.delete_by)
        .limit(limit)
    )
    if held_subjects:
        query = query.where(FollowUpRow.subject_ref.not_in(held_subjects))
    return session.scalars(query).all()


def delete(session: Session, row: FollowUpRow) -> None:
    session.delete(row)
