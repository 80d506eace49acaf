"""Legal holds: a DPO pauses the deletion of a person's or a packet's data, with a reason and an
end date. Every query on the table is here; the purge and a revocation for proof of deletion ask
``active_holds`` what to leave alone.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.kit.auth import Principal
from gateway.kit.errors import Unprocessable
from gateway.records.accesslog.writer import Action, Actor, record
from gateway.records.holds.models import LegalHoldRow
from schemas.common import StaffRole


def active_holds(session: Session, now: datetime) -> tuple[set[str], set[str]]:
    """Subjects and packets under a legal hold that has not ended."""
    rows = session.execute(
        select(LegalHoldRow.subject, LegalHoldRow.packet_id).where(
            LegalHoldRow.released_at.is_(None), LegalHoldRow.until > now
        )
    ).all()
    return {s for s, _ in rows if s}, {p for _, p in rows if p}


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
