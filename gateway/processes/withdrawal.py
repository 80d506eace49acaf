"""Withdrawing consent, and what it sets in motion on every recipient.

A withdrawal (or a narrowing, which is a withdrawal of some sections) does, in one transaction:

1. adds a new version to every consent it touches (``records.consents``; versions are never
   edited);
2. cancels every referral of the person that carries withdrawn data and is still waiting, for a
   second approval or in the outbox: it is never sent;
3. for every referral already delivered (or being posted right now) that carries withdrawn data,
   queues a signed revocation to its recipient naming the packets and sections to delete, and
   drops those sections from this node's own copy. Each recipient deletes at once and answers
   with a signed deletion receipt; until it does, the revocation is retried like any delivery
   and shows as pending.

Example::

    >>> withdraw(session, node, caseworker, case_id, WithdrawalCreate(), now)  # doctest: +SKIP
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from gateway.exchange.kinds.revocation import send_revocation
from gateway.exchange.outbox import repository as outbox
from gateway.exchange.referrals import repository as referrals
from gateway.exchange.referrals.models import ReferralRow
from gateway.exchange.referrals.sent import drop_sent_sections
from gateway.exchange.revocations import repository as revocations
from gateway.kit.auth import Principal
from gateway.kit.errors import NotFound, Unprocessable
from gateway.kit.node import Node
from gateway.records.accesslog.writer import Action, Actor, record
from gateway.records.cases.models import CaseRow
from gateway.records.cases.service import own_case
from gateway.records.consents import repository as consents_repository
from gateway.records.consents import service as consents
from gateway.records.consents.models import WithdrawalRow
from partners.errors import UnknownNode
from schemas.common import Purpose, ReferralStatus
from schemas.consent import (
    ConsentNarrow,
    RevocationRead,
    RevocationReason,
    WithdrawalCreate,
    WithdrawalRead,
)

WITHDRAWN = "consent_withdrawn"
#: Referrals a withdrawal can still stop before they leave this node.
_WAITING = (ReferralStatus.AWAITING_APPROVAL, ReferralStatus.QUEUED)


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
    scope, changes = consents.narrowing(session, case, consent_id, body)
    return carry_out(session, node, Actor.of(principal), case, scope, changes, now)


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
    changes = consents.withdrawing(session, case, body)
    if not changes:
        raise Unprocessable("no active consent of this person matches what is to be withdrawn")
    return carry_out(session, node, actor, case, body, changes, now)


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
    scope, changes = consents.withdrawing_one(session, case, consent_id, sections)
    return carry_out(session, node, actor, case, scope, changes, now)


def carry_out(
    session: Session,
    node: Node,
    actor: Actor,
    case: CaseRow,
    scope: WithdrawalCreate,
    changes: Sequence[consents.Change],
    now: datetime,
) -> WithdrawalRead:
    """Record the withdrawal, then stop what waits and revoke what went."""
    withdrawal = consents.record_withdrawal(session, actor, case, scope, changes, now)
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
    """Cancel waiting referrals that carry withdrawn data; revoke delivered ones."""
    to_revoke: dict[tuple[str, str], list[tuple[ReferralRow, Sequence[str]]]] = defaultdict(list)
    for referral, affected in _affected(session, node, case, now):
        in_flight = outbox.stop_for_referral(session, referral.id, reason=WITHDRAWN, now=now)
        if referral.status in _WAITING and not in_flight:
            _cancel(session, referral, affected, withdrawal, actor, now)
            continue
        # Delivered, or being posted right now (if that post fails, the recipient holds nothing
        # and confirms so): revoke it.
        to_revoke[(referral.recipient, referral.purpose)].append((referral, affected))
        # The host keeps no copy of withdrawn content either: only the section names remain.
        drop_sent_sections(node, referral, affected)
        referrals.note_withdrawn(referral, affected)
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


def _affected(
    session: Session, node: Node, case: CaseRow, now: datetime
) -> list[tuple[ReferralRow, list[str]]]:
    """Each live referral of the case with the sections no current consent covers any more."""
    grants = consents.current_grants(session, case.id)
    view = node.directory()
    affected = []
    for referral in referrals.of_case(session, case.id):
        if referral.status not in (*_WAITING, ReferralStatus.DELIVERED):
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
        # What the host has already deleted at its date may still be held by the recipient (a
        # legal hold there, or its purge not yet run): a withdrawal names it too.
        expired = set(referral.expired_sections) - set(referral.withdrawn_sections)
        gone = sorted((set(referral.sent_sections) | expired) - still)
        if gone:
            affected.append((referral, gone))
    return affected


def _cancel(
    session: Session,
    referral: ReferralRow,
    sections: Sequence[str],
    withdrawal: WithdrawalRow,
    actor: Actor,
    now: datetime,
) -> None:
    referrals.cancel(referral, WITHDRAWN)
    consents.note_cancelled(withdrawal, referral.packet_id)
    record(
        session,
        at=now,
        actor=actor,
        action=Action.REFERRAL_CANCELLED,
        subject=referral.case_id,
        packet_id=referral.packet_id,
        sections=sections,
        purpose=referral.purpose,
        outcome=WITHDRAWN,
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
                packets=revocations.packets_named(r),
                sections=revocations.sections_named(r),
                status=r.status,
                confirmed_at=r.confirmed_at,
            )
            for r in revocations.of_withdrawal(session, row.id)
        ],
    )


def list_withdrawals(
    session: Session, principal: Principal, case_id: str, now: datetime
) -> list[WithdrawalRead]:
    case = own_case(session, principal, case_id, now)
    return [
        _withdrawal_read(session, w) for w in consents_repository.withdrawals_of(session, case.id)
    ]


def read_withdrawal(
    session: Session, principal: Principal, case_id: str, withdrawal_id: str, now: datetime
) -> WithdrawalRead:
    case = own_case(session, principal, case_id, now)
    row = consents_repository.withdrawal_of_case(session, case.id, withdrawal_id)
    if row is None:
        raise NotFound("withdrawal")
    return _withdrawal_read(session, row)
