"""Queries on consents, their versions, withdrawals and revocations."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.records.consents.models import (
    ConsentRow,
    ConsentVersionRow,
    RevocationRow,
    WithdrawalRow,
)


def consents_of(session: Session, case_id: str) -> Sequence[ConsentRow]:
    return session.scalars(
        select(ConsentRow).where(ConsentRow.case_id == case_id).order_by(ConsentRow.created_at)
    ).all()


def versions_of(session: Session, consent_ids: Sequence[str]) -> dict[str, list[ConsentVersionRow]]:
    """Every version of each consent, oldest first."""
    rows = session.scalars(
        select(ConsentVersionRow)
        .where(ConsentVersionRow.consent_id.in_(consent_ids))
        .order_by(ConsentVersionRow.consent_id, ConsentVersionRow.version)
    ).all()
    history: dict[str, list[ConsentVersionRow]] = {cid: [] for cid in consent_ids}
    for row in rows:
        history[row.consent_id].append(row)
    return history


def consent_of_case(session: Session, case_id: str, consent_id: str) -> ConsentRow | None:
    return session.scalar(
        select(ConsentRow).where(ConsentRow.id == consent_id, ConsentRow.case_id == case_id)
    )


def withdrawals_of(session: Session, case_id: str) -> Sequence[WithdrawalRow]:
    return session.scalars(
        select(WithdrawalRow)
        .where(WithdrawalRow.case_id == case_id)
        .order_by(WithdrawalRow.requested_at, WithdrawalRow.id)
    ).all()


def revocations_of(session: Session, withdrawal_id: str) -> Sequence[RevocationRow]:
    return session.scalars(
        select(RevocationRow)
        .where(RevocationRow.withdrawal_id == withdrawal_id)
        .order_by(RevocationRow.recipient)
    ).all()
