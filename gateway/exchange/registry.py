"""The message kinds a node exchanges, each one module with both its sides, found by its kind.

A kind (``exchange.kinds.<kind>``) says how its content is checked and applied when it arrives
(the inbox calls ``check``, ``receive`` and ``stored``), and how the recipient's signed answer is
verified and recorded when it is delivered (the delivery worker calls ``expect``, ``verify``,
``attempted``, ``dead_lettered``). The inbox and the worker know no kind by name: adding a kind is one module
and one line in ``processes.kinds.message_kinds``, never an ``if``/``elif`` here.

Example::

    >>> kinds = Registry([ReferralKind(), RevocationKind()])     # doctest: +SKIP
    >>> kinds[MessageKind.REFERRAL].personal                      # doctest: +SKIP
    True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from crypto.envelope import SealedEnvelope, parse
from crypto.errors import InvalidEnvelope, RejectReason
from gateway.exchange.outbox.models import OutboxRow
from gateway.kit.node import Node
from partners.directory import FederationView
from partners.inbound import AcceptedEnvelope
from schemas.common import PartnerRole, SectionName
from schemas.envelope import (
    DeliveryReceipt,
    EnvelopeHeader,
    MessageKind,
    SignedDocument,
    WireEnvelope,
)


@dataclass(frozen=True)
class Recipient:
    """What the inbox knows of itself when it checks what arrived: its roles under the directory
    in force, and the latest time a reported event may carry (now plus the clock skew)."""

    view: FederationView
    roles: frozenset[PartnerRole]
    withheld: Mapping[SectionName, frozenset[str]]
    latest: datetime


@dataclass(frozen=True)
class Sent:
    """An outbox row as the delivery worker needs it once its session is closed."""

    outbox_id: int
    kind: MessageKind
    envelope: bytes
    recipient: str
    packet_id: str
    digest: str
    referral_id: str | None
    subject_ref: str | None
    carried_fields: dict[str, list[str]] | None
    inbox_url: str | None
    #: What the recipient's answer must match, as the kind read it when the row was claimed.
    expected: Any

    def header(self) -> EnvelopeHeader:
        return parse(WireEnvelope.model_validate_json(self.envelope)).header


class Confirmation(Protocol):
    """A verified answer, recorded in the transaction that marks the row delivered."""

    def record(self, session: Session, node: Node, row: OutboxRow, done: datetime) -> None: ...


class MessageKindHandler(Protocol):
    kind: MessageKind
    #: Carries a person's data: decided again before every delivery attempt.
    personal: bool
    #: Carries sections of a referral: the sharing policy must still allow what it carries.
    referral_content: bool
    #: Never goes to a node holding the government-authority role (plans, monitoring, notes).
    never_to_authorities: bool
    #: Answered by a plain delivery receipt, so it may travel in a batch (``avrr-batch/1``);
    #: a revocation, answered by a deletion receipt, never does.
    batched: bool

    # -- the receiving side ----------------------------------------------------------------------

    def check(self, sealed: SealedEnvelope, plaintext: bytes, recipient: Recipient) -> None:
        """Raise ``InvalidEnvelope`` if the plaintext does not match its header or our rules."""
        ...

    def receive(
        self, session: Session, node: Node, accepted: AcceptedEnvelope, now: datetime
    ) -> SignedDocument:
        """Apply what arrived and answer with the signed receipt the sender will verify."""
        ...

    def stored(
        self, session: Session, node: Node, accepted: AcceptedEnvelope, now: datetime
    ) -> None:
        """After the packet's own row is stored (what needs it as a foreign key)."""
        ...

    # -- the sending side ------------------------------------------------------------------------

    def expect(self, session: Session, row: OutboxRow) -> Any:
        """What the recipient's answer must match, read when the worker claims the row."""
        ...

    def verify(
        self, sent: Sent, document: SignedDocument, view: FederationView, sender: str
    ) -> Confirmation:
        """Verify the recipient's answer; raise ``DeliveryFailed`` if it does not hold."""
        ...

    def confirmed(
        self, sent: Sent, receipt: DeliveryReceipt, document: SignedDocument
    ) -> Confirmation:
        """What a verified receipt of a batched kind records: ``receipt`` is this envelope's,
        ``document`` the signed batch receipt that names it (kept as it came)."""
        ...

    def attempted(
        self, session: Session, node: Node, row: OutboxRow, now: datetime, outcome: str
    ) -> None:
        """An attempt reached for the recipient, whatever came of it (``outcome``)."""
        ...

    def dead_lettered(self, session: Session, node: Node, row: OutboxRow, now: datetime) -> None:
        """The message was given up at its deadline."""
        ...


class Registry:
    """Every message kind this node exchanges, by kind. Unknown kinds are refused at the inbox."""

    def __init__(self, handlers: Iterable[MessageKindHandler]) -> None:
        self._handlers: dict[MessageKind, MessageKindHandler] = {}
        for handler in handlers:
            if handler.kind in self._handlers:
                raise ValueError(f"two handlers for {handler.kind.value}")
            self._handlers[handler.kind] = handler

    def __getitem__(self, kind: MessageKind) -> MessageKindHandler:
        return self._handlers[kind]

    def accepted(self, kind: MessageKind) -> MessageKindHandler:
        """The handler of a kind the inbox accepts, or the refusal for any other."""
        try:
            return self._handlers[kind]
        except KeyError:
            raise InvalidEnvelope(RejectReason.CONTENT_MISMATCH) from None

    def __contains__(self, kind: object) -> bool:
        return kind in self._handlers

    def kinds(self) -> list[MessageKind]:
        return sorted(self._handlers)
