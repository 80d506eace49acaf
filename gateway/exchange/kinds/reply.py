"""The reply: a recipient's answer to a referral (accepted, declined, needs information, person
met, did not arrive, assistance delivered, handed over), bound to it.

Sending is ``exchange.followup.service.reply``. Receiving, on the referral's sender: the reply
must be about a referral sent to that node and not past its date (``answers``); it is kept
sealed under the case's key and logged, and a reply that reports an event of the person's
return (met: arrival; assistance delivered: assistance started; handed over) is recorded on the
case as a partner's report, which moves retention dates where a rule counts from it
(``on_event``, the process that records events). A reply's note or question, free text, never
reaches a government authority.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from crypto.envelope import SealedEnvelope
from crypto.errors import InvalidEnvelope, RejectReason
from gateway.exchange.kinds.answers import keep, no_sections, sent_referral
from gateway.exchange.kinds.base import ReceiptAnswered, node_actor, parsed, receipt_for
from gateway.exchange.kinds.status_update import EventFromRecipient
from gateway.exchange.registry import Recipient
from gateway.kit.node import Node
from partners.inbound import AcceptedEnvelope
from schemas.common import PartnerRole
from schemas.directory import RetentionEvent
from schemas.envelope import MessageKind, SignedDocument
from schemas.followup import REPLY_EVENTS, ReplyContent
from schemas.status import StatusPacket, StatusUpdateContent


class ReplyKind(ReceiptAnswered):
    kind = MessageKind.REPLY
    personal = True
    referral_content = False
    never_to_authorities = False

    def __init__(self, *, on_event: EventFromRecipient) -> None:
        self._on_event = on_event

    def check(self, sealed: SealedEnvelope, plaintext: bytes, recipient: Recipient) -> None:
        reply = parsed(ReplyContent, plaintext)
        no_sections(sealed)
        if reply.occurred_at > recipient.latest:
            raise InvalidEnvelope(RejectReason.CONTENT_MISMATCH)
        if PartnerRole.GOVERNMENT_AUTHORITY in recipient.roles and (reply.note or reply.question):
            raise InvalidEnvelope(RejectReason.WITHHELD_FROM_ROLE)

    def receive(
        self, session: Session, node: Node, accepted: AcceptedEnvelope, now: datetime
    ) -> SignedDocument:
        reply = ReplyContent.model_validate_json(accepted.plaintext)
        about = sent_referral(session, node, accepted, reply.packet_id, now)
        keep(
            session,
            node,
            accepted,
            about,
            detail=reply.kind.value,
            occurred_at=reply.occurred_at,
            content=reply.model_dump(mode="json"),
            now=now,
        )
        event = REPLY_EVENTS.get(reply.kind)
        if event is not None and about.sent is not None:
            header = accepted.sealed.header
            update = StatusUpdateContent(
                event=RetentionEvent(event),
                occurred_at=reply.occurred_at,
                packets=[StatusPacket(packet_id=reply.packet_id)],
            )
            self._on_event(
                session,
                node,
                [about.sent],
                header.sender,
                header.subject,
                update,
                node_actor(header.sender),
                now,
            )
        return receipt_for(node, accepted, now)
