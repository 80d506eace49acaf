"""Running a job again and again until asked to stop, surviving passing database trouble.

The delivery worker and the purge both run this way inside ``avrr worker``. A run that fails
because the database or the directory is briefly unavailable is logged (the exception's type
only) and tried again after the interval; anything else is a bug and stops the loop loudly.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import DBAPIError

from gateway.kit.errors import ServiceUnavailable, database_unreachable


def run_periodically(
    step: Callable[[], object],
    *,
    interval: float,
    stop: threading.Event,
    log: logging.Logger,
    name: str,
    drain: Callable[[Any], bool] | None = None,
) -> None:
    """Run ``step`` every ``interval`` seconds until ``stop`` is set.

    With ``drain``, a run whose report ``drain`` calls productive is followed at once by the
    next, so a backlog is worked off at full speed and the interval only separates other runs.
    """
    while not stop.is_set():
        try:
            report = step()
        except (DBAPIError, ServiceUnavailable) as exc:
            if isinstance(exc, DBAPIError) and not database_unreachable(exc):
                raise
            log.warning("%s run failed: %s; retrying", name, type(exc).__name__)
        else:
            if report:
                log.info("%s run: %s", name, report)
                if drain is not None and drain(report):
                    continue
        stop.wait(interval)
