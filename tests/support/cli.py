"""Running ``avrr`` commands in the test process, as an operator types them.

Example::

    out = ok("federation", "init", folder, "--id", "avrr-test")
    assert avrr("federation", "init", folder, "--id", "again").exit_code != 0
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from gateway.surfaces.cli.main import main


def avrr(*args: str | Path) -> Result:
    """One command's result, whatever its exit code."""
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def ok(*args: str | Path) -> str:
    """One command's output; the test fails, showing it, unless the command succeeded."""
    result = avrr(*args)
    assert result.exit_code == 0, result.output
    return result.output
