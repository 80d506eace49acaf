"""Dependencies every route uses, as ``Annotated`` aliases: the node, a unit of work, the caller.

Staff routes take one ``CallDep``: the request's unit of work, the node, the authenticated caller
and the time the request is handled, so each route is only its parameters and one service call.

One request is one unit of work: the session commits when the route returns and rolls back if it
raises, keeping only access-log entries marked ``keep`` (refusals, denied accesses). A caller
turned away for their role (``WrongRole``) gets an ``access_denied`` entry the same way.

Threads: every dependency here is ``async`` and does no blocking I/O (the staff token is
checked in memory, ``kit.auth``), so only the endpoint itself runs in FastAPI's thread pool.
The session is created without a connection; its first statement runs in the endpoint's
thread. Routes built by ``UnitOfWorkRoute`` (every router's ``route_class``) end the unit of
work in that same thread when the endpoint returns a ``Response`` or raises, so one request
makes one thread hop and its session is used from one thread. A route that returns a model
(serialised by FastAPI after it returns) or an ``async`` route is ended by the dependency
itself, in a worker thread, after serialisation: exactly when it always was.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import AsyncIterator, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import anyio
from fastapi import Depends, Header, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from gateway.kit.auth import Principal, WrongRole
from gateway.kit.db import KEEP_ROWS_ON_ROLLBACK, restore_kept_rows
from gateway.kit.errors import Unauthorised
from gateway.kit.idempotency import KEY_PATTERN
from gateway.kit.node import Node
from gateway.records.accesslog.writer import KEEP_ON_ROLLBACK, Actor, deny, restore_kept

log = logging.getLogger("avrr.requests")


async def get_node(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


class UnitOfWork:
    """One request's session, and how it ends: commit, or roll back keeping what must be kept.

    ``finish`` runs once (later calls do nothing) and closes the session.
    """

    def __init__(self, session: Session, node: Node) -> None:
        self.session = session
        self._node = node
        self.finished = False

    @property
    def untouched(self) -> bool:
        """Nothing began and nothing waits to be written: ending it needs no database."""
        session = self.session
        return not (
            session.in_transaction()
            or session.new
            or session.dirty
            or session.deleted
            or session.info.get(KEEP_ON_ROLLBACK)
            or session.info.get(KEEP_ROWS_ON_ROLLBACK)
        )

    def finish(self, error: BaseException | None) -> None:
        if self.finished:
            return
        self.finished = True
        session = self.session
        try:
            if error is None:
                try:
                    session.commit()
                    return
                except BaseException as failure:
                    self._undo(failure)
                    raise
            self._undo(error)
        finally:
            session.close()

    def _undo(self, error: BaseException) -> None:
        session = self.session
        session.rollback()
        try:
            kept = restore_kept(session)
            kept = restore_kept_rows(session) or kept
            if isinstance(error, WrongRole):
                deny(
                    session,
                    at=self._node.clock.now(),
                    actor=Actor.of(error.principal),
                    outcome="wrong_role",
                )
            if kept or isinstance(error, WrongRole):
                session.commit()
        except SQLAlchemyError as failure:
            session.rollback()
            log.error(
                "access-log entries of a failed request could not be kept: %s",
                type(failure).__name__,
            )


#: The request's unit of work, for the endpoint's thread (``run_in_threadpool`` copies the
#: request's context into the thread).
_current_work: ContextVar[UnitOfWork | None] = ContextVar("avrr_unit_of_work", default=None)


async def unit_of_work(request: Request) -> AsyncIterator[Session]:
    work = UnitOfWork(request.app.state.sessions(), request.app.state.node)
    token = _current_work.set(work)
    try:
        yield work.session
    except BaseException as exc:
        await _finish(work, exc)
        raise
    else:
        await _finish(work, None)
    finally:
        _current_work.reset(token)


async def _finish(work: UnitOfWork, error: BaseException | None) -> None:
    """End the unit of work unless the endpoint's thread did; in a worker thread if that needs
    the database, shielded from cancellation, and, as FastAPI does for its own dependencies,
    without waiting for a free slot in the thread pool (a full pool of requests waiting for a
    database connection would otherwise never get one back)."""
    if work.finished:
        return
    if work.untouched and not isinstance(error, WrongRole):
        work.finished = True
        work.session.close()
        return
    with anyio.CancelScope(shield=True):
        await anyio.to_thread.run_sync(work.finish, error, limiter=anyio.CapacityLimiter(1))


def _ending_in_thread(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(endpoint)
    def run(*args: Any, **kwargs: Any) -> Any:
        work = _current_work.get()
        try:
            result = endpoint(*args, **kwargs)
        except BaseException as exc:
            if work is not None:
                work.finish(exc)
            raise
        if work is not None and isinstance(result, Response):
            # The answer is complete: nothing of FastAPI's runs between here and the
            # dependency's end, so committing here is committing there, one hop earlier.
            work.finish(None)
        return result

    return run


class UnitOfWorkRoute(APIRoute):
    """A route whose synchronous endpoint ends the request's unit of work in its own thread."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not _is_async(endpoint):
            endpoint = _ending_in_thread(endpoint)
        super().__init__(path, endpoint, **kwargs)


def _is_async(endpoint: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(inspect.unwrap(endpoint))


#: How the OpenAPI description names the staff token; its absence is our 401, not FastAPI's 403.
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="staff",
    description="A staff token from the node's built-in issuer (`avrr node token`) or an "
    "access token from the organisation's OpenID Connect provider.",
)


async def current_principal(
    node: Annotated[Node, Depends(get_node)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The caller of a bearer token from the node's built-in issuer or, failing that, from the
    organisation's OpenID Connect provider if the node has one. Tokens are never logged.

    The built-in issuer's check is in memory (and cached), so it runs here; the provider's may
    fetch its keys or ask its userinfo endpoint, so it runs in a worker thread."""
    token = credentials.credentials.strip() if credentials else ""
    if not token:
        raise Unauthorised()
    now = node.clock.now()
    try:
        return node.staff.verify(token, now=now)
    except Unauthorised:
        if node.oidc is None:
            raise
    return await run_in_threadpool(node.oidc.verify_bearer, token, now=now)


NodeDep = Annotated[Node, Depends(get_node)]
SessionDep = Annotated[Session, Depends(unit_of_work, scope="function")]
CurrentUser = Annotated[Principal, Depends(current_principal)]
#: Checked as the description publishes it, so a bad key is an ``invalid_request`` like any field.
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=128,
        pattern=KEY_PATTERN,
        description="1 to 128 visible ASCII characters: a retried create with the same key and "
        "body answers as the first and creates nothing; the same key with another body is "
        "refused (422 `unprocessable`).",
    ),
]


@dataclass(frozen=True)
class Call:
    """One authenticated staff request."""

    session: Session
    node: Node
    user: Principal
    now: datetime


async def call_context(session: SessionDep, node: NodeDep, user: CurrentUser) -> Call:
    return Call(session=session, node=node, user=user, now=node.clock.now())


CallDep = Annotated[Call, Depends(call_context)]
