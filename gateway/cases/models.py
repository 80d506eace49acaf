"""Tables of the cases domain. Queries on them live in ``gateway.cases.repository`` only."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, String
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


class ConsentRow(Base):
    __tablename__ = "consents"
    __table_args__ = (Index("ix_consents_case_purpose", "case_id", "purpose"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"))
    purpose: Mapped[str] = mapped_column(String(40))
    recipient: Mapped[str] = mapped_column(String(64))
    sections: Mapped[list[str]] = mapped_column(JSON())
    given_by: Mapped[str] = mapped_column(String(40))
    given_at: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    recorded_by: Mapped[str] = mapped_column(String(128))
    extra: Mapped[dict[str, Any]] = mapped_column(JSON(), default=dict)
