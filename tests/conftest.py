"""Fixtures shared by every test: the database choice, a fake clock, and test federations."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas.common import PartnerRole
from tests.support import databases, keystores
from tests.support.clock import FakeClock
from tests.support.federation import TestFederation, TestNode


def pytest_report_header() -> str:
    return databases.describe()


@pytest.fixture(scope="session")
def database_provider(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[databases.SqliteProvider | databases.PostgresProvider]:
    choice = databases.choice()
    provider: databases.SqliteProvider | databases.PostgresProvider
    if choice == "sqlite":
        provider = databases.SqliteProvider(tmp_path_factory.mktemp("db-template"))
    else:
        provider = databases.PostgresProvider(choice)
    yield provider
    provider.close()


@pytest.fixture
def database_url(
    database_provider: databases.SqliteProvider | databases.PostgresProvider, tmp_path: Path
) -> object:
    """A function from a node name to a fresh, migrated, empty database URL for this test."""
    used: list[str] = []

    def url(name: str) -> str:
        result = database_provider.url(name, tmp_path)
        if isinstance(database_provider, databases.PostgresProvider) and name not in used:
            database_provider.empty(name)
        used.append(name)
        return result

    return url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def federation(tmp_path: Path, clock: FakeClock, database_url: object) -> Iterator[TestFederation]:
    fed = TestFederation(root=tmp_path / "nodes", clock=clock, database_url=database_url)  # type: ignore[arg-type]
    yield fed
    fed.close()


@pytest.fixture
def host(federation: TestFederation) -> TestNode:
    return federation.add_node("host-mission", [PartnerRole.HOST_MISSION], "DE")


@pytest.fixture
def partner(federation: TestFederation) -> TestNode:
    return federation.add_node("origin-reception", [PartnerRole.RECEPTION_PARTNER], "SN")


@pytest.fixture
def pair(federation: TestFederation, host: TestNode, partner: TestNode) -> TestFederation:
    """A published federation of a host mission and a reception partner."""
    federation.publish()
    return federation


@pytest.fixture
def keystore_url(tmp_path: Path) -> Iterator[str]:
    """A SQL key store's own database for this test (SQLite, or PostgreSQL when chosen)."""
    with keystores.keystore_database(tmp_path) as url:
        yield url


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> keystores.SoftToken:
    """A throwaway SoftHSM2 token for the whole session (``SOFTHSM2_CONF`` in a temp folder)."""
    token = keystores.softhsm_token(tmp_path_factory.mktemp("softhsm"))
    if token is None:
        pytest.skip(
            "SoftHSM2 is not installed (/usr/lib/softhsm/libsofthsm2.so; make test installs it)"
        )
    return token
