"""Test databases: SQLite files copied from a migrated template, or PostgreSQL databases.

``AVRR_TEST_DATABASE`` chooses: ``sqlite`` (default), ``postgresql`` (the local server at
127.0.0.1:5432), or a full ``postgresql://`` URL of a server where the test user may create
databases. On PostgreSQL each named database (``host``, ``partner``...) is created and migrated
once per run and emptied before each test that uses it; all are dropped at the end.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from gateway.kit.db import make_engine, migrate

LOCAL_POSTGRES = "postgresql://127.0.0.1:5432/postgres"


def choice() -> str:
    value = os.environ.get("AVRR_TEST_DATABASE", "sqlite").strip() or "sqlite"
    return LOCAL_POSTGRES if value == "postgresql" else value


def describe() -> str:
    value = choice()
    if value == "sqlite":
        return "database: SQLite (one file per node per test)"
    url = make_url(value)
    return f"database: PostgreSQL at {url.host}:{url.port or 5432} (one database per node)"


class SqliteProvider:
    def __init__(self, root: Path) -> None:
        self._template = root / "template.db"
        engine = make_engine(f"sqlite:///{self._template}")
        migrate(engine)
        engine.dispose()

    def url(self, name: str, folder: Path) -> str:
        path = folder / f"{name}.db"
        if not path.exists():
            shutil.copyfile(self._template, path)
        return f"sqlite:///{path}"

    def close(self) -> None:
        pass


class PostgresProvider:
    def __init__(self, admin_url: str) -> None:
        self._admin_url = make_url(admin_url).set(drivername="postgresql+psycopg")
        self._admin: Engine = create_engine(self._admin_url, isolation_level="AUTOCOMMIT")
        self._prefix = f"avrr_test_{os.getpid()}_"
        self._created: dict[str, str] = {}

    def url(self, name: str, folder: Path) -> str:
        del folder
        if name not in self._created:
            database = self._prefix + name
            with self._admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{database}"'))
                conn.execute(text(f'CREATE DATABASE "{database}"'))
            url = self._admin_url.set(database=database).render_as_string(hide_password=False)
            engine = make_engine(url)
            migrate(engine)
            engine.dispose()
            self._created[name] = url
        return self._created[name]

    def empty(self, name: str) -> None:
        engine = make_engine(self._created[name])
        with engine.begin() as conn:
            tables = conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename <> 'alembic_version'"
                )
            ).scalars()
            names = ", ".join(f'"{t}"' for t in tables)
            if names:
                conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        engine.dispose()

    def close(self) -> None:
        with self._admin.connect() as conn:
            for name in self._created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self._prefix + name}" WITH (FORCE)'))
        self._admin.dispose()
