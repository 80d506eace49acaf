"""The note: words between the two ends of a referral (the host's answer to a partner's
question, a comment on a plan, a partner's remark). Free text, so never to a government
authority.

Receiving: on the referral's sender, about a referral it sent to the note's sender
(``answers``); on a recipient, about a referral it still holds from the note's sender. Kept
sealed under the person's key and logged; a note about nothing held here is refused.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from crypto.envelope import SealedEnvelope
from crypto.errors import RejectReason
from gateway.exchange.kinds.answers import (
    keep,
    never_to_an_authority,
    no_sections,
    received_referral,
    refuse,
    sent_referral,
)
from gateway.exchange.kinds.base import ReceiptAnswered, parsed, receipt_for
from gateway.exchange.referrals import repository as referrals
from gateway.exchange.registry import Recipient
from gateway.kit.node import Node
from partners.inbound import AcceptedEnvelope
from schemas.envelope import MessageKind, SignedDocument
from schemas.followup import NoteContent


class NoteKind(ReceiptAnswered):
    kind = MessageKind.NOTE
    personal = True
    referral_content = False
    never_to_authorities = True

    def check(self, sealed: SealedEnvelope, plaintext: bytes, recipient: Recipient) -> None:
        parsed(NoteContent, plaintext)
        no_sections(sealed)
        never_to_an_authority(recipient)

    def receive(
        self, session: Session, node: Node, accepted: AcceptedEnvelope, now: datetime
    ) -> SignedDocument:
        note = NoteContent.model_validate_json(accepted.plaintext)
        sender = accepted.sealed.header.sender
        if referrals.sent_to(session, [note.packet_id], sender):
            about = sent_referral(session, node, accepted, note.packet_id, now)
        else:
            held = received_referral(session, accepted, note.packet_id, now)
            if held is None:
                raise refuse(session, accepted, now, RejectReason.UNKNOWN_REFERRAL)
            about = held
        keep(
            session,
            node,
            accepted,
            about,
            detail=None,
            occurred_at=now,
            content=note.model_dump(mode="json"),
            now=now,
        )
        return receipt_for(node, accepted, now)
