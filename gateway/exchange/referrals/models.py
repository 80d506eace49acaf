"""Tables of outgoing referrals, the outbox, delivery attempts and receipts.

The outbox row and the referral are written in one transaction with the sealed envelope, so a
crash after commit loses nothing: the next worker run finds the row and delivers it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.kit.db import Base, UTCDateTime
from gateway.records.cases import models as _cases  # noqa: F401  (the referrals -> cases foreign key


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
    status: Mapped[str] = mapped_column(String(20))
    #: Why it is in its status, where that needs saying: the rule that cancelled it.
    status_reason: Mapped[str | None] = mapped_column(String(80), nullable=True)
    #: For a referral that needed a second staff member's approval: when its author submitted
    #: it (``created_at`` is then when it was approved and sealed), and who approved it.
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    approved_by: Mapped[str | None] = mapped_column(String(128), nullable=True)


class OutboxRow(Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    packet_id: Mapped[str] = mapped_column(String(32), unique=True)
    #: What the envelope carries: a ``schemas.envelope.MessageKind``.
    kind: Mapped[str] = mapped_column(String(30))
    referral_id: Mapped[str | None] = mapped_column(
        ForeignKey("referrals.id"), nullable=True, index=True
    )
    recipient: Mapped[str] = mapped_column(String(64))
    #: The person as the access log names them here: a case id, or a pseudonym we were sent.
    subject_ref: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: Names (never values) of the referral sections and fields the envelope carries, so the
    #: worker can ask the sharing policy again before each attempt without opening anything.
    carried_fields: Mapped[dict[str, list[str]] | None] = mapped_column(JSON(), nullable=True)
    #: The recipient's inbox when the message was queued: a deletion request still reaches a
    #: member that has since left the directory.
    inbox_url: Mapped[str | None] = mapped_column(String(300), nullable=True)
    #: The protection rule that cancelled the message before it was sent.
    cancel_reason: Mapped[str | None] = mapped_column(String(80), nullable=True)
    envelope: Mapped[str] = mapped_column(Text())
    envelope_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deliver_by: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    claim_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class DeliveryAttemptRow(Base):
    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"), index=True)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: A short word: delivered, timeout, unreachable, http_500, bad_receipt, dead_lettered...
    outcome: Mapped[str] = mapped_column(String(80))


class ReceiptRow(Base):
    __tablename__ = "receipts"

    packet_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"), unique=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    verified_at: Mapped[datetime] = mapped_column(UTCDateTime())
    envelope_sha256: Mapped[str] = mapped_column(String(64))
    #: The recipient's signed receipt exactly as it came, so anyone can re-verify it later.
    document: Mapped[dict[str, Any]] = mapped_column(JSON())
