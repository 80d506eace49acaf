"""``avrr node backup|restore`` and ``avrr node keys``: a backup restored after an erasure brings
the person's rows back but never their key; the access log is verified after every restore;
key files move into the SQL key store once, verified, and are shredded only when asked."""

from __future__ import annotations

import json
import stat
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from gateway.kit.config import CONFIG_FILE, Settings
from gateway.kit.keystore import KeyStoreUnavailable, open_keystore
from gateway.records.accesslog.models import AccessEventRow
from gateway.records.accesslog.tree import AccessLogTree
from gateway.records.cases.models import CaseRow
from gateway.surfaces.app import create_app
from schemas.common import PartnerRole, StaffRole
from tests.support import flows
from tests.support.cli import avrr, ok
from tests.support.clock import FakeClock
from tests.support.federation import TestFederation, TestNode
from tests.support.keystores import SoftToken
from tests.support.nodes import CANARY, canary_referral


def write_config(node: TestNode, **extra: Any) -> None:
    """The node.json an operator's ``avrr node init`` would have written for this node."""
    config = {"node_id": node.node_id, "database_url": node.settings.database_url, **extra}
    (node.home.path / CONFIG_FILE).write_text(json.dumps(config), encoding="utf-8")


def checkpoint(node: TestNode) -> None:
    node_ = node.client.app.state.node  # type: ignore[attr-defined]
    AccessLogTree(node=node_, sessions=node.sessions).run_once()


def erase(node: TestNode, case_id: str) -> None:
    response = node.client.post(f"/api/v1/dpo/erasures/{case_id}", headers=node.auth(StaffRole.DPO))
    assert response.status_code == 201, response.text


def case_status(node: TestNode, case_id: str) -> tuple[int, Any]:
    response = node.client.get(f"/api/v1/cases/{case_id}", headers=node.auth())
    return response.status_code, response.json()


def case_ids(node: TestNode) -> set[str]:
    with node.sessions() as session:
        return set(session.scalars(select(CaseRow.id)))


@pytest.fixture
def clock() -> FakeClock:
    """The real time: the commands run on the system clock and check the directory with it."""
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture(params=["file", "sql"])
def keyed_host(
    request: pytest.FixtureRequest, federation: TestFederation, tmp_path: Path
) -> TestNode:
    """A host whose keys are files in its home, or rows in a key store database of their own."""
    if request.param == "file":
        node = federation.add_node("host-mission", [PartnerRole.HOST_MISSION], "DE")
        write_config(node)
    else:
        keystore_url = request.getfixturevalue("keystore_url")
        node = federation.add_node(
            "host-mission", [PartnerRole.HOST_MISSION], "DE", keystore_url=keystore_url
        )
        write_config(node, keystore_url=keystore_url)
    federation.add_node("origin-reception", [PartnerRole.RECEPTION_PARTNER], "SN")
    federation.publish()
    return node


class TestBackupAndRestore:
    def test_a_person_erased_after_the_backup_stays_unreadable_once_it_is_restored(
        self, keyed_host: TestNode, federation: TestFederation, tmp_path: Path
    ) -> None:
        host, partner = keyed_host, federation.nodes["origin-reception"]
        erased = canary_referral(host, partner)["case_id"]
        kept = canary_referral(host, partner)["case_id"]
        federation.deliver(host)
        checkpoint(host)
        backup = tmp_path / "backups" / "node.backup"
        out = ok("node", "backup", host.home.path, backup)
        assert "no keys" in out
        assert stat.S_IMODE(backup.stat().st_mode) == 0o600
        assert CANARY.encode() not in backup.read_bytes()

        erase(host, erased)
        checkpoint(host)  # the node signs what the erasure logged: the backup predates it
        host.engine.dispose()
        refused = avrr("node", "restore", host.home.path, backup)
        assert refused.exit_code != 0
        assert "not empty" in refused.output
        out = ok("node", "restore", host.home.path, backup, "--force")
        host.engine.dispose()

        assert "access log OK" in out
        assert "written after the backup" in out
        assert {erased, kept} <= case_ids(host)  # the erased person's rows are back...
        assert case_status(host, erased)[0] == 410  # ...but nothing of theirs opens
        status, shown = case_status(host, kept)
        assert (status, shown["given_name"]) == (200, flows.CASE["given_name"])
        assert "access log OK" in ok("audit", "verify", host.home.path)

    def test_an_existing_backup_file_is_only_replaced_when_asked(
        self, keyed_host: TestNode, tmp_path: Path
    ) -> None:
        backup = tmp_path / "node.backup"
        backup.write_bytes(b"an older backup")
        refused = avrr("node", "backup", keyed_host.home.path, backup)
        assert refused.exit_code != 0
        assert "refusing to overwrite" in refused.output
        assert backup.read_bytes() == b"an older backup"
        ok("node", "backup", keyed_host.home.path, backup, "--force")
        assert backup.read_bytes() != b"an older backup"
        assert stat.S_IMODE(backup.stat().st_mode) == 0o600

    def test_a_restore_whose_access_log_does_not_verify_fails(
        self, keyed_host: TestNode, federation: TestFederation, tmp_path: Path
    ) -> None:
        host = keyed_host
        flows.create_case(host)
        checkpoint(host)
        with host.sessions.begin() as session:
            session.execute(update(AccessEventRow).values(outcome="rewritten"))
        backup = tmp_path / "node.backup"
        ok("node", "backup", host.home.path, backup)
        host.engine.dispose()
        result = avrr("node", "restore", host.home.path, backup, "--force")
        host.engine.dispose()
        assert result.exit_code != 0
        assert "does NOT verify" in result.output

    def test_a_backup_is_not_restored_into_another_kind_of_database(
        self, keyed_host: TestNode, tmp_path: Path
    ) -> None:
        bogus = tmp_path / "not-a-backup"
        bogus.write_bytes(b"hello")
        result = avrr("node", "restore", keyed_host.home.path, bogus, "--force")
        assert result.exit_code != 0
        assert "not a backup" in result.output


class TestKeyMigration:
    def test_key_files_move_into_the_sql_store_and_are_shredded_only_when_asked(
        self, pair: TestFederation, host: TestNode, keystore_url: str
    ) -> None:
        cases = [flows.create_case(host)["id"] for _ in range(3)]
        subjects = host.home.keys / "subjects"
        assert len(list(subjects.glob("*.key"))) == 3
        write_config(host, keystore_url=keystore_url)
        settings = Settings.for_home(host.home.path)

        out = ok("node", "keys", "migrate", host.home.path)
        assert "key files found: 3; copied: 3; already in the store: 0" in out
        assert "verified: 3; shredded: 0" in out
        assert not any(case_id in out for case_id in cases)
        assert len(list(subjects.glob("*.key"))) == 3
        with pytest.raises(KeyStoreUnavailable, match="keys migrate"):
            open_keystore(settings, host.home)

        out = ok("node", "keys", "migrate", host.home.path, "--shred-files")
        assert "copied: 0; already in the store: 3; read back and verified: 3; shredded: 3" in out
        assert list(subjects.glob("*.key")) == []
        assert "key files found: 0" in ok("node", "keys", "migrate", host.home.path)

        replica = TestClient(create_app(settings, clock=host.clock, engine=host.engine))
        node = replica.app.state.node  # type: ignore[attr-defined]
        token = node.staff.issue(
            user="user-1",
            role=StaffRole.CASEWORKER,
            office="office-a",
            now=host.clock.now(),
            lifetime=timedelta(hours=1),
        )
        for case_id in cases:
            shown = replica.get(
                f"/api/v1/cases/{case_id}", headers={"Authorization": f"Bearer {token}"}
            )
            assert shown.status_code == 200
            assert shown.json()["given_name"] == flows.CASE["given_name"]
        replica.close()
        assert "3 person keys" in ok("node", "keys", "init", host.home.path)

    def test_key_files_under_the_master_file_move_under_the_tokens_key_in_one_step(
        self,
        softhsm: SoftToken,
        pair: TestFederation,
        host: TestNode,
        keystore_url: str,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        case_id = flows.create_case(host)["id"]
        before = host.client.app.state.node.keys.existing_key(case_id)  # type: ignore[attr-defined]
        label = f"master-{uuid.uuid4().hex[:8]}"
        write_config(
            host,
            keystore_url=keystore_url,
            master_key_source="pkcs11",
            pkcs11_module=softhsm.module,
            pkcs11_token_label=softhsm.label,
            pkcs11_key_label=label,
        )
        monkeypatch.setenv("AVRR_PKCS11_PIN", softhsm.pin)
        ok("node", "keys", "create-master-in-token", host.home.path)
        out = ok("node", "keys", "migrate", host.home.path, "--shred-files")
        assert "copied: 1; already in the store: 0; read back and verified: 1; shredded: 1" in out
        moved = open_keystore(Settings.for_home(host.home.path), host.home)
        assert moved.existing_key(case_id) == before
        (host.home.keys / "master.key").unlink()  # the file is no longer needed to read it
        assert (
            open_keystore(Settings.for_home(host.home.path), host.home).existing_key(case_id)
            == before
        )

    def test_migrating_needs_a_key_store_url(self, pair: TestFederation, host: TestNode) -> None:
        write_config(host)
        result = avrr("node", "keys", "migrate", host.home.path)
        assert result.exit_code != 0
        assert "keystore_url is not set" in result.output


class TestMasterKeyInToken:
    def test_the_command_creates_the_key_in_the_token_once(
        self,
        softhsm: SoftToken,
        pair: TestFederation,
        host: TestNode,
        keystore_url: str,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        label = f"master-{uuid.uuid4().hex[:8]}"
        write_config(
            host,
            keystore_url=keystore_url,
            master_key_source="pkcs11",
            pkcs11_module=softhsm.module,
            pkcs11_token_label=softhsm.label,
            pkcs11_key_label=label,
        )
        monkeypatch.setenv("AVRR_PKCS11_PIN", softhsm.pin)
        out = ok("node", "keys", "create-master-in-token", host.home.path)
        assert softhsm.pin not in out
        assert f"{label!r} created" in out
        again = avrr("node", "keys", "create-master-in-token", host.home.path)
        assert again.exit_code != 0
        assert "already exists" in again.output
        assert "wrapped under the key" in ok("node", "keys", "init", host.home.path)
