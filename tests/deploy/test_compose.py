"""The compose file (deploy/compose/compose.yaml), read as YAML: no container runs here.

It has the node's five services; the node's own (migration, API, worker) run as a numeric
non-root user on a read-only root with no capabilities; secrets come from files, never from
the compose file or its environment; the API and the worker start only after the migration
succeeded; PostgreSQL is on a network that reaches nothing else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.avrr_commands import HOME, parse_avrr

COMPOSE = Path(__file__).resolve().parents[2] / "deploy" / "compose" / "compose.yaml"
NODE_SERVICES = ["migrate", "api", "worker"]


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return data


def service(name: str) -> dict[str, Any]:
    services: dict[str, Any] = compose()["services"]
    return services[name]  # type: ignore[no-any-return]


class TestCompose:
    def test_the_node_has_its_five_services(self) -> None:
        assert set(compose()["services"]) == {"db", "migrate", "api", "worker", "proxy"}

    @pytest.mark.parametrize("name", NODE_SERVICES)
    def test_node_services_run_locked_down(self, name: str) -> None:
        spec = service(name)
        uid, _, gid = spec["user"].partition(":")
        assert uid.isdigit()
        assert int(uid) != 0
        assert gid.isdigit()
        assert int(gid) != 0
        assert spec["read_only"] is True
        assert spec["cap_drop"] == ["ALL"]
        assert "no-new-privileges:true" in spec["security_opt"]
        assert any(mount.startswith("/tmp") for mount in spec["tmpfs"])  # noqa: S108

    @pytest.mark.parametrize("name", NODE_SERVICES)
    def test_node_services_read_the_databases_from_secret_files(self, name: str) -> None:
        spec = service(name)
        environment = spec["environment"]
        for setting in ("AVRR_DATABASE_URL", "AVRR_KEYSTORE_URL"):
            assert setting not in environment
            secret = environment[f"{setting}_FILE"].removeprefix("/run/secrets/")
            assert secret in spec["secrets"]
        assert spec["volumes"] == [f"./node:{HOME}"]

    @pytest.mark.parametrize("name", NODE_SERVICES)
    def test_node_services_run_a_real_avrr_command(self, name: str, tmp_path: Path) -> None:
        # compose fills in ${AVRR_API_WORKERS:-2} from the environment; here, the default.
        args = [arg.replace("${AVRR_API_WORKERS:-2}", "2") for arg in service(name)["command"]]
        parse_avrr(args, home=tmp_path)

    def test_every_secret_is_a_file(self) -> None:
        for name, secret in compose()["secrets"].items():
            assert set(secret) == {"file"}, name
            assert secret["file"].startswith("./secrets/"), name

    def test_no_password_is_written_in_the_file(self) -> None:
        text = COMPOSE.read_text(encoding="utf-8")
        assert "POSTGRES_PASSWORD:" not in text
        assert "postgresql://" not in text

    def test_the_migration_runs_first_and_once(self) -> None:
        migrate = service("migrate")
        assert migrate["command"] == ["avrr", "node", "migrate", HOME]
        assert migrate["restart"] == "no"
        for name in ("api", "worker"):
            condition = service(name)["depends_on"]["migrate"]["condition"]
            assert condition == "service_completed_successfully", name

    def test_the_api_serves_several_processes_behind_the_proxy(self) -> None:
        api = service("api")
        assert api["command"][:3] == ["avrr", "serve", HOME]
        assert "--workers" in api["command"]
        assert "ports" not in api, "the API is reached through the TLS proxy only"
        assert set(service("proxy")["networks"]) & set(api["networks"])

    def test_the_worker_has_no_http_check(self) -> None:
        assert service("worker")["healthcheck"] == {"disable": True}
        assert service("worker")["command"] == ["avrr", "worker", HOME]

    def test_postgresql_is_on_an_internal_network_only(self) -> None:
        networks = service("db")["networks"]
        assert networks == ["database"]
        assert compose()["networks"]["database"]["internal"] is True
        assert "ports" not in service("db")
