"""Consent as a record: recording it, reading it, and the versions a withdrawal adds.

Records are versioned and never edited: narrowing or withdrawing adds a version, and a
withdrawal row says what was asked, by whom and when. What a withdrawal then sets in motion
(cancelling what waits, revoking what was delivered) is ``processes.withdrawal``.

The policy reads consents as ``ConsentGrant`` values (``current_grants``) and the person as
``SubjectFacts`` (``subject_facts``): plain values, so the decision stays pure.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy.orm import Session

from consent.records import ConsentGrant, SubjectFacts
from gateway.kit.at_rest import seal_json
from gateway.kit.auth import Principal
from gateway.kit.errors import Conflict, NotFound, Unprocessable
from gateway.kit.node import Node
from gateway.records.accesslog.writer import Action, Actor, record
from gateway.records.cases.models import CaseRow
from gateway.records.cases.service import own_case, person
from gateway.records.consents import repository
from gateway.records.consents.models import ConsentRow, ConsentVersionRow, WithdrawalRow
from schemas.common import ConsentGiver, PartnerRole, Purpose, SectionName
from schemas.consent import (
    ChildView,
    ConsentCreate,
    ConsentNarrow,
    ConsentRead,
    ConsentStatus,
    ConsentVersionRead,
    WithdrawalCreate,
)

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


def _complete_for_a_child(body: ConsentCreate) -> None:
    """A child's consent needs a representative's consent, the child's view and a BID."""
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
        _complete_for_a_child(body)
    row = ConsentRow(
        id=secrets.token_hex(16),
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
    grants = []
    for row in repository.current_versions(session, case_id):
        withdrawn = row.recorded_at if row.status == ConsentStatus.WITHDRAWN else None
        grants.append(
            ConsentGrant(
                ref=row.id,
                purpose=Purpose(row.purpose),
                sections=frozenset(SectionName(s) for s in row.sections),
                fields={SectionName(s): frozenset(f) for s, f in (row.fields or {}).items()},
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
                child_view_weighed=bool(row.weighed),
            )
        )
    return grants


# -- what a withdrawal changes --------------------------------------------------------------------

#: A consent, its current version, and the sections it keeps after a withdrawal.
Change = tuple[ConsentRow, ConsentVersionRow, set[str]]


def _current(
    session: Session, case: CaseRow, consent_id: str
) -> tuple[ConsentRow, ConsentVersionRow]:
    """A consent of the case and its current version; NotFound for any other."""
    row = repository.consent_of_case(session, case.id, consent_id)
    if row is None:
        raise NotFound("consent")
    return row, repository.versions_of(session, [row.id])[row.id][-1]


def narrowing(
    session: Session, case: CaseRow, consent_id: str, body: ConsentNarrow
) -> tuple[WithdrawalCreate, list[Change]]:
    """What narrowing one consent to ``body.sections`` withdraws."""
    row, current = _current(session, case, consent_id)
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
    return scope, [(row, current, keep)]


def withdrawing(session: Session, case: CaseRow, body: WithdrawalCreate) -> list[Change]:
    """What withdrawing ``body`` (everything, or a purpose, a recipient, sections) changes."""
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
    return changes


def withdrawing_one(
    session: Session, case: CaseRow, consent_id: str, sections: Sequence[str]
) -> tuple[WithdrawalCreate, list[Change]]:
    """What withdrawing one consent, whole or only ``sections`` of it, changes (the portal)."""
    row, current = _current(session, case, consent_id)
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
    return scope, [(row, current, keep)]


def record_withdrawal(
    session: Session,
    actor: Actor,
    case: CaseRow,
    scope: WithdrawalCreate,
    changes: Sequence[Change],
    now: datetime,
) -> WithdrawalRow:
    """Add the withdrawal and a new version of every consent it changes, each logged."""
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
        _add_version(session, actor, case, withdrawal, row, current, keep, now)
    session.flush()
    return withdrawal


def _add_version(
    session: Session,
    actor: Actor,
    case: CaseRow,
    withdrawal: WithdrawalRow,
    row: ConsentRow,
    current: ConsentVersionRow,
    keep: set[str],
    now: datetime,
) -> None:
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
    record(
        session,
        at=now,
        actor=actor,
        action=Action.CONSENT_NARROWED if keep else Action.CONSENT_WITHDRAWN,
        subject=case.id,
        sections=sorted(set(current.sections) - keep),
        purpose=row.purpose,
    )


def note_cancelled(withdrawal: WithdrawalRow, packet_id: str) -> None:
    """A packet the withdrawal stopped before it was sent."""
    withdrawal.packets_cancelled = [*withdrawal.packets_cancelled, packet_id]


def everything_given(session: Session, case: CaseRow) -> list[Change]:
    """Every consent of the case not withdrawn yet, to withdraw whole (an erasure)."""
    rows = repository.consents_of(session, case.id)
    history = repository.versions_of(session, [r.id for r in rows])
    return [
        (row, history[row.id][-1], set[str]())
        for row in rows
        if history[row.id][-1].status != ConsentStatus.WITHDRAWN
    ]
