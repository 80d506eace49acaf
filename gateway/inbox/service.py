"""The federation inbox, and what partner officers may list and open.

Receiving (``receive``) runs every check before anything is stored, in this order: the calling
node's one-time token; the envelope's form; a repeat of a packet already stored (same bytes: the
same receipt again; other bytes: refused); then ``partners.inbound.accept_envelope``. Any failure
is answered with one generic error; the precise reason goes to this node's log, without content.

Opening (``open_received``) decrypts with this node's key, only for a partner officer, and logs it.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from consent.policy import policy_allowance
from crypto.envelope import SealedEnvelope, envelope_digest, open_sealed, parse
from crypto.errors import InvalidEnvelope, RejectReason
from gateway.accesslog.service import Action, Actor, deny, record
from gateway.auth import Principal
from gateway.errors import EnvelopeRejected, Gone, NotFound, Unauthorised
from gateway.inbox.models import ReceivedPacketRow, SeenNodeTokenRow
from gateway.node import Node
from partners.directory import FederationView
from partners.errors import InvalidNodeToken, NoUsableKey, UnknownNode
from partners.inbound import AcceptancePolicy, ContentCheck, accept_envelope
from partners.receipts import issue_receipt
from partners.tokens import verify_node_token
from schemas.api import ReceivedReferralRead, ReceivedReferralSummary
from schemas.common import PartnerRole, StaffRole
from schemas.envelope import MessageKind, SignedDocument, WireEnvelope
from schemas.sections import ReferralContent

log = logging.getLogger("avrr.inbox")


def _bearer(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorised("a node token is required")
    return token.strip()


def _content_check(view: FederationView, self_id: str) -> ContentCheck:
    roles = frozenset(view.node(self_id).roles)

    def check(sealed: SealedEnvelope, plaintext: bytes) -> None:
        header = sealed.header
        if header.kind is not MessageKind.REFERRAL:
            raise InvalidEnvelope(RejectReason.CONTENT_MISMATCH)
        try:
            content = ReferralContent.model_validate_json(plaintext)
        except ValidationError as exc:
            raise InvalidEnvelope(RejectReason.CONTENT_MISMATCH) from exc
        if sorted(content.section_names()) != [s.value for s in header.sections]:
            raise InvalidEnvelope(RejectReason.CONTENT_MISMATCH)
        if PartnerRole.LAW_ENFORCEMENT in roles:
            raise InvalidEnvelope(RejectReason.NOT_ALLOWED)
        # Defence in depth: even a faulty sender cannot make us hold more than our roles may.
        allowed = policy_allowance(view.rule, roles, header.purpose)
        for section, values in content.to_wire().items():
            permitted = next((f for s, f in allowed.items() if s.value == section), frozenset())
            if not set(values) <= permitted:
                raise InvalidEnvelope(RejectReason.NOT_ALLOWED)

    return check


def receive(
    session: Session, node: Node, *, authorization: str | None, body: bytes
) -> SignedDocument:
    now = node.clock.now()
    view = node.directory()
    try:
        claims = verify_node_token(
            _bearer(authorization), view=view, audience=node.node_id, body=body, now=now
        )
    except InvalidNodeToken as exc:
        log.warning("node token refused: %s", exc)
        raise Unauthorised("the node token is not valid") from exc
    if session.get(SeenNodeTokenRow, claims.token_id) is not None:
        log.warning("node token refused: replayed token id from %s", claims.issuer)
        raise Unauthorised("the node token is not valid")
    session.execute(delete(SeenNodeTokenRow).where(SeenNodeTokenRow.expires_at < now))
    session.add(
        SeenNodeTokenRow(
            token_id=claims.token_id, issuer=claims.issuer, expires_at=claims.expires_at
        )
    )
    try:
        wire = WireEnvelope.model_validate_json(body)
        header = parse(wire).header
        digest = envelope_digest(wire)
        existing = session.get(ReceivedPacketRow, header.packet_id)
        if existing is not None:
            if existing.envelope_sha256 == digest and existing.sender == claims.issuer:
                return SignedDocument.model_validate(existing.receipt)
            raise InvalidEnvelope(RejectReason.REPLAYED)
        accepted = accept_envelope(
            wire,
            self_id=node.node_id,
            caller=claims.issuer,
            view=view,
            keyring=node.keyring(),
            now=now,
            check_content=_content_check(view, node.node_id),
            limits=AcceptancePolicy(
                window=node.settings.acceptance_window, skew=node.settings.clock_skew
            ),
        )
    except ValidationError as exc:
        log.warning("envelope from %s rejected: %s", claims.issuer, RejectReason.MALFORMED.value)
        raise EnvelopeRejected from exc
    except InvalidEnvelope as exc:
        log.warning("envelope from %s rejected: %s", claims.issuer, exc.reason.value)
        raise EnvelopeRejected from exc
    header = accepted.sealed.header
    receipt = issue_receipt(accepted.sealed, received_at=now, key=node.signing_key(now))
    session.add(
        ReceivedPacketRow(
            packet_id=header.packet_id,
            kind=header.kind.value,
            sender=header.sender,
            purpose=header.purpose.value,
            subject=header.subject,
            sections=[s.value for s in header.sections],
            created_at=header.created_at,
            delete_by=header.delete_by,
            received_at=now,
            envelope=body.decode("utf-8"),
            envelope_sha256=digest,
            receipt=receipt.model_dump(mode="json"),
        )
    )
    record(
        session,
        at=now,
        actor=Actor(user=f"node:{header.sender}", org=header.sender, role="node"),
        action=Action.RECEIVED,
        subject=header.subject,
        packet_id=header.packet_id,
        sections=[s.value for s in header.sections],
        purpose=header.purpose.value,
    )
    return receipt


def _organisation(view: FederationView, node_id: str) -> str:
    try:
        return view.node(node_id).organisation
    except UnknownNode:
        return "(no longer in the directory)"


def _summary(row: ReceivedPacketRow, view: FederationView) -> ReceivedReferralSummary:
    return ReceivedReferralSummary(
        packet_id=row.packet_id,
        sender=row.sender,
        sender_organisation=_organisation(view, row.sender),
        purpose=row.purpose,
        subject=row.subject,
        sections=row.sections,
        received_at=row.received_at,
        delete_by=row.delete_by,
    )


def list_received(
    session: Session, node: Node, principal: Principal, *, limit: int = 200
) -> list[ReceivedReferralSummary]:
    principal.require(StaffRole.PARTNER_OFFICER)
    view = node.directory()
    rows = session.scalars(
        select(ReceivedPacketRow)
        .where(ReceivedPacketRow.kind == MessageKind.REFERRAL.value)
        .order_by(ReceivedPacketRow.received_at.desc(), ReceivedPacketRow.packet_id)
        .limit(limit)
    ).all()
    return [_summary(row, view) for row in rows]


def open_received(
    session: Session, node: Node, principal: Principal, packet_id: str, now: datetime
) -> ReceivedReferralRead:
    principal.require(StaffRole.PARTNER_OFFICER)
    row = session.get(ReceivedPacketRow, packet_id)
    actor = Actor.of(principal)
    if row is None or row.kind != MessageKind.REFERRAL.value:
        deny(session, at=now, actor=actor, outcome="no_such_packet")
        raise NotFound("referral")
    if row.delete_by <= now:
        deny(
            session,
            at=now,
            actor=actor,
            outcome="past_delete_by",
            subject=row.subject,
            packet_id=row.packet_id,
        )
        raise Gone("this referral has passed its deletion date and is no longer available")
    sealed = parse(WireEnvelope.model_validate_json(row.envelope))
    try:
        key = node.keyring().encryption_key(sealed.header.recipient_key_id, now)
    except NoUsableKey as exc:
        raise Gone(
            "the key this referral was sealed to has ended; it can no longer be opened"
        ) from exc
    content = json.loads(open_sealed(sealed, key))
    record(
        session,
        at=now,
        actor=actor,
        action=Action.OPENED,
        subject=row.subject,
        packet_id=row.packet_id,
        sections=row.sections,
        purpose=row.purpose,
    )
    summary = _summary(row, node.directory())
    return ReceivedReferralRead(**summary.model_dump(), content=content)
