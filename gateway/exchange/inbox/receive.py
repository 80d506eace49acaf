"""The federation inbox, and what partner officers may list and open.

Receiving (``receive``) runs every check before anything is stored, in this order: the calling
node's one-time token; the envelope's form; a repeat of a packet already stored (same bytes: the
same answer again; other bytes: refused); then ``partners.inbound.accept_envelope``. Any failure
is answered with one generic error; the precise reason goes to this node's log, without content.

What is stored:
- a **referral** is split into its sections, each sealed at rest under the subject's data key
  (``gateway.keystore``); the envelope itself is not kept, so deleting a section deletes it;
- a **revocation** deletes the named sections of the named packets at once and is answered with a
  signed deletion receipt; a packet with no section left is marked withdrawn (opening it: 410).

Opening (``open_received``) is for partner officers only, and every opening is logged.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from consent.policy import policy_allowance, withheld_for
from consent.retention import cap_deadlines, section_deadlines
from crypto.envelope import SealedEnvelope, envelope_digest, parse
from crypto.errors import InvalidEnvelope, RejectReason
from crypto.storage import StoredDataUnreadable, open_at_rest, seal_at_rest
from gateway.exchange.inbox.models import (
    ACTIVE,
    EXPIRED,
    PARTLY_WITHDRAWN,
    WITHDRAWN,
    ReceivedPacketRow,
    ReceivedSectionRow,
    SeenNodeTokenRow,
)
from gateway.exchange.inbox.repository import received_from
from gateway.exchange.kinds.access_notice import apply_notice, queue_notices
from gateway.kit.auth import Principal
from gateway.kit.errors import EnvelopeRejected, Gone, NotFound, Unauthorised
from gateway.kit.node import Node
from gateway.processes.retention import active_holds
from gateway.processes.status import apply_status_update
from gateway.records.accesslog.writer import Action, Actor, deny, record, tombstone
from partners.directory import FederationView
from partners.errors import InvalidNodeToken, UnknownNode
from partners.inbound import AcceptancePolicy, AcceptedEnvelope, ContentCheck, accept_envelope
from partners.receipts import issue_deletion_receipt, issue_receipt
from partners.tokens import verify_node_token
from schemas.api import ReceivedReferralRead, ReceivedReferralSummary
from schemas.audit import AccessNoticeContent, NoticedAccess
from schemas.common import PartnerRole, SectionName, StaffRole
from schemas.consent import RevocationContent, RevocationReason
from schemas.envelope import MessageKind, SignedDocument, WireEnvelope
from schemas.sections import ReferralContent
from schemas.status import CorrectionContent, StatusUpdateContent

log = logging.getLogger("avrr.inbox")

ACCEPTED_KINDS = (
    MessageKind.REFERRAL,
    MessageKind.REVOCATION,
    MessageKind.STATUS_UPDATE,
    MessageKind.ACCESS_NOTICE,
    MessageKind.CORRECTION,
)


def _bearer(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorised("a node token is required")
    return token.strip()


def _content_check(view: FederationView, self_id: str, latest: datetime) -> ContentCheck:
    """``latest``: no reported event may have happened after it (now, plus the clock skew)."""
    roles = frozenset(view.node(self_id).roles)
    withheld = defaultdict(frozenset, withheld_for(roles))

    def check(sealed: SealedEnvelope, plaintext: bytes) -> None:
        header = sealed.header
        if header.kind not in ACCEPTED_KINDS:
            raise InvalidEnvelope(RejectReason.CONTENT_MISMATCH)
        header_sections = {s.value for s in header.sections}
        if header.kind is MessageKind.ACCESS_NOTICE:
            try:
                notice = AccessNoticeContent.model_validate_json(plaintext)
            except ValidationError as exc:
                raise InvalidEnvelope(RejectReason.CONTENT_MISMATCH) from exc
            if {s.value for s in notice.sections()} != header_sections:
                raise InvalidEnvelope(RejectReason.CONTENT_MISMATCH)
            if any(access.at > latest for access in notice.accesses):
                raise InvalidEnvelope(RejectReason.CONTENT_MISMATCH)
            return
        if header.kind is MessageKind.STATUS_UPDATE:
            try:
                update = StatusUpdateContent.model_validate_json(plaintext)
            except ValidationError as exc:
                raise InvalidEnvelope(RejectReason.CONTENT_MISMATCH) from exc
            if {s.value for s in update.sections()} != header_sections:
                raise InvalidEnvelope(RejectReason.CONTENT_MISMATCH)
            if update.occurred_at > latest:
                raise InvalidEnvelope(RejectReason.CONTENT_MISMATCH)
            return
        if header.kind is MessageKind.REVOCATION:
            try:
                revocation = RevocationContent.model_validate_json(plaintext)
            except ValidationError as exc:
                raise InvalidEnvelope(RejectReason.CONTENT_MISMATCH) from exc
            named = {s.value for p in revocation.packets for s in p.sections}
            if named != header_sections:
                raise InvalidEnvelope(RejectReason.CONTENT_MISMATCH)
            return
        try:
            if header.kind is MessageKind.CORRECTION:
                content = CorrectionContent.model_validate_json(plaintext).content
            else:
                content = ReferralContent.model_validate_json(plaintext)
        except ValidationError as exc:
            raise InvalidEnvelope(RejectReason.CONTENT_MISMATCH) from exc
        if set(content.section_names()) != header_sections:
            raise InvalidEnvelope(RejectReason.CONTENT_MISMATCH)
        if PartnerRole.LAW_ENFORCEMENT in roles:
            raise InvalidEnvelope(RejectReason.NOT_ALLOWED)
        # Defence in depth: even a faulty or hostile sender cannot make us hold more than our
        # roles may, nor anything withheld from one of them (an authority that is also a
        # reception partner still never holds a protection flag or free text).
        allowed = policy_allowance(view.rule, roles, header.purpose)
        for section, names in content.field_names().items():
            fields = set(names)
            if fields & withheld[SectionName(section)]:
                raise InvalidEnvelope(RejectReason.WITHHELD_FROM_ROLE)
            if not fields <= allowed.get(SectionName(section), frozenset()):
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
            check_content=_content_check(view, node.node_id, now + node.settings.clock_skew),
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
    kind = accepted.sealed.header.kind
    if kind is MessageKind.REVOCATION:
        answer = _apply_revocation(session, node, accepted, now)
    elif kind is MessageKind.STATUS_UPDATE:
        answer = _apply_status_update(session, node, accepted, now)
    elif kind is MessageKind.CORRECTION:
        answer = _apply_correction(session, node, accepted, now)
    elif kind is MessageKind.ACCESS_NOTICE:
        header = accepted.sealed.header
        apply_notice(
            session,
            node,
            sender=header.sender,
            subject=header.subject,
            content=AccessNoticeContent.model_validate_json(accepted.plaintext),
            now=now,
        )
        answer = issue_receipt(accepted.sealed, received_at=now, key=node.signing_key(now))
    else:
        answer = _store_referral(session, node, accepted, now)
    header = accepted.sealed.header
    session.add(
        ReceivedPacketRow(
            packet_id=header.packet_id,
            kind=header.kind.value,
            sender=header.sender,
            purpose=header.purpose.value,
            subject=header.subject,
            consent_ref=header.consent_ref,
            sections=[s.value for s in header.sections],
            created_at=header.created_at,
            delete_by=header.delete_by,
            received_at=now,
            envelope_sha256=digest,
            status=ACTIVE,
            withdrawn_sections=[],
            expired_sections=[],
            opened_count=0,
            receipt=answer.model_dump(mode="json"),
        )
    )
    session.flush()
    if header.kind is MessageKind.REFERRAL:
        _store_sections(session, node, accepted, now)
    return answer


def _node_actor(sender: str) -> Actor:
    return Actor(user=f"node:{sender}", org=sender, role="node")


def _store_referral(
    session: Session, node: Node, accepted: AcceptedEnvelope, now: datetime
) -> SignedDocument:
    header = accepted.sealed.header
    record(
        session,
        at=now,
        actor=_node_actor(header.sender),
        action=Action.RECEIVED,
        subject=header.subject,
        packet_id=header.packet_id,
        sections=[s.value for s in header.sections],
        purpose=header.purpose.value,
    )
    return issue_receipt(accepted.sealed, received_at=now, key=node.signing_key(now))


def _section_context(packet_id: str, section: str) -> bytes:
    return f"received_sections/{packet_id}/{section}".encode()


def _store_sections(
    session: Session, node: Node, accepted: AcceptedEnvelope, now: datetime
) -> None:
    header = accepted.sealed.header
    key = node.keys.data_key(header.subject)
    directory = node.directory().directory
    stated = header.section_delete_by or {}
    allowed = section_deadlines(
        rules=directory.retention,
        horizons=directory.event_horizon_days,
        purpose=header.purpose,
        sections=list(stated),
        sent_at=header.created_at,
        # The recipient does not know the person's age; the cap allows the longer child period.
        is_child=True,
    )
    deadlines = cap_deadlines(stated, allowed)
    for section, values in json.loads(accepted.plaintext).items():
        session.add(
            ReceivedSectionRow(
                packet_id=header.packet_id,
                section=section,
                sealed=seal_at_rest(
                    key,
                    json.dumps(values, sort_keys=True).encode(),
                    context=_section_context(header.packet_id, section),
                ),
                delete_by=deadlines[SectionName(section)],
            )
        )


def _apply_revocation(
    session: Session, node: Node, accepted: AcceptedEnvelope, now: datetime
) -> SignedDocument:
    """Delete what the sender names, and sign that it is gone.

    A withdrawal of consent deletes at once, whatever else applies. A request for proof after
    the retention period deletes too, except what a legal hold on this node keeps: the receipt
    names those packets as held instead of pretending they are gone.
    """
    header = accepted.sealed.header
    revocation = RevocationContent.model_validate_json(accepted.plaintext)
    withdrawn = revocation.reason is RevocationReason.CONSENT_WITHDRAWN
    held_subjects, held_packets = active_holds(session, now)
    held = []
    actor = _node_actor(header.sender)
    for revoked in revocation.packets:
        row = received_from(
            session, revoked.packet_id, sender=header.sender, subject=header.subject
        )
        sections = [s.value for s in revoked.sections]
        if row is None:
            # Nothing of this sender's is held under that id (never received, or already gone).
            continue
        if not withdrawn and (row.packet_id in held_packets or row.subject in held_subjects):
            held.append(row.packet_id)
            continue
        session.execute(
            delete(ReceivedSectionRow).where(
                ReceivedSectionRow.packet_id == row.packet_id,
                ReceivedSectionRow.section.in_(sections),
            )
        )
        if withdrawn:
            row.withdrawn_sections = sorted({*row.withdrawn_sections, *sections})
        else:
            row.expired_sections = sorted({*row.expired_sections, *sections})
        gone = set(row.withdrawn_sections) | set(row.expired_sections)
        if gone >= set(row.sections):
            row.status = WITHDRAWN if withdrawn else EXPIRED
        elif withdrawn:
            row.status = PARTLY_WITHDRAWN
        record(
            session,
            at=now,
            actor=actor,
            action=Action.DELETED,
            subject=row.subject,
            packet_id=row.packet_id,
            sections=sections,
            purpose=row.purpose,
            outcome=revocation.reason.value,
        )
    return issue_deletion_receipt(
        accepted.sealed,
        revocation=revocation,
        held=held,
        deleted_at=now,
        key=node.signing_key(now),
    )


def _apply_correction(
    session: Session, node: Node, accepted: AcceptedEnvelope, now: datetime
) -> SignedDocument:
    """Replace the named sections of a packet from the same sender about the same person.

    Only sections still held are replaced: a correction never brings back what was withdrawn
    or deleted at its date.
    """
    header = accepted.sealed.header
    correction = CorrectionContent.model_validate_json(accepted.plaintext)
    row = received_from(session, correction.packet_id, sender=header.sender, subject=header.subject)
    if (
        row is not None
        and row.kind == MessageKind.REFERRAL.value
        and row.purpose == header.purpose.value
    ):
        key = node.keys.existing_key(row.subject)
        replaced = []
        for section, values in correction.content.to_wire().items():
            held = session.get(ReceivedSectionRow, (row.packet_id, section))
            if held is None or key is None:
                continue
            held.sealed = seal_at_rest(
                key,
                json.dumps(values, sort_keys=True).encode(),
                context=_section_context(row.packet_id, section),
            )
            replaced.append(section)
        if replaced:
            record(
                session,
                at=now,
                actor=_node_actor(header.sender),
                action=Action.CORRECTED,
                subject=row.subject,
                packet_id=row.packet_id,
                sections=replaced,
                purpose=row.purpose,
                outcome="sender_correction",
            )
    return issue_receipt(accepted.sealed, received_at=now, key=node.signing_key(now))


def _apply_status_update(
    session: Session, node: Node, accepted: AcceptedEnvelope, now: datetime
) -> SignedDocument:
    header = accepted.sealed.header
    apply_status_update(
        session,
        node,
        sender=header.sender,
        subject=header.subject,
        content=StatusUpdateContent.model_validate_json(accepted.plaintext),
        actor=_node_actor(header.sender),
        now=now,
    )
    return issue_receipt(accepted.sealed, received_at=now, key=node.signing_key(now))


# -- partner officers ---------------------------------------------------------------------------


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
        sections=[s for s in row.sections if s not in row.withdrawn_sections],
        withdrawn_sections=row.withdrawn_sections,
        status=row.status,
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
    if row is None and tombstone(session, packet_id) is not None:
        # Deleted long enough ago that even its header facts are gone; the log remembers.
        deny(session, at=now, actor=actor, outcome="deleted", packet_id=packet_id)
        raise Gone("this referral has been deleted and is no longer available")
    if row is None or row.kind != MessageKind.REFERRAL.value:
        deny(session, at=now, actor=actor, outcome="no_such_packet", packet_id=packet_id)
        raise NotFound("referral")
    if row.status == WITHDRAWN:
        deny(
            session,
            at=now,
            actor=actor,
            outcome="consent_withdrawn",
            subject=row.subject,
            packet_id=row.packet_id,
        )
        raise Gone("consent for this referral was withdrawn; its content has been deleted")
    if row.status == EXPIRED or row.delete_by <= now:
        deny(
            session,
            at=now,
            actor=actor,
            outcome="past_delete_by",
            subject=row.subject,
            packet_id=row.packet_id,
        )
        raise Gone("this referral has passed its deletion date and is no longer available")
    content = _open_sections(session, node, row)
    row.opened_count += 1
    record(
        session,
        at=now,
        actor=actor,
        action=Action.OPENED,
        subject=row.subject,
        packet_id=row.packet_id,
        sections=sorted(content),
        purpose=row.purpose,
    )
    opened = NoticedAccess(
        packet_id=row.packet_id,
        action="opened",
        at=now,
        actor_role=principal.role.value,
        sections=[SectionName(s) for s in sorted(content)],
    )
    queue_notices(session, node, [(row, opened)], now)
    summary = _summary(row, node.directory())
    return ReceivedReferralRead(**summary.model_dump(), content=content)


def _open_sections(session: Session, node: Node, row: ReceivedPacketRow) -> dict[str, object]:
    try:
        key = node.keys.existing_key(row.subject)
    except StoredDataUnreadable as exc:
        log.error("the data key of a subject does not unwrap (packet %s)", row.packet_id)
        raise Gone("this referral's stored content cannot be read") from exc
    if key is None:
        raise Gone("this person's data has been erased on this node")
    sections = session.scalars(
        select(ReceivedSectionRow).where(ReceivedSectionRow.packet_id == row.packet_id)
    ).all()
    try:
        return {
            s.section: json.loads(
                open_at_rest(key, s.sealed, context=_section_context(row.packet_id, s.section))
            )
            for s in sections
        }
    except StoredDataUnreadable as exc:
        log.error("stored section of packet %s does not open", row.packet_id)
        raise Gone("this referral's stored content cannot be read") from exc
