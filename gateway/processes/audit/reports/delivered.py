"""Delivered referrals as reports read them: recipient, purpose, ground, time, section names.

Delivered means the data left the node; queued, dead-lettered and cancelled referrals never did.
The sections are all that went, including those since withdrawn or expired.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import NamedTuple

from sqlalchemy.orm import Session

from gateway.exchange.referrals import repository as referrals


class Sent(NamedTuple):
    recipient: str
    purpose: str
    transfer_ground: str
    created_at: datetime
    sections: list[str]


def delivered(session: Session) -> Iterator[Sent]:
    """Every referral delivered from this node, page by page (sealed content not read)."""
    for row in referrals.delivered_columns(session):
        yield Sent(
            recipient=row.recipient,
            purpose=row.purpose,
            transfer_ground=row.transfer_ground,
            created_at=row.created_at,
            sections=sorted({*row.sent_sections, *row.withdrawn_sections, *row.expired_sections}),
        )
