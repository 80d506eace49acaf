"""Fetching the directory from the operator's URL: what is installed, refused, kept and warned."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import respx
from click.testing import CliRunner
from pydantic import ValidationError

from crypto.encoding import b64decode, b64encode
from crypto.keys import SigningKey
from gateway.kit.config import Settings
from gateway.kit.directory_fetch import DirectoryRefresher, directory_state
from gateway.kit.home import NodeHome, files_changed
from gateway.kit.metrics import DIRECTORY_FETCHES
from gateway.kit.node import Node
from gateway.surfaces.cli.main import main
from partners.directory import sign_directory
from schemas.common import PartnerRole
from schemas.envelope import SignedDocument
from tests.support.federation import TestFederation, TestNode

URL = "https://operator.example/avrr-test/directory.json"


@pytest.fixture
def host(federation: TestFederation) -> TestNode:
    made = federation.add_node("host-mission", [PartnerRole.HOST_MISSION], "DE", directory_url=URL)
    federation.add_node("origin-reception", [PartnerRole.RECEPTION_PARTNER], "SN")
    federation.publish()  # serial 1, and the operator key pinned
    return made


@pytest.fixture
def node(host: TestNode) -> Node:
    return Node(settings=host.settings, clock=host.clock)


def signed(federation: TestFederation, validity: timedelta = timedelta(days=30)) -> SignedDocument:
    """The operator's next directory (one serial up), signed."""
    return sign_directory(federation.directory(validity), federation.operator)


def refresh(node: Node) -> str:
    with httpx.Client() as http:
        return DirectoryRefresher(node=node, http=http).run_once().outcome


def serving(document: SignedDocument | bytes) -> respx.Route:
    body = document if isinstance(document, bytes) else document.model_dump_json().encode()
    return respx.get(URL).mock(return_value=httpx.Response(200, content=body))


def fetched(outcome: str) -> float:
    return DIRECTORY_FETCHES.labels(outcome=outcome)._value.get()


class TestDirectoryRefresher:
    @respx.mock
    def test_a_newer_directory_is_installed(self, federation: TestFederation, node: Node) -> None:
        before = fetched("installed")
        serving(signed(federation))
        assert refresh(node) == "installed"
        assert node.directory().directory.serial == 2
        assert fetched("installed") == before + 1

    @respx.mock
    def test_the_same_serial_again_is_no_news(self, host: TestNode, node: Node) -> None:
        installed = host.home.directory_file.read_bytes()
        stamp = host.home.directory_file.stat().st_mtime_ns
        serving(installed)
        assert refresh(node) == "unchanged"
        assert host.home.directory_file.stat().st_mtime_ns == stamp
        assert node.directory().directory.serial == 1

    @respx.mock
    def test_an_older_directory_is_refused_and_the_installed_one_stays(
        self, federation: TestFederation, node: Node, caplog: pytest.LogCaptureFixture
    ) -> None:
        older = signed(federation)  # serial 2, never installed
        federation.publish()  # serial 3 installed by hand
        serving(older)
        with caplog.at_level(logging.WARNING, logger="avrr.directory"):
            assert refresh(node) == "older"
        assert node.directory().directory.serial == 3
        assert any("older" in r.getMessage() for r in caplog.records)

    @respx.mock
    def test_a_tampered_directory_is_refused(
        self, federation: TestFederation, host: TestNode, node: Node
    ) -> None:
        genuine = signed(federation)
        payload = json.loads(b64decode(genuine.payload))
        payload["nodes"][0]["inbox_url"] = "https://attacker.example/"
        tampered = genuine.model_copy(update={"payload": b64encode(json.dumps(payload).encode())})
        serving(tampered)
        assert refresh(node) == "refused"
        assert node.directory().directory.serial == 1
        assert b"attacker" not in host.home.directory_file.read_bytes()

    @respx.mock
    def test_a_directory_signed_by_another_key_is_refused(
        self, federation: TestFederation, node: Node
    ) -> None:
        now = federation.clock.now()
        impostor = SigningKey.generate(valid_from=now, valid_until=now + timedelta(days=9))
        serving(sign_directory(federation.directory(), impostor))
        assert refresh(node) == "refused"
        assert node.directory().directory.serial == 1

    @pytest.mark.parametrize(
        "answer",
        [
            httpx.Response(500),
            httpx.Response(200, content=b"<html>maintenance</html>"),
            httpx.ConnectError("refused"),
            httpx.ReadTimeout("slow"),
        ],
    )
    @respx.mock
    def test_a_failed_fetch_keeps_the_installed_directory_and_says_so(
        self,
        node: Node,
        caplog: pytest.LogCaptureFixture,
        answer: httpx.Response | Exception,
    ) -> None:
        route = respx.get(URL)
        if isinstance(answer, Exception):
            route.mock(side_effect=answer)
        else:
            route.mock(return_value=answer)
        with caplog.at_level(logging.WARNING, logger="avrr.directory"):
            assert refresh(node) == "failed"
        assert node.directory().directory.serial == 1
        failures = [r for r in caplog.records if "failed" in r.getMessage()]
        assert len(failures) == 1
        assert "stays" in failures[0].getMessage()

    @respx.mock
    def test_a_home_it_cannot_write_is_a_failed_fetch_not_a_crash(
        self, federation: TestFederation, node: Node, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def read_only(*_: object) -> None:
            raise PermissionError("read-only file system")

        monkeypatch.setattr(NodeHome, "install_directory", read_only)
        serving(signed(federation))
        assert refresh(node) == "failed"
        assert node.directory().directory.serial == 1

    @respx.mock
    def test_it_warns_once_per_refresh_from_seven_days_before_expiry(
        self, host: TestNode, node: Node, caplog: pytest.LogCaptureFixture
    ) -> None:
        serving(host.home.directory_file.read_bytes())
        host.clock.advance(days=22)  # 8 days left
        with caplog.at_level(logging.WARNING, logger="avrr.directory"):
            refresh(node)
        assert not [r for r in caplog.records if "expires" in r.getMessage()]
        assert directory_state(node).warning is None

        host.clock.advance(days=2)  # 6 days left
        with caplog.at_level(logging.WARNING, logger="avrr.directory"):
            refresh(node)
        warnings = [r for r in caplog.records if "expires in 6.0 days" in r.getMessage()]
        assert len(warnings) == 1
        assert warnings[0].levelno == logging.WARNING
        state = directory_state(node)
        assert state.valid
        assert state.warning is not None
        assert round(state.days_left) == 6

    def test_an_expired_or_missing_directory_is_not_valid(self, host: TestNode, node: Node) -> None:
        host.clock.advance(days=31)
        assert not directory_state(node).valid
        host.home.directory_file.unlink()
        files_changed()  # removed by hand: said at once, not found within the second
        assert not directory_state(node).valid


class TestDirectoryUrlSetting:
    @pytest.mark.parametrize(
        "url", ["http://operator.example/directory.json", "ftp://operator.example/d", "nonsense"]
    )
    def test_only_https_or_loopback_is_accepted(self, tmp_path: Path, url: str) -> None:
        with pytest.raises(ValidationError, match="directory_url must be https"):
            Settings(home=tmp_path, node_id="n", directory_url=url)

    def test_loopback_http_and_https_are_accepted(self, tmp_path: Path) -> None:
        for url in ("http://127.0.0.1:8080/d.json", "https://operator.example/d.json"):
            assert Settings(home=tmp_path, node_id="n", directory_url=url).directory_url == url


class _Publisher(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def publisher() -> Iterator[tuple[str, type[_Publisher]]]:
    """A real HTTP server on loopback where the test puts the operator's directory."""
    handler = type("Publisher", (_Publisher,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/directory.json", handler
    server.shutdown()
    server.server_close()


class TestFetchDirectoryCommand:
    def test_the_command_installs_a_newer_directory_from_a_real_server(
        self,
        federation: TestFederation,
        host: TestNode,
        publisher: tuple[str, type[_Publisher]],
    ) -> None:
        url, handler = publisher
        handler.body = signed(federation, timedelta(days=3650)).model_dump_json().encode()
        config = {"node_id": host.node_id, "database_url": host.settings.database_url}
        (host.home.path / "node.json").write_text(json.dumps(config))
        runner = CliRunner()
        result = runner.invoke(main, ["node", "fetch-directory", str(host.home.path), "--url", url])
        assert result.exit_code == 0, result.output
        assert "directory installed (serial 2)" in result.output
        again = runner.invoke(main, ["node", "fetch-directory", str(host.home.path), "--url", url])
        assert again.exit_code == 0
        assert "unchanged" in again.output

    def test_the_command_fails_on_a_refused_directory(
        self,
        federation: TestFederation,
        host: TestNode,
        publisher: tuple[str, type[_Publisher]],
    ) -> None:
        url, handler = publisher
        handler.body = b'{"payload": "AAAA", "key_id": "nope", "signature": "AAAA"}'
        (host.home.path / "node.json").write_text(json.dumps({"node_id": host.node_id}))
        result = CliRunner().invoke(
            main, ["node", "fetch-directory", str(host.home.path), "--url", url]
        )
        assert result.exit_code == 1
        assert "directory" in result.output
        assert "installed (serial" not in result.output
