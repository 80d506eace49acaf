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

from gateway import portal as portal_pkg
from gateway.audit.endpoints import router as audit_router
from gateway.cases.endpoints import router as cases_router
from gateway.clock import Clock, SystemClock
from gateway.config import Settings
from gateway.consents.endpoints import router as consents_router
from gateway.db import make_engine, make_sessionmaker
from gateway.deps import NodeDep, SessionDep
from gateway.dpo.endpoints import router as dpo_router
from gateway.errors import install_error_handlers
from gateway.inbox.endpoints import federation, received
from gateway.limits import BodySizeLimit
from gateway.node import Node
from gateway.portal.dpo_pages import router as dpo_pages_router
from gateway.portal.endpoints import router as cards_router
from gateway.portal.security import BrowserHeaders
from gateway.portal.web import router as portal_router
from gateway.referrals.endpoints import router as referrals_router


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
    install_error_handlers(app)
    routers = (
        cases_router,
        consents_router,
        referrals_router,
        federation,
        received,
        dpo_router,
        audit_router,
        cards_router,
        portal_router,
        dpo_pages_router,
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
