"""Tables of received packets, their sections, and node tokens already seen (one-time use).

Owned by ``exchange.inbox``: every query on them is in ``exchange.inbox.repository``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.kit.db import Base, UTCDateTime
from schemas.common import ReceivedStatus


class ReceivedPacketRow(Base):
    """A verified packet's header facts. Its sections are stored apart, encrypted at rest."""

    __tablename__ = "received_packets"

    packet_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    sender: Mapped[str] = mapped_column(String(64), index=True)
    purpose: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(64), index=True)
    #: The sender's consent reference, quoted back when this node reports on the packet.
    consent_ref: Mapped[str] = mapped_column(String(32))
    sections: Mapped[list[str]] = mapped_column(JSON())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delete_by: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    envelope_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[ReceivedStatus] = mapped_column(String(20))
    withdrawn_sections: Mapped[list[str]] = mapped_column(JSON())
    #: Sections deleted because their retention period ended (tombstones are in the access log).
    expired_sections: Mapped[list[str]] = mapped_column(JSON(), default=list)
    #: How many times partner officers opened it (each opening also has its log entry).
    opened_count: Mapped[int] = mapped_column(Integer, default=0)
    #: The signed receipt we returned; a repeated delivery gets exactly this again.
    receipt: Mapped[dict[str, Any]] = mapped_column(JSON())


class SeenNodeTokenRow(Base):
    __tablename__ = "seen_node_tokens"

    token_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    issuer: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class ReceivedSectionRow(Base):
    """One section of a received packet, sealed under the subject's data key (crypto.storage)."""

    __tablename__ = "received_sections"

    packet_id: Mapped[str] = mapped_column(
        ForeignKey("received_packets.packet_id"), primary_key=True
    )
    section: Mapped[str] = mapped_column(String(20), primary_key=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary())
    #: The sender's date for this section, capped by the federation's retention rule.
    delete_by: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
