"""Legal holds: a DPO pauses deletion of a subject's or a packet's data, with a reason and an end."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.kit.db import Base, UTCDateTime


class LegalHoldRow(Base):
    __tablename__ = "legal_holds"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    #: A case id (on a host) or a subject pseudonym (on a recipient); or a packet id.
    subject: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    packet_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    reason: Mapped[str] = mapped_column(String(200))
    until: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
