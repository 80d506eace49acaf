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
from sqlalchemy import Engine, text

from gateway.kit.clock import Clock, SystemClock
from gateway.kit.config import Settings
from gateway.kit.db import make_engine, make_sessionmaker
from gateway.kit.errors import install_error_handlers
from gateway.kit.limits import BodySizeLimit
from gateway.kit.node import Node
from gateway.processes.kinds import message_kinds
from gateway.surfaces import portal as portal_pkg
from gateway.surfaces.api.audit import router as audit_router
from gateway.surfaces.api.cases import router as cases_router
from gateway.surfaces.api.consents import router as consents_router
from gateway.surfaces.api.deps import NodeDep, SessionDep
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
    logging.getLogger("avrr").setLevel(logging.INFO)
    node = Node(settings=settings, clock=clock or SystemClock())
    engine = engine or make_engine(settings.database_url)
    app = FastAPI(
        title=f"AVRR referral gateway: {settings.node_id}",
        version="1",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.node = node
    app.state.engine = engine
    app.state.sessions = make_sessionmaker(engine)
    app.state.kinds = message_kinds()
    install_error_handlers(app)
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
    app.mount("/portal/static", StaticFiles(directory=Path(portal_pkg.__file__).parent / "static"))
    app.add_middleware(BrowserHeaders)

    @app.get("/healthz", tags=["operations"])
    def health(node: NodeDep, session: SessionDep) -> dict[str, str]:
        """Ready when the database answers and a valid directory is installed."""
        session.execute(text("SELECT 1"))
        node.directory()
        return {"status": "ok", "node": node.node_id}

    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    return app
