"""The table of deletion requests sent to recipients (revocations), owned by
``exchange.revocations``: a withdrawal of consent, or a request for proof of deletion once
packets are past their date. Every query on it is in ``exchange.revocations.repository``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.kit.db import Base, UTCDateTime
from gateway.records.consents import models as _consents  # noqa: F401  (-> withdrawals, cases)
from schemas.common import RevocationStatus


class RevocationRow(Base):
    """One deletion request sent to one recipient; ``id`` is its envelope's packet id.

    Sent when consent is withdrawn (``withdrawal_id`` names the withdrawal) or, with reason
    ``retention_ended``, to get signed proof that packets past their date are gone.
    """

    __tablename__ = "revocations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    reason: Mapped[str] = mapped_column(String(30))
    withdrawal_id: Mapped[str | None] = mapped_column(
        ForeignKey("withdrawals.id"), index=True, nullable=True
    )
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recipient: Mapped[str] = mapped_column(String(64))
    #: [{"packet_id": ..., "sections": [...]}]: what the recipient must delete.
    packets: Mapped[list[dict[str, Any]]] = mapped_column(JSON())
    status: Mapped[RevocationStatus] = mapped_column(String(20))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: Packets the recipient's receipt says a legal hold keeps (not deleted).
    held: Mapped[list[str]] = mapped_column(JSON(), default=list)
    #: The recipient's signed deletion receipt, exactly as it came.
    deletion_receipt: Mapped[dict[str, Any] | None] = mapped_column(JSON(), nullable=True)
