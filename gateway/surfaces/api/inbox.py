"""Routes of the federation inbox (node to node) and of received referrals (partner officers)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Path, Request
from fastapi.security import HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from gateway.exchange import pickup as pickups
from gateway.exchange.followup import service as followup
from gateway.exchange.inbox import receive, received
from gateway.kit.node import Node
from gateway.processes import status as events
from gateway.surfaces.api.cases import (
    ERRORS,
    GONE,
    TOO_LARGE,
    UNAVAILABLE,
    Responses,
    error_answer,
)
from gateway.surfaces.api.deps import CallDep, NodeDep, SessionDep, UnitOfWorkRoute
from schemas.api import CaseEventRead, ReceivedReferralRead, ReceivedReferralSummary
from schemas.envelope import BatchAnswer, PickupAckResult, PickupPage, SignedDocument
from schemas.followup import (
    FollowUpRead,
    MonitoringCreate,
    MonitoringRead,
    NoteCreate,
    PlanCreate,
    ReplyCreate,
)
from schemas.status import CaseEventCreate

#: How the description names the node token (docs/protocol.md): one-time, bound to the body,
#: for this node. Only named here; the routes check it themselves, before reading the body.
node_token = HTTPBearer(
    auto_error=False,
    scheme_name="node",
    description="A node token signed by a member of the federation, for this node, over this "
    "body, used once (docs/protocol.md).",
)
_FEDERATION: Responses = {
    401: error_answer(
        "no node token, or one that is not valid, not for this node, not over this body, or "
        "used before (`unauthorised`)"
    ),
    413: TOO_LARGE,
    503: UNAVAILABLE,
}
federation = APIRouter(
    prefix="/federation/v1",
    tags=["federation"],
    route_class=UnitOfWorkRoute,
    dependencies=[Depends(node_token)],
)
T = TypeVar("T")
received_router = APIRouter(
    prefix="/api/v1/received", tags=["received referrals"], route_class=UnitOfWorkRoute
)


async def _from_a_node(
    handler: Callable[..., T], request: Request, session: Session, node: Node
) -> T:
    """Read the body (the node token is over it), then let ``handler`` check the token and
    take the request, in the thread pool."""
    body = await request.body()
    return await run_in_threadpool(
        handler,
        session,
        node,
        request.app.state.kinds,
        authorization=request.headers.get("authorization"),
        body=body,
    )


@federation.post(
    "/inbox",
    responses={
        **_FEDERATION,
        400: error_answer(
            "the envelope was not accepted, whatever the reason (`envelope_rejected`); the "
            "reason stays in this node's log"
        ),
    },
)
async def inbox(
    request: Request,
    session: SessionDep,
    node: NodeDep,
) -> SignedDocument:
    """Accept one envelope from another node; answer with a signed receipt."""
    return await _from_a_node(receive.receive, request, session, node)


@federation.post(
    "/inbox/batch",
    responses={**_FEDERATION, 400: error_answer("the body is not a batch (`envelope_rejected`)")},
)
async def inbox_batch(
    request: Request,
    session: SessionDep,
    node: NodeDep,
) -> BatchAnswer:
    """Accept several envelopes from one node, each on its own; answer with one result per
    envelope and one signed batch receipt naming those accepted (docs/protocol.md, 6a)."""
    return await _from_a_node(receive.receive_batch, request, session, node)


_NOT_A_REQUEST = error_answer("the body is not such a request (`unprocessable`)")


@federation.post("/pickup", responses={**_FEDERATION, 422: _NOT_A_REQUEST})
async def pickup(
    request: Request,
    session: SessionDep,
    node: NodeDep,
) -> PickupPage:
    """A pickup member (no public address) fetches the sealed envelopes waiting for it here,
    oldest first, in pages (docs/protocol.md, 6b)."""
    return await _from_a_node(pickups.hand_out, request, session, node)


@federation.post("/pickup/ack", responses={**_FEDERATION, 422: _NOT_A_REQUEST})
async def pickup_ack(
    request: Request,
    session: SessionDep,
    node: NodeDep,
) -> PickupAckResult:
    """A pickup member's signed answers to what it picked up: receipts end the deliveries."""
    return await _from_a_node(pickups.acknowledge, request, session, node)


PacketId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]


@received_router.get("/monitoring/needs-more-assistance", responses=ERRORS)
def needs_more_assistance(call: CallDep) -> list[FollowUpRead]:
    """Monitoring rounds whose composite score fell below the programme's threshold."""
    return followup.flagged(call.session, call.node, call.user, call.now)


@received_router.get("", responses=ERRORS)
def list_received(call: CallDep) -> list[ReceivedReferralSummary]:
    return received.list_received(call.session, call.node, call.user)


@received_router.get("/{packet_id}", responses={**ERRORS, **GONE})
def open_received(
    packet_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")], call: CallDep
) -> ReceivedReferralRead:
    return received.open_received(call.session, call.node, call.user, packet_id, call.now)


@received_router.post("/{packet_id}/events", status_code=201, responses=ERRORS)
def report_event(
    packet_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")],
    body: CaseEventCreate,
    call: CallDep,
) -> CaseEventRead:
    """Report to the packet's sender that the person arrived, or that assistance started.

    The sender recomputes the dates and sends them back; this node's dates move when they come.
    """
    return events.report_received_event(
        call.session, call.node, call.user, packet_id, body, call.now
    )


@received_router.post("/{packet_id}/replies", status_code=201, responses={**ERRORS, **GONE})
def reply(packet_id: PacketId, body: ReplyCreate, call: CallDep) -> FollowUpRead:
    """Answer the referral: accepted, declined (a reason from the list; this node then deletes
    what it held of it), needs information, person met, did not arrive, assistance delivered,
    handed over."""
    return followup.reply(call.session, call.node, call.user, packet_id, body, call.now)


@received_router.post("/{packet_id}/plans", status_code=201, responses={**ERRORS, **GONE})
def plan(packet_id: PacketId, body: PlanCreate, call: CallDep) -> FollowUpRead:
    """Return the reintegration plan written with the person (each one a new version)."""
    return followup.plan(call.session, call.node, call.user, packet_id, body, call.now)


@received_router.post("/{packet_id}/monitoring", status_code=201, responses={**ERRORS, **GONE})
def monitoring(packet_id: PacketId, body: MonitoringCreate, call: CallDep) -> MonitoringRead:
    """Record a round of the Reintegration Sustainability Survey: coded and scored here; only
    the scores go to the sender. An answer outside an element's coding rule is a 422 naming it."""
    return followup.monitor(call.session, call.node, call.user, packet_id, body, call.now)


@received_router.post("/{packet_id}/notes", status_code=201, responses={**ERRORS, **GONE})
def note(packet_id: PacketId, body: NoteCreate, call: CallDep) -> FollowUpRead:
    """Words to the referral's sender about it."""
    return followup.note_to_sender(call.session, call.node, call.user, packet_id, body, call.now)


@received_router.get("/{packet_id}/follow-up", responses={**ERRORS, **GONE})
def follow_up(packet_id: PacketId, call: CallDep) -> list[FollowUpRead]:
    """Everything this node and the sender said about the referral (reading it is logged)."""
    return followup.of_received(call.session, call.node, call.user, packet_id, call.now)
