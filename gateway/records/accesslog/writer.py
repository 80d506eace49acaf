"""Writing the access log. Every call appends one entry in the caller's transaction.

Entries say who (user id, organisation, role), what (action, subject reference, packet,
section names), why (purpose), when, and the outcome. They never hold a name or any content.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.kit.auth import Principal
from gateway.records.accesslog.models import AccessEventRow

KEEP_ON_ROLLBACK = "avrr_access_entries_kept_on_rollback"


class Action(StrEnum):
    CASE_CREATED = "case_created"
    CASE_CORRECTED = "case_corrected"
    CASE_VIEWED = "case_viewed"
    CONSENT_RECORDED = "consent_recorded"
    CONSENT_NARROWED = "consent_narrowed"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    CONSENT_RECEIPT_ISSUED = "consent_receipt_issued"
    REFERRAL_CANCELLED = "referral_cancelled"
    DELIVERY_CANCELLED = "delivery_cancelled"
    REVOCATION_QUEUED = "revocation_queued"
    DELETION_CONFIRMED = "deletion_confirmed"
    DELETED = "deleted"
    PURGED = "purged"
    SUBJECT_KEY_DESTROYED = "subject_key_destroyed"
    LEGAL_HOLD = "legal_hold"
    EVENT_RECORDED = "event_recorded"
    EVENT_REPORTED = "event_reported"
    EVENT_REFUSED = "event_refused"
    DEADLINE_MOVED = "deadline_moved"
    REFERRAL_SEALED = "referral_sealed"
    REFERRAL_REFUSED = "referral_refused"
    REFERRAL_AWAITING_APPROVAL = "referral_awaiting_approval"
    REFERRAL_APPROVED = "referral_approved"
    REFERRAL_CORRECTED = "referral_corrected"
    CORRECTED = "corrected"
    SENT = "sent"
    DELIVERED = "delivered"
    DEAD_LETTERED = "dead_lettered"
    RECEIVED = "received"
    FOLLOW_UP_SENT = "follow_up_sent"
    FOLLOW_UP_RECEIVED = "follow_up_received"
    FOLLOW_UP_READ = "follow_up_read"
    TIMELINE_VIEWED = "timeline_viewed"
    STATISTICS_PRODUCED = "statistics_produced"
    OPENED = "opened"
    ACCESS_DENIED = "access_denied"
    EXPORTED = "exported"
    HISTORY_VIEWED = "history_viewed"
    CHILD_VIEW_READ = "child_view_read"
    CARD_ISSUED = "card_issued"
    CARD_REVOKED = "card_revoked"
    SIGNED_IN = "signed_in"
    PORTAL_VIEWED = "portal_viewed"
    CORRECTION_REQUESTED = "correction_requested"
    CORRECTION_ANSWERED = "correction_answered"
    QUESTION_ASKED = "question_asked"
    QUESTION_READ = "question_read"
    QUESTION_ANSWERED = "question_answered"


@dataclass(frozen=True)
class Actor:
    user: str
    org: str
    role: str

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        return cls(user=principal.user, org=principal.office, role=principal.role.value)


def record(
    session: Session,
    *,
    at: datetime,
    actor: Actor,
    action: Action,
    subject: str | None,
    outcome: str = "ok",
    packet_id: str | None = None,
    sections: Iterable[str] = (),
    purpose: str | None = None,
    keep: bool = False,
) -> None:
    """Append an entry. ``keep=True`` keeps it even if the request then fails and rolls back:
    that is how refusals and denied accesses stay on the record."""
    entry = {
        "at": at,
        "actor": actor.user,
        "actor_org": actor.org,
        "actor_role": actor.role,
        "action": action.value,
        "subject": subject,
        "packet_id": packet_id,
        "sections": sorted(sections),
        "purpose": purpose,
        "outcome": outcome,
    }
    session.add(AccessEventRow(**entry))
    if keep:
        session.info.setdefault(KEEP_ON_ROLLBACK, []).append(entry)


def restore_kept(session: Session) -> bool:
    """After a rollback, re-add the entries marked ``keep``; True if there were any."""
    kept = session.info.pop(KEEP_ON_ROLLBACK, [])
    for entry in kept:
        session.add(AccessEventRow(**entry))
    return bool(kept)


def kept_mark(session: Session) -> int:
    """Where the entries marked ``keep`` stand now, for ``restore_kept_since``."""
    return len(session.info.get(KEEP_ON_ROLLBACK, []))


def restore_kept_since(session: Session, mark: int) -> None:
    """After rolling back a savepoint, re-add the entries marked ``keep`` since ``mark``. They
    stay marked, so a rollback of the whole transaction later still keeps them, once."""
    for entry in session.info.get(KEEP_ON_ROLLBACK, [])[mark:]:
        session.add(AccessEventRow(**entry))


def deny(
    session: Session,
    *,
    at: datetime,
    actor: Actor,
    outcome: str,
    subject: str | None = None,
    packet_id: str | None = None,
) -> None:
    """Record a denied access. Kept even though the request then fails and rolls back."""
    record(
        session,
        at=at,
        actor=actor,
        action=Action.ACCESS_DENIED,
        subject=subject,
        packet_id=packet_id,
        outcome=outcome,
        keep=True,
    )


def tombstone(session: Session, packet_id: str) -> AccessEventRow | None:
    """The latest entry saying a packet's content was deleted (purged, or withdrawn), if any."""
    return session.scalars(
        select(AccessEventRow)
        .where(
            AccessEventRow.packet_id == packet_id,
            AccessEventRow.action.in_((Action.PURGED.value, Action.DELETED.value)),
        )
        .order_by(AccessEventRow.seq.desc())
        .limit(1)
    ).first()
