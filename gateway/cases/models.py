"""The cases table: one person each. Queries on it live in ``gateway.cases.repository`` only."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base, UTCDateTime


class CaseRow(Base):
    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    office: Mapped[str] = mapped_column(String(64), index=True)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    given_name: Mapped[str] = mapped_column(String(200))
    family_name: Mapped[str] = mapped_column(String(200))
    date_of_birth: Mapped[date | None] = mapped_column(Date(), nullable=True)
    age_uncertain: Mapped[bool] = mapped_column(Boolean())
    nationality: Mapped[str] = mapped_column(String(2))
    preferred_language: Mapped[str] = mapped_column(String(2))
    vulnerability_flags: Mapped[list[str]] = mapped_column(JSON())
