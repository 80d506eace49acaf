"""`make demo` is a promise in the README: the demo runs two real node processes and ends OK."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.surfaces import demo


class TestDemo:
    def test_demo_walks_every_step_and_ends_ok(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert demo.run() == 0
        output = capsys.readouterr().out
        assert output.rstrip().endswith("demo: OK")
        for step in ("== 1.", "== 2.", "== 3.", "== 4.", "== 5.", "== 6.", "== 7."):
            assert step in output
        # The demo shows names of sections and fields, never the (synthetic) values.
        assert "Synthetic Person" not in output
        assert "synthetic condition" not in output

    def test_pickup_partner_gets_everything_without_a_post(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert demo.run(pickup=True, work=tmp_path) == 0
        output = capsys.readouterr().out
        assert output.rstrip().endswith("demo: OK")
        assert "partner: pickup: picked up 1, refused 0" in output
        assert "Synthetic Person" not in output
        # The request logs name routes only. The partner's shows its staff's requests and not
        # one federation request; the host's shows the partner picking up and acknowledging.
        partner = (tmp_path / "partner.log").read_text()
        host = (tmp_path / "host.log").read_text()
        assert '"/api/v1/received"' in partner
        assert "/federation/" not in partner
        assert '"/federation/v1/pickup"' in host
        assert '"/federation/v1/pickup/ack"' in host
