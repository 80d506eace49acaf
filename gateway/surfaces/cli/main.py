"""``avrr``: the command line for federation operators, node operators, DPOs and caseworkers.

Every step an operator takes has a command; see ``docs/operations.md`` for the walk-through.

    avrr federation init|add-node|set-policy|suspend|resume|sign|show   (cli/operator.py)
    avrr node init|export|install-directory|rotate-keys|migrate|token   (cli/operator.py)
    avrr node fetch-directory                                           (cli/directory.py)
    avrr node keys init|migrate|create-master-in-token | backup | restore (cli/keys.py)
    avrr audit verify|checkpoint|report|...                             (cli/audit.py)
    avrr consent record|list|narrow|withdraw|...                        (cli/consent.py)
    avrr staff link | avrr card issue                                  (cli/staff.py)
    avrr pickup | avrr bundle export|import|status                      (cli/carried.py)
    avrr serve | avrr worker | avrr purge | avrr demo | avrr --version  (here)

Commands print what they did, never a private key or a person's data. Errors are one line.
"""

from __future__ import annotations

import logging
import os
import signal
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import click
import httpx

from gateway.kit.clock import SystemClock
from gateway.kit.db import make_engine, make_sessionmaker
from gateway.kit.directory_fetch import DirectoryRefresher
from gateway.kit.logs import configure_logging
from gateway.surfaces.cli.audit import audit
from gateway.surfaces.cli.carried import bundle, pickup
from gateway.surfaces.cli.consent import consent
from gateway.surfaces.cli.directory import directory_client, fetch_directory, start_refreshing
from gateway.surfaces.cli.keys import backup, keys, restore
from gateway.surfaces.cli.operator import federation, node, node_settings
from gateway.surfaces.cli.staff import card, staff
from partners.client import NodeClient

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from gateway.exchange.delivery import DeliveryWorker
    from gateway.exchange.pickup import PickupFetcher
    from gateway.kit.node import Node
    from gateway.processes.retention import Purger
    from gateway.records.accesslog.tree import AccessLogTree


@click.group()
@click.version_option(package_name="avrr-gateway", prog_name="avrr")
def main() -> None:
    """Operate an AVRR referral gateway node or federation."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # Request lines name URLs with ids in them; keep the client quiet unless something fails.
    logging.getLogger("httpx").setLevel(logging.WARNING)


# -- running --------------------------------------------------------------------------------


@main.command()
@click.argument("home", type=click.Path(exists=True, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="API processes sharing the port (about one per core; each has its own pool).",
)
def serve(home: Path, host: str, port: int, workers: int) -> None:
    """Run the node's HTTP API."""
    import uvicorn

    from gateway.kit.node import Node
    from gateway.surfaces.app import create_app
    from gateway.surfaces.serving import HOME_VARIABLE

    settings = node_settings(home)
    configure_logging(settings.log_format)
    stop = threading.Event()
    # log_config=None: uvicorn's own lines go through configure_logging; its access log (raw
    # paths) stays off, replaced by kit.logs.RequestLog's request lines.
    # proxy_headers=False: the app believes X-Forwarded-For only from the proxies its
    # trusted_proxies setting names (uvicorn's own default would trust loopback).
    quiet = {"log_level": "info", "access_log": False, "log_config": None, "proxy_headers": False}
    if workers == 1:
        app = create_app(settings)
        start_refreshing(app.state.node, stop)
        uvicorn.run(app, host=host, port=port, **quiet)  # type: ignore[arg-type]
    else:
        # One directory refresher for all the processes, in the one that supervises them.
        start_refreshing(Node(settings=settings, clock=SystemClock()), stop)
        os.environ[HOME_VARIABLE] = str(home.resolve())
        with tempfile.TemporaryDirectory(prefix="avrr-metrics-") as counts:
            # Each process counts in files here; /metrics, answered by any one, adds them up.
            os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", counts)
            uvicorn.run(
                "gateway.surfaces.serving:app",
                factory=True,
                workers=workers,
                # A process that starts slowly (a busy machine, a cold disk) is waited for, not
                # killed and started again in a loop after uvicorn's default 5 s.
                timeout_worker_healthcheck=60,
                host=host,
                port=port,
                **quiet,  # type: ignore[arg-type]
            )
    stop.set()


@main.command()
@click.argument("home", type=click.Path(exists=True, path_type=Path))
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between runs.")
@click.option(
    "--metrics-port", type=int, default=None, help="Serve this process's /metrics here (off)."
)
@click.option("--metrics-host", default="127.0.0.1", show_default=True)
def worker(
    home: Path, once: bool, interval: float, metrics_port: int | None, metrics_host: str
) -> None:
    """Deliver the outbox, purge what is past its date, and keep the access log checkpointed.

    On a pickup member (``delivery: pickup`` in the directory) it also fetches what waits for
    it from each sender, every ``pickup_interval``.
    """
    from gateway.kit.node import Node
    from gateway.records.accesslog.tree import CHECKPOINT_INTERVAL

    settings = node_settings(home)
    configure_logging(settings.log_format)
    if metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr=metrics_host)
    node_ = Node(settings=settings, clock=SystemClock())
    sessions = make_sessionmaker(make_engine(settings.database_url))
    with httpx.Client(timeout=settings.delivery_timeout_seconds) as http:
        delivery, pickup, purger, access_log = _worker_jobs(node_, sessions, http)
        if once:
            if settings.directory_url:
                with directory_client() as fetching:
                    click.echo(DirectoryRefresher(node=node_, http=fetching).run_once())
            for name, job in (
                ("pickup", pickup),
                ("delivery", delivery),
                ("purge", purger),
                ("access log", access_log),
            ):
                click.echo(f"{name}: {job.run_once()}")
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        click.echo(
            f"delivery worker running every {interval}s, purge every minute, access-log "
            f"checkpoints every {CHECKPOINT_INTERVAL:.0f}s; Ctrl-C to stop"
        )
        background = [
            threading.Thread(target=job, kwargs={"interval": every, "stop": stop}, daemon=True)
            for job, every in (
                (purger.run_forever, 60.0),
                (access_log.run_forever, CHECKPOINT_INTERVAL),
                (pickup.run_forever, settings.pickup_interval.total_seconds()),
            )
        ]
        for thread in background:
            thread.start()
        start_refreshing(node_, stop)
        delivery.run_forever(interval=interval, stop=stop)
        for thread in background:
            thread.join(timeout=30)


def _worker_jobs(
    node_: Node, sessions: sessionmaker[Session], http: httpx.Client
) -> tuple[DeliveryWorker, PickupFetcher, Purger, AccessLogTree]:
    from gateway.exchange.delivery import DeliveryWorker
    from gateway.exchange.pickup import PickupFetcher
    from gateway.processes.kinds import message_kinds
    from gateway.processes.retention import Purger
    from gateway.records.accesslog.tree import AccessLogTree

    client = NodeClient(http=http)
    return (
        DeliveryWorker(node=node_, sessions=sessions, client=client, kinds=message_kinds()),
        PickupFetcher(node=node_, sessions=sessions, client=client, kinds=message_kinds()),
        Purger(node=node_, sessions=sessions),
        AccessLogTree(node=node_, sessions=sessions),
    )


@main.command()
@click.argument("home", type=click.Path(exists=True, path_type=Path))
def purge(home: Path) -> None:
    """Delete every section past its delete-by date (received and sent), in batches."""
    from gateway.kit.node import Node
    from gateway.processes.retention import Purger

    settings = node_settings(home)
    node_ = Node(settings=settings, clock=SystemClock())
    sessions = make_sessionmaker(make_engine(settings.database_url))
    click.echo(f"purge: {Purger(node=node_, sessions=sessions).run_once()}")


@main.command()
@click.option("--keep", is_flag=True, help="Keep both nodes running afterwards, until Ctrl-C.")
@click.option(
    "--pickup", is_flag=True, help="List the partner with delivery: pickup; it fetches everything."
)
def demo(keep: bool, pickup: bool) -> None:
    """Run two nodes on loopback and walk a person's return through them (see README)."""
    from gateway.surfaces.demo import run

    raise SystemExit(run(keep=keep, pickup=pickup))


main.add_command(federation)
main.add_command(node)
node.add_command(fetch_directory)
node.add_command(keys)
node.add_command(backup)
node.add_command(restore)
main.add_command(consent)
main.add_command(audit)
main.add_command(staff)
main.add_command(card)
main.add_command(pickup)
main.add_command(bundle)
