"""Erasing a person (a DPO decides a valid erasure request): withdraw everything, then destroy
the person's data key.

Every recipient is sent a revocation as for any withdrawal (and confirms deletion); the key is
destroyed, so the case and what was sent about it become unreadable here and in every backup of
this database (crypto-shredding); the person's access cards stop working.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from gateway.kit.auth import Principal
from gateway.kit.errors import NotFound
from gateway.kit.node import Node
from gateway.processes.withdrawal import carry_out
from gateway.records.accesslog.writer import Action, Actor, record
from gateway.records.cases import repository as cases
from gateway.records.consents import service as consents
from gateway.records.person_access.cards import revoke_all_cards
from schemas.common import StaffRole
from schemas.consent import WithdrawalCreate, WithdrawalRead


def erase(
    session: Session, node: Node, principal: Principal, case_id: str, now: datetime
) -> WithdrawalRead | None:
    principal.require(StaffRole.DPO)
    case = cases.by_id(session, case_id)
    if case is None:
        raise NotFound("case")
    actor = Actor.of(principal)
    changes = consents.everything_given(session, case)
    withdrawal = (
        carry_out(session, node, actor, case, WithdrawalCreate(), changes, now) if changes else None
    )
    node.keys.destroy(case.id)
    revoke_all_cards(session, case.id, now)
    record(
        session,
        at=now,
        actor=actor,
        action=Action.SUBJECT_KEY_DESTROYED,
        subject=case.id,
        outcome="erasure_request",
    )
    return withdrawal
