"""Gauges of the state a node's processes share, read from the database when Prometheus scrapes.

Several API and worker processes share one database: a gauge kept in one process's memory would
be wrong in every other. So the outbox's depth, the dead letters, the directory's days left and
the access log's checkpoint backlog are read at scrape time, by a few cheap queries (group-by
counts of non-final outbox rows, index lookups on the access log), and the answer is kept for
``ttl`` seconds, so a storm of scrapes (or several Prometheus servers) costs one read.

Invariant: label values are fixed vocabularies only (outbox state, message kind). A database
that does not answer gives ``avrr_database_up 0`` and nothing else, never an error.

Example::

    >>> registry = CollectorRegistry()                                     # doctest: +SKIP
    >>> registry.register(StateGauges(node=node, sessions=sessions))       # doctest: +SKIP
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from gateway.exchange.outbox import repository as outbox
from gateway.exchange.outbox.models import OutboxStatus
from gateway.kit.directory_fetch import directory_state
from gateway.kit.node import Node
from gateway.records.accesslog import repository as accesslog

#: Seconds a scrape's answer is reused.
DEFAULT_TTL = 10.0


class StateGauges(Collector):
    """The ``avrr_outbox_*``, ``avrr_directory_*`` and ``avrr_accesslog_*`` gauges of one node."""

    def __init__(
        self, *, node: Node, sessions: sessionmaker[Session], ttl: float = DEFAULT_TTL
    ) -> None:
        self._node = node
        self._sessions = sessions
        #: Seconds a scrape's answer is reused (tests set 0).
        self.ttl = ttl
        self._lock = threading.Lock()
        self._cached: tuple[float, list[Metric]] | None = None

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            now = time.monotonic()
            if self._cached is None or now - self._cached[0] >= self.ttl:
                self._cached = (now, list(self._read()))
            return list(self._cached[1])

    def describe(self) -> Iterable[Metric]:
        # Nothing is read at registration: the database may not answer yet.
        return []

    def _read(self) -> Iterator[Metric]:
        yield from self._directory()
        try:
            database = list(self._database())
        except SQLAlchemyError:
            yield _gauge("avrr_database_up", "Whether the database answered this scrape.", 0)
            return
        yield _gauge("avrr_database_up", "Whether the database answered this scrape.", 1)
        yield from database

    def _directory(self) -> Iterator[Metric]:
        state = directory_state(self._node)
        yield _gauge(
            "avrr_directory_valid",
            "Whether a verified, unexpired federation directory is installed.",
            int(state.valid),
        )
        yield _gauge(
            "avrr_directory_days_left",
            "Days until the installed directory expires (0 when there is none or it expired).",
            round(max(state.days_left, 0.0), 3),
        )
        if state.serial is not None:
            yield _gauge(
                "avrr_directory_serial", "Serial of the installed directory.", state.serial
            )

    def _database(self) -> Iterator[Metric]:
        now = self._node.clock.now()
        with self._sessions() as session:
            depth = outbox.depth(session)
            oldest_due = outbox.oldest_due(session, now)
            backlog = accesslog.checkpoint_backlog(session)
        messages = GaugeMetricFamily(
            "avrr_outbox_messages",
            "Outbox messages waiting to be delivered (pending) or given up (dead_lettered).",
            labels=["state", "kind"],
        )
        for status, kind, count in depth:
            messages.add_metric([status, kind], count)
        yield messages
        dead = sum(count for status, _, count in depth if status == OutboxStatus.DEAD_LETTERED)
        yield _gauge(
            "avrr_outbox_dead_letters",
            "Messages the outbox gave up on at their deadline; each needs a caseworker's look.",
            dead,
        )
        yield _gauge(
            "avrr_outbox_oldest_due_seconds",
            "Seconds the longest-waiting due message has waited for a worker (0: none waits).",
            _age(now, oldest_due),
        )
        yield _gauge(
            "avrr_accesslog_waiting_entries",
            "Access-log entries no signed checkpoint covers yet.",
            backlog.waiting,
        )
        yield _gauge(
            "avrr_accesslog_checkpoint_lag_seconds",
            "Seconds the oldest entry not covered by a checkpoint has waited (0: none waits).",
            _age(now, backlog.oldest_at),
        )


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _age(now: datetime, since: datetime | None) -> float:
    return max((now - since).total_seconds(), 0.0) if since is not None else 0.0
