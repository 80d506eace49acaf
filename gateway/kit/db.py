"""Database engine, session factory, shared column types, and Alembic migrations.

SQLite (one file, WAL, foreign keys on, a busy timeout so a worker and the API can share it) is
the embedded default; PostgreSQL is production. The schema is only ever created by Alembic
migrations (``migrate``), never by ``create_all``, so what runs is what was reviewed.

Example::

    >>> engine = make_engine("sqlite:///node.db")   # doctest: +SKIP
    >>> migrate(engine)                              # doctest: +SKIP
"""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import DateTime, Engine, Insert, create_engine, event, make_url
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

MIGRATIONS = Path(__file__).parent.parent / "migrations"


class Base(DeclarativeBase):
    pass


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("refusing to store a naive datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Deleted content is overwritten, not left in free pages of the file.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def _private_sqlite_file(url: str) -> None:
    """Create the database file readable by its owner only, or make an existing one so.

    SQLite gives its ``-wal`` and ``-shm`` files the database file's permissions, so they
    follow. A file another user can read would hand them every sealed row and the access log.
    """
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        path.chmod(0o600)


def make_engine(url: str) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        _private_sqlite_file(url)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # No ping before each checkout: it would cost every request a round trip. A connection the
    # server dropped fails its first statement instead; SQLAlchemy then discards it and every
    # pooled connection older than it, the request answers 503 with Retry-After
    # (``kit.errors.database_unreachable``) and a worker's run is retried (``kit.periodic``).
    return create_engine(url, pool_pre_ping=False, pool_size=10, max_overflow=10)


def insert_absent(session: Session, table: type[Base], values: dict[str, Any]) -> Insert:
    """``INSERT ... ON CONFLICT DO NOTHING`` in the session's database's own dialect: creates a
    row unless one with the same key exists, without failing when another writer got there
    first."""
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    return insert(table).values(values).on_conflict_do_nothing()


#: ``session.info`` key of the rows a failed request must still write (``add_kept``).
KEEP_ROWS_ON_ROLLBACK = "avrr_rows_kept_on_rollback"


def add_kept(session: Session, table: type[Base], values: dict[str, Any]) -> None:
    """Add a row that stays even if the request fails: the unit of work re-adds it after its
    rollback (``restore_kept_rows``). For what a refusal must not undo, such as a one-time
    token's id, which a second try with the same token must find used."""
    session.add(table(**values))
    session.info.setdefault(KEEP_ROWS_ON_ROLLBACK, []).append((table, values))


def restore_kept_rows(session: Session) -> bool:
    """After a rollback, re-add the rows ``add_kept`` added; True if there were any."""
    kept = session.info.pop(KEEP_ROWS_ON_ROLLBACK, [])
    for table, values in kept:
        session.add(table(**values))
    return bool(kept)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration."""
    command.upgrade(alembic_config(engine), "head")
