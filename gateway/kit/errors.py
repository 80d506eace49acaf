"""Errors the gateway raises, and the one place that turns any error into an HTTP answer.

Every error body has one shape: ``{"error": <machine word>, "detail": <sentence for a person>}``.
Domain errors from ``consent`` and ``partners`` are mapped here; they know nothing of HTTP.
Unexpected errors become a 500 with no detail, and their log line carries the exception type and
traceback frames but never the message, which could quote personal data from a SQL parameter.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Match

from consent.errors import SharingRefused
from consent.minimise import NothingToSend

log = logging.getLogger("avrr.errors")

#: Seconds a client is asked to wait after a 503: long enough for a database failover or a
#: restarted connection pool, short enough that a caseworker's retry feels immediate.
RETRY_AFTER_SECONDS = 5


class GatewayError(Exception):
    status = 400
    error = "bad_request"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(GatewayError):
    status = 404
    error = "not_found"

    def __init__(self, what: str = "resource") -> None:
        super().__init__(f"no such {what}")


class Gone(GatewayError):
    status = 410
    error = "gone"


class Forbidden(GatewayError):
    status = 403
    error = "forbidden"


class Unauthorised(GatewayError):
    status = 401
    error = "unauthorised"

    def __init__(self, detail: str = "a valid bearer token is required") -> None:
        super().__init__(detail)


class Unprocessable(GatewayError):
    status = 422
    error = "unprocessable"


class Conflict(GatewayError):
    status = 409
    error = "conflict"


class EnvelopeRejected(GatewayError):
    """The one answer a sending node gets for any envelope that fails a check."""

    status = 400
    error = "envelope_rejected"

    def __init__(self) -> None:
        super().__init__("the envelope was not accepted")


class ServiceUnavailable(GatewayError):
    status = 503
    error = "unavailable"


def _body(error: str, detail: Any) -> dict[str, Any]:
    return {"error": error, "detail": detail}


def database_unreachable(exc: DBAPIError) -> bool:
    """Whether a database error means the connection, not the statement, failed: the server
    went away, restarted, failed over or refused us, which the next attempt may not meet."""
    return exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)


def _unavailable(detail: str) -> JSONResponse:
    return JSONResponse(
        _body("unavailable", detail),
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def _gateway(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GatewayError)
    headers = None
    if exc.status == 401:
        headers = {"WWW-Authenticate": "Bearer"}
    elif exc.status == 503:
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    return JSONResponse(_body(exc.error, exc.detail), status_code=exc.status, headers=headers)


async def _database(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    if not database_unreachable(exc):
        return await _unexpected(request, exc)
    # The unit of work rolled back, so nothing of the request was kept; the client retries
    # (with its Idempotency-Key, for a write) once the database is back.
    route = request.scope.get("route")
    where = getattr(route, "path", "?")
    log.warning(
        "database unavailable (%s) on %s %s", type(exc.orig).__name__, request.method, where
    )
    return _unavailable("the node's database is not reachable; try again shortly")


async def _pool(_: Request, __: Exception) -> JSONResponse:
    log.warning("no database connection free in time")
    return _unavailable("the node is busy; try again shortly")


async def _refused(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SharingRefused)
    return JSONResponse(
        {"error": "sharing_refused", "rule": exc.rule.value, "detail": exc.detail},
        status_code=422,
    )


async def _empty(_: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(_body("nothing_to_send", str(exc)), status_code=422)


async def _invalid(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Location and message only: the offending input is not echoed back or logged.
    problems = [
        {"loc": [str(part) for part in err.get("loc", ())], "msg": err.get("msg", "")}
        for err in exc.errors()
    ]
    return JSONResponse(_body("invalid_request", problems), status_code=422)


#: Methods a route of this node may take.
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _allowed(request: Request) -> str:
    """Every method some route takes at this path: each asked of the router as if the request
    had used it (the framework's own header names only the first route's)."""
    routes = request.app.router.routes
    allowed = [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "type": "http", "method": method})[0] is Match.FULL
            for route in routes
        )
    ]
    return ", ".join(allowed)


def _unreadable() -> JSONResponse:
    return JSONResponse(
        _body("invalid_request", [{"loc": ["body"], "msg": "the body could not be read"}]),
        status_code=422,
    )


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:
        # The framework could not read the body (not UTF-8, say): the same answer as a body
        # that is not JSON, so one code covers every unreadable request.
        return _unreadable()
    words = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
    error = words.get(exc.status_code, "http_error")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed(request)
    return JSONResponse(_body(error, str(exc.detail)), status_code=exc.status_code, headers=headers)


async def _gone(request: Request, _: Exception) -> JSONResponse:
    """The client went away before its request was read (a partner's worker stopped mid-post,
    say): nothing was taken, and no one is left to answer. Not an error of this node."""
    route = request.scope.get("route")
    log.info(
        "client went away before its request was read on %s %s",
        request.method,
        getattr(route, "path", "?"),
    )
    return _unreadable()


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    frames = "".join(traceback.format_tb(exc.__traceback__))
    route = request.scope.get("route")
    where = getattr(route, "path", "?")
    log.error("unexpected %s on %s %s\n%s", type(exc).__name__, request.method, where, frames)
    return JSONResponse(
        _body("internal_error", "something went wrong; nothing was changed"), status_code=500
    )


#: Each error type and its answer; Starlette picks the most specific one by the class's MRO.
HANDLERS = (
    (GatewayError, _gateway),
    (DBAPIError, _database),
    (PoolTimeout, _pool),
    (SharingRefused, _refused),
    (NothingToSend, _empty),
    (RequestValidationError, _invalid),
    (StarletteHTTPException, _http),
    (ClientDisconnect, _gone),
    (Exception, _unexpected),
)


def install_error_handlers(app: FastAPI) -> None:
    for error, handler in HANDLERS:
        app.add_exception_handler(error, handler)
