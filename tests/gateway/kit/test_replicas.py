"""Replicas of one node (API processes on two machines) share per-person keys through the SQL
key store: what one seals the other reads, and an erasure through one holds for the other."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateway.kit.config import Settings
from gateway.kit.db import make_engine
from gateway.kit.master_key import TokenMasterKey
from gateway.surfaces.app import create_app
from schemas.common import PartnerRole, StaffRole
from tests.support import flows
from tests.support.federation import TestFederation, TestNode
from tests.support.keystores import SoftToken


@dataclass
class Replica:
    client: TestClient

    def auth(self, role: StaffRole = StaffRole.CASEWORKER) -> dict[str, str]:
        node = self.client.app.state.node  # type: ignore[attr-defined]
        token = node.staff.issue(
            user="user-1",
            role=role,
            office="office-a",
            now=node.clock.now(),
            lifetime=timedelta(hours=1),
        )
        return {"Authorization": f"Bearer {token}"}

    def case(self, case_id: str) -> Any:
        return self.client.get(f"/api/v1/cases/{case_id}", headers=self.auth())


def master_settings(request: pytest.FixtureRequest) -> dict[str, str]:
    if request.param == "file":
        return {}
    token: SoftToken = request.getfixturevalue("softhsm")
    label = f"master-{uuid.uuid4().hex[:8]}"
    TokenMasterKey(
        module=token.module, token_label=token.label, key_label=label, pin=token.pin
    ).create()
    return {
        "master_key_source": "pkcs11",
        "pkcs11_module": token.module,
        "pkcs11_token_label": token.label,
        "pkcs11_key_label": label,
        "pkcs11_pin": token.pin,
    }


@pytest.fixture(params=["file", "pkcs11"])
def replicas(
    request: pytest.FixtureRequest, federation: TestFederation, keystore_url: str, tmp_path: Path
) -> Iterator[tuple[TestNode, Replica]]:
    """The host node's API, and a second API of the same node on "another machine": its own
    home folder (a copy of the node's keys, no subject keys), the same data database and the
    same key store."""
    extra = master_settings(request)
    host = federation.add_node(
        "host-mission", [PartnerRole.HOST_MISSION], "DE", keystore_url=keystore_url, **extra
    )
    federation.add_node("origin-reception", [PartnerRole.RECEPTION_PARTNER], "SN")
    federation.publish()
    elsewhere = tmp_path / "replica-home"
    shutil.copytree(host.home.path, elsewhere, ignore=shutil.ignore_patterns("subjects"))
    settings = Settings(
        home=elsewhere,
        node_id=host.node_id,
        database_url=host.settings.database_url,
        keystore_url=keystore_url,
        **extra,
    )
    engine = make_engine(settings.database_url)
    client = TestClient(create_app(settings, clock=host.clock, engine=engine))
    yield host, Replica(client)
    client.close()
    engine.dispose()


class TestReplicasShareKeys:
    def test_what_one_replica_seals_the_other_reads(
        self, replicas: tuple[TestNode, Replica]
    ) -> None:
        host, replica = replicas
        sealed_here = flows.create_case(host)["id"]
        shown = replica.case(sealed_here)
        assert shown.status_code == 200
        assert shown.json()["given_name"] == flows.CASE["given_name"]
        sealed_there = replica.client.post(
            "/api/v1/cases", json={**flows.CASE, "given_name": "Other"}, headers=replica.auth()
        ).json()["id"]
        assert (
            host.client.get(f"/api/v1/cases/{sealed_there}", headers=host.auth()).json()[
                "given_name"
            ]
            == "Other"
        )
        assert not (host.home.keys / "subjects").exists()

    def test_an_erasure_through_one_replica_holds_for_the_other(
        self, replicas: tuple[TestNode, Replica]
    ) -> None:
        host, replica = replicas
        erased = flows.create_case(host)["id"]
        kept = flows.create_case(host)["id"]
        assert replica.case(erased).status_code == 200
        response = replica.client.post(
            f"/api/v1/dpo/erasures/{erased}", headers=replica.auth(StaffRole.DPO)
        )
        assert response.status_code == 201, response.text
        assert host.client.get(f"/api/v1/cases/{erased}", headers=host.auth()).status_code == 410
        assert replica.case(erased).status_code == 410
        assert host.client.get(f"/api/v1/cases/{kept}", headers=host.auth()).status_code == 200

    def test_each_replica_reports_its_key_store_ready(
        self, replicas: tuple[TestNode, Replica]
    ) -> None:
        host, replica = replicas
        for client in (host.client, replica.client):
            client.app.state.node.keys.ready()  # type: ignore[attr-defined]
