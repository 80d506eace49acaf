"""The cases table: one person each. Queries on it live in ``gateway.cases.repository`` only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base, UTCDateTime


class CaseRow(Base):
    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    office: Mapped[str] = mapped_column(String(64), index=True)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: Everything about the person (names, date of birth, nationality, language, flags), sealed
    #: under the person's data key; erasing the key makes it unreadable everywhere, backups too.
    sealed: Mapped[bytes] = mapped_column(LargeBinary())
