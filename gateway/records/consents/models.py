"""Tables of consents (immutable facts plus versions) and withdrawals, owned by ``records.consents``.

A consent's facts (who gave it, how, for what purpose and recipient) never change; what changes
is its version: the sections it covers and whether it is active, narrowed or withdrawn. Versions
are only ever added, so the whole history stays readable.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.kit.db import Base, UTCDateTime
from gateway.records.cases import models as _cases  # noqa: F401  (the consents -> cases foreign key


class ConsentRow(Base):
    __tablename__ = "consents"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(40))
    recipient: Mapped[str | None] = mapped_column(String(64), nullable=True)
    recipient_role: Mapped[str | None] = mapped_column(String(40), nullable=True)
    given_by: Mapped[str] = mapped_column(String(40))
    giver_relation: Mapped[str | None] = mapped_column(String(200), nullable=True)
    child_view: Mapped[str | None] = mapped_column(String(40), nullable=True)
    best_interests_reference: Mapped[str | None] = mapped_column(String(200), nullable=True)
    #: How the best-interests determination weighed the child's view, sealed under the person's
    #: data key (``consents.child_view_weighing``): free text about a child.
    child_view_weighing: Mapped[bytes | None] = mapped_column(LargeBinary(), nullable=True)
    method: Mapped[str] = mapped_column(String(40))
    witness: Mapped[str | None] = mapped_column(String(200), nullable=True)
    language: Mapped[str] = mapped_column(String(2))
    counsellor: Mapped[str] = mapped_column(String(128))
    informed_of_risks: Mapped[bool] = mapped_column(Boolean())
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ConsentVersionRow(Base):
    __tablename__ = "consent_versions"

    consent_id: Mapped[str] = mapped_column(ForeignKey("consents.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(20))
    sections: Mapped[list[str]] = mapped_column(JSON())
    fields: Mapped[dict[str, list[str]] | None] = mapped_column(JSON(), nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_by: Mapped[str] = mapped_column(String(128))
    withdrawal_id: Mapped[str | None] = mapped_column(String(32), nullable=True)


class WithdrawalRow(Base):
    __tablename__ = "withdrawals"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    requested_by: Mapped[str] = mapped_column(String(40))
    recorded_by: Mapped[str] = mapped_column(String(128))
    purpose: Mapped[str | None] = mapped_column(String(40), nullable=True)
    recipient: Mapped[str | None] = mapped_column(String(64), nullable=True)
    sections: Mapped[list[str] | None] = mapped_column(JSON(), nullable=True)
    consents_changed: Mapped[list[str]] = mapped_column(JSON())
    packets_cancelled: Mapped[list[str]] = mapped_column(JSON())
