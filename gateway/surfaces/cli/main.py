"""``avrr``: the command line for federation operators, node operators, DPOs and caseworkers.

Every step an operator takes has a command; see ``docs/operations.md`` for the walk-through.

    avrr federation init|add-node|set-policy|suspend|resume|sign|show   (cli/operator.py)
    avrr node init|export|install-directory|rotate-keys|migrate|token   (cli/operator.py)
    avrr audit verify|checkpoint|report|...                             (cli/audit.py)
    avrr consent record|list|narrow|withdraw|...                        (cli/consent.py)
    avrr staff link | avrr card issue                                  (cli/staff.py)
    avrr serve | avrr worker | avrr purge | avrr demo | avrr --version  (here)

Commands print what they did, never a private key or a person's data. Errors are one line.
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

import click
import httpx

from gateway.kit.clock import SystemClock
from gateway.kit.db import make_engine, make_sessionmaker
from gateway.surfaces.cli.audit import audit
from gateway.surfaces.cli.consent import consent
from gateway.surfaces.cli.operator import federation, node, node_settings
from gateway.surfaces.cli.staff import card, staff
from partners.client import NodeClient


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
def serve(home: Path, host: str, port: int) -> None:
    """Run the node's HTTP API."""
    import uvicorn

    from gateway.surfaces.app import create_app

    app = create_app(node_settings(home))
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)


@main.command()
@click.argument("home", type=click.Path(exists=True, path_type=Path))
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between runs.")
def worker(home: Path, once: bool, interval: float) -> None:
    """Deliver the outbox, purge what is past its date, and keep the access log checkpointed."""
    from gateway.exchange.delivery import DeliveryWorker
    from gateway.kit.node import Node
    from gateway.processes.kinds import message_kinds
    from gateway.processes.retention import Purger
    from gateway.records.accesslog.tree import CHECKPOINT_INTERVAL, AccessLogTree

    settings = node_settings(home)
    node_ = Node(settings=settings, clock=SystemClock())
    sessions = make_sessionmaker(make_engine(settings.database_url))
    with httpx.Client(timeout=settings.delivery_timeout_seconds) as http:
        delivery = DeliveryWorker(
            node=node_, sessions=sessions, client=NodeClient(http=http), kinds=message_kinds()
        )
        purger = Purger(node=node_, sessions=sessions)
        access_log = AccessLogTree(node=node_, sessions=sessions)
        if once:
            click.echo(f"delivery: {delivery.run_once()}")
            click.echo(f"purge: {purger.run_once()}")
            click.echo(f"access log: {access_log.run_once()}")
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        click.echo(
            f"delivery worker running every {interval}s, purge every minute, access-log "
            f"checkpoints every {CHECKPOINT_INTERVAL:.0f}s; Ctrl-C to stop"
        )
        background = [
            threading.Thread(
                target=purger.run_forever, kwargs={"interval": 60.0, "stop": stop}, daemon=True
            ),
            threading.Thread(
                target=access_log.run_forever,
                kwargs={"interval": CHECKPOINT_INTERVAL, "stop": stop},
                daemon=True,
            ),
        ]
        for thread in background:
            thread.start()
        delivery.run_forever(interval=interval, stop=stop)
        for thread in background:
            thread.join(timeout=30)


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
def demo(keep: bool) -> None:
    """Run two nodes on loopback and walk a person's return through them (see README)."""
    from gateway.surfaces.demo import run

    raise SystemExit(run(keep=keep))


main.add_command(federation)
main.add_command(node)
main.add_command(consent)
main.add_command(audit)
main.add_command(staff)
main.add_command(card)
