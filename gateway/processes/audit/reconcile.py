"""Reconciliation: every action the service's own tables record has its access-log entry.

The log is written in the same transaction as each action, so a missing entry means a bug or a
hand edit of the database. Checked: each referral sealed, each delivery receipt of a referral
verified, each packet received, each opening counted on a received packet, each deletion
receipt verified. Each table's owner answers for its own rows; the access log supplies the
condition (``records.accesslog.repository.logged_for``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy.orm import Session

from gateway.exchange.inbox import repository as inbox
from gateway.exchange.outbox import repository as outbox
from gateway.exchange.referrals import repository as referrals
from gateway.exchange.revocations import repository as revocations
from gateway.records.accesslog.repository import count_for, logged_for
from gateway.records.accesslog.writer import Action
from schemas.audit import AuditProblem

#: What an owner's table records, the entry that must log it, and how to find those without.
_CHECKS: list[tuple[str, Action, Callable[..., Sequence[str]]]] = [
    ("referral sealed", Action.REFERRAL_SEALED, referrals.sealed_without_entry),
    ("delivery receipt verified", Action.DELIVERED, outbox.referral_receipts_without_entry),
    ("packet received", Action.RECEIVED, inbox.received_without_entry),
    ("deletion receipt verified", Action.DELETION_CONFIRMED, revocations.answered_without_entry),
]


def reconcile(session: Session, limit: int = 1_000) -> list[AuditProblem]:
    missing = [
        AuditProblem(
            kind="unlogged_action",
            index=None,
            detail=f"{what} for packet {packet_id} has no `{action.value}` entry",
        )
        for what, action, without in _CHECKS
        for packet_id in without(session, logged_for(action), limit)
    ]
    missing.extend(
        AuditProblem(
            kind="unlogged_action",
            index=None,
            detail=f"packet {packet_id} was opened {count} times but {seen} are logged",
        )
        for packet_id, count, seen in inbox.openings_beyond(
            session, count_for(Action.OPENED), limit
        )
    )
    return missing
