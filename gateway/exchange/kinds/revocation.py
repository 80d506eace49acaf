"""Asking a recipient to delete packets and to sign that it did: one revocation envelope.

Two reasons share this path: a withdrawal of consent (``gateway.consents.service``) and a
request for proof of deletion once packets are past their date (``gateway.retention.proof``).
Either way the request is sealed and queued in the caller's transaction, recorded as a
``RevocationRow`` (pending until the recipient's signed deletion receipt is verified by the
delivery worker), and logged.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from gateway.exchange.outbox.queue import Message, seal_and_queue
from gateway.exchange.referrals.models import ReferralRow
from gateway.kit.errors import Unprocessable
from gateway.kit.node import Node
from gateway.records.accesslog.writer import Action, Actor, record
from gateway.records.consents.models import RevocationRow
from schemas.common import Purpose, SectionName
from schemas.consent import RevocationContent, RevocationReason, RevokedPacket
from schemas.envelope import MessageKind


def send_revocation(
    session: Session,
    node: Node,
    *,
    packets: Sequence[tuple[ReferralRow, Sequence[str]]],
    reason: RevocationReason,
    withdrawal_id: str | None,
    actor: Actor,
    now: datetime,
) -> RevocationRow:
    """Queue one revocation for packets of one case, sent to one recipient for one purpose."""
    first = packets[0][0]
    if any(
        (r.case_id, r.recipient, r.purpose) != (first.case_id, first.recipient, first.purpose)
        for r, _ in packets
    ):
        raise ValueError("one revocation covers one case, recipient and purpose")
    revoked = [
        RevokedPacket(packet_id=r.packet_id, sections=[SectionName(s) for s in sorted(sections)])
        for r, sections in packets
    ]
    content = RevocationContent(reason=reason, withdrawal_id=withdrawal_id, packets=revoked)
    status, sections = "pending", sorted({s for p in revoked for s in p.sections})
    try:
        header = seal_and_queue(
            session,
            node,
            Message(
                kind=MessageKind.REVOCATION,
                recipient=first.recipient,
                purpose=Purpose(first.purpose),
                case_id=first.case_id,
                consent_ref=first.consent_ids[0],
                sections=sections,
                content=content.model_dump(mode="json"),
                # A revocation must travel even if the packets' own dates have passed (the
                # recipient then holds nothing, and confirms so).
                delete_by=max(
                    max(r.delete_by for r, _ in packets), now + node.settings.acceptance_window
                ),
            ),
            now,
        )
        request_id = header.packet_id
    except Unprocessable:
        # The recipient left the federation (or has no usable key): nobody can be asked now.
        # The request stays on record as undeliverable, for the DPO's pending-withdrawals report.
        status, request_id = "undeliverable", secrets.token_hex(16)
    row = RevocationRow(
        id=request_id,
        case_id=first.case_id,
        reason=reason.value,
        withdrawal_id=withdrawal_id,
        requested_at=now,
        recipient=first.recipient,
        packets=[p.model_dump(mode="json") for p in revoked],
        status=status,
        held=[],
        confirmed_at=None,
        deletion_receipt=None,
    )
    session.add(row)
    record(
        session,
        at=now,
        actor=actor,
        action=Action.REVOCATION_QUEUED,
        subject=first.case_id,
        packet_id=request_id,
        sections=[s.value for s in sections],
        purpose=first.purpose,
        outcome=reason.value if status == "pending" else "recipient_unreachable",
    )
    return row
