"""Routes for outgoing referrals (caseworkers)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse

from gateway.exchange.referrals import service
from gateway.kit import idempotency
from gateway.processes import corrections
from gateway.surfaces.api.cases import ERRORS
from gateway.surfaces.api.deps import CallDep, IdempotencyKey
from schemas.api import ReferralCorrectionCreate, ReferralCreate, ReferralRead

router = APIRouter(prefix="/api/v1/referrals", tags=["referrals"])
HexId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]


@router.post("", status_code=201, response_model=ReferralRead, responses=ERRORS)
def create_referral(
    body: ReferralCreate, call: CallDep, key: IdempotencyKey = None
) -> JSONResponse:
    return idempotency.once(
        call,
        key=key,
        route="create_referral",
        request=body,
        create=lambda: service.create_referral(call.session, call.node, call.user, body, call.now),
        reread=lambda referral_id: service.read_referral(
            call.session, call.user, referral_id, call.now
        ),
    )


@router.get("", responses=ERRORS)
def list_referrals(
    case_id: Annotated[str, Query(pattern=r"^[0-9a-f]{32}$")], call: CallDep
) -> list[ReferralRead]:
    return service.list_referrals(call.session, call.user, case_id, call.now)


@router.get("/{referral_id}", responses=ERRORS)
def read_referral(referral_id: HexId, call: CallDep) -> ReferralRead:
    return service.read_referral(call.session, call.user, referral_id, call.now)


@router.post("/{referral_id}/corrections", responses=ERRORS)
def correct_referral(
    referral_id: HexId, body: ReferralCorrectionCreate, call: CallDep
) -> ReferralRead:
    """Send the recipient corrected content for sections it still holds (policy and consent
    decide again what goes)."""
    return corrections.correct_referral(
        call.session, call.node, call.user, referral_id, body, call.now
    )


@router.post("/{referral_id}/approval", responses=ERRORS)
def approve_referral(referral_id: HexId, call: CallDep) -> ReferralRead:
    """Approve a referral about a victim of trafficking or a person with an asylum history, held
    until a second caseworker of the office (not its author) approves it; it is decided again and
    sealed now."""
    return service.approve_referral(call.session, call.node, call.user, referral_id, call.now)
