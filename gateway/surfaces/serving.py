"""The app each process of ``avrr serve --workers N`` runs.

Uvicorn starts every worker process afresh and imports its app by name, so the node's home
reaches it in the environment (``AVRR_SERVE_HOME``, set by ``avrr serve``), and each process
configures its own logging and builds its own app, engine and connection pool. The processes
share the listening socket; the kernel spreads connections among them. Everything they share
beyond that lives in the database and the key store, which several processes may use at once.

Example::

    AVRR_SERVE_HOME=/srv/avrr-node uvicorn --factory gateway.surfaces.serving:app --workers 4 \
        --no-proxy-headers   # the app believes proxies only as its trusted_proxies names
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI

from gateway.kit.config import Settings
from gateway.kit.logs import configure_logging
from gateway.surfaces.app import create_app

HOME_VARIABLE = "AVRR_SERVE_HOME"


def app() -> FastAPI:
    """The node's app for one worker process, from the home named in the environment."""
    home = os.environ.get(HOME_VARIABLE)
    if not home:
        raise RuntimeError(f"{HOME_VARIABLE} names no node home; start with 'avrr serve'")
    settings = Settings.for_home(Path(home))
    configure_logging(settings.log_format)
    return create_app(settings)
