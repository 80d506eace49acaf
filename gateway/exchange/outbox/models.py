"""Tables of the outbox, its delivery attempts and the delivery receipts recipients sign.

Owned by ``exchange.outbox``: every query on them is in ``exchange.outbox.repository``; an
envelope enters through ``exchange.outbox.queue`` and leaves through ``exchange.delivery``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.exchange.referrals import models as _referrals  # noqa: F401  (outbox -> referrals)
from gateway.kit.db import Base, UTCDateTime


class OutboxStatus(StrEnum):
    """Where a queued envelope stands."""

    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD_LETTERED = "dead_lettered"
    #: Never sent: a withdrawal, or a protection rule at delivery (``cancel_reason``).
    CANCELLED = "cancelled"


class OutboxRow(Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    packet_id: Mapped[str] = mapped_column(String(32), unique=True)
    #: What the envelope carries: a ``schemas.envelope.MessageKind``.
    kind: Mapped[str] = mapped_column(String(30))
    referral_id: Mapped[str | None] = mapped_column(
        ForeignKey("referrals.id"), nullable=True, index=True
    )
    recipient: Mapped[str] = mapped_column(String(64))
    #: The person as the access log names them here: a case id, or a pseudonym we were sent.
    subject_ref: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: Names (never values) of the referral sections and fields the envelope carries, so the
    #: worker can ask the sharing policy again before each attempt without opening anything.
    carried_fields: Mapped[dict[str, list[str]] | None] = mapped_column(JSON(), nullable=True)
    #: The recipient's inbox when the message was queued: a deletion request still reaches a
    #: member that has since left the directory.
    inbox_url: Mapped[str | None] = mapped_column(String(300), nullable=True)
    #: The protection rule that cancelled the message before it was sent.
    cancel_reason: Mapped[str | None] = mapped_column(String(80), nullable=True)
    envelope: Mapped[str] = mapped_column(Text())
    envelope_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[OutboxStatus] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deliver_by: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    claim_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: Since when it waits for its recipient to pick it up (a ``delivery: pickup`` member);
    #: None while it is pushed. The delivery worker never posts a row that waits for pickup.
    pickup_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: When it was last written into a hand-carried bundle (``avrr bundle export``).
    bundled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class DeliveryAttemptRow(Base):
    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"), index=True)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: A short word: delivered, timeout, unreachable, http_500, bad_receipt, dead_lettered...
    outcome: Mapped[str] = mapped_column(String(80))


class DeliveryReceiptRow(Base):
    """A recipient's signed delivery receipt for a packet, verified."""

    __tablename__ = "receipts"

    packet_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"), unique=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    verified_at: Mapped[datetime] = mapped_column(UTCDateTime())
    envelope_sha256: Mapped[str] = mapped_column(String(64))
    #: The recipient's signed receipt exactly as it came, so anyone can re-verify it later.
    document: Mapped[dict[str, Any]] = mapped_column(JSON())
