"""A federation of real gateway apps in one process, for tests of the HTTP surface.

Each ``TestNode`` has its own home folder (real key files), its own database, and its own FastAPI
app behind a ``TestClient``. Delivery between nodes goes through ``FederationTransport``, an httpx
transport that hands each request to the app whose host name it addresses, so the outbound client,
the node tokens, the inbox and the receipts are all the production code.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from crypto.keys import SigningKey
from gateway.exchange.delivery import DeliveryReport, DeliveryWorker
from gateway.exchange.pickup import PickupFetcher, PickupReport
from gateway.kit.config import Settings
from gateway.kit.db import make_engine, make_sessionmaker
from gateway.kit.home import NodeHome
from gateway.kit.node import Node
from gateway.processes.kinds import message_kinds
from gateway.records.accesslog.tree import AccessLogTree
from gateway.records.accesslog.verify import verify_log
from gateway.surfaces.app import create_app
from partners.client import NodeClient
from partners.default_policy import DEFAULT_EVENT_HORIZON_DAYS, default_policy, default_retention
from partners.directory import key_record, sign_directory
from schemas.common import PartnerRole, StaffRole
from schemas.directory import DeliveryMode, Directory, KeyRecord, NodeRecord, SharingRule
from tests.support.clock import FakeClock

DatabaseUrl = Callable[[str], str]


def inbox_url(node_id: str) -> str:
    return f"https://{node_id}.test"


@dataclass
class TestNode:
    __test__ = False  # not a pytest class

    node_id: str
    roles: list[PartnerRole]
    country: str
    home: NodeHome
    settings: Settings
    clock: FakeClock
    engine: Engine
    _client: TestClient | None = None
    #: The ISO 3166-2 region the directory lists the node in, if any.
    region: str | None = None
    #: How envelopes reach it: posted to its inbox, or picked up by it from each sender.
    delivery: DeliveryMode = DeliveryMode.PUSH

    @property
    def client(self) -> TestClient:
        if self._client is None:
            app = create_app(self.settings, clock=self.clock, engine=self.engine)
            self._client = TestClient(app, base_url=inbox_url(self.node_id))
        return self._client

    @property
    def sessions(self) -> Any:
        return make_sessionmaker(self.engine)

    def token(
        self,
        role: StaffRole = StaffRole.CASEWORKER,
        *,
        user: str = "user-1",
        office: str = "office-a",
    ) -> str:
        node = self.client.app.state.node  # type: ignore[attr-defined]
        return str(
            node.staff.issue(
                user=user,
                role=role,
                office=office,
                now=self.clock.now(),
                lifetime=timedelta(hours=8),
            )
        )

    def auth(
        self,
        role: StaffRole = StaffRole.CASEWORKER,
        *,
        user: str = "user-1",
        office: str = "office-a",
    ) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, user=user, office=office)}"}

    @property
    def organisation(self) -> str:
        """The organisation's name in the directory: "Origin Reception (test)" for the node
        ``origin-reception``, so a page showing a name can be told from one showing the id."""
        return f"{self.node_id.replace('-', ' ').title()} (test)"

    def record(self) -> NodeRecord:
        keys = self.home.public_keys()
        return NodeRecord(
            node_id=self.node_id,
            organisation=self.organisation,
            country=self.country,
            region=self.region,
            roles=self.roles,
            delivery=self.delivery,
            inbox_url=inbox_url(self.node_id) if self.delivery is DeliveryMode.PUSH else None,
            signing_keys=[KeyRecord.model_validate(k) for k in keys["signing_keys"]],
            encryption_keys=[KeyRecord.model_validate(k) for k in keys["encryption_keys"]],
        )


class FederationTransport(httpx.BaseTransport):
    """Route each request to the app of the node it addresses; count what went where."""

    def __init__(self, nodes: dict[str, TestNode]) -> None:
        self._nodes = nodes
        self.requests: list[str] = []
        #: (node id, path) of every request, so a test can tell a batch from a lone envelope.
        self.paths: list[tuple[str, str]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        node_id = request.url.host.removesuffix(".test")
        self.requests.append(node_id)
        self.paths.append((node_id, request.url.path))
        node = self._nodes.get(node_id)
        if node is None:
            raise httpx.ConnectError("no such host", request=request)
        response = node.client.request(
            request.method, request.url.path, content=request.read(), headers=dict(request.headers)
        )
        return httpx.Response(
            response.status_code, headers=response.headers, content=response.content
        )


@dataclass
class TestFederation:
    __test__ = False

    root: Path
    clock: FakeClock
    database_url: DatabaseUrl
    nodes: dict[str, TestNode] = field(default_factory=dict)
    policy: list[SharingRule] = field(default_factory=default_policy)
    suspended: list[str] = field(default_factory=list)
    suspended_regions: list[str] = field(default_factory=list)
    serial: int = 0
    engines: list[Engine] = field(default_factory=list)

    def __post_init__(self) -> None:
        now = self.clock.now().replace(microsecond=0)
        self.operator = SigningKey.generate(
            valid_from=now - timedelta(days=1), valid_until=now + timedelta(days=3650)
        )
        self.transport = FederationTransport(self.nodes)

    def add_node(
        self, node_id: str, roles: list[PartnerRole], country: str, **settings: Any
    ) -> TestNode:
        """A node with its keys, database and ``settings`` (beyond home, id and database)."""
        home = NodeHome(self.root / node_id)
        now = self.clock.now()
        home.create_keys(now - timedelta(days=1))
        home.create_staff_issuer(now - timedelta(days=1))
        home.create_pseudonym_secret()
        home.create_master_key()
        made = Settings(
            home=home.path, node_id=node_id, database_url=self.database_url(node_id), **settings
        )
        engine = make_engine(made.database_url)
        self.engines.append(engine)
        node = TestNode(node_id, roles, country, home, made, self.clock, engine)
        self.nodes[node_id] = node
        return node

    def directory(self, validity: timedelta = timedelta(days=30)) -> Directory:
        now = self.clock.now().replace(microsecond=0)
        self.serial += 1
        return Directory(
            federation_id="avrr-test",
            serial=self.serial,
            issued_at=now,
            expires_at=now + validity,
            nodes=[node.record() for node in self.nodes.values()],
            sharing_policy=self.policy,
            suspended_countries=self.suspended,
            suspended_regions=self.suspended_regions,
            retention=default_retention(),
            event_horizon_days=DEFAULT_EVENT_HORIZON_DAYS,
        )

    def publish(
        self, directory: Directory | None = None, *, only: list[TestNode] | None = None
    ) -> Directory:
        """Sign the directory and install it in every node (or ``only`` those), as the operator
        and node admins would."""
        directory = directory or self.directory()
        doc = sign_directory(directory, self.operator)
        for node in only or self.nodes.values():
            node.home.pin_operator(key_record(self.operator.public_key()))
            node.home.install_directory(doc, self.clock.now())
        return directory

    def worker(self, sender: TestNode, http: httpx.Client | None = None) -> DeliveryWorker:
        client = http or httpx.Client(transport=self.transport)
        return DeliveryWorker(
            node=sender.client.app.state.node,  # type: ignore[attr-defined]
            sessions=sender.sessions,
            client=NodeClient(http=client),
            kinds=message_kinds(),
            rng=random.Random(7),
        )

    def deliver(self, sender: TestNode) -> DeliveryReport:
        return self.worker(sender).run_once()

    def pickup(
        self, member: TestNode, http: httpx.Client | None = None, **options: int
    ) -> PickupReport:
        """Fetch, store and acknowledge what waits for ``member`` at each sender, as its worker
        (or ``avrr pickup --once``) does."""
        return PickupFetcher(
            node=member.client.app.state.node,  # type: ignore[attr-defined]
            sessions=member.sessions,
            client=NodeClient(http=http or httpx.Client(transport=self.transport)),
            kinds=message_kinds(),
            **options,
        ).run_once()

    def close(self) -> None:
        for node in self.nodes.values():
            if node._client is not None:
                node._client.close()
        for engine in self.engines:
            engine.dispose()


def gateway_node(node: TestNode) -> Node:
    """The node object a test app serves (its settings, keys, directory and clock)."""
    found: Node = node.client.app.state.node  # type: ignore[attr-defined]
    return found


def logs_verify(*nodes: TestNode) -> None:
    """Sequence each node's access log into its Merkle tree, then verify it whole."""
    for node in nodes:
        AccessLogTree(node=gateway_node(node), sessions=node.sessions).run_once()
        with node.sessions() as session:
            verified = verify_log(
                session,
                node_id=node.node_id,
                view=gateway_node(node).directory(),
                now=node.clock.now(),
                exported=[],
            )
        assert verified.ok, node.node_id
