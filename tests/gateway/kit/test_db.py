"""The embedded database file: readable by the node's user only, with its WAL beside it."""

from __future__ import annotations

import stat
from pathlib import Path

from sqlalchemy import text

from gateway.kit.db import make_engine


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


class TestSqliteFile:
    def test_a_new_database_and_its_wal_are_private(self, tmp_path: Path) -> None:
        path = tmp_path / "node.db"
        engine = make_engine(f"sqlite:///{path}")
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
            assert mode(path) == 0o600
            assert mode(tmp_path / "node.db-wal") == 0o600
        engine.dispose()

    def test_an_existing_database_readable_by_others_is_made_private(self, tmp_path: Path) -> None:
        path = tmp_path / "node.db"
        path.touch(mode=0o644)
        path.chmod(0o644)

        make_engine(f"sqlite:///{path}").dispose()

        assert mode(path) == 0o600

    def test_an_in_memory_database_needs_no_file(self, tmp_path: Path) -> None:
        engine = make_engine("sqlite://")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
        assert list(tmp_path.iterdir()) == []
