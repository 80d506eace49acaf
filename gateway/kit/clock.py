"""Time as a collaborator: services ask a ``Clock`` rather than the system, so tests move time.

Example::

    >>> SystemClock().now().tzinfo is not None
    True
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)
