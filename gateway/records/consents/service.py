"""Recording, narrowing and withdrawing consent, and what a withdrawal sets in motion.

A withdrawal (or a narrowing, which is a withdrawal of some sections) does, in one transaction:

1. adds a new version to every consent it touches (versions are never edited);
2. cancels every packet of the person still waiting in the outbox that carries withdrawn data;
3. for every packet already delivered that carries withdrawn data, queues a signed revocation to
   its recipient, naming the packets and sections to delete. Each recipient deletes at once and
   answers with a signed deletion receipt; until it does, the revocation is retried like any
   delivery and shows as pending.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy.orm import Session

from consent.records import ConsentGrant, SubjectFacts
from gateway.exchange.kinds.revocation import send_revocation
from gateway.exchange.referrals import repository as referrals
from gateway.exchange.referrals.models import ReferralRow
from gateway.exchange.referrals.sent import drop_sent_sections
from gateway.kit.auth import Principal
from gateway.kit.errors import Conflict, NotFound, Unprocessable
from gateway.kit.keystore import seal_json
from gateway.kit.node import Node
from gateway.records.accesslog.writer import Action, Actor, record
from gateway.records.cases.models import CaseRow
from gateway.records.cases.service import own_case, person
from gateway.records.consents import repository
from gateway.records.consents.models import ConsentRow, ConsentVersionRow, WithdrawalRow
from gateway.records.person_access.cards import revoke_all_cards
from partners.errors import UnknownNode
from schemas.common import ConsentGiver, PartnerRole, Purpose, SectionName, StaffRole
from schemas.consent import (
    ChildView,
    ConsentCreate,
    ConsentNarrow,
    ConsentRead,
    ConsentStatus,
    ConsentVersionRead,
    RevocationRead,
    RevocationReason,
    WithdrawalCreate,
    WithdrawalRead,
)

QUEUED, DELIVERED, CANCELLED = "queued", referrals.DELIVERED, referrals.CANCELLED
#: At-rest context of how a best-interests determination weighed a child's view.
WEIGHING = "consents.child_view_weighing"


def subject_facts(node: Node, case: CaseRow, today: date) -> SubjectFacts:
    details = person(node, case)
    return SubjectFacts.from_birth(
        date_of_birth=details.date_of_birth,
        age_uncertain=details.age_uncertain,
        today=today,
        flags=frozenset(details.vulnerability_flags),
    )


def _read(row: ConsentRow, history: list[ConsentVersionRow]) -> ConsentRead:
    current = history[-1]
    return ConsentRead(
        id=row.id,
        case_id=row.case_id,
        purpose=row.purpose,
        recipient=row.recipient,
        recipient_role=row.recipient_role,
        status=ConsentStatus(current.status),
        sections=current.sections,
        fields=current.fields,
        given_by=row.given_by,
        giver_relation=row.giver_relation,
        child_view=row.child_view,
        best_interests_reference=row.best_interests_reference,
        child_view_weighed=row.child_view_weighing is not None,
        method=row.method,
        witness=row.witness,
        language=row.language,
        counsellor=row.counsellor,
        informed_of_risks=row.informed_of_risks,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        history=[
            ConsentVersionRead(
                version=v.version,
                status=ConsentStatus(v.status),
                sections=v.sections,
                fields=v.fields,
                recorded_at=v.recorded_at,
                recorded_by=v.recorded_by,
            )
            for v in history
        ],
    )


def record_consent(
    session: Session,
    node: Node,
    principal: Principal,
    case_id: str,
    body: ConsentCreate,
    now: datetime,
) -> ConsentRead:
    case = own_case(session, principal, case_id, now)
    if subject_facts(node, case, now.date()).is_child:
        missing = []
        if body.given_by is ConsentGiver.DATA_SUBJECT:
            missing.append("consent from a parent, guardian or legal representative")
        if body.child_view is None:
            missing.append("the child's own view")
        if not body.best_interests_reference:
            missing.append("a best-interests determination reference")
        if missing:
            raise Unprocessable(
                "this person is a child (or of uncertain age); record " + ", ".join(missing)
            )
    consent_id = secrets.token_hex(16)
    row = ConsentRow(
        id=consent_id,
        case_id=case.id,
        purpose=body.purpose.value,
        recipient=body.recipient,
        recipient_role=body.recipient_role.value if body.recipient_role else None,
        given_by=body.given_by.value,
        giver_relation=body.giver_relation,
        child_view=body.child_view.value if body.child_view else None,
        best_interests_reference=body.best_interests_reference,
        method=body.method.value,
        witness=body.witness,
        language=body.language,
        counsellor=principal.user,
        informed_of_risks=body.informed_of_risks,
        valid_from=body.valid_from or now,
        valid_until=body.valid_until,
        created_at=now,
        child_view_weighing=seal_json(
            node.keys, case.id, body.child_view_weighing, context=WEIGHING
        )
        if body.child_view_weighing
        else None,
    )
    version = ConsentVersionRow(
        consent_id=row.id,
        version=1,
        status=ConsentStatus.ACTIVE.value,
        sections=sorted({s.value for s in body.sections}),
        fields={s.value: sorted(set(f)) for s, f in body.fields.items()} if body.fields else None,
        recorded_at=now,
        recorded_by=principal.user,
        withdrawal_id=None,
    )
    session.add(row)
    session.flush()
    session.add(version)
    record(
        session,
        at=now,
        actor=Actor.of(principal),
        action=Action.CONSENT_RECORDED,
        subject=case.id,
        sections=version.sections,
        purpose=row.purpose,
    )
    return _read(row, [version])


def list_consents(
    session: Session, principal: Principal, case_id: str, now: datetime
) -> list[ConsentRead]:
    case = own_case(session, principal, case_id, now)
    return consents_of_case(session, case.id)


def consents_of_case(session: Session, case_id: str) -> list[ConsentRead]:
    """Every consent of a case with its history (the caller has authorised the reader)."""
    rows = repository.consents_of(session, case_id)
    history = repository.versions_of(session, [r.id for r in rows])
    return [_read(row, history[row.id]) for row in rows]


def read_consent(
    session: Session, principal: Principal, case_id: str, consent_id: str, now: datetime
) -> ConsentRead:
    case = own_case(session, principal, case_id, now)
    row = repository.consent_of_case(session, case.id, consent_id)
    if row is None:
        raise NotFound("consent")
    return _read(row, repository.versions_of(session, [row.id])[row.id])


def current_grants(session: Session, case_id: str) -> list[ConsentGrant]:
    """The current version of every consent of the case, as the sharing policy reads them."""
    rows = repository.consents_of(session, case_id)
    history = repository.versions_of(session, [r.id for r in rows])
    grants = []
    for row in rows:
        current = history[row.id][-1]
        withdrawn = current.recorded_at if current.status == ConsentStatus.WITHDRAWN else None
        grants.append(
            ConsentGrant(
                ref=row.id,
                purpose=Purpose(row.purpose),
                sections=frozenset(SectionName(s) for s in current.sections),
                fields={SectionName(s): frozenset(f) for s, f in (current.fields or {}).items()},
                valid_from=row.valid_from,
                valid_until=row.valid_until,
                recipient=row.recipient,
                recipient_role=PartnerRole(row.recipient_role) if row.recipient_role else None,
                withdrawn_at=withdrawn,
                given_by=ConsentGiver(row.given_by),
                child_view_recorded=row.child_view is not None,
                best_interests_reference=bool(row.best_interests_reference),
                informed_of_risks=row.informed_of_risks,
                child_view=ChildView(row.child_view) if row.child_view else None,
                child_view_weighed=row.child_view_weighing is not None,
            )
        )
    return grants


# -- withdrawal -----------------------------------------------------------------------------------


def narrow(
    session: Session,
    node: Node,
    principal: Principal,
    case_id: str,
    consent_id: str,
    body: ConsentNarrow,
    now: datetime,
) -> WithdrawalRead:
    case = own_case(session, principal, case_id, now)
    row = repository.consent_of_case(session, case.id, consent_id)
    if row is None:
        raise NotFound("consent")
    current = repository.versions_of(session, [row.id])[row.id][-1]
    if current.status == ConsentStatus.WITHDRAWN:
        raise Conflict("this consent is already withdrawn")
    keep = {s.value for s in body.sections}
    if not keep < set(current.sections):
        raise Unprocessable("narrowing keeps a smaller subset of the consent's current sections")
    removed = sorted(set(current.sections) - keep)
    scope = WithdrawalCreate(
        purpose=Purpose(row.purpose),
        recipient=row.recipient,
        sections=[SectionName(s) for s in removed],
    )
    return _withdraw(session, node, Actor.of(principal), case, scope, [(row, current, keep)], now)


def withdraw(
    session: Session,
    node: Node,
    principal: Principal,
    case_id: str,
    body: WithdrawalCreate,
    now: datetime,
) -> WithdrawalRead:
    case = own_case(session, principal, case_id, now)
    return withdraw_for(session, node, Actor.of(principal), case, body, now)


def withdraw_for(
    session: Session,
    node: Node,
    actor: Actor,
    case: CaseRow,
    body: WithdrawalCreate,
    now: datetime,
) -> WithdrawalRead:
    """Withdraw what ``body`` names for ``case``, recorded as done by ``actor``.

    The caseworker's route and the person's own portal both come here.
    """
    rows = repository.consents_of(session, case.id)
    history = repository.versions_of(session, [r.id for r in rows])
    changes = []
    for row in rows:
        current = history[row.id][-1]
        if current.status == ConsentStatus.WITHDRAWN:
            continue
        if body.purpose is not None and row.purpose != body.purpose.value:
            continue
        if body.recipient is not None and row.recipient != body.recipient:
            continue
        withdrawn = {s.value for s in body.sections} if body.sections else set(current.sections)
        keep = set(current.sections) - withdrawn
        if keep != set(current.sections):
            changes.append((row, current, keep))
    if not changes:
        raise Unprocessable("no active consent of this person matches what is to be withdrawn")
    return _withdraw(session, node, actor, case, body, changes, now)


def withdraw_consent_for(
    session: Session,
    node: Node,
    actor: Actor,
    case: CaseRow,
    consent_id: str,
    now: datetime,
    sections: Sequence[str] = (),
) -> WithdrawalRead:
    """Withdraw exactly one consent of ``case``: whole, or only ``sections`` of it (the portal)."""
    row = repository.consent_of_case(session, case.id, consent_id)
    if row is None:
        raise NotFound("consent")
    current = repository.versions_of(session, [row.id])[row.id][-1]
    if current.status == ConsentStatus.WITHDRAWN:
        raise Unprocessable("this consent is already withdrawn")
    withdrawn = set(sections) & set(current.sections) if sections else set(current.sections)
    if not withdrawn:
        raise Unprocessable("none of these parts is covered by this consent")
    keep = set(current.sections) - withdrawn
    scope = WithdrawalCreate(
        purpose=Purpose(row.purpose),
        recipient=row.recipient,
        sections=[SectionName(s) for s in sorted(withdrawn)] if keep else None,
    )
    return _withdraw(session, node, actor, case, scope, [(row, current, keep)], now)


def _withdraw(
    session: Session,
    node: Node,
    actor: Actor,
    case: CaseRow,
    scope: WithdrawalCreate,
    changes: list[tuple[ConsentRow, ConsentVersionRow, set[str]]],
    now: datetime,
) -> WithdrawalRead:
    withdrawal = WithdrawalRow(
        id=secrets.token_hex(16),
        case_id=case.id,
        requested_at=now,
        requested_by=scope.requested_by.value,
        recorded_by=actor.user,
        purpose=scope.purpose.value if scope.purpose else None,
        recipient=scope.recipient,
        sections=sorted(s.value for s in scope.sections) if scope.sections else None,
        consents_changed=[row.id for row, _, _ in changes],
        packets_cancelled=[],
    )
    session.add(withdrawal)
    session.flush()
    for row, current, keep in changes:
        status = ConsentStatus.NARROWED if keep else ConsentStatus.WITHDRAWN
        fields = {s: f for s, f in (current.fields or {}).items() if s in keep} or None
        session.add(
            ConsentVersionRow(
                consent_id=row.id,
                version=current.version + 1,
                status=status.value,
                sections=sorted(keep),
                fields=fields,
                recorded_at=now,
                recorded_by=actor.user,
                withdrawal_id=withdrawal.id,
            )
        )
        action = Action.CONSENT_NARROWED if keep else Action.CONSENT_WITHDRAWN
        record(
            session,
            at=now,
            actor=actor,
            action=action,
            subject=case.id,
            sections=sorted(set(current.sections) - keep),
            purpose=row.purpose,
        )
    session.flush()
    _reach_recipients(session, node, case, withdrawal, actor, now)
    return _withdrawal_read(session, withdrawal)


def _reach_recipients(
    session: Session,
    node: Node,
    case: CaseRow,
    withdrawal: WithdrawalRow,
    actor: Actor,
    now: datetime,
) -> None:
    """Cancel queued packets that carry withdrawn data; revoke delivered ones."""
    grants = current_grants(session, case.id)
    view = node.directory()
    to_revoke: dict[tuple[str, str], list[tuple[ReferralRow, Sequence[str]]]] = defaultdict(list)
    for referral in referrals.referrals_of_case(session, case.id):
        if referral.status not in (QUEUED, DELIVERED, referrals.AWAITING_APPROVAL):
            continue
        try:
            roles = frozenset(view.node(referral.recipient).roles)
        except UnknownNode:
            roles = frozenset()
        purpose = Purpose(referral.purpose)
        still = set[str]()
        for grant in grants:
            if grant.covers(purpose, referral.recipient, roles, now):
                still |= {s.value for s in grant.sections}
        affected = sorted(set(referral.sent_sections) - still)
        if not affected:
            continue
        outbox = referrals.outbox_of(session, referral.id) if referral.status == QUEUED else None
        in_flight = (
            outbox is not None
            and outbox.status == referrals.PENDING
            and outbox.claimed_until is not None
            and outbox.claimed_until > now
        )
        if referral.status == referrals.AWAITING_APPROVAL or (
            referral.status == QUEUED and not in_flight
        ):
            if outbox is not None and outbox.status == referrals.PENDING:
                outbox.status, outbox.finished_at, outbox.envelope = referrals.CANCELLED, now, ""
                outbox.cancel_reason = "consent_withdrawn"
            referral.status, referral.status_reason = CANCELLED, "consent_withdrawn"
            withdrawal.packets_cancelled = [*withdrawal.packets_cancelled, referral.packet_id]
            record(
                session,
                at=now,
                actor=actor,
                action=Action.REFERRAL_CANCELLED,
                subject=case.id,
                packet_id=referral.packet_id,
                sections=affected,
                purpose=referral.purpose,
                outcome="consent_withdrawn",
            )
            continue
        if in_flight and outbox is not None:
            # A worker is posting it right now: stop any retry, and revoke it in case the post
            # succeeds (if it does not, the recipient holds nothing and confirms so).
            outbox.status, outbox.finished_at = referrals.CANCELLED, now
        to_revoke[(referral.recipient, referral.purpose)].append((referral, affected))
        # The host keeps no copy of withdrawn content either: only the section names remain.
        drop_sent_sections(node, referral, affected)
        referral.withdrawn_sections = sorted({*referral.withdrawn_sections, *affected})
    for packets in to_revoke.values():
        send_revocation(
            session,
            node,
            packets=packets,
            reason=RevocationReason.CONSENT_WITHDRAWN,
            withdrawal_id=withdrawal.id,
            actor=actor,
            now=now,
        )


def _withdrawal_read(session: Session, row: WithdrawalRow) -> WithdrawalRead:
    return WithdrawalRead(
        id=row.id,
        case_id=row.case_id,
        requested_at=row.requested_at,
        requested_by=row.requested_by,
        purpose=row.purpose,
        recipient=row.recipient,
        sections=row.sections,
        consents_changed=row.consents_changed,
        packets_cancelled=row.packets_cancelled,
        revocations=[
            RevocationRead(
                recipient=r.recipient,
                packets=[p["packet_id"] for p in r.packets],
                sections=sorted({s for p in r.packets for s in p["sections"]}),
                status=r.status,
                confirmed_at=r.confirmed_at,
            )
            for r in repository.revocations_of(session, row.id)
        ],
    )


def list_withdrawals(
    session: Session, principal: Principal, case_id: str, now: datetime
) -> list[WithdrawalRead]:
    case = own_case(session, principal, case_id, now)
    return [_withdrawal_read(session, w) for w in repository.withdrawals_of(session, case.id)]


def read_withdrawal(
    session: Session, principal: Principal, case_id: str, withdrawal_id: str, now: datetime
) -> WithdrawalRead:
    case = own_case(session, principal, case_id, now)
    row = session.get(WithdrawalRow, withdrawal_id)
    if row is None or row.case_id != case.id:
        raise NotFound("withdrawal")
    return _withdrawal_read(session, row)


def erase(
    session: Session, node: Node, principal: Principal, case_id: str, now: datetime
) -> WithdrawalRead | None:
    """A valid erasure request (a DPO decides): withdraw everything, then destroy the key.

    Every recipient is sent a revocation as for any withdrawal (and confirms deletion); the
    person's data key on this node is destroyed, so the case and what was sent about it become
    unreadable here and in every backup of this database.
    """
    principal.require(StaffRole.DPO)
    case = session.get(CaseRow, case_id)
    if case is None:
        raise NotFound("case")
    rows = repository.consents_of(session, case.id)
    history = repository.versions_of(session, [r.id for r in rows])
    changes = [
        (row, history[row.id][-1], set[str]())
        for row in rows
        if history[row.id][-1].status != ConsentStatus.WITHDRAWN
    ]
    withdrawal = (
        _withdraw(session, node, Actor.of(principal), case, WithdrawalCreate(), changes, now)
        if changes
        else None
    )
    node.keys.destroy(case.id)
    revoke_all_cards(session, case.id, now)
    record(
        session,
        at=now,
        actor=Actor.of(principal),
        action=Action.SUBJECT_KEY_DESTROYED,
        subject=case.id,
        outcome="erasure_request",
    )
    return withdrawal
