"""Reconciliation: every action the service's own tables record has its access-log entry.

The log is written in the same transaction as each action, so a missing entry means a bug or a
hand edit of the database. Checked: each referral sealed, each delivery receipt verified, each
packet received, each opening counted on a received packet, each deletion receipt verified.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from gateway.exchange.inbox.models import ReceivedPacketRow
from gateway.exchange.referrals.models import ReceiptRow, ReferralRow
from gateway.records.accesslog.models import AccessEventRow
from gateway.records.accesslog.writer import Action
from gateway.records.consents.models import RevocationRow
from schemas.audit import AuditProblem
from schemas.envelope import MessageKind


def _logged(action: Action, packet: InstrumentedAttribute[str]) -> ColumnElement[bool]:
    return exists().where(AccessEventRow.action == action.value, AccessEventRow.packet_id == packet)


def reconcile(session: Session, limit: int = 1_000) -> list[AuditProblem]:
    checks: list[tuple[str, Action, InstrumentedAttribute[str], ColumnElement[bool] | None]] = [
        (
            "referral sealed",
            Action.REFERRAL_SEALED,
            ReferralRow.packet_id,
            # One held for a second approval is sealed only once approved.
            or_(ReferralRow.submitted_at.is_(None), ReferralRow.approved_by.is_not(None)),
        ),
        (
            "delivery receipt verified",
            Action.DELIVERED,
            ReceiptRow.packet_id,
            ReceiptRow.packet_id.in_(select(ReferralRow.packet_id)),
        ),
        (
            "packet received",
            Action.RECEIVED,
            ReceivedPacketRow.packet_id,
            ReceivedPacketRow.kind == MessageKind.REFERRAL.value,
        ),
        (
            "deletion receipt verified",
            Action.DELETION_CONFIRMED,
            RevocationRow.id,
            RevocationRow.status.in_(("confirmed", "held")),
        ),
    ]
    missing = []
    for what, action, packet, where in checks:
        query = select(packet).where(~_logged(action, packet))
        if where is not None:
            query = query.where(where)
        for packet_id in session.scalars(query.limit(limit)):
            missing.append(
                AuditProblem(
                    kind="unlogged_action",
                    index=None,
                    detail=f"{what} for packet {packet_id} has no `{action.value}` entry",
                )
            )
    missing.extend(_unlogged_openings(session, limit))
    return missing


def _unlogged_openings(session: Session, limit: int) -> list[AuditProblem]:
    logged = (
        select(func.count())
        .where(
            AccessEventRow.action == Action.OPENED.value,
            AccessEventRow.packet_id == ReceivedPacketRow.packet_id,
        )
        .scalar_subquery()
    )
    rows = session.execute(
        select(ReceivedPacketRow.packet_id, ReceivedPacketRow.opened_count, logged)
        .where(and_(ReceivedPacketRow.opened_count > 0, logged < ReceivedPacketRow.opened_count))
        .limit(limit)
    ).all()
    return [
        AuditProblem(
            kind="unlogged_action",
            index=None,
            detail=f"packet {packet_id} was opened {count} times but {seen} are logged",
        )
        for packet_id, count, seen in rows
    ]
