"""The application factory: one call builds a node's HTTP service from its ``Settings``.

Nothing happens at import time. The database schema must already be migrated (``avrr node init``
or ``avrr node migrate``); the app never creates tables itself.

Example::

    >>> app = create_app(Settings.for_home(Path("/srv/avrr/host")))   # doctest: +SKIP
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from gateway.kit.clock import Clock, SystemClock
from gateway.kit.config import Settings
from gateway.kit.db import make_engine, make_sessionmaker
from gateway.kit.errors import install_error_handlers
from gateway.kit.limits import BodySizeLimit
from gateway.kit.logs import RequestLog
from gateway.kit.node import Node
from gateway.processes.kinds import message_kinds
from gateway.processes.metrics import StateGauges
from gateway.records.person_access import cards
from gateway.surfaces import portal as portal_pkg
from gateway.surfaces.api import operations
from gateway.surfaces.api.audit import router as audit_router
from gateway.surfaces.api.cases import router as cases_router
from gateway.surfaces.api.consents import router as consents_router
from gateway.surfaces.api.docs import install_api_docs
from gateway.surfaces.api.dpo import router as dpo_router
from gateway.surfaces.api.inbox import federation, received_router
from gateway.surfaces.api.referrals import router as referrals_router
from gateway.surfaces.api.statistics import router as statistics_router
from gateway.surfaces.portal.dpo_pages import router as dpo_pages_router
from gateway.surfaces.portal.dpo_questions import router as dpo_questions_router
from gateway.surfaces.portal.endpoints import router as cards_router
from gateway.surfaces.portal.security import BrowserHeaders
from gateway.surfaces.portal.staff_auth import router as staff_auth_router
from gateway.surfaces.portal.staff_cases import router as staff_cases_router
from gateway.surfaces.portal.staff_inbox import router as staff_inbox_router
from gateway.surfaces.portal.web import router as portal_router


def create_app(
    settings: Settings, *, clock: Clock | None = None, engine: Engine | None = None
) -> FastAPI:
    if logging.getLogger("avrr").level == logging.NOTSET:
        # Unless ``kit.logs.configure_logging`` chose a level (serve, worker, tests), INFO.
        logging.getLogger("avrr").setLevel(logging.INFO)
    node = Node(settings=settings, clock=clock or SystemClock())
    engine = engine or make_engine(settings.database_url)
    app = FastAPI(
        title=f"AVRR referral gateway: {settings.node_id}",
        version="1",
        docs_url=None,
        redoc_url=None,
    )
    app.state.node = node
    app.state.engine = engine
    app.state.sessions = make_sessionmaker(engine)
    app.state.kinds = message_kinds()
    app.state.state_gauges = StateGauges(node=node, sessions=app.state.sessions)
    app.state.metrics = CollectorRegistry(auto_describe=False)
    app.state.metrics.register(app.state.state_gauges)
    install_error_handlers(app)
    cards.decoy_hash()  # now, not at the first sign-in with an unknown card
    if settings.api_docs:
        install_api_docs(app)
    routers = (
        cases_router,
        consents_router,
        referrals_router,
        federation,
        received_router,
        statistics_router,
        dpo_router,
        audit_router,
        cards_router,
        portal_router,
        dpo_pages_router,
        dpo_questions_router,
        staff_auth_router,
        staff_cases_router,
        staff_inbox_router,
    )
    for router in routers:
        app.include_router(router)
    app.include_router(operations.probes)
    if settings.metrics_enabled:
        app.include_router(operations.metrics)
    app.mount("/portal/static", StaticFiles(directory=Path(portal_pkg.__file__).parent / "static"))
    app.add_middleware(BrowserHeaders)

    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    if settings.trusted_proxies:
        # The client's address from X-Forwarded-For, only from the proxies named: sign-in
        # lockouts are per address, and anyone else could choose theirs.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    # Outermost: every request, refused ones too, gets an id and a request line.
    app.add_middleware(RequestLog)
    return app
