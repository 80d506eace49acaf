"""The access log table. Entries are appended in the same transaction as the action they record."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base, UTCDateTime


class AccessEventRow(Base):
    __tablename__ = "access_events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(128))
    actor_org: Mapped[str] = mapped_column(String(64))
    actor_role: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(40))
    #: A case id (host) or a subject pseudonym (recipient): never a name.
    subject: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    packet_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    sections: Mapped[list[str]] = mapped_column(JSON())
    purpose: Mapped[str | None] = mapped_column(String(40), nullable=True)
    outcome: Mapped[str] = mapped_column(String(80))
