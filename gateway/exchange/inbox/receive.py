"""The federation inbox: an envelope from another node, checked, applied, answered.

``receive`` runs every check before anything is stored, in this order: the calling node's
one-time token; the envelope's form; a repeat of a packet already stored (same bytes: the same
answer again; other bytes: refused); then ``partners.inbound.accept_envelope``, which asks the
envelope's kind (``exchange.registry``) whether the plaintext matches its header and this node's
rules. Any failure is answered with one generic error; the precise reason goes to this node's
log, without content. ``receive_batch`` does the same for each envelope of a batch, each on its
own. What each kind does with what arrived is its own module's business
(``exchange.kinds``); this one only stores the packet's header facts and the answer given, so a
repeat gets the very same answer.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from consent.policy import withheld_for
from crypto.encoding import b64decode
from crypto.envelope import SealedEnvelope, envelope_digest, parse
from crypto.errors import InvalidEnvelope, RejectReason
from gateway.exchange.inbox import repository as inbox
from gateway.exchange.registry import Recipient, Registry
from gateway.kit.errors import EnvelopeRejected, Unauthorised
from gateway.kit.metrics import RECEIPTS, REFUSALS
from gateway.kit.node import Node
from gateway.records.accesslog.writer import kept_mark, restore_kept_since
from partners.directory import FederationView
from partners.errors import InvalidNodeToken
from partners.inbound import AcceptancePolicy, ContentCheck, accept_envelope
from partners.receipts import issue_batch_receipt
from partners.tokens import NodeTokenClaims, verify_node_token
from schemas.envelope import (
    BatchAnswer,
    BatchOutcome,
    BatchRequest,
    BatchResult,
    CarriedAnswer,
    DeliveryReceipt,
    SignedDocument,
    WireEnvelope,
)

log = logging.getLogger("avrr.inbox")

#: The reason logged for a kind that is not answered by a plain receipt (a revocation) in a batch.
NOT_IN_A_BATCH = "kind_not_allowed_in_a_batch"


def _bearer(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorised("a node token is required")
    return token.strip()


def _content_check(
    kinds: Registry, view: FederationView, node: Node, now: datetime
) -> ContentCheck:
    roles = frozenset(view.node(node.node_id).roles)
    recipient = Recipient(
        view=view,
        roles=roles,
        withheld=withheld_for(roles),
        # No reported event may have happened after now, plus the clock skew.
        latest=now + node.settings.clock_skew,
    )

    def check(sealed: SealedEnvelope, plaintext: bytes) -> None:
        kinds.accepted(sealed.header.kind).check(sealed, plaintext, recipient)

    return check


def caller_token(
    session: Session,
    node: Node,
    view: FederationView,
    authorization: str | None,
    body: bytes,
    now: datetime,
) -> NodeTokenClaims:
    """The caller's one-time node token, verified and remembered; 401 for any other."""
    try:
        claims = verify_node_token(
            _bearer(authorization), view=view, audience=node.node_id, body=body, now=now
        )
    except InvalidNodeToken as exc:
        log.warning("node token refused: %s", exc)
        REFUSALS.labels(stage="node_token", reason="invalid_token").inc()
        raise Unauthorised("the node token is not valid") from exc
    if inbox.token_seen(session, claims.token_id):
        log.warning("node token refused: replayed token id from %s", claims.issuer)
        REFUSALS.labels(stage="node_token", reason="replayed_token").inc()
        raise Unauthorised("the node token is not valid")
    inbox.remember_token(
        session,
        token_id=claims.token_id,
        issuer=claims.issuer,
        expires_at=claims.expires_at,
        now=now,
    )
    return claims


def receive(
    session: Session, node: Node, kinds: Registry, *, authorization: str | None, body: bytes
) -> SignedDocument:
    """One envelope (``POST /federation/v1/inbox``): its signed answer, or ``EnvelopeRejected``."""
    now = node.clock.now()
    view = node.directory()
    claims = caller_token(session, node, view, authorization, body, now)
    try:
        wire = WireEnvelope.model_validate_json(body)
    except ValidationError as exc:
        _refused(claims.issuer, RejectReason.MALFORMED.value)
        raise EnvelopeRejected from exc
    return _take(session, node, kinds, view, claims.issuer, wire, now, batched=False)


def receive_batch(
    session: Session, node: Node, kinds: Registry, *, authorization: str | None, body: bytes
) -> BatchAnswer:
    """Several envelopes from one node (``POST /federation/v1/inbox/batch``), each checked and
    applied on its own as ``receive`` would, in a savepoint of the request's transaction: a
    refused one leaves nothing behind but its kept access-log entries, and refuses only itself.
    The answer has one result per envelope and one signed batch receipt naming every envelope
    accepted (a repeat of one already stored is named with its first receipt's time and digest).
    Only kinds answered by a plain delivery receipt travel in a batch (not a revocation).
    """
    now = node.clock.now()
    view = node.directory()
    claims = caller_token(session, node, view, authorization, body, now)
    try:
        request = BatchRequest.model_validate_json(body)
    except ValidationError as exc:
        _refused(claims.issuer, RejectReason.MALFORMED.value)
        raise EnvelopeRejected from exc
    session.flush()  # the token's row, before any envelope's savepoint
    results: list[BatchResult] = []
    receipts: list[DeliveryReceipt] = []
    for raw in request.envelopes:
        mark = kept_mark(session)
        try:
            with session.begin_nested():
                answer = _take_raw(session, node, kinds, view, claims.issuer, raw, now)
        except EnvelopeRejected:
            restore_kept_since(session, mark)
            results.append(BatchResult(outcome=BatchOutcome.REJECTED))
            continue
        except IntegrityError:
            # Another request stored the same packet meanwhile: nothing decided, try again.
            restore_kept_since(session, mark)
            log.warning("envelope from %s deferred: stored concurrently", claims.issuer)
            results.append(BatchResult(outcome=BatchOutcome.UNAVAILABLE))
            continue
        receipts.append(DeliveryReceipt.model_validate_json(b64decode(answer.payload)))
        results.append(BatchResult(outcome=BatchOutcome.ACCEPTED))
    document = issue_batch_receipt(
        receipts,
        sender=claims.issuer,
        recipient=node.node_id,
        issued_at=now,
        key=node.signing_key(now),
    )
    return BatchAnswer(results=results, receipt=document)


def take_carried(
    session: Session,
    node: Node,
    kinds: Registry,
    *,
    caller: str,
    envelopes: Sequence[WireEnvelope],
    now: datetime,
) -> list[CarriedAnswer]:
    """Envelopes from ``caller`` that did not come by post (picked up from it, or carried in a
    bundle), each checked and applied exactly as the inbox would, in its own savepoint: the
    answer to each, the very document a post would have earned (None for a refusal; an envelope
    whose header cannot even be read is left out: nothing names it)."""
    view = node.directory()
    session.flush()
    answers: list[CarriedAnswer] = []
    for wire in envelopes:
        try:
            packet_id = parse(wire).header.packet_id
        except InvalidEnvelope as exc:
            _refused(caller, exc.reason.value)
            continue
        digest = envelope_digest(wire)
        mark = kept_mark(session)
        try:
            with session.begin_nested():
                answer: SignedDocument | None = _take(
                    session, node, kinds, view, caller, wire, now, batched=False
                )
        except EnvelopeRejected:
            restore_kept_since(session, mark)
            answer = None
        except IntegrityError:
            # Stored concurrently (a pickup and a post crossing): no answer now, the next try
            # gets the stored one.
            restore_kept_since(session, mark)
            log.warning("envelope from %s deferred: stored concurrently", caller)
            continue
        answers.append(CarriedAnswer(packet_id=packet_id, envelope_sha256=digest, answer=answer))
    return answers


def _take_raw(
    session: Session,
    node: Node,
    kinds: Registry,
    view: FederationView,
    caller: str,
    raw: dict[str, Any],
    now: datetime,
) -> SignedDocument:
    try:
        wire = WireEnvelope.model_validate(raw)
    except ValidationError as exc:
        _refused(caller, RejectReason.MALFORMED.value)
        raise EnvelopeRejected from exc
    return _take(session, node, kinds, view, caller, wire, now, batched=True)


def _refused(caller: str, reason: str) -> None:
    log.warning("envelope from %s rejected: %s", caller, reason)
    REFUSALS.labels(stage="inbox", reason=reason).inc()


def _take(
    session: Session,
    node: Node,
    kinds: Registry,
    view: FederationView,
    caller: str,
    wire: WireEnvelope,
    now: datetime,
    *,
    batched: bool,
) -> SignedDocument:
    """Check one envelope, apply it and answer (or the same answer again for a repeat)."""
    try:
        header = parse(wire).header
        if batched and header.kind in kinds and not kinds[header.kind].batched:
            _refused(caller, NOT_IN_A_BATCH)
            raise EnvelopeRejected
        digest = envelope_digest(wire)
        existing = inbox.by_id(session, header.packet_id)
        if existing is not None:
            if existing.envelope_sha256 == digest and existing.sender == caller:
                return SignedDocument.model_validate(existing.receipt)
            raise InvalidEnvelope(RejectReason.REPLAYED)
        accepted = accept_envelope(
            wire,
            self_id=node.node_id,
            caller=caller,
            view=view,
            keyring=node.keyring(),
            now=now,
            check_content=_content_check(kinds, view, node, now),
            limits=AcceptancePolicy(
                window=node.settings.acceptance_window, skew=node.settings.clock_skew
            ),
        )
    except ValidationError as exc:
        _refused(caller, RejectReason.MALFORMED.value)
        raise EnvelopeRejected from exc
    except InvalidEnvelope as exc:
        _refused(caller, exc.reason.value)
        raise EnvelopeRejected from exc
    kind = kinds[accepted.sealed.header.kind]
    try:
        answer = kind.receive(session, node, accepted, now)
    except InvalidEnvelope as exc:
        # What it names is not ours to take (a reply to a referral never sent to that node):
        # the kind logged it; the sender learns only the generic refusal.
        _refused(caller, exc.reason.value)
        raise EnvelopeRejected from exc
    inbox.add_packet(
        session,
        accepted.sealed.header,
        digest=digest,
        answer=answer.model_dump(mode="json"),
        now=now,
    )
    kind.stored(session, node, accepted, now)
    RECEIPTS.labels(direction="issued", kind=accepted.sealed.header.kind.value).inc()
    return answer
