"""``avrr staff link``, ``avrr card issue`` and ``avrr --version``, against real node apps."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from gateway.surfaces.cli import consent as consent_cli
from gateway.surfaces.cli.main import main
from tests.support import flows
from tests.support.clock import FakeClock
from tests.support.federation import TestFederation, TestNode
from tests.support.portal import portal_client


class Borrowed:
    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def __enter__(self) -> httpx.Client:
        return self.client

    def __exit__(self, *_: object) -> None:
        return None


def with_settings_file(node: TestNode) -> Path:
    """The node's home with the ``node.json`` the CLI reads (tests build settings in memory)."""
    (node.home.path / "node.json").write_text(
        json.dumps({"node_id": node.node_id, "database_url": node.settings.database_url}),
        encoding="utf-8",
    )
    return node.home.path


class TestStaffLink:
    def test_the_link_signs_in_once_with_the_role_it_names(
        self, pair: TestFederation, host: TestNode, clock: FakeClock
    ) -> None:
        # The command signs with the real time; the node's clock runs at the same time.
        clock.advance(seconds=(datetime.now(UTC) - clock.now()).total_seconds())
        pair.publish()
        made = CliRunner().invoke(
            main,
            [
                "staff",
                "link",
                str(with_settings_file(host)),
                "--user",
                "cw-9",
                "--role",
                "caseworker",
                "--office",
                "office-a",
                "--url",
                "https://host.example/",
            ],
        )

        assert made.exit_code == 0, made.output
        link = made.output.strip()
        assert link.startswith("https://host.example/staff/sign-in/link?token=")
        path = link.removeprefix("https://host.example")
        browser = portal_client(host)
        assert browser.get(path).headers["refresh"] == "0; url=/staff/cases"
        assert portal_client(host).get(path).status_code == 401

    def test_without_an_address_it_says_what_to_give(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        made = CliRunner().invoke(
            main,
            [
                "staff",
                "link",
                str(with_settings_file(host)),
                "--user",
                "u",
                "--role",
                "dpo",
                "--office",
                "o",
            ],
        )

        assert made.exit_code != 0
        assert "--url" in made.output


class TestCardIssue:
    @pytest.fixture
    def run(self, host: TestNode, pair: TestFederation, monkeypatch: pytest.MonkeyPatch) -> object:
        def client(url: str, token: str) -> Borrowed:
            host.client.headers["Authorization"] = f"Bearer {token}"
            return Borrowed(host.client)

        monkeypatch.setattr(consent_cli, "client_factory", client)
        token = host.token()
        return lambda *args: CliRunner().invoke(
            main, ["card", "--url", "http://host-mission.test", "--token", token, "issue", *args]
        )

    def test_the_terminal_shows_the_address_reference_and_code_once(
        self, run: object, host: TestNode
    ) -> None:
        case = flows.create_case(host)

        shown = run(case["id"], "--language", "fr")  # type: ignore[operator]

        assert shown.exit_code == 0, shown.output
        assert "http://host-mission.test/portal/" in shown.output
        assert "reference:" in shown.output
        assert "secret code:" in shown.output

    def test_the_printable_page_is_written(
        self, run: object, host: TestNode, tmp_path: Path
    ) -> None:
        case = flows.create_case(host)
        out = tmp_path / "card.html"

        written = run(case["id"], "--language", "ar", "--html", str(out))  # type: ignore[operator]

        assert written.exit_code == 0, written.output
        assert '<html lang="ar" dir="rtl">' in out.read_text(encoding="utf-8")

    def test_a_case_of_another_office_is_an_error_line(self, run: object) -> None:
        failed = run("0" * 32)  # type: ignore[operator]

        assert failed.exit_code == 1
        assert failed.output.startswith("Error: 404")


def test_version() -> None:
    shown = CliRunner().invoke(main, ["--version"])

    assert shown.exit_code == 0
    assert shown.output.startswith("avrr, version ")
