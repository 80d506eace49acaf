"""`make demo` is a promise in the README: the demo runs two real node processes and ends OK."""

from __future__ import annotations

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
