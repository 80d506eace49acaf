"""The table of referrals this node sent: one row each, owned by ``exchange.referrals``.

A referral's row and its outbox row are written in one transaction with the sealed envelope, so
a crash after commit loses nothing: the next worker run finds the outbox row and delivers it.
Every query on this table is in ``exchange.referrals.repository``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.kit.db import Base, UTCDateTime
from gateway.records.cases import models as _cases  # noqa: F401  (the referrals -> cases foreign key
from schemas.common import ReferralStatus


class ReferralRow(Base):
    __tablename__ = "referrals"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    office: Mapped[str] = mapped_column(String(64), index=True)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recipient: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(40))
    transfer_ground: Mapped[str] = mapped_column(String(60))
    #: The consents the sharing decision rested on.
    consent_ids: Mapped[list[str]] = mapped_column(JSON())
    packet_id: Mapped[str] = mapped_column(String(32), unique=True)
    #: Names of the sections sent and still held here (no content: that is ``sealed_content``).
    sent_sections: Mapped[list[str]] = mapped_column(JSON())
    #: What was sent, after minimisation, sealed under the person's data key (``referrals.sent``).
    sealed_content: Mapped[bytes] = mapped_column(LargeBinary())
    #: Names of sections and fields the caseworker entered that were not sent (never values).
    withheld: Mapped[dict[str, Any]] = mapped_column(JSON())
    #: Sections whose consent was withdrawn after sending (their content is gone from here too).
    withdrawn_sections: Mapped[list[str]] = mapped_column(JSON(), default=list)
    delete_by: Mapped[datetime] = mapped_column(UTCDateTime())
    #: Section -> ISO 8601 delete-by date, as stated in the signed header.
    section_delete_by: Mapped[dict[str, str]] = mapped_column(JSON(), default=dict)
    #: The earliest delete-by date of a section still held here; None when nothing is left.
    next_delete_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), nullable=True, index=True
    )
    #: Sections deleted here because their retention period ended.
    expired_sections: Mapped[list[str]] = mapped_column(JSON(), default=list)
    #: When verified deletion receipts first covered every section sent (``retention.proof``).
    deletion_proven_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    status: Mapped[ReferralStatus] = mapped_column(String(20))
    #: Why it is in its status, where that needs saying: the rule that cancelled it.
    status_reason: Mapped[str | None] = mapped_column(String(80), nullable=True)
    #: For a referral that needed a second staff member's approval: when its author submitted
    #: it (``created_at`` is then when it was approved and sealed), and who approved it.
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    approved_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    #: The referral this one follows after that one was declined (a re-referral).
    follows: Mapped[str | None] = mapped_column(ForeignKey("referrals.id"), nullable=True)
