"""The monitoring round: a reintegration partner's scores of the Reintegration Sustainability
Survey (three dimensions and the composite), under the person's pseudonym for the sender.

The answers stay with the partner (``exchange.followup.service.monitor`` codes and scores
them); only the scores and the round travel. Receiving, on the sender: about a referral sent to
that partner (``answers``), and only under a current consent of the person that covers
reintegration monitoring with that partner; kept sealed under the case's key and logged. Never
to a government authority.
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
from schemas.followup import MonitoringContent


class MonitoringKind(ReceiptAnswered):
    kind = MessageKind.MONITORING
    personal = True
    referral_content = False
    never_to_authorities = True

    def check(self, sealed: SealedEnvelope, plaintext: bytes, recipient: Recipient) -> None:
        parsed(MonitoringContent, plaintext)
        no_sections(sealed)
        never_to_an_authority(recipient)

    def receive(
        self, session: Session, node: Node, accepted: AcceptedEnvelope, now: datetime
    ) -> SignedDocument:
        round_ = MonitoringContent.model_validate_json(accepted.plaintext)
        about = sent_referral(session, node, accepted, round_.packet_id, now)
        consent_covers_return(session, node, accepted, about, Purpose.REINTEGRATION_MONITORING, now)
        keep(
            session,
            node,
            accepted,
            about,
            detail=f"month {round_.round_months}",
            occurred_at=now,
            content=round_.model_dump(mode="json"),
            now=now,
        )
        return receipt_for(node, accepted, now)
