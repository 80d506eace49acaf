"""The operator's command line: federation and node set-up, as an operator would run it."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tests.support.cli import avrr, ok


@pytest.fixture
def federation(tmp_path: Path) -> Path:
    folder = tmp_path / "fed"
    ok("federation", "init", folder, "--id", "avrr-test")
    return folder


def make_node(tmp_path: Path, name: str, database_url: str) -> Path:
    home = tmp_path / name
    ok(
        "node",
        "init",
        home,
        "--node-id",
        name,
        "--organisation",
        f"{name} org",
        "--country",
        "SN",
        "--database-url",
        database_url,
    )
    return home


class TestFederationCommands:
    def test_init_creates_a_private_operator_key_and_a_signed_directory(
        self, federation: Path
    ) -> None:
        key_mode = stat.S_IMODE(os.stat(federation / "operator-key.json").st_mode)
        assert key_mode == 0o600
        shown = json.loads(ok("federation", "show", federation))
        assert shown["serial"] == 1
        assert shown["nodes"] == []
        assert any(rule["role"] == "reception_partner" for rule in shown["sharing_policy"])

    def test_init_refuses_to_overwrite(self, federation: Path) -> None:
        result = avrr("federation", "init", federation, "--id", "again")
        assert result.exit_code != 0
        assert "refusing" in result.output

    def test_init_with_an_invalid_id_is_a_clear_error_that_writes_nothing(
        self, tmp_path: Path
    ) -> None:
        result = avrr("federation", "init", tmp_path / "fed", "--id", "S")
        assert result.exit_code != 0
        assert "not a valid federation_id" in result.output
        assert "Traceback" not in result.output
        assert not (tmp_path / "fed").exists()

    def test_suspend_and_resume_a_country(self, federation: Path) -> None:
        ok("federation", "suspend", federation, "ml")
        assert json.loads(ok("federation", "show", federation))["suspended_countries"] == ["ML"]
        ok("federation", "resume", federation, "ML")
        assert json.loads(ok("federation", "show", federation))["suspended_countries"] == []

    def test_bad_country_is_a_clear_error(self, federation: Path) -> None:
        result = avrr("federation", "suspend", federation, "XX")
        assert result.exit_code != 0
        assert "not a country or region code" in result.output

    def test_set_policy_refuses_unknown_fields(self, federation: Path, tmp_path: Path) -> None:
        policy = tmp_path / "policy.json"
        policy.write_text(
            json.dumps(
                [
                    {
                        "role": "reception_partner",
                        "purpose": "arrival_reception",
                        "sections": {"medical": ["no_such_field"]},
                    }
                ]
            )
        )
        result = avrr("federation", "set-policy", federation, policy)
        assert result.exit_code != 0
        assert "not valid" in result.output


class TestNodeCommands:
    def test_full_set_up_of_a_node(
        self, federation: Path, tmp_path: Path, database_url: object
    ) -> None:
        home = make_node(tmp_path, "origin-reception", database_url("cli"))  # type: ignore[operator]
        for key_file in (home / "keys").iterdir():
            assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        exported = home / "public.json"
        ok("node", "export", home, "--out", exported)
        assert "seed" not in exported.read_text()
        ok(
            "federation",
            "add-node",
            federation,
            "--node-file",
            exported,
            "--roles",
            "reception_partner",
            "--inbox-url",
            "http://127.0.0.1:9999",
        )
        out = ok(
            "node",
            "install-directory",
            home,
            federation / "directory.json",
            "--operator-key",
            federation / "operator.json",
        )
        assert "serial 2 installed; this node is listed" in out
        token = ok(
            "node",
            "token",
            home,
            "--user",
            "po-1",
            "--role",
            "partner_officer",
            "--office",
            "reception",
        ).strip()
        assert token.count(".") == 2

    def test_an_inbox_reached_over_plain_http_is_refused(
        self, federation: Path, tmp_path: Path, database_url: object
    ) -> None:
        home = make_node(tmp_path, "origin-reception", database_url("cli"))  # type: ignore[operator]
        ok("node", "export", home, "--out", tmp_path / "public.json")
        result = avrr(
            "federation",
            "add-node",
            federation,
            "--node-file",
            tmp_path / "public.json",
            "--roles",
            "reception_partner",
            "--inbox-url",
            "http://reception.example/avrr",
        )
        assert result.exit_code != 0
        assert "must use https" in result.output
        assert json.loads(ok("federation", "show", federation))["nodes"] == []

    def test_directory_signed_by_another_operator_is_refused(
        self, federation: Path, tmp_path: Path, database_url: object
    ) -> None:
        home = make_node(tmp_path, "origin-reception", database_url("cli"))  # type: ignore[operator]
        ok(
            "node",
            "install-directory",
            home,
            federation / "directory.json",
            "--operator-key",
            federation / "operator.json",
        )
        rogue = tmp_path / "rogue"
        ok("federation", "init", rogue, "--id", "avrr-test")
        result = avrr("node", "install-directory", home, rogue / "directory.json")
        assert result.exit_code != 0
        assert "directory refused" in result.output
        result = avrr(
            "node",
            "install-directory",
            home,
            rogue / "directory.json",
            "--operator-key",
            rogue / "operator.json",
        )
        assert result.exit_code != 0
        assert "different operator key is already pinned" in result.output

    def test_older_directory_cannot_replace_a_newer_one(
        self, federation: Path, tmp_path: Path, database_url: object
    ) -> None:
        home = make_node(tmp_path, "origin-reception", database_url("cli"))  # type: ignore[operator]
        old = tmp_path / "old-directory.json"
        old.write_text((federation / "directory.json").read_text())
        ok("federation", "sign", federation)
        ok(
            "node",
            "install-directory",
            home,
            federation / "directory.json",
            "--operator-key",
            federation / "operator.json",
        )
        result = avrr("node", "install-directory", home, old)
        assert result.exit_code != 0
        assert "older than the one already installed" in result.output

    def test_rotate_keys_keeps_the_old_ones_for_the_overlap(
        self, tmp_path: Path, database_url: object
    ) -> None:
        home = make_node(tmp_path, "origin-reception", database_url("cli"))  # type: ignore[operator]
        ok("node", "rotate-keys", home, "--overlap-days", "7")
        exported = json.loads(ok("node", "export", home))
        assert len(exported["signing_keys"]) == 2
        assert len(exported["encryption_keys"]) == 2

    def test_node_commands_on_a_missing_home_say_what_to_do(self, tmp_path: Path) -> None:
        (tmp_path / "empty").mkdir()
        result = avrr("node", "export", tmp_path / "empty")
        assert result.exit_code != 0
        assert "avrr node init" in result.output

    def test_token_refuses_a_name_as_user_id(self, tmp_path: Path, database_url: object) -> None:
        home = make_node(tmp_path, "origin-reception", database_url("cli"))  # type: ignore[operator]
        result = avrr(
            "node", "token", home, "--user", "Jane Doe", "--role", "caseworker", "--office", "x"
        )
        assert result.exit_code != 0
