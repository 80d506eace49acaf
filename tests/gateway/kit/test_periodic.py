"""The loop the worker's jobs run in: spacing idle runs, draining a backlog at once."""

from __future__ import annotations

import logging
import threading

import pytest
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError

from gateway.kit.periodic import run_periodically

LOG = logging.getLogger("test")


class Stop(threading.Event):
    """A stop event that records every wait instead of waiting, and is set by the nth wait."""

    def __init__(self, after_waits: int) -> None:
        super().__init__()
        self.waits: list[float | None] = []
        self._after = after_waits

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout)
        if len(self.waits) == self._after:
            self.set()
        return self.is_set()


def job(busy_runs: int) -> tuple[list[int], object]:
    """A job that has work in its first ``busy_runs`` runs and none after."""
    calls: list[int] = []

    def step() -> int:
        calls.append(1)
        return 1 if len(calls) <= busy_runs else 0

    return calls, step


def test_draining_runs_again_at_once_while_there_is_work() -> None:
    stop = Stop(after_waits=1)
    calls, step = job(busy_runs=3)
    run_periodically(step, interval=60, stop=stop, log=LOG, name="job", drain=bool)  # type: ignore[arg-type]
    # Three busy runs back to back, then an idle one, and only then the interval.
    assert len(calls) == 4
    assert stop.waits == [60]


def test_a_run_the_drain_rule_calls_unproductive_waits_for_the_interval() -> None:
    # As the delivery worker's rule: a run that only rescheduled failures is not drained.
    stop = Stop(after_waits=2)
    calls, step = job(busy_runs=10)
    run_periodically(step, interval=60, stop=stop, log=LOG, name="job", drain=lambda _: False)  # type: ignore[arg-type]
    assert len(calls) == 2
    assert stop.waits == [60, 60]


def test_without_draining_every_run_is_followed_by_the_interval() -> None:
    stop = Stop(after_waits=3)
    calls, step = job(busy_runs=10)
    run_periodically(step, interval=60, stop=stop, log=LOG, name="job")  # type: ignore[arg-type]
    assert len(calls) == 3
    assert stop.waits == [60, 60, 60]


def _failing(error: Exception) -> tuple[list[int], object]:
    calls: list[int] = []

    def step() -> int:
        calls.append(1)
        raise error

    return calls, step


def test_a_run_that_lost_its_database_connection_is_tried_again() -> None:
    # Without a ping before each checkout, a dropped connection fails the run's first
    # statement, as an OperationalError or, once the driver knows, an InterfaceError.
    for error in (
        OperationalError("SELECT 1", {}, Exception("server closed the connection")),
        InterfaceError("SELECT 1", {}, Exception("the connection is closed")),
    ):
        stop = Stop(after_waits=2)
        calls, step = _failing(error)
        run_periodically(step, interval=60, stop=stop, log=LOG, name="job")  # type: ignore[arg-type]
        assert len(calls) == 2


def test_a_database_error_of_the_statement_itself_stops_the_loop() -> None:
    stop = Stop(after_waits=2)
    _, step = _failing(IntegrityError("INSERT", {}, Exception("duplicate key")))
    with pytest.raises(IntegrityError):
        run_periodically(step, interval=60, stop=stop, log=LOG, name="job")  # type: ignore[arg-type]
