"""What most message kinds share: an answer that is a signed delivery receipt, and parsing a
plaintext into its model with one refusal for anything that does not fit.

A kind answered by something else (a revocation: a deletion receipt) overrides ``verify``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from crypto.envelope import SealedEnvelope
from crypto.errors import InvalidEnvelope, RejectReason
from gateway.exchange.outbox import repository as outbox
from gateway.exchange.outbox.models import OutboxRow
from gateway.exchange.registry import Confirmation, Sent
from gateway.kit.node import Node
from gateway.records.accesslog.writer import Actor
from partners.directory import FederationView
from partners.inbound import AcceptedEnvelope
from partners.receipts import issue_delivery_receipt, verify_delivery_receipt
from schemas.envelope import DeliveryReceipt, SignedDocument

M = TypeVar("M", bound=BaseModel)


def parsed(model: type[M], plaintext: bytes) -> M:
    """The plaintext as ``model``, or the refusal ``content_does_not_match_header``."""
    try:
        return model.model_validate_json(plaintext)
    except ValidationError as exc:
        raise InvalidEnvelope(RejectReason.CONTENT_MISMATCH) from exc


def matches(named: set[str], sealed: SealedEnvelope) -> None:
    """The sections a plaintext names must be exactly the header's."""
    if named != {s.value for s in sealed.header.sections}:
        raise InvalidEnvelope(RejectReason.CONTENT_MISMATCH)


def node_actor(sender: str) -> Actor:
    """Another node acting on this one (its packets arriving), as the access log names it."""
    return Actor(user=f"node:{sender}", org=sender, role="node")


def worker_actor(node: Node) -> Actor:
    return Actor(user="delivery-worker", org=node.node_id, role="node")


def receipt_for(node: Node, accepted: AcceptedEnvelope, now: datetime) -> SignedDocument:
    return issue_delivery_receipt(accepted.sealed, received_at=now, key=node.signing_key(now))


@dataclass(frozen=True)
class ReceiptKept:
    """A verified delivery receipt, kept exactly as it came."""

    receipt: DeliveryReceipt
    document: SignedDocument

    def record(self, session: Session, node: Node, row: OutboxRow, done: datetime) -> None:
        outbox.keep_receipt(session, row, self.receipt, self.document, done)


class ReceiptAnswered:
    """The sending side of a kind the recipient answers with a signed delivery receipt: alone,
    or named in a signed batch receipt (``batched``)."""

    batched = True

    def expect(self, session: Session, row: OutboxRow) -> Any:
        return None

    def verify(
        self, sent: Sent, document: SignedDocument, view: FederationView, sender: str
    ) -> Confirmation:
        receipt = verify_delivery_receipt(
            document,
            view=view,
            packet_id=sent.packet_id,
            sender=sender,
            recipient=sent.recipient,
            envelope_sha256=sent.digest,
        )
        return self.confirmed(sent, receipt, document)

    def confirmed(
        self, sent: Sent, receipt: DeliveryReceipt, document: SignedDocument
    ) -> Confirmation:
        return ReceiptKept(receipt, document)

    def dead_lettered(self, session: Session, node: Node, row: OutboxRow, now: datetime) -> None:
        return None

    def attempted(
        self, session: Session, node: Node, row: OutboxRow, now: datetime, outcome: str
    ) -> None:
        """An attempt reached for the recipient (whatever came of it)."""
        return None

    def stored(
        self, session: Session, node: Node, accepted: AcceptedEnvelope, now: datetime
    ) -> None:
        return None
