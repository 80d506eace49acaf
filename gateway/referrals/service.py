"""Creating a referral: decide, minimise, seal, sign, and queue, all in one transaction.

Invariants:
- nothing is sealed unless ``consent.policy.decide`` allows it; what it does not allow is absent
  from the plaintext (``consent.minimise``);
- the envelope, the referral and its outbox row are written together: after commit the packet is
  delivered exactly once, whatever crashes in between (see ``gateway.delivery``);
- a refusal is answered with the rule that refused it and kept in the access log.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from consent.errors import SharingRefused
from consent.minimise import minimise
from consent.policy import Allowance, Recipient, check_content, decide
from consent.retention import section_deadlines
from gateway.accesslog.service import Action, Actor, deny, record
from gateway.auth import Principal
from gateway.cases.models import CaseRow
from gateway.cases.repository import case_events
from gateway.cases.service import own_case
from gateway.consents.service import current_grants, subject_facts
from gateway.delivery.outbox import Message, seal_and_queue
from gateway.errors import NotFound, Unprocessable
from gateway.node import Node
from gateway.referrals import repository
from gateway.referrals.models import DeliveryAttemptRow, ReceiptRow, ReferralRow
from gateway.referrals.sent import seal_sent
from partners.errors import UnknownNode
from schemas.api import DeliveryAttemptRead, ReceiptRead, ReferralCreate, ReferralRead
from schemas.common import Purpose, SectionName, StaffRole, TransferGround
from schemas.directory import NodeRecord
from schemas.envelope import MessageKind
from schemas.sections import ReferralContent

QUEUED = "queued"


def _withheld(entered: ReferralContent, sent: ReferralContent) -> dict[str, Any]:
    """Names (never values) of what the caseworker entered that did not go."""
    sent_wire = sent.to_wire()
    withheld: dict[str, Any] = {}
    for section, fields in entered.to_wire().items():
        if section not in sent_wire:
            withheld[section] = "whole section"
            continue
        missing = sorted(set(fields) - set(sent_wire[section]))
        if missing:
            withheld[section] = missing
    return withheld


def allowed_content(
    session: Session,
    node: Node,
    case: CaseRow,
    target: NodeRecord,
    purpose: Purpose,
    ground: TransferGround,
    entered: ReferralContent,
    actor: Actor,
    now: datetime,
) -> tuple[ReferralContent, Allowance]:
    """What of ``entered`` may go to ``target`` now: the policy and the person's consents decide.

    A refusal is logged (kept even though the request then fails) and raised.
    """
    view = node.directory()
    recipient = Recipient(
        node_id=target.node_id, roles=frozenset(target.roles), country=target.country
    )
    try:
        check_content(entered, purpose)
        allowance = decide(
            rule_for=view.rule,
            consents=current_grants(session, case.id),
            subject=subject_facts(node, case, now.date()),
            recipient=recipient,
            purpose=purpose,
            ground=ground,
            suspended_countries=view.suspended_countries,
            now=now,
        )
        return minimise(entered, allowance), allowance
    except SharingRefused as refusal:
        record(
            session,
            at=now,
            actor=actor,
            action=Action.REFERRAL_REFUSED,
            subject=case.id,
            purpose=purpose.value,
            outcome=refusal.rule.value,
            keep=True,
        )
        raise


def create_referral(
    session: Session, node: Node, principal: Principal, body: ReferralCreate, now: datetime
) -> ReferralRead:
    case = own_case(session, principal, body.case_id, now)
    view = node.directory()
    try:
        target = view.node(body.recipient)
    except UnknownNode as exc:
        raise Unprocessable("the federation directory lists no such recipient") from exc
    actor = Actor.of(principal)
    content, allowance = allowed_content(
        session,
        node,
        case,
        target,
        body.purpose,
        body.transfer_ground,
        body.content,
        actor,
        now,
    )

    facts = subject_facts(node, case, now.date())
    deadlines = section_deadlines(
        rules=view.directory.retention,
        horizons=view.directory.event_horizon_days,
        purpose=body.purpose,
        sections=[SectionName(s) for s in content.section_names()],
        sent_at=now.replace(microsecond=0),
        is_child=facts.is_child,
        events=case_events(session, case.id),
    )
    delete_by = max(deadlines.values())
    referral_id = secrets.token_hex(16)
    message = Message(
        kind=MessageKind.REFERRAL,
        recipient=target.node_id,
        purpose=body.purpose,
        case_id=case.id,
        consent_ref=allowance.consent_refs[0],
        transfer_ground=body.transfer_ground,
        sections=[SectionName(s) for s in content.section_names()],
        content=content.to_wire(),
        delete_by=delete_by,
        section_delete_by=deadlines,
        referral_id=referral_id,
    )
    referral = ReferralRow(
        id=referral_id,
        case_id=case.id,
        office=principal.office,
        created_by=principal.user,
        created_at=now,
        recipient=target.node_id,
        purpose=body.purpose.value,
        transfer_ground=body.transfer_ground.value,
        consent_ids=list(allowance.consent_refs),
        packet_id=message.packet_id,
        sent_sections=sorted(content.section_names()),
        sealed_content=seal_sent(node, case.id, content.to_wire()),
        withheld=_withheld(body.content, content),
        withdrawn_sections=[],
        delete_by=delete_by,
        section_delete_by={s.value: d.isoformat() for s, d in deadlines.items()},
        next_delete_at=min(deadlines.values()),
        expired_sections=[],
        status=QUEUED,
    )
    session.add(referral)
    session.flush()
    header = seal_and_queue(session, node, message, now)
    record(
        session,
        at=now,
        actor=actor,
        action=Action.REFERRAL_SEALED,
        subject=case.id,
        packet_id=header.packet_id,
        sections=header.sections,
        purpose=body.purpose.value,
    )
    # Just queued: no attempt and no receipt yet, so nothing to read back from the database.
    return referral_view(referral, attempts=[], receipt=None)


def read_referral_row(session: Session, row: ReferralRow) -> ReferralRead:
    outbox = repository.outbox_of(session, row.id)
    attempts = repository.attempts_of(session, outbox.id) if outbox else []
    return referral_view(row, attempts, repository.receipt_of(session, row.packet_id))


def referral_view(
    row: ReferralRow, attempts: Sequence[DeliveryAttemptRow], receipt: ReceiptRow | None
) -> ReferralRead:
    """What a caseworker reads of a referral, from its row, attempts and receipt."""
    return ReferralRead(
        id=row.id,
        case_id=row.case_id,
        recipient=row.recipient,
        purpose=row.purpose,
        packet_id=row.packet_id,
        created_at=row.created_at,
        delete_by=row.delete_by,
        status=row.status,
        transfer_ground=row.transfer_ground,
        sections_sent=sorted({*row.sent_sections, *row.withdrawn_sections, *row.expired_sections}),
        withheld=row.withheld,
        attempts=[
            DeliveryAttemptRead(attempted_at=a.attempted_at, outcome=a.outcome) for a in attempts
        ],
        receipt=ReceiptRead(
            received_at=receipt.received_at,
            verified_at=receipt.verified_at,
            envelope_sha256=receipt.envelope_sha256,
        )
        if receipt
        else None,
    )


def read_referral(
    session: Session, principal: Principal, referral_id: str, now: datetime
) -> ReferralRead:
    principal.require(StaffRole.CASEWORKER)
    row = repository.referral_in_office(session, referral_id, principal.office)
    if row is None:
        deny(session, at=now, actor=Actor.of(principal), outcome="referral_not_in_office")
        raise NotFound("referral")
    return read_referral_row(session, row)


def list_referrals(
    session: Session, principal: Principal, case_id: str, now: datetime
) -> list[ReferralRead]:
    case = own_case(session, principal, case_id, now)
    return [
        read_referral_row(session, row) for row in repository.referrals_of_case(session, case.id)
    ]
