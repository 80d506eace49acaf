"""docs/operations.md, section 0, run as its script (deploy/walkthrough.sh): two nodes on
PostgreSQL, two API replicas from two home folders, the directory fetched, metrics scraped, a
backup restored and the access log verified. If the documented steps stop working, this fails."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.databases import choice

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "walkthrough.sh"

pytestmark = pytest.mark.skipif(
    choice() == "sqlite",
    reason="the walkthrough runs on PostgreSQL; run with AVRR_TEST_DATABASE=postgresql",
)


def free_block(size: int) -> int:
    """The first of ``size`` consecutive loopback ports nothing listens on."""
    for _ in range(50):
        base = random.randrange(20_000, 60_000)
        try:
            for port in range(base, base + size):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no free block of ports")


def test_the_documented_walkthrough_runs(tmp_path: Path) -> None:
    environment = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "WALK_PORT": str(free_block(6)),
    }
    done = subprocess.run(
        [str(SCRIPT), str(tmp_path / "walk")],
        capture_output=True,
        text=True,
        timeout=600,
        env=environment,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "read through host-b" in done.stdout
    assert "avrr_database_up 1.0" in done.stdout
    assert "walkthrough: OK" in done.stdout
