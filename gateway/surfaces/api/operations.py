"""Routes for the node's operators and their tools: probes and metrics. No person's data here.

- ``GET /livez``: the process is up and answers. It touches nothing else, so a database outage
  never gets healthy API processes restarted.
- ``GET /readyz``: the node can do its work: the database answers, the key store is ready, and a
  verified directory is installed and unexpired (503 otherwise, with the reason). From seven
  days before the directory expires the answer is still 200, with a ``warning``.
- ``GET /healthz``: the same as ``/readyz`` (kept for existing probes and scripts).
- ``GET /metrics``: Prometheus's text format: this process's counters, and the gauges of shared
  state read from the database (``processes.metrics``). Unauthenticated, like most exporters;
  restrict it by network policy, or turn it off with ``metrics_enabled = false``.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from gateway.kit.directory_fetch import directory_state
from gateway.kit.errors import ServiceUnavailable
from gateway.kit.keystore import KeyStoreUnavailable
from gateway.kit.metrics import process_exposition
from gateway.kit.node import Node
from gateway.surfaces.api.cases import UNAVAILABLE
from gateway.surfaces.api.deps import NodeDep, UnitOfWorkRoute

log = logging.getLogger("avrr.probes")

probes = APIRouter(tags=["operations"], route_class=UnitOfWorkRoute)
metrics = APIRouter(tags=["operations"], route_class=UnitOfWorkRoute)


@probes.get("/livez")
def livez() -> dict[str, str]:
    """The process is up. Checks nothing else."""
    return {"status": "alive"}


def _keys_ready(node: Node) -> bool:
    """Whether the key store can read and create keys now; the precise reason goes to the log
    (it names folders and tokens, which an unauthenticated caller has no business seeing)."""
    try:
        node.keys.ready()
    except KeyStoreUnavailable as exc:
        log.warning("not ready: %s", exc)
        return False
    return True


@probes.get("/readyz", responses={503: UNAVAILABLE})
def readyz(request: Request, node: NodeDep) -> dict[str, Any]:
    """Ready when the database answers, the key store is ready and a valid directory is installed."""
    try:
        with request.app.state.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        raise ServiceUnavailable("the database does not answer") from exc
    if not _keys_ready(node):
        raise ServiceUnavailable("the key store is not ready")
    state = directory_state(node)
    if not state.valid:
        raise ServiceUnavailable(state.warning or "no valid federation directory")
    answer: dict[str, Any] = {
        "status": "ok",
        "node": node.node_id,
        "directory": {
            "serial": state.serial,
            "expires_at": state.expires_at.isoformat() if state.expires_at else None,
            "days_left": round(state.days_left, 2),
        },
    }
    if state.warning:
        answer["warning"] = state.warning
    return answer


@probes.get("/healthz", responses={503: UNAVAILABLE})
def healthz(request: Request, node: NodeDep) -> dict[str, Any]:
    """The same as ``/readyz``."""
    return readyz(request, node)


@metrics.get("/metrics", include_in_schema=False)
def metrics_text(request: Request) -> Response:
    """This process's counters and the shared state's gauges, in Prometheus's text format."""
    state: CollectorRegistry = request.app.state.metrics
    body = process_exposition() + generate_latest(state)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
