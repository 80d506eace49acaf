"""The table of a referral's follow-up on each node: what it sent and received about a referral
after the referral itself (replies, plans, monitoring rounds, notes). Owned by
``exchange.followup``; every query on it is in ``exchange.followup.repository``.

Each row's content is sealed at rest under the person's data key (the case's on the host, the
pseudonym's on a partner), so erasing the person erases it; what stays in the clear is
categorical (the kind, a reply's word, a round's month) and never the person.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.kit.db import Base, UTCDateTime


class FollowUpRow(Base):
    __tablename__ = "follow_up"

    #: The packet id of the envelope it came or went in.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    #: ``sent`` or ``received``.
    direction: Mapped[str] = mapped_column(String(10))
    #: A ``schemas.envelope.MessageKind``: reply, reintegration_plan, monitoring, note.
    kind: Mapped[str] = mapped_column(String(30))
    #: The referral it is about (its packet id, on both ends).
    referral_packet_id: Mapped[str] = mapped_column(String(32), index=True)
    #: The person: a case id on the host, a pseudonym on a partner (the key it is sealed under).
    subject_ref: Mapped[str] = mapped_column(String(64), index=True)
    #: The node at the other end.
    counterpart: Mapped[str] = mapped_column(String(64))
    #: Categorical and never personal: a reply's kind, a plan's version, a round's month.
    detail: Mapped[str | None] = mapped_column(String(40), nullable=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sealed: Mapped[bytes] = mapped_column(LargeBinary())
    envelope_sha256: Mapped[str] = mapped_column(String(64))
    delete_by: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    #: A monitoring round whose composite score fell below the programme's threshold.
    needs_more_assistance: Mapped[bool] = mapped_column(Boolean(), default=False)
