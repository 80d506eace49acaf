"""``avrr node keys`` (the per-person key store) and ``avrr node backup|restore`` (the data).

    avrr node keys init HOME                      create the key store's table, check it works
    avrr node keys migrate HOME [--shred-files]   key files -> the SQL key store, verified
    avrr node keys create-master-in-token HOME    generate the AES master key in the PKCS#11 token
    avrr node backup HOME DEST [--force]          the data database only, never the keys
    avrr node restore HOME SOURCE [--force]       then verify the access log (exit 1 if it fails)

They print counts and paths, never a key, a PIN or a subject id. See docs/keys-and-backups.md.
"""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy import Engine

from gateway.kit.backup import BackupError, backup_database, restore_database
from gateway.kit.clock import SystemClock
from gateway.kit.config import Settings
from gateway.kit.db import make_engine, make_sessionmaker, migrate
from gateway.kit.errors import ServiceUnavailable
from gateway.kit.home import NodeHome
from gateway.kit.key_migration import migrate_key_files
from gateway.kit.keystore import SqlKeyStore, open_master_key
from gateway.kit.master_key import KeyStoreUnavailable, TokenMasterKey
from gateway.kit.node import Node
from gateway.processes.audit.restored import check_restored_log
from gateway.surfaces.cli.operator import node_settings

HOME = click.Path(exists=True, file_okay=False, path_type=Path)


def _sql_store(settings: Settings) -> SqlKeyStore:
    if not settings.keystore_url:
        raise click.ClickException(
            "keystore_url is not set: this node keeps its keys as files in its home folder"
        )
    try:
        master = open_master_key(settings, NodeHome(settings.home))
    except KeyStoreUnavailable as exc:
        raise click.ClickException(str(exc)) from exc
    return SqlKeyStore(engine=make_engine(settings.keystore_url), master=master)


def _master_name(settings: Settings) -> str:
    if settings.master_key_source == "pkcs11":
        return f"key {settings.pkcs11_key_label!r} in PKCS#11 token {settings.pkcs11_token_label!r}"
    return "file keys/master.key"


@click.group()
def keys() -> None:
    """The store of per-person data keys (see docs/keys-and-backups.md)."""


@keys.command("init")
@click.argument("home", type=HOME)
def keys_init(home: Path) -> None:
    """Create the SQL key store's table (the node also does on first use) and check that the
    store and the master key can be used."""
    settings = node_settings(home)
    store = _sql_store(settings)
    try:
        store.ready()
        count = store.count()
    except KeyStoreUnavailable as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.engine.dispose()
    click.echo(
        f"key store ready: {store.engine.dialect.name} database, {count} person keys, "
        f"wrapped under the {_master_name(settings)}"
    )


@keys.command("migrate")
@click.argument("home", type=HOME)
@click.option(
    "--shred-files",
    is_flag=True,
    help="After each key is copied and read back, overwrite and delete its file.",
)
def keys_migrate(home: Path, shred_files: bool) -> None:
    """Copy every key file of HOME/keys/subjects into the key store keystore_url names.

    Stop the node's API and workers first. Safe to run again; without --shred-files nothing is
    deleted, and the node refuses to start on the SQL key store while key files remain (an
    erasure would leave them behind).
    """
    settings = node_settings(home)
    store = _sql_store(settings)
    node_home = NodeHome(home)
    try:
        store.ready()
        result = migrate_key_files(
            folder=node_home.keys / "subjects",
            master_file=node_home.keys / "master.key",
            master=open_master_key(settings, node_home),
            target=store,
            shred_files=shred_files,
        )
    except KeyStoreUnavailable as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.engine.dispose()
    click.echo(
        f"key files found: {result.found}; copied: {result.copied}; already in the store: "
        f"{result.already_there}; read back and verified: {result.verified}; shredded: "
        f"{result.shredded}"
    )
    if not result.ok:
        raise click.ClickException(
            f"{result.conflicts} keys differ from the store's and {result.unreadable} files do "
            "not open; their files are kept"
        )
    if result.verified and not shred_files:
        click.echo("files kept; run again with --shred-files once you have checked the node")


@keys.command("create-master-in-token")
@click.argument("home", type=HOME)
def keys_create_master_in_token(home: Path) -> None:
    """Generate the master key inside the PKCS#11 token (AES-256, never extractable).

    Uses pkcs11_module, pkcs11_token_label, pkcs11_key_label and the PIN (AVRR_PKCS11_PIN or
    pkcs11_pin_file) from the node's settings. Refuses if a key with that label exists.
    """
    settings = node_settings(home)
    if not settings.pkcs11_module or not settings.pkcs11_token_label:
        raise click.ClickException("set pkcs11_module and pkcs11_token_label in node.json first")
    master = TokenMasterKey(
        module=settings.pkcs11_module,
        token_label=settings.pkcs11_token_label,
        key_label=settings.pkcs11_key_label,
        pin=settings.pkcs11_pin.get_secret_value(),
    )
    try:
        master.create()
        master.ready()
    except KeyStoreUnavailable as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"AES-256 key {settings.pkcs11_key_label!r} created in token "
        f"{settings.pkcs11_token_label!r} (sensitive, not extractable); set master_key_source "
        "to pkcs11"
    )


# -- backup and restore ---------------------------------------------------------------------


@click.command("backup")
@click.argument("home", type=HOME)
@click.argument("dest", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace DEST if it exists.")
def backup(home: Path, dest: Path, force: bool) -> None:
    """Back up the node's data database to DEST (mode 0600).

    The data only: never the key store nor the key files. Back keys up separately, on a short
    fixed rotation, so that an erased person is unreadable in every backup once the key-store
    backups from before the erasure expire (docs/keys-and-backups.md). PostgreSQL is dumped with
    pg_dump (custom format); SQLite with its online backup API, while the node runs.
    """
    settings = node_settings(home)
    try:
        backup_database(settings.database_url, dest, force=force, say=click.echo)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc


@click.command("restore")
@click.argument("home", type=HOME)
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a database that holds data.")
def restore(home: Path, source: Path, force: bool) -> None:
    """Restore the node's data database from SOURCE, then verify its access log.

    Stop the node's API and workers first. Keys are not restored (they are not in a backup):
    a person erased since the backup stays unreadable. Exits 1 if the access log does not
    verify.
    """
    settings = node_settings(home)
    try:
        restore_database(settings.database_url, source, force=force, say=click.echo)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    engine = make_engine(settings.database_url)
    try:
        migrate(engine)
        click.echo("database schema is up to date")
        _verify_restored(settings, engine)
    finally:
        engine.dispose()


def _verify_restored(settings: Settings, engine: Engine) -> None:
    try:
        node = Node(settings=settings, clock=SystemClock())
    except KeyStoreUnavailable as exc:
        raise click.ClickException(f"restored, but the key store: {exc}") from exc
    sessions = make_sessionmaker(engine)
    try:
        with sessions() as session:
            checked = check_restored_log(session, node, node.clock.now())
    except ServiceUnavailable as exc:
        raise click.ClickException(
            f"restored, but the access log cannot be verified: {exc.detail}"
        ) from exc
    report = checked.report
    if not report.ok:
        first = report.problems[0]
        raise click.ClickException(
            f"restored, but the access log does NOT verify: {first.detail} "
            f"({len(report.problems)} problem(s)); do not start the node before the DPO has looked"
        )
    plural = "s" if report.checkpoints != 1 else ""
    click.echo(
        f"access log OK: {report.entries} entries, {report.checkpoints} signed "
        f"checkpoint{plural} hold"
    )
    if checked.witness_kept_at is not None:
        click.echo(
            f"the node had signed {checked.lost_entries} more entries than this backup holds: "
            f"they were written after the backup and are gone; the last checkpoint is kept in "
            f"{checked.witness_kept_at}"
        )
