"""The reintegration plan: written at origin by the reintegration partner with the person, and
returned to the referral's sender.

Receiving, on the sender: about a referral sent to that partner (``answers``), and only under a
current consent of the person that covers reintegration assistance with that partner, for the
reintegration section; kept sealed under the case's key and logged. Nothing of a plan goes to a
government authority: refused at the sender's API, before each delivery attempt, and here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from crypto.envelope import SealedEnvelope
from gateway.exchange.kinds.answers import (
    consent_covers_return,
    keep,
    never_to_an_authority,
    no_sections,
    sent_referral,
)
from gateway.exchange.kinds.base import ReceiptAnswered, parsed, receipt_for
from gateway.exchange.registry import Recipient
from gateway.kit.node import Node
from partners.inbound import AcceptedEnvelope
from schemas.common import Purpose
from schemas.envelope import MessageKind, SignedDocument
from schemas.followup import PlanContent


class PlanKind(ReceiptAnswered):
    kind = MessageKind.REINTEGRATION_PLAN
    personal = True
    referral_content = False
    never_to_authorities = True

    def check(self, sealed: SealedEnvelope, plaintext: bytes, recipient: Recipient) -> None:
        parsed(PlanContent, plaintext)
        no_sections(sealed)
        never_to_an_authority(recipient)

    def receive(
        self, session: Session, node: Node, accepted: AcceptedEnvelope, now: datetime
    ) -> SignedDocument:
        plan = PlanContent.model_validate_json(accepted.plaintext)
        about = sent_referral(session, node, accepted, plan.packet_id, now)
        consent_covers_return(session, node, accepted, about, Purpose.REINTEGRATION_ASSISTANCE, now)
        keep(
            session,
            node,
            accepted,
            about,
            detail=f"version {plan.version}",
            occurred_at=now,
            content=plan.model_dump(mode="json"),
            now=now,
        )
        return receipt_for(node, accepted, now)
