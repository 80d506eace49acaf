"""Queries on received packets."""

from __future__ import annotations

from sqlalchemy.orm import Session

from gateway.exchange.inbox.models import ReceivedPacketRow


def received_from(
    session: Session, packet_id: str, *, sender: str, subject: str
) -> ReceivedPacketRow | None:
    """A packet this node holds from ``sender`` about ``subject``: what a later message from the
    same sender (revocation, status update, correction) may act on, and nothing else."""
    row = session.get(ReceivedPacketRow, packet_id)
    if row is None or row.sender != sender or row.subject != subject:
        return None
    return row
