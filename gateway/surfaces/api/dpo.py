"""Routes for the data protection officer (role ``dpo``): no case content, except the weighing of
a child's view in a child's referral review, read one referral at a time and logged."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.processes import deletion_proof as proof
from gateway.processes import dpo as service
from gateway.processes import erasure
from gateway.records.holds import service as holds
from gateway.surfaces.api.cases import ERRORS, CaseId
from gateway.surfaces.api.deps import CallDep, UnitOfWorkRoute
from schemas.api import (
    ChildViewRead,
    DeletionProofCreate,
    DeletionProofRead,
    ErasureRead,
    LegalHoldCreate,
    LegalHoldRead,
    OverdueDeletion,
    TransferRecord,
)

router = APIRouter(
    prefix="/api/v1/dpo", tags=["data protection officer"], route_class=UnitOfWorkRoute
)


@router.get("/transfers", responses=ERRORS)
def transfers(call: CallDep) -> list[TransferRecord]:
    """The register of cross-border transfers: destination, purpose, data categories, ground."""
    return service.transfers(call.session, call.node, call.user)


@router.get("/referrals/{referral_id}/child-view", responses=ERRORS)
def child_view(referral_id: CaseId, call: CallDep) -> list[ChildViewRead]:
    """For a child's referral: the child's own view and how the best-interests determination
    weighed it (its own words). Each reading is logged in the child's access history."""
    return service.child_view(call.session, call.node, call.user, referral_id, call.now)


@router.post("/holds", status_code=201, responses=ERRORS)
def place_hold(body: LegalHoldCreate, call: CallDep) -> LegalHoldRead:
    """Pause deletion of a subject's or a packet's data until a date, with a reason (logged)."""
    hold = holds.place_hold(
        call.session,
        call.user,
        subject=body.subject,
        packet_id=body.packet_id,
        reason=body.reason,
        until=body.until,
        now=call.now,
    )
    return LegalHoldRead.model_validate(hold, from_attributes=True)


@router.get("/holds", responses=ERRORS)
def list_holds(call: CallDep) -> list[LegalHoldRead]:
    return [
        LegalHoldRead.model_validate(h, from_attributes=True)
        for h in holds.list_holds(call.session, call.user)
    ]


@router.post("/erasures/{case_id}", status_code=201, responses=ERRORS)
def erase(case_id: CaseId, call: CallDep) -> ErasureRead:
    """Erase a person on a valid request: withdraw everything everywhere, destroy their key."""
    withdrawal = erasure.erase(call.session, call.node, call.user, case_id, call.now)
    return ErasureRead(case_id=case_id, withdrawal=withdrawal)


@router.get("/deletions/overdue", responses=ERRORS)
def overdue_deletions(call: CallDep) -> list[OverdueDeletion]:
    """Delivered packets past their date that no recipient has yet signed as deleted."""
    return proof.overdue(call.session, call.user, call.now)


@router.post("/deletion-proofs", status_code=201, responses=ERRORS)
def request_deletion_proof(body: DeletionProofCreate, call: CallDep) -> list[DeletionProofRead]:
    """Ask recipients for signed deletion receipts: for the named packets, or every overdue one."""
    return proof.request_proof(call.session, call.node, call.user, body.packet_ids, call.now)
