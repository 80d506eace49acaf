"""The caseworker's consent commands, run against a real node app."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from gateway.surfaces.cli import consent as consent_cli
from gateway.surfaces.cli.main import main
from tests.support import flows
from tests.support.federation import TestFederation, TestNode


class Borrowed:
    """Lends the app's test client to the command without closing it afterwards."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def __enter__(self) -> httpx.Client:
        return self.client

    def __exit__(self, *_: object) -> None:
        return None


@pytest.fixture
def avrr(host: TestNode, pair: TestFederation, monkeypatch: pytest.MonkeyPatch) -> object:
    def client(url: str, token: str) -> Borrowed:
        assert url == "http://host-mission.test"
        host.client.headers["Authorization"] = f"Bearer {token}"
        return Borrowed(host.client)

    monkeypatch.setattr(consent_cli, "client_factory", client)
    token = host.token()

    def run(*args: str) -> Result:
        return CliRunner().invoke(
            main, ["consent", "--url", "http://host-mission.test", "--token", token, *args]
        )

    return run


class TestConsentCommands:
    def test_record_list_narrow_withdraw_and_receipt(
        self, avrr: object, host: TestNode, tmp_path: Path
    ) -> None:
        run = avrr  # type: ignore[assignment]
        case = flows.create_case(host)
        recorded = run(
            "record",
            case["id"],
            "--purpose",
            "arrival_reception",
            "--recipient",
            "origin-reception",
            "--sections",
            "travel,arrival,medical",
            "--method",
            "signed_form",
            "--language",
            "fr",
            "--informed-of-risks",
        )
        assert recorded.exit_code == 0, recorded.output
        consent_id = json.loads(recorded.output)["id"]

        listed = json.loads(run("list", case["id"]).output)
        assert [c["id"] for c in listed] == [consent_id]

        narrowed = run("narrow", case["id"], consent_id, "--keep", "arrival,travel")
        assert narrowed.exit_code == 0, narrowed.output

        withdrawn = run("withdraw", case["id"], "--sections", "travel")
        assert withdrawn.exit_code == 0, withdrawn.output
        history = json.loads(run("withdrawals", case["id"]).output)
        assert len(history) == 2

        out = tmp_path / "receipt.html"
        written = run(
            "receipt", case["id"], consent_id, "--html", "--lang", "ar", "--out", str(out)
        )
        assert written.exit_code == 0, written.output
        assert 'dir="rtl"' in out.read_text()

    def test_refusal_is_one_clear_line(self, avrr: object, host: TestNode) -> None:
        run = avrr  # type: ignore[assignment]
        case = flows.create_case(host)
        result = run("withdraw", case["id"])
        assert result.exit_code == 1
        assert "422: no active consent" in result.output

    def test_unknown_section_is_refused_before_calling_the_node(
        self, avrr: object, host: TestNode
    ) -> None:
        run = avrr  # type: ignore[assignment]
        result = run("withdraw", "0" * 32, "--sections", "diagnosis")
        assert result.exit_code == 2
        assert "unknown sections" in result.output
