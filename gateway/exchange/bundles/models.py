"""Tables of hand-carried bundles: every bundle written or taken, and the answers owed to a peer.

Owned by ``exchange.bundles``: every query on them is in ``exchange.bundles.repository``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.kit.db import Base, UTCDateTime


class BundleDirection(StrEnum):
    WRITTEN = "written"
    TAKEN = "taken"


class BundleRow(Base):
    """A bundle this node wrote for a peer, or took from one: the facts its header states."""

    __tablename__ = "bundles"
    __table_args__ = (UniqueConstraint("direction", "peer", "sequence"),)

    bundle_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    direction: Mapped[BundleDirection] = mapped_column(String(10))
    peer: Mapped[str] = mapped_column(String(64))
    sequence: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: When this node wrote or took it.
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    envelopes: Mapped[int] = mapped_column(Integer)
    answers: Mapped[int] = mapped_column(Integer)


class OwedAnswerRow(Base):
    """This node's signed answer to an envelope a peer sent it in a bundle, waiting to travel
    back in the next bundle written for that peer (then dropped: a lost bundle makes the peer
    carry the envelope again, and the inbox answers it again)."""

    __tablename__ = "owed_answers"

    peer: Mapped[str] = mapped_column(String(64), primary_key=True)
    packet_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    envelope_sha256: Mapped[str] = mapped_column(String(64))
    #: The signed answer, exactly as the inbox stored it; None for a refusal.
    answer: Mapped[dict[str, Any] | None] = mapped_column(JSON(), nullable=True)
    owed_since: Mapped[datetime] = mapped_column(UTCDateTime())
