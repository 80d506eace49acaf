"""``avrr pickup`` and ``avrr bundle``: envelopes for members without a public address, or
without any connection (docs/operations.md, "Push, pickup or bundles").

    avrr pickup HOME [--once]                 fetch what waits for this node at each sender
    avrr bundle export HOME --to NODE [--out FILE]
    avrr bundle import HOME FILE [--reply FILE]
    avrr bundle status HOME

A bundle file is written whole or not at all (a temporary file, flushed, then renamed), before
the export is committed; it holds sealed envelopes and signed answers only, readable by the one
node it is for. Messages name nodes, counts and reasons, never a person or content.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import click
import httpx

from gateway.kit.clock import SystemClock
from gateway.kit.db import make_engine, make_sessionmaker
from gateway.kit.logs import configure_logging
from gateway.surfaces.cli.operator import node_settings
from partners.client import NodeClient
from schemas.envelope import MAX_BUNDLE_BYTES

#: A bundle file's suffix.
SUFFIX = ".avrrb"


@click.command()
@click.argument("home", type=click.Path(exists=True, path_type=Path))
@click.option("--once", is_flag=True, help="Fetch what waits now, then exit.")
def pickup(home: Path, once: bool) -> None:
    """Fetch what waits for this node at each sender, store it, and acknowledge it.

    Only for a node the directory lists with ``delivery: pickup``; ``avrr worker`` does the
    same every ``pickup_interval``.
    """
    from gateway.exchange.pickup import PickupFetcher
    from gateway.kit.node import Node
    from gateway.processes.kinds import message_kinds
    from schemas.directory import DeliveryMode

    settings = node_settings(home)
    configure_logging(settings.log_format)
    node_ = Node(settings=settings, clock=SystemClock())
    listed = node_.directory().directory.node(settings.node_id)
    if listed is None or listed.delivery is not DeliveryMode.PICKUP:
        raise click.ClickException(
            "the directory does not list this node with delivery: pickup; senders post to it"
        )
    sessions = make_sessionmaker(make_engine(settings.database_url))
    with httpx.Client(timeout=settings.delivery_timeout_seconds) as http:
        fetcher = PickupFetcher(
            node=node_, sessions=sessions, client=NodeClient(http=http), kinds=message_kinds()
        )
        if once:
            report = fetcher.run_once()
            click.echo(f"pickup: {report}")
            if report.failed:
                raise SystemExit(1)
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        interval = settings.pickup_interval.total_seconds()
        click.echo(f"picking up every {interval:.0f}s; Ctrl-C to stop")
        fetcher.run_forever(interval=interval, stop=stop)


@click.group()
def bundle() -> None:
    """Hand-carried bundles, for a partner with no connection at all."""


@bundle.command("export")
@click.argument("home", type=click.Path(exists=True, path_type=Path))
@click.option("--to", "recipient", required=True, help="The node the bundle is for.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"The file to write (default: <this node>-to-<recipient>-<n>{SUFFIX} here).",
)
def export(home: Path, recipient: str, out: Path | None) -> None:
    """Write the sealed envelopes due to one node, and the answers owed to it, into one signed
    bundle file, to be carried to it."""
    _refuse_existing(out)
    written = _write(home, recipient, out)
    if written is None:
        click.echo(f"nothing waits for {recipient}: no bundle written")


@bundle.command("import")
@click.argument("home", type=click.Path(exists=True, path_type=Path))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--reply",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"Where to write the return bundle (default: <this node>-to-<sender>-<n>{SUFFIX} here).",
)
def import_(home: Path, file: Path, reply: Path | None) -> None:
    """Take a bundle written for this node, then write the return bundle for its sender:
    receipts, deletion receipts, and what this node has for it (replies, access notices...)."""
    from gateway.exchange.bundles.service import BundleRefused, take
    from gateway.kit.node import Node
    from gateway.processes.kinds import message_kinds

    # Checked before the bundle is taken: once taken, it cannot be taken again to write the
    # return bundle.
    _refuse_existing(reply)
    if file.stat().st_size > MAX_BUNDLE_BYTES:
        raise click.ClickException(
            f"bundle refused, nothing changed: larger than a bundle can be ({MAX_BUNDLE_BYTES} bytes)"
        )
    settings = node_settings(home)
    node_ = Node(settings=settings, clock=SystemClock())
    sessions = make_sessionmaker(make_engine(settings.database_url))
    try:
        with sessions.begin() as session:
            taken = take(
                session,
                node_,
                message_kinds(),
                data=file.read_bytes(),
                now=node_.clock.now(),
            )
    except BundleRefused as refusal:
        raise click.ClickException(f"bundle refused, nothing changed: {refusal}") from refusal
    header = taken.header
    click.echo(
        f"bundle {header.sequence} from {header.sender}: {taken.stored} envelopes stored, "
        f"{taken.refused} refused; {taken.answers_recorded} answers recorded, "
        f"{taken.answers_ignored} not applicable"
    )
    try:
        returned = _write(home, header.sender, reply)
    except click.ClickException as exc:
        raise click.ClickException(
            f"bundle {header.sequence} taken, but {exc.message}; 'avrr bundle export {home} "
            f"--to {header.sender}' writes the return bundle"
        ) from exc
    if returned is None:
        click.echo(f"nothing to return to {header.sender}")


@bundle.command("status")
@click.argument("home", type=click.Path(exists=True, path_type=Path))
def status(home: Path) -> None:
    """What waits for each node, how it travels, and the bundles written and taken."""
    from gateway.exchange.bundles import repository as bundles
    from gateway.exchange.outbox import repository as outbox

    settings = node_settings(home)
    sessions = make_sessionmaker(make_engine(settings.database_url))
    with sessions() as session:
        waiting = outbox.waiting(session)
        owed = bundles.owed_counts(session)
        recent = bundles.recent(session, limit=20)
    if not waiting and not owed:
        click.echo("nothing waits for any node")
    for recipient, count, for_pickup, in_bundle, since in waiting:
        click.echo(
            f"{recipient}: {count} envelopes waiting since {since:%Y-%m-%d %H:%M} UTC "
            f"({for_pickup} for pickup, {in_bundle} in a bundle); "
            f"{owed.pop(recipient, 0)} answers owed"
        )
    for peer, count in sorted(owed.items()):
        click.echo(f"{peer}: {count} answers owed")
    for row in recent:
        way = "written for" if row.direction == "written" else "taken from"
        click.echo(
            f"bundle {row.sequence} {way} {row.peer} at {row.recorded_at:%Y-%m-%d %H:%M} UTC: "
            f"{row.envelopes} envelopes, {row.answers} answers"
        )


def _write(home: Path, recipient: str, out: Path | None) -> Path | None:
    """Write the bundle for ``recipient``: the file first (whole, or not at all), then the
    export is committed; a failed commit removes the file."""
    from gateway.exchange.bundles.service import BundleRefused, write
    from gateway.kit.node import Node
    from gateway.processes.kinds import message_kinds

    settings = node_settings(home)
    node_ = Node(settings=settings, clock=SystemClock())
    sessions = make_sessionmaker(make_engine(settings.database_url))
    #: The file this call wrote, removed if the export is not committed. Never a file that was
    #: there before: it may be an earlier bundle, not yet carried.
    created: Path | None = None
    try:
        with sessions.begin() as session:
            written = write(
                session, node_, message_kinds(), recipient=recipient, now=node_.clock.now()
            )
            if written is None:
                return None
            header = written.header
            target = out or Path(f"{settings.node_id}-to-{recipient}-{header.sequence}{SUFFIX}")
            _write_whole(target, written.data)
            created = target
    except BundleRefused as refusal:
        raise click.ClickException(f"no bundle written: {refusal}") from refusal
    except BaseException:
        if created is not None:
            created.unlink(missing_ok=True)
        raise
    report = written.report
    click.echo(
        f"bundle {header.sequence} for {recipient} written to {target}: "
        f"{header.envelopes} envelopes, {header.answers} answers, {len(written.data)} bytes"
        + (
            f" ({report.dead_lettered} past their deadline, {report.cancelled} cancelled)"
            if report
            else ""
        )
    )
    return target


def _refuse_existing(target: Path | None) -> None:
    if target is not None and target.exists():
        raise click.ClickException(f"{target} exists; nothing done: choose another file")


def _write_whole(target: Path, data: bytes) -> None:
    if target.exists():
        raise click.ClickException(f"{target} exists: no bundle written; choose another file")
    partial = target.with_name(target.name + ".partial")
    try:
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise click.ClickException(
            f"{partial} exists (an export interrupted, or one running now): no bundle written"
        ) from exc
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
