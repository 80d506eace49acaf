"""Routes for outgoing referrals (caseworkers)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse

from gateway.exchange.followup import service as followup
from gateway.exchange.referrals import service
from gateway.kit import idempotency
from gateway.processes import corrections
from gateway.surfaces.api.cases import CONFLICT, ERRORS, GONE
from gateway.surfaces.api.deps import CallDep, IdempotencyKey, UnitOfWorkRoute
from schemas.api import ReferralCorrectionCreate, ReferralCreate, ReferralRead, ReReferralCreate
from schemas.followup import FollowUpRead, NoteCreate

router = APIRouter(prefix="/api/v1/referrals", tags=["referrals"], route_class=UnitOfWorkRoute)
HexId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]


@router.post("", status_code=201, response_model=ReferralRead, responses={**ERRORS, **GONE})
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


@router.post("/{referral_id}/corrections", responses={**ERRORS, **GONE})
def correct_referral(
    referral_id: HexId, body: ReferralCorrectionCreate, call: CallDep
) -> ReferralRead:
    """Send the recipient corrected content for sections it still holds (policy and consent
    decide again what goes)."""
    return corrections.correct_referral(
        call.session, call.node, call.user, referral_id, body, call.now
    )


@router.post("/{referral_id}/approval", responses={**ERRORS, **CONFLICT, **GONE})
def approve_referral(referral_id: HexId, call: CallDep) -> ReferralRead:
    """Approve a referral about a victim of trafficking or a person with an asylum history, held
    until a second caseworker of the office (not its author) approves it; it is decided again and
    sealed now."""
    return service.approve_referral(call.session, call.node, call.user, referral_id, call.now)


@router.post("/{referral_id}/rereferral", status_code=201, responses={**ERRORS, **CONFLICT, **GONE})
def refer_again(referral_id: HexId, body: ReReferralCreate, call: CallDep) -> ReferralRead:
    """After the recipient declined, refer the person to another partner; the new referral is
    linked to the declined one (``follows``) and decided again for its recipient."""
    return service.refer_again(call.session, call.node, call.user, referral_id, body, call.now)


@router.post("/{referral_id}/notes", status_code=201, responses={**ERRORS, **GONE})
def note(referral_id: HexId, body: NoteCreate, call: CallDep) -> FollowUpRead:
    """Words to the recipient about a delivered referral: an answer to its question, a comment on
    its plan. Never to a government authority."""
    return followup.note_to_recipient(
        call.session, call.node, call.user, referral_id, body, call.now
    )
