"""``avrr worker`` as an operator runs it: a real process, its metrics port and its JSON logs."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from click.testing import CliRunner

from gateway.surfaces.cli.main import main


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def node_home(tmp_path: Path) -> Path:
    home = tmp_path / "worker-node"
    args = ["node", "init", str(home), "--node-id", "worker-node"]
    result = CliRunner().invoke(main, [*args, "--organisation", "W", "--country", "SN"])
    assert result.exit_code == 0, result.output
    # A directory URL where nothing answers: each refresh fails, and says so in the log.
    config = json.loads((home / "node.json").read_text())
    config["directory_url"] = f"http://127.0.0.1:{free_port()}/directory.json"
    (home / "node.json").write_text(json.dumps(config))
    return home


def scrape(port: int, worker: subprocess.Popen[bytes], within: float = 90.0) -> str:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        assert worker.poll() is None, "the worker stopped"
        try:
            answer = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
            if 'avrr_directory_fetches_total{outcome="failed"}' in answer.text:
                return answer.text
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError("the worker's metrics port never answered")


class TestWorkerProcess:
    def test_it_serves_its_counters_logs_json_and_stops_on_sigterm(self, tmp_path: Path) -> None:
        home = node_home(tmp_path)
        port = free_port()
        command = [
            sys.executable,
            "-m",
            "gateway",
            "worker",
            str(home),
            "--metrics-port",
            str(port),
        ]
        worker = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            exposition = scrape(port, worker)
        finally:
            worker.terminate()
            _, stderr = worker.communicate(timeout=60)
        assert worker.returncode == 0
        assert 'avrr_directory_fetches_total{outcome="failed"} 1.0' in exposition
        assert "# TYPE avrr_delivery_attempts_total counter" in exposition
        assert "# TYPE avrr_purged_total counter" in exposition
        lines = [json.loads(line) for line in stderr.decode().splitlines() if line.strip()]
        failed = [line for line in lines if line["logger"] == "avrr.directory"]
        assert failed
        assert failed[0]["level"] == "warning"
        assert "directory failed: unreachable" in failed[0]["event"]
