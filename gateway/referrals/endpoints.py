"""Routes for outgoing referrals (caseworkers)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse

from gateway import idempotency
from gateway.cases.endpoints import ERRORS
from gateway.deps import CurrentUser, IdempotencyKey, NodeDep, SessionDep
from gateway.referrals import service
from schemas.api import ReferralCreate, ReferralRead

router = APIRouter(prefix="/api/v1/referrals", tags=["referrals"])
HexId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]


@router.post("", status_code=201, response_model=ReferralRead, responses=ERRORS)
def create_referral(
    body: ReferralCreate,
    session: SessionDep,
    node: NodeDep,
    user: CurrentUser,
    key: IdempotencyKey = None,
) -> JSONResponse:
    now = node.clock.now()
    return idempotency.once(
        session,
        principal=user,
        route="create_referral",
        key=key,
        request=body,
        now=now,
        create=lambda: service.create_referral(session, node, user, body, now),
        reread=lambda referral_id: service.read_referral(session, user, referral_id, now),
    )


@router.get("", responses=ERRORS)
def list_referrals(
    case_id: Annotated[str, Query(pattern=r"^[0-9a-f]{32}$")],
    session: SessionDep,
    node: NodeDep,
    user: CurrentUser,
) -> list[ReferralRead]:
    return service.list_referrals(session, user, case_id, node.clock.now())


@router.get("/{referral_id}", responses=ERRORS)
def read_referral(
    referral_id: HexId, session: SessionDep, node: NodeDep, user: CurrentUser
) -> ReferralRead:
    return service.read_referral(session, user, referral_id, node.clock.now())
