"""Copying a node's data database to a backup file and back: PostgreSQL and SQLite.

PostgreSQL is dumped with its own tools, ``pg_dump --format=custom`` and ``pg_restore``, so a
backup can also be restored by hand; SQLite is copied page by page with SQLite's online backup
API (``sqlite3.Connection.backup``), consistent while the node keeps writing.

What is copied is the data database alone: never the key store (``keystore_url``) nor the key
files of the home folder. That is the point of crypto-shredding: keys are backed up separately,
on a short rotation, so a person erased after a backup stays unreadable in that backup once the
key-store backups from before the erasure have expired (docs/keys-and-backups.md).

Invariants: a backup file is created with mode 0600 and appears under its name only once it is
complete; an existing file is replaced only when asked (``force``); a restore refuses a database
holding any row unless asked; no password is put on a command line (``PGPASSWORD`` instead).

Example::

    >>> backup_database(settings.database_url, Path("node.backup"), force=False, say=print)  # doctest: +SKIP
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import inspect, select, table, text
from sqlalchemy.engine import URL, make_url

from gateway.kit.db import make_engine

Say = Callable[[str], None]
SQLITE_MAGIC = b"SQLite format 3\x00"
PG_CUSTOM_MAGIC = b"PGDMP"
#: SQLite pages copied per step of the online backup (4 KiB each: 4 MiB per step).
_SQLITE_STEP = 1024
_IGNORED_TABLES = {"alembic_version"}


class BackupError(Exception):
    """A backup or restore could not be done; the message says why, never a password."""


def _url(database_url: str) -> URL:
    url = make_url(database_url)
    if url.get_backend_name() not in ("postgresql", "sqlite"):
        raise BackupError("only PostgreSQL and SQLite databases can be backed up")
    return url


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database has nothing to back up")
    return Path(url.database)


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A connection URI for pg_dump and pg_restore without the password, and the environment
    that carries it (a command line is visible to every user of the machine)."""
    bare = url.set(drivername="postgresql", password=None)
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    return bare.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed (Debian: apt-get install postgresql-client)")
    return found


def _describe(url: URL) -> str:
    if url.get_backend_name() == "sqlite":
        return f"SQLite database {_sqlite_path(url)}"
    return f"PostgreSQL database {url.database} on {url.host or 'localhost'}:{url.port or 5432}"


# -- backing up ---------------------------------------------------------------------------------


@contextmanager
def _private_file(destination: Path, *, force: bool) -> Iterator[Path]:
    """A temporary file (mode 0600) beside ``destination``, put in its place once complete."""
    if destination.exists() and not force:
        raise BackupError(f"{destination} exists; refusing to overwrite it (use --force)")
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.")
    os.close(fd)
    tmp = Path(name)
    try:
        os.chmod(tmp, 0o600)
        yield tmp
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        if force:
            tmp.replace(destination)
        else:
            try:
                os.link(tmp, destination)
            except FileExistsError as exc:
                raise BackupError(f"{destination} appeared meanwhile; not overwritten") from exc
    finally:
        tmp.unlink(missing_ok=True)


def backup_database(database_url: str, destination: Path, *, force: bool, say: Say) -> int:
    """Write a backup of the data database to ``destination``; returns its size in bytes."""
    url = _url(database_url)
    say(f"backing up the {_describe(url)} (data only: no keys)")
    with _private_file(destination, force=force) as tmp:
        if url.get_backend_name() == "sqlite":
            _sqlite_backup(_sqlite_path(url), tmp, say)
        else:
            _pg_dump(url, tmp)
    size = destination.stat().st_size
    say(f"wrote {size:,} bytes to {destination} (mode 0600)")
    return size


def _progress(say: Say) -> Callable[[int, int, int], None]:
    shown = [-1]

    def report(status: int, remaining: int, total: int) -> None:
        del status
        done = 100 * (total - remaining) // max(total, 1)
        if done // 25 > shown[0]:
            shown[0] = done // 25
            say(f"  {done}% of {total:,} pages")

    return report


def _sqlite_backup(source: Path, target: Path, say: Say) -> None:
    if not source.exists():
        raise BackupError(f"{source} does not exist")
    origin = sqlite3.connect(source)
    copy = sqlite3.connect(target)
    try:
        origin.backup(copy, pages=_SQLITE_STEP, progress=_progress(say))
        # One self-contained file, whatever the live database's journal mode.
        copy.execute("PRAGMA journal_mode=DELETE")
        copy.commit()
    except sqlite3.Error as exc:
        raise BackupError(f"the SQLite backup failed ({exc})") from exc
    finally:
        copy.close()
        origin.close()


def _pg_dump(url: URL, target: Path) -> None:
    uri, env = _libpq(url)
    command = [_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", uri]
    with open(target, "wb") as out:
        done = subprocess.run(command, stdout=out, stderr=subprocess.PIPE, env=env, check=False)  # noqa: S603
    if done.returncode != 0:
        raise BackupError(f"pg_dump failed: {_first_line(done.stderr)}")


def _first_line(stderr: bytes) -> str:
    lines = stderr.decode("utf-8", "replace").strip().splitlines()
    return lines[0] if lines else "no message"


# -- restoring ----------------------------------------------------------------------------------


def rows_held(database_url: str) -> int:
    """How many tables of the database hold at least one row (0: safe to restore into)."""
    url = _url(database_url)
    if url.get_backend_name() == "sqlite" and not _sqlite_path(url).exists():
        return 0
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            names = inspect(connection).get_table_names()
            held = 0
            for name in names:
                if name in _IGNORED_TABLES:
                    continue
                if connection.execute(select(text("1")).select_from(table(name)).limit(1)).first():
                    held += 1
            return held
    finally:
        engine.dispose()


def restore_database(database_url: str, source: Path, *, force: bool, say: Say) -> None:
    """Replace the data database's content with the backup in ``source``."""
    url = _url(database_url)
    kind = _backup_kind(source)
    if kind != url.get_backend_name():
        raise BackupError(
            f"{source} is a {kind} backup but the node's database is {url.get_backend_name()}"
        )
    held = rows_held(database_url)
    if held and not force:
        raise BackupError(
            f"the {_describe(url)} is not empty ({held} tables hold rows); refusing to restore "
            "over it (stop the node and use --force to replace it)"
        )
    say(f"restoring {source} into the {_describe(url)}")
    if kind == "sqlite":
        _sqlite_restore(source, _sqlite_path(url), say)
    else:
        _pg_restore(url, source, database_url)


def _backup_kind(source: Path) -> str:
    try:
        with open(source, "rb") as handle:
            head = handle.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise BackupError(f"{source} cannot be read") from exc
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_CUSTOM_MAGIC):
        return "postgresql"
    raise BackupError(f"{source} is not a backup written by 'avrr node backup'")


def _sqlite_restore(source: Path, target: Path, say: Say) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    origin = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    live = sqlite3.connect(target)
    try:
        # Every page of the target is replaced; what the backup does not have is cut off.
        live.execute("PRAGMA secure_delete=ON")
        origin.backup(live, pages=_SQLITE_STEP, progress=_progress(say))
        live.execute("PRAGMA journal_mode=WAL")
        live.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.Error as exc:
        raise BackupError(f"the SQLite restore failed ({exc})") from exc
    finally:
        live.close()
        origin.close()


def _pg_restore(url: URL, source: Path, database_url: str) -> None:
    # Tables left from a newer schema than the backup's would stop the migrations after the
    # restore, so every table goes first; pg_restore --clean then drops what else it recreates.
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            names = inspect(connection).get_table_names()
            if names:
                quoted = ", ".join(connection.dialect.identifier_preparer.quote(n) for n in names)
                connection.execute(text(f"DROP TABLE IF EXISTS {quoted} CASCADE"))
    finally:
        engine.dispose()
    uri, env = _libpq(url)
    command = [
        _tool("pg_restore"),
        "--no-owner",
        "--no-privileges",
        "--clean",
        "--if-exists",
        "--single-transaction",
        "--exit-on-error",
        f"--dbname={uri}",
        str(source),
    ]
    done = subprocess.run(command, capture_output=True, env=env, check=False)  # noqa: S603
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed: {_first_line(done.stderr)}")
