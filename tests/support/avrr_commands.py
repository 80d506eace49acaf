"""Parse a command line as the real ``avrr`` would, without running it.

The deployment files (deploy/: the Dockerfile, compose, Kubernetes, systemd) each spell out
``avrr`` command lines; a renamed option or an out-of-range value fails here, in the tests,
rather than in an operator's cluster.

    >>> parse_avrr(["avrr", "serve", "/srv/avrr-node", "--workers", "2"], home=tmp_path)
"""

from __future__ import annotations

from pathlib import Path

import click

from gateway.surfaces.cli.main import main

#: The node's home in every deployment file; replaced by a folder that exists.
HOME = "/srv/avrr-node"


def parse_avrr(args: list[str], *, home: Path) -> None:
    """Raise ``click.ClickException`` (or ``click.exceptions.Exit``) if ``args`` do not parse."""
    assert args[0] == "avrr", args
    command: click.Command = main
    rest = [str(home) if arg == HOME else arg for arg in args[1:]]
    context: click.Context | None = None
    while isinstance(command, click.Group):
        context = command.make_context(command.name or "avrr", list(rest), parent=context)
        name, found, rest = command.resolve_command(context, rest)
        assert found is not None, name
        command = found
    command.make_context(command.name or "", rest, parent=context)
