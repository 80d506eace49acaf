"""A caseworker's referrals: decide, minimise, seal, sign and queue, in one transaction; approve
the gravest; read them back, each with its delivery attempts and the recipient's receipt.

Invariants:
- nothing is sealed unless ``consent.policy.decide`` allows it; what it does not allow is absent
  from the plaintext (``consent.minimise``);
- a referral about a victim of trafficking or a person with an asylum history is sealed only
  once a second caseworker of the office, not its author, approves it, and is decided again then;
- the envelope, the referral and its outbox row are written together: after commit the packet is
  delivered exactly once, whatever crashes in between (see ``exchange.delivery``);
- a refusal is answered with the rule that refused it and kept in the access log.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.orm import Session

from consent.errors import RefusalRule, SharingRefused
from consent.minimise import minimise
from consent.policy import Allowance, Recipient, check_content, decide
from consent.records import SubjectFacts
from consent.retention import section_deadlines
from gateway.exchange.followup import repository as followup
from gateway.exchange.kinds.referral import queue_referral
from gateway.exchange.outbox import repository as outbox
from gateway.exchange.outbox.models import (
    DeliveryAttemptRow,
    DeliveryReceiptRow,
    OutboxRow,
    OutboxStatus,
)
from gateway.exchange.referrals import repository as referrals
from gateway.exchange.referrals.models import ReferralRow
from gateway.exchange.referrals.sent import sent_at_rest, sent_content
from gateway.kit.auth import Principal
from gateway.kit.errors import Conflict, Gone, NotFound, Unprocessable
from gateway.kit.metrics import REFUSALS
from gateway.kit.node import Node
from gateway.records.accesslog.writer import Action, Actor, deny, record
from gateway.records.cases import repository as cases
from gateway.records.cases.models import CaseRow
from gateway.records.cases.service import own_case
from gateway.records.consents.service import current_grants, subject_facts
from partners.errors import UnknownNode
from schemas.api import (
    DeliveryAttemptRead,
    DeliveryReceiptRead,
    ReferralCreate,
    ReferralRead,
    ReReferralCreate,
)
from schemas.common import Purpose, ReferralStatus, SectionName, StaffRole, TransferGround
from schemas.directory import NodeRecord
from schemas.followup import ReplyKind
from schemas.sections import ReferralContent

#: How ``withheld`` names a section that did not go at all.
WHOLE = "whole section"


def _withheld(entered: ReferralContent, sent: ReferralContent) -> dict[str, Any]:
    """Names (never values) of what the caseworker entered that did not go."""
    sent_wire = sent.to_wire()
    withheld: dict[str, Any] = {}
    for section, fields in entered.to_wire().items():
        if section not in sent_wire:
            withheld[section] = WHOLE
            continue
        missing = sorted(set(fields) - set(sent_wire[section]))
        if missing:
            withheld[section] = missing
    return withheld


def _refusal_logged(
    session: Session,
    case: CaseRow,
    purpose: Purpose,
    actor: Actor,
    now: datetime,
    refusal: SharingRefused,
    packet_id: str | None = None,
) -> None:
    """Keep a refusal in the access log even though the request then fails; count it."""
    REFUSALS.labels(stage="referral", reason=refusal.rule.value).inc()
    record(
        session,
        at=now,
        actor=actor,
        action=Action.REFERRAL_REFUSED,
        subject=case.id,
        packet_id=packet_id,
        purpose=purpose.value,
        outcome=refusal.rule.value,
        keep=True,
    )


def _merge_withheld(earlier: dict[str, Any], later: dict[str, Any]) -> dict[str, Any]:
    """What was withheld at submission together with what a later decision withheld too."""
    merged = dict(earlier)
    for section, names in later.items():
        if WHOLE in (names, merged.get(section)):
            merged[section] = WHOLE
        else:
            merged[section] = sorted({*merged.get(section, []), *names})
    return merged


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
    facts: SubjectFacts,
) -> tuple[ReferralContent, Allowance]:
    """What of ``entered`` may go to ``target`` now: the policy and the person's consents decide.

    A refusal is logged (kept even though the request then fails) and raised.
    """
    view = node.directory()
    try:
        allowance = decide(
            rule_for=view.rule,
            consents=current_grants(session, case.id),
            subject=facts,
            recipient=Recipient.of(target),
            purpose=purpose,
            ground=ground,
            suspended_countries=view.suspended_countries,
            suspended_regions=view.suspended_regions,
            now=now,
        )
        return minimise(entered, allowance), allowance
    except SharingRefused as refusal:
        _refusal_logged(session, case, purpose, actor, now, refusal)
        raise


@dataclass(frozen=True)
class Preview:
    """What a referral would carry to its recipient if sent now: the content as minimised, the
    names of what would be left out, or the rule that would refuse it; and whether a second
    caseworker would have to approve it first."""

    sent: ReferralContent | None
    withheld: dict[str, Any]
    refused: RefusalRule | None
    refusal: str
    needs_second_approval: bool


def preview_referral(
    session: Session, node: Node, principal: Principal, body: ReferralCreate, now: datetime
) -> Preview:
    """The decision ``create_referral`` would take, without taking it: nothing is kept, sealed
    or logged (the caseworker is looking at their own case's data)."""
    case = own_case(session, principal, body.case_id, now)
    target = listed_recipient(node, body.recipient)
    facts = subject_facts(node, case, now.date())
    view = node.directory()
    try:
        check_content(body.content, body.purpose, facts)
        allowance = decide(
            rule_for=view.rule,
            consents=current_grants(session, case.id),
            subject=facts,
            recipient=Recipient.of(target),
            purpose=body.purpose,
            ground=body.transfer_ground,
            suspended_countries=view.suspended_countries,
            suspended_regions=view.suspended_regions,
            now=now,
        )
    except SharingRefused as refusal:
        return Preview(None, {}, refusal.rule, refusal.detail, facts.needs_second_approval)
    sent = minimise(body.content, allowance)
    return Preview(sent, _withheld(body.content, sent), None, "", facts.needs_second_approval)


def listed_recipient(node: Node, recipient: str) -> NodeRecord:
    try:
        return node.directory().node(recipient)
    except UnknownNode as exc:
        raise Unprocessable("the federation directory lists no such recipient") from exc


def create_referral(
    session: Session,
    node: Node,
    principal: Principal,
    body: ReferralCreate,
    now: datetime,
    *,
    follows: str | None = None,
) -> ReferralRead:
    """Decide, minimise and seal a referral; or, for the gravest cases, hold it for approval.

    A referral about a victim of trafficking or a person with an asylum history is decided and
    minimised now but sealed only when a second staff member of the office approves it
    (``approve_referral``), which decides again with what holds then.
    """
    case = own_case(session, principal, body.case_id, now)
    target = listed_recipient(node, body.recipient)
    actor = Actor.of(principal)
    facts = subject_facts(node, case, now.date())
    try:
        check_content(body.content, body.purpose, facts)
    except SharingRefused as refusal:
        _refusal_logged(session, case, body.purpose, actor, now, refusal)
        raise
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
        facts,
    )
    referral = ReferralRow(
        id=secrets.token_hex(16),
        case_id=case.id,
        office=principal.office,
        created_by=principal.user,
        created_at=now,
        recipient=target.node_id,
        purpose=body.purpose.value,
        transfer_ground=body.transfer_ground.value,
        packet_id=secrets.token_hex(16),
        withdrawn_sections=[],
        expired_sections=[],
        status=ReferralStatus.QUEUED,
        follows=follows,
    )
    content = _hold_content(session, node, referral, case, content, allowance, facts, now)
    referral.withheld = _withheld(body.content, content)
    referrals.add(session, referral)
    if facts.needs_second_approval:
        _hold_for_approval(session, referral, actor, now)
    else:
        queue_referral(session, node, referral, content, actor, now)
    # Just queued (or held): no attempt and no receipt yet, nothing to read back.
    return referral_view(referral, attempts=[], receipt=None)


def _hold_for_approval(
    session: Session, referral: ReferralRow, actor: Actor, now: datetime
) -> None:
    """Decided but not sealed: it waits for a second caseworker of the office."""
    referral.status, referral.submitted_at = ReferralStatus.AWAITING_APPROVAL, now
    record(
        session,
        at=now,
        actor=actor,
        action=Action.REFERRAL_AWAITING_APPROVAL,
        subject=referral.case_id,
        packet_id=referral.packet_id,
        sections=referral.sent_sections,
        purpose=referral.purpose,
    )


def approve_referral(
    session: Session, node: Node, principal: Principal, referral_id: str, now: datetime
) -> ReferralRead:
    """A second caseworker of the office approves a held referral: decide again, then seal.

    The author cannot approve their own referral; the attempt is refused and logged. What goes
    is decided again with the consents and the directory in force now, so a consent withdrawn
    or a country suspended while the referral waited stops it here.
    """
    actor = Actor.of(principal)
    referral, case = own_referral(session, principal, referral_id, now)
    if referral.status != ReferralStatus.AWAITING_APPROVAL:
        raise Conflict("this referral is not awaiting approval")
    purpose = Purpose(referral.purpose)
    if referral.created_by == principal.user:
        _refuse_own_approval(session, case, referral, actor, now)
    target = listed_recipient(node, referral.recipient)
    facts = subject_facts(node, case, now.date())
    stored = sent_content(node, referral)
    if not stored:
        raise Gone("this person's data has been erased")
    held = ReferralContent.model_validate(stored)
    content, allowance = allowed_content(
        session,
        node,
        case,
        target,
        purpose,
        TransferGround(referral.transfer_ground),
        held,
        actor,
        now,
        facts,
    )
    content = _hold_content(session, node, referral, case, content, allowance, facts, now)
    referral.withheld = _merge_withheld(referral.withheld, _withheld(held, content))
    referrals.approve(referral, by=principal.user, at=now)
    record(
        session,
        at=now,
        actor=actor,
        action=Action.REFERRAL_APPROVED,
        subject=case.id,
        packet_id=referral.packet_id,
        sections=referral.sent_sections,
        purpose=referral.purpose,
    )
    queue_referral(session, node, referral, content, actor, now)
    return read_referral_row(session, referral)


def _refuse_own_approval(
    session: Session, case: CaseRow, referral: ReferralRow, actor: Actor, now: datetime
) -> None:
    refusal = SharingRefused(
        RefusalRule.SELF_APPROVAL,
        "a referral about a victim of trafficking or a person with an asylum history needs "
        "the approval of another staff member of the office, not its author",
    )
    purpose = Purpose(referral.purpose)
    _refusal_logged(session, case, purpose, actor, now, refusal, referral.packet_id)
    raise refusal


def _hold_content(
    session: Session,
    node: Node,
    referral: ReferralRow,
    case: CaseRow,
    content: ReferralContent,
    allowance: Allowance,
    facts: SubjectFacts,
    now: datetime,
) -> ReferralContent:
    """Keep what may go (sealed at rest), the consents it rests on, and each section's date.

    A section whose date has already passed (the person arrived long ago, say) is left out:
    nothing is sent that its recipient would have to delete at once. When every section has
    passed its date, nothing is left to send and the referral is refused. Returns what is kept.
    """
    view = node.directory()
    deadlines = section_deadlines(
        rules=view.directory.retention,
        horizons=view.directory.event_horizon_days,
        purpose=Purpose(referral.purpose),
        sections=[SectionName(s) for s in content.section_names()],
        sent_at=now.replace(microsecond=0),
        is_child=facts.is_child,
        events=cases.case_events(session, case.id),
    )
    past = {section for section, date in deadlines.items() if date <= now}
    if past:
        if past == set(deadlines):
            raise Unprocessable(
                "every section of this referral is already past its delete-by date "
                "(counted from the events reported for the case): there is nothing left to send"
            )
        content = content.without(past)
        deadlines = {s: d for s, d in deadlines.items() if s not in past}
    referral.consent_ids = list(allowance.consent_refs)
    referral.sent_sections = sorted(content.section_names())
    referral.sealed_content = sent_at_rest(node, case.id, content.to_wire())
    referral.delete_by = max(deadlines.values())
    referral.section_delete_by = {s.value: d.isoformat() for s, d in deadlines.items()}
    referral.next_delete_at = min(deadlines.values())
    return content


def read_referral_row(session: Session, row: ReferralRow) -> ReferralRead:
    queued = outbox.for_referral(session, row.id)
    attempts = outbox.attempts_of(session, queued.id) if queued else []
    return referral_view(row, attempts, outbox.receipt_of(session, row.packet_id), queued)


def referral_view(
    row: ReferralRow,
    attempts: Sequence[DeliveryAttemptRow],
    receipt: DeliveryReceiptRow | None,
    queued: OutboxRow | None = None,
) -> ReferralRead:
    """What a caseworker reads of a referral, from its row, attempts, receipt and outbox row."""
    travels_by, travels_since = _travelling(queued)
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
        receipt=DeliveryReceiptRead(
            received_at=receipt.received_at,
            verified_at=receipt.verified_at,
            envelope_sha256=receipt.envelope_sha256,
        )
        if receipt
        else None,
        status_reason=row.status_reason,
        submitted_at=row.submitted_at,
        approved_by=row.approved_by,
        follows=row.follows,
        travels_by=travels_by,
        travels_since=travels_since,
    )


def _travelling(
    queued: OutboxRow | None,
) -> tuple[Literal["pickup", "bundle"] | None, datetime | None]:
    """How a referral still on its way travels, if not by post: in a bundle (since it was last
    written into one), or waiting for its recipient to pick it up."""
    if queued is None or queued.status != OutboxStatus.PENDING:
        return None, None
    if queued.bundled_at is not None:
        return "bundle", queued.bundled_at
    if queued.pickup_since is not None:
        return "pickup", queued.pickup_since
    return None, None


def refer_again(
    session: Session,
    node: Node,
    principal: Principal,
    referral_id: str,
    body: ReReferralCreate,
    now: datetime,
) -> ReferralRead:
    """After a decline, refer the person to another partner, linked to the declined referral.

    Decided again from scratch for the new recipient: the person's consents and the policy must
    allow it, as for any referral.
    """
    declined, case = own_referral(session, principal, referral_id, now)
    last = followup.last_reply(session, declined.packet_id)
    if last is None or last.detail != ReplyKind.DECLINED:
        raise Conflict("only a referral its recipient declined is referred again")
    if body.recipient == declined.recipient:
        raise Unprocessable("refer the person to another partner than the one that declined")
    content = body.content
    if content is None:
        stored = sent_content(node, declined)
        if not stored:
            raise Unprocessable("nothing of the declined referral is left to send: give content")
        content = ReferralContent.model_validate(stored)
    again = ReferralCreate(
        case_id=case.id,
        recipient=body.recipient,
        purpose=Purpose(declined.purpose),
        transfer_ground=body.transfer_ground or TransferGround(declined.transfer_ground),
        content=content,
    )
    return create_referral(session, node, principal, again, now, follows=declined.id)


def own_referral(
    session: Session, principal: Principal, referral_id: str, now: datetime
) -> tuple[ReferralRow, CaseRow]:
    """A referral of the caller's office and its case; NotFound (and a denied entry) otherwise."""
    principal.require(StaffRole.CASEWORKER)
    referral = referrals.in_office(session, referral_id, principal.office)
    if referral is None:
        deny(session, at=now, actor=Actor.of(principal), outcome="referral_not_in_office")
        raise NotFound("referral")
    case = cases.by_id(session, referral.case_id)
    if case is None:
        raise NotFound("case")
    return referral, case


def read_referral(
    session: Session, principal: Principal, referral_id: str, now: datetime
) -> ReferralRead:
    referral, _ = own_referral(session, principal, referral_id, now)
    return read_referral_row(session, referral)


def list_referrals(
    session: Session, principal: Principal, case_id: str, now: datetime
) -> list[ReferralRead]:
    case = own_case(session, principal, case_id, now)
    return [read_referral_row(session, row) for row in referrals.of_case(session, case.id)]
