"""Routes for the data protection officer (role ``dpo``): read-only, no case content."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.cases.endpoints import ERRORS
from gateway.deps import CurrentUser, NodeDep, SessionDep
from gateway.dpo import service
from schemas.api import TransferRecord

router = APIRouter(prefix="/api/v1/dpo", tags=["data protection officer"])


@router.get("/transfers", responses=ERRORS)
def transfers(session: SessionDep, node: NodeDep, user: CurrentUser) -> list[TransferRecord]:
    """The register of cross-border transfers: destination, purpose, data categories, ground."""
    return service.transfers(session, node, user)
