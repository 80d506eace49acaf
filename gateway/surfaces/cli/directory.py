"""``avrr node fetch-directory``: fetch the signed directory from the operator's URL now.

``avrr worker`` and ``avrr serve`` do the same every ``directory_refresh`` when ``directory_url``
is set; this command is for the first install after pinning the operator key, a cron job, or an
operator who just published and does not want to wait. See ``docs/monitoring.md``.
"""

from __future__ import annotations

import threading
from pathlib import Path

import click
import httpx

from gateway.kit.clock import SystemClock
from gateway.kit.config import Settings
from gateway.kit.directory_fetch import DirectoryRefresher, directory_state
from gateway.kit.node import Node

#: Seconds one fetch of the directory may take.
FETCH_TIMEOUT = 30.0


def directory_client() -> httpx.Client:
    """The HTTP client fetches use: no redirects (the URL is the operator's, exactly)."""
    return httpx.Client(timeout=FETCH_TIMEOUT, follow_redirects=False)


@click.command("fetch-directory")
@click.argument("home", type=click.Path(exists=True, path_type=Path))
@click.option("--url", default="", help="Fetch from here instead of the directory_url setting.")
def fetch_directory(home: Path, url: str) -> None:
    """Fetch the signed directory from the operator's URL and install it if it is newer."""
    try:
        settings = Settings.for_home(home, **({"directory_url": url} if url else {}))
    except (FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc).splitlines()[0]) from exc
    if not settings.directory_url:
        raise click.ClickException("no directory_url is set for this node; pass --url")
    node = Node(settings=settings, clock=SystemClock())
    with directory_client() as http:
        report = DirectoryRefresher(node=node, http=http).run_once()
    click.echo(str(report))
    state = directory_state(node)
    if state.warning:
        click.echo(f"warning: {state.warning}")
    if report.outcome not in ("installed", "unchanged"):
        raise SystemExit(1)


def start_refreshing(node: Node, stop: threading.Event) -> threading.Thread | None:
    """Refresh the directory every ``directory_refresh`` in a thread, if a URL is set."""
    if not node.settings.directory_url:
        return None
    interval = node.settings.directory_refresh.total_seconds()

    def refresh() -> None:
        with directory_client() as http:
            DirectoryRefresher(node=node, http=http).run_forever(interval=interval, stop=stop)

    thread = threading.Thread(target=refresh, name="directory-refresh", daemon=True)
    thread.start()
    return thread
