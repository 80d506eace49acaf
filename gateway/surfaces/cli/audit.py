"""``avrr audit``: the data protection officer's tools on a node's own home folder.

They read the node's database and directory directly, so they work while the API is down and
do not have to trust it.

    avrr audit verify HOME [--checkpoints exported.json]   (exit 1 and name the first problem)
    avrr audit checkpoint HOME                            (place waiting entries, sign now)
    avrr audit export-checkpoints HOME [--out FILE]       (keep these somewhere else)
    avrr audit history HOME SUBJECT                       (a person's entries, with proofs)
    avrr audit report HOME NAME [--csv]                   (a DPO report)
    avrr audit reconcile HOME                             (service tables against the log)
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import TYPE_CHECKING

import click
from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from gateway.kit.clock import SystemClock
from gateway.kit.config import Settings
from gateway.kit.db import make_engine, make_sessionmaker
from schemas.envelope import SignedDocument

if TYPE_CHECKING:
    from gateway.kit.node import Node

HOME = click.Path(exists=True, file_okay=False, path_type=Path)
#: Kept in step with ``gateway.processes.audit.reports.REPORTS`` (a test checks).
REPORT_NAMES = (
    "processing",
    "transfers",
    "overdue-deletions",
    "pending-withdrawals",
    "denied",
    "unusual",
    "cancelled",
    "children",
)


def _open(home: Path) -> tuple[Node, sessionmaker[Session]]:
    from gateway.kit.node import Node

    try:
        settings = Settings.for_home(home)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from exc
    node = Node(settings=settings, clock=SystemClock())
    return node, make_sessionmaker(make_engine(settings.database_url))


@click.group()
def audit() -> None:
    """Verify the tamper-evident access log and read a person's history (DPO)."""


@audit.command()
@click.argument("home", type=HOME)
@click.option(
    "--checkpoints",
    "exported",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Checkpoints exported earlier: the log must still extend each of them.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
def verify(home: Path, exported: Path | None, as_json: bool) -> None:
    """Recompute the whole log and check it against every signed checkpoint."""
    from gateway.kit.errors import ServiceUnavailable
    from gateway.records.accesslog.tree import witness_document
    from gateway.records.accesslog.verify import verify_log

    node, sessions = _open(home)
    documents = _read_checkpoints(exported) if exported else []
    witness = witness_document(node.home)
    try:
        view = node.directory()
    except ServiceUnavailable as exc:
        raise click.ClickException(f"cannot verify: {exc.detail}") from exc
    with sessions() as session:
        report = verify_log(
            session,
            node_id=node.node_id,
            view=view,
            now=node.clock.now(),
            exported=[*documents, *([witness] if witness else [])],
        )
    if as_json:
        click.echo(report.model_dump_json(indent=2))
        raise SystemExit(0 if report.ok else 1)
    if report.ok:
        click.echo(
            f"access log OK: {report.entries} entries, {report.checkpoints} signed "
            f"checkpoint{'s' if report.checkpoints != 1 else ''} hold"
            + (f"; {report.unsequenced} entries wait for their place" if report.unsequenced else "")
        )
        return
    first = report.problems[0]
    where = f" at entry #{first.index}" if first.index is not None else ""
    raise click.ClickException(
        f"access log FAILED{where}: {first.detail} ({len(report.problems)} problem(s))"
    )


def _read_checkpoints(path: Path) -> list[SignedDocument]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [SignedDocument.model_validate(item) for item in data]
    except (OSError, ValueError, TypeError, ValidationError) as exc:
        raise click.ClickException(f"{path} is not a list of exported checkpoints") from exc


@audit.command()
@click.argument("home", type=HOME)
def checkpoint(home: Path) -> None:
    """Place waiting entries in the log and sign a checkpoint now (the worker does this too)."""
    from gateway.records.accesslog.tree import AccessLogTree

    node, sessions = _open(home)
    click.echo(f"access log: {AccessLogTree(node=node, sessions=sessions).run_once()}")


@audit.command("export-checkpoints")
@click.argument("home", type=HOME)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Default: stdout.")
def export_checkpoints(home: Path, out: Path | None) -> None:
    """Write every signed checkpoint as JSON, to keep apart from the node."""
    from gateway.records.accesslog import repository as accesslog

    _, sessions = _open(home)
    with sessions() as session:
        documents = [row.document for row in accesslog.checkpoints(session)]
    text = json.dumps(documents, indent=2)
    if out is None:
        click.echo(text)
    else:
        out.write_text(text + "\n", encoding="utf-8")
        click.echo(f"wrote {len(documents)} checkpoints to {out}")


@audit.command()
@click.argument("home", type=HOME)
@click.argument("subject")
def history(home: Path, subject: str) -> None:
    """Every entry about one person (case id or pseudonym), each with its inclusion proof."""
    from gateway.records.accesslog.history import subject_history
    from gateway.records.accesslog.writer import Action, Actor, record

    node, sessions = _open(home)
    with sessions.begin() as session:
        result = subject_history(session, subject)
        record(
            session,
            at=node.clock.now(),
            actor=Actor(user=f"cli:{getpass.getuser()}", org=node.node_id, role="dpo"),
            action=Action.HISTORY_VIEWED,
            subject=subject,
        )
    click.echo(result.model_dump_json(indent=2))


@audit.command()
@click.argument("home", type=HOME)
@click.argument("name", type=click.Choice(sorted(REPORT_NAMES)))
@click.option("--csv", "as_csv", is_flag=True, help="CSV instead of JSON.")
def report(home: Path, name: str, as_csv: bool) -> None:
    """One DPO report: processing, transfers, overdue-deletions, pending-withdrawals, denied,
    unusual, cancelled, children. Taking it out is logged (``exported``), as through the API."""
    from gateway.processes.audit import reports
    from gateway.records.accesslog.writer import Action, Actor, record

    node, sessions = _open(home)
    with sessions.begin() as session:
        built = reports.build(name, session, node, node.clock.now())
        record(
            session,
            at=node.clock.now(),
            actor=Actor(user=f"cli:{getpass.getuser()}", org=node.node_id, role="dpo"),
            action=Action.EXPORTED,
            subject=None,
            outcome=f"report:{name}",
        )
    if as_csv:
        click.echo(reports.to_csv(built), nl=False)
        return
    payload = {"name": built.name, "title": built.title, "columns": built.columns}
    click.echo(json.dumps({**payload, "rows": built.rows}, indent=2))


@audit.command()
@click.argument("home", type=HOME)
def reconcile(home: Path) -> None:
    """Check that every delivery, receipt, opening and deletion the service recorded is logged."""
    from gateway.processes.audit.reconcile import reconcile as run

    _, sessions = _open(home)
    with sessions() as session:
        missing = run(session)
    if not missing:
        click.echo("reconciliation OK: every recorded delivery, opening and deletion is logged")
        return
    for item in missing[:20]:
        click.echo(f"missing: {item.detail}")
    raise click.ClickException(f"{len(missing)} recorded action(s) have no access-log entry")
