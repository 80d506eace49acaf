"""The cases table: one person each. Queries on it live in ``gateway.records.cases.repository`` only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.kit.db import Base, UTCDateTime


class CaseRow(Base):
    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    office: Mapped[str] = mapped_column(String(64), index=True)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: Everything about the person (names, date of birth, nationality, language, flags), sealed
    #: under the person's data key; erasing the key makes it unreadable everywhere, backups too.
    sealed: Mapped[bytes] = mapped_column(LargeBinary())


class CaseEventRow(Base):
    """An event in the person's return that retention periods count from; one per kind."""

    __tablename__ = "case_events"

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    event: Mapped[str] = mapped_column(String(30), primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: Who reported it: this node's office, or the partner node that reported it.
    reported_by: Mapped[str] = mapped_column(String(64))
