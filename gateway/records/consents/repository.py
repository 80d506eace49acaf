"""Every query on consents, their versions and withdrawals."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from gateway.records.consents.models import ConsentRow, ConsentVersionRow, WithdrawalRow


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


def _current_versions_statement() -> Any:
    latest = (
        select(func.max(ConsentVersionRow.version))
        .where(ConsentVersionRow.consent_id == ConsentRow.id)
        .correlate(ConsentRow)
        .scalar_subquery()
    )
    return (
        select(
            ConsentRow.id,
            ConsentRow.purpose,
            ConsentRow.recipient,
            ConsentRow.recipient_role,
            ConsentRow.given_by,
            ConsentRow.child_view,
            ConsentRow.best_interests_reference,
            ConsentRow.child_view_weighing.is_not(None).label("weighed"),
            ConsentRow.informed_of_risks,
            ConsentRow.valid_from,
            ConsentRow.valid_until,
            ConsentVersionRow.status,
            ConsentVersionRow.sections,
            ConsentVersionRow.fields,
            ConsentVersionRow.recorded_at,
        )
        .join(
            ConsentVersionRow,
            (ConsentVersionRow.consent_id == ConsentRow.id) & (ConsentVersionRow.version == latest),
        )
        .where(ConsentRow.case_id == bindparam("case_id"))
        .order_by(ConsentRow.created_at)
    )


#: Built once: every referral runs it, and building it costs more than running it.
_CURRENT_VERSIONS = _current_versions_statement()


def current_versions(session: Session, case_id: str) -> Sequence[Any]:
    """Every consent of the case with its current (latest) version, in one statement, as named
    columns: what the sharing policy reads, oldest consent first. The sealed weighing of a
    child's view is not read, only whether there is one (``weighed``)."""
    return session.execute(_CURRENT_VERSIONS, {"case_id": case_id}).all()


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


def withdrawal_of_case(session: Session, case_id: str, withdrawal_id: str) -> WithdrawalRow | None:
    row = session.get(WithdrawalRow, withdrawal_id)
    return row if row is not None and row.case_id == case_id else None


def withdrawals_by_id(session: Session, ids: Collection[str]) -> dict[str, WithdrawalRow]:
    rows = session.scalars(select(WithdrawalRow).where(WithdrawalRow.id.in_(set(ids)))).all()
    return {row.id: row for row in rows}


def child_consents(session: Session, limit: int) -> Sequence[Any]:
    """Consents recorded for a child (the child's view is recorded only for a child): id, the
    child's view, the best-interests reference, and whether a weighing is recorded (never the
    weighing itself, which stays sealed)."""
    return session.execute(
        select(
            ConsentRow.id,
            ConsentRow.child_view,
            ConsentRow.best_interests_reference,
            ConsentRow.child_view_weighing.is_not(None).label("weighed"),
        )
        .where(ConsentRow.child_view.is_not(None))
        .limit(limit)
    ).all()


def child_consents_among(session: Session, consent_ids: Collection[str]) -> Sequence[ConsentRow]:
    return session.scalars(
        select(ConsentRow).where(
            ConsentRow.id.in_(set(consent_ids)), ConsentRow.child_view.is_not(None)
        )
    ).all()
