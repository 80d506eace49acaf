"""The request's dependencies: one thread hop per staff request, its session used from one
thread, and the unit of work ended there (committed, or rolled back keeping what must be kept).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import anyio.to_thread
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy import event, func, select

from gateway.records.accesslog.models import AccessEventRow
from gateway.surfaces.api.deps import UnitOfWorkRoute, unit_of_work
from schemas.common import StaffRole
from tests.support import flows
from tests.support.federation import TestFederation, TestNode


@contextmanager
def watched(host: TestNode) -> Iterator[dict[str, Any]]:
    """Count thread hops; note the threads that ran statements and commits."""
    seen: dict[str, Any] = {"hops": 0, "threads": set()}
    run_sync = anyio.to_thread.run_sync

    async def counting(*args: Any, **kwargs: Any) -> Any:
        seen["hops"] += 1
        return await run_sync(*args, **kwargs)

    def statement(*_: Any) -> None:
        seen["threads"].add(threading.get_ident())

    engine = host.client.app.state.engine
    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", statement)
    try:
        with mock.patch.object(anyio.to_thread, "run_sync", counting):
            yield seen
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", statement)


def log_size(host: TestNode) -> int:
    with host.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(AccessEventRow)) or 0)


class TestUnitOfWork:
    def test_a_referral_makes_one_thread_hop_and_uses_its_session_in_that_thread(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        case = flows.create_case(host)
        flows.record_consent(host, case["id"], partner.node_id)
        host.client.get("/healthz")
        with watched(host) as seen:
            response = flows.post_referral(host, case["id"], partner.node_id)
        assert response.status_code == 201
        assert seen["hops"] == 1
        assert len(seen["threads"]) == 1
        assert seen["threads"] != {threading.get_ident()}

    def test_a_refused_referral_is_rolled_back_but_its_refusal_is_kept(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        case = flows.create_case(host)  # no consent: the policy refuses
        before = log_size(host)
        with watched(host) as seen:
            response = flows.post_referral(host, case["id"], partner.node_id)
        assert response.status_code == 422
        assert seen["hops"] == 1
        assert log_size(host) == before + 1

    def test_a_wrong_role_is_denied_and_logged(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        case = flows.create_case(host)
        before = log_size(host)
        response = host.client.get(f"/api/v1/cases/{case['id']}", headers=host.auth(StaffRole.DPO))
        assert response.status_code == 403
        with host.sessions() as session:
            denied = session.scalars(
                select(AccessEventRow).order_by(AccessEventRow.seq.desc()).limit(1)
            ).one()
        assert (denied.action, denied.outcome) == ("access_denied", "wrong_role")
        assert log_size(host) == before + 1

    def test_a_route_answering_with_a_model_commits_after_it_is_serialised(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        case = flows.create_case(host)
        with watched(host) as seen:
            response = host.client.get(f"/api/v1/cases/{case['id']}", headers=host.auth())
        assert response.status_code == 200
        # The endpoint, FastAPI's validation of its answer, then the commit of the reading.
        assert seen["hops"] == 3
        assert log_size(host) >= 2

    def test_every_route_with_a_unit_of_work_ends_it_itself(self, host: TestNode) -> None:
        routes = [r for r in api_routes(host.client.app.routes) if uses_unit_of_work(r.dependant)]
        assert len(routes) > 50
        assert [r.path for r in routes if not isinstance(r, UnitOfWorkRoute)] == []


def api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    """Every API route, also those of included routers (FastAPI keeps those as the router)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif (included := getattr(route, "original_router", None)) is not None:
            yield from api_routes(included.routes)


def uses_unit_of_work(dependant: Dependant) -> bool:
    return any(d.call is unit_of_work or uses_unit_of_work(d) for d in dependant.dependencies)
