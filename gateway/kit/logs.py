"""Operational logs: one configuration for ``avrr serve`` and ``avrr worker``, and a request line
per HTTP request with a request id.

``configure_logging`` routes the standard library's logging (every ``avrr.*`` logger, uvicorn's)
through structlog's ``ProcessorFormatter``: one JSON object per line (``log_format = "json"``,
the default), or ``key=value`` text for a person at a terminal (``"text"``). Every line made while
a request is handled carries its ``request_id``.

``RequestLog`` (pure ASGI) gives each request an id (a safe incoming ``X-Request-ID``, or a new
one), returns it in the response header, binds it to the log context, and writes one line when
the request ends: method, route template, status and duration. It is the *request log*, not the
access log: the access log records what happened to a person's data (``records.accesslog``).

Invariants:
- a request line names the route template (``/api/v1/referrals/{referral_id}``), never the raw
  path: raw paths carry case ids, packet ids and a person's card reference; no query string, no
  body, no header except the request id;
- an incoming request id is used only if it is hex digits and dashes (a UUID, a proxy's id), so
  a caller cannot write words into the log through it;
- a logged exception shows its type and stack frames, never its message, which could quote
  personal data (a SQL parameter, a validation error);
- only the ``avrr`` loggers follow the chosen level; every other library logs warnings and above,
  so DEBUG never turns on SQLAlchemy's statement log (with its parameters) or an HTTP client's
  URL lines.

Example::

    >>> configure_logging("json")                                          # doctest: +SKIP
    >>> logging.getLogger("avrr.delivery").info("delivered %s", 3)        # doctest: +SKIP
    {"event": "delivered 3", "logger": "avrr.delivery", "level": "info", "timestamp": "..."}
"""

from __future__ import annotations

import logging
import re
import secrets
import sys
import time
import traceback
from typing import Any, Literal, TextIO

import structlog
from starlette.datastructures import MutableHeaders
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.contextvars import bind_contextvars, merge_contextvars, reset_contextvars
from structlog.typing import EventDict, WrappedLogger

from gateway.kit.metrics import REQUEST_SECONDS, REQUESTS

LogFormat = Literal["json", "text"]

REQUEST_ID_HEADER = "X-Request-ID"
#: An incoming request id we keep: hex digits and dashes only (UUIDs, proxies' ids), 16 to 64.
SAFE_REQUEST_ID = re.compile(r"[0-9A-Fa-f-]{16,64}")
#: The fields a request line adds, and the only ``extra`` fields any log line may carry.
REQUEST_FIELDS = ("method", "route", "status", "duration_ms")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: Routes probed every few seconds: their request lines are DEBUG, not INFO.
QUIET_ROUTES = frozenset({"/livez", "/readyz", "/healthz", "/metrics"})
#: The loggers that follow the chosen level; every other one logs WARNING and above.
OWN_LOGGERS = ("avrr",)
#: Libraries whose INFO lines an operator wants (server start, bound address).
INFO_LOGGERS = ("uvicorn", "uvicorn.error")

log = logging.getLogger("avrr.requests")


def _exception_frames(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """Render an exception as its type and frames, never its message (it may quote data)."""
    info = event.pop("exc_info", None)
    if info is True:
        info = sys.exc_info()
    if isinstance(info, BaseException):
        info = (type(info), info, info.__traceback__)
    if isinstance(info, tuple) and info[0] is not None:
        event["exception"] = info[0].__name__
        event["frames"] = "".join(traceback.format_tb(info[2]))
    event.pop("stack_info", None)
    return event


class _StandardError(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is when a line is written (a test runner swaps it)."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _: TextIO) -> None:
        pass


def configure_logging(
    log_format: LogFormat = "json", *, level: int = logging.INFO, stream: TextIO | None = None
) -> None:
    """Send all logging to ``stream`` (standard error) as JSON lines or text; see the module doc."""
    shared: list[Any] = [
        merge_contextvars,
        structlog.stdlib.ExtraAdder(allow=REQUEST_FIELDS),
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _exception_frames,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream) if stream is not None else _StandardError()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(level)
    for name in INFO_LOGGERS:
        # uvicorn adds its own handlers unless started with log_config=None; ours replace them.
        library = logging.getLogger(name)
        library.handlers.clear()
        library.propagate = True
        library.setLevel(max(level, logging.INFO))
    # uvicorn's access log names raw paths; the request line above replaces it.
    logging.getLogger("uvicorn.access").disabled = True
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


def route_template(scope: Scope) -> str:
    """The template of the route that answered (``/api/v1/cases/{case_id}``), never the path."""
    route = scope.get("route")
    if isinstance(route, Mount):
        return f"{route.path}/{{path}}"
    template = getattr(route, "path", None)
    if isinstance(template, str) and template:
        return template
    # FastAPI does not name a mount (static files) in the scope: find it by its prefix, so
    # only the mount's fixed template is kept, never the rest of the path.
    path = str(scope.get("path", ""))
    for candidate in getattr(scope.get("app"), "routes", ()):
        if isinstance(candidate, Mount) and path.startswith(candidate.path + "/"):
            return f"{candidate.path}/{{path}}"
    return "unmatched"


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            return candidate if SAFE_REQUEST_ID.fullmatch(candidate) else None
    return None


class RequestLog:
    """Request id, request line and request metrics for every HTTP request (see module doc)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_id(scope) or secrets.token_hex(16)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        tokens = bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            self._record(scope, status, elapsed)
            reset_contextvars(**tokens)

    @staticmethod
    def _record(scope: Scope, status: int, elapsed: float) -> None:
        method = str(scope.get("method", "")).upper()
        method = method if method in METHODS else "OTHER"
        route = route_template(scope)
        REQUESTS.labels(method=method, route=route, status=str(status)).inc()
        REQUEST_SECONDS.labels(route=route).observe(elapsed)
        fields = {
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": round(elapsed * 1000, 1),
        }
        level = logging.DEBUG if route in QUIET_ROUTES else logging.INFO
        log.log(level, "request", extra=fields)
