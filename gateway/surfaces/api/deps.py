"""Dependencies every route uses, as ``Annotated`` aliases: the node, a unit of work, the caller.

Staff routes take one ``CallDep``: the request's unit of work, the node, the authenticated caller
and the time the request is handled, so each route is only its parameters and one service call.

One request is one unit of work: the session commits when the route returns and rolls back if it
raises, keeping only access-log entries marked ``keep`` (refusals, denied accesses). A caller
turned away for their role (``WrongRole``) gets an ``access_denied`` entry the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from gateway.kit.auth import Principal, WrongRole
from gateway.kit.errors import Unauthorised
from gateway.kit.node import Node
from gateway.records.accesslog.writer import Actor, deny, restore_kept

log = logging.getLogger("avrr.requests")


def get_node(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


def unit_of_work(request: Request) -> Iterator[Session]:
    session: Session = request.app.state.sessions()
    try:
        yield session
        session.commit()
    except BaseException as exc:
        session.rollback()
        try:
            kept = restore_kept(session)
            if isinstance(exc, WrongRole):
                deny(
                    session,
                    at=request.app.state.node.clock.now(),
                    actor=Actor.of(exc.principal),
                    outcome="wrong_role",
                )
            if kept or isinstance(exc, WrongRole):
                session.commit()
        except SQLAlchemyError as failure:
            session.rollback()
            log.error(
                "access-log entries of a failed request could not be kept: %s",
                type(failure).__name__,
            )
        raise
    finally:
        session.close()


#: How the OpenAPI description names the staff token; its absence is our 401, not FastAPI's 403.
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="staff",
    description="A staff token from the node's built-in issuer (`avrr node token`) or an "
    "access token from the organisation's OpenID Connect provider.",
)


def current_principal(
    node: Annotated[Node, Depends(get_node)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The caller of a bearer token from the node's built-in issuer or, failing that, from the
    organisation's OpenID Connect provider if the node has one. Tokens are never logged."""
    token = credentials.credentials.strip() if credentials else ""
    if not token:
        raise Unauthorised()
    now = node.clock.now()
    try:
        return node.staff.verify(token, now=now)
    except Unauthorised:
        if node.oidc is None:
            raise
    return node.oidc.verify_bearer(token, now=now)


NodeDep = Annotated[Node, Depends(get_node)]
SessionDep = Annotated[Session, Depends(unit_of_work, scope="function")]
CurrentUser = Annotated[Principal, Depends(current_principal)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


@dataclass(frozen=True)
class Call:
    """One authenticated staff request."""

    session: Session
    node: Node
    user: Principal
    now: datetime


def call_context(session: SessionDep, node: NodeDep, user: CurrentUser) -> Call:
    return Call(session=session, node=node, user=user, now=node.clock.now())


CallDep = Annotated[Call, Depends(call_context)]
