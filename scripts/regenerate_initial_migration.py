"""Regenerate gateway/migrations/versions/0001_initial.py from the models.

Only until the first release: no deployed database exists yet, so the initial migration can be
rewritten whenever a model changes. From the first release on, add a new migration instead.

    .venv/bin/python scripts/regenerate_initial_migration.py && .venv/bin/ruff format gateway/migrations
"""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import produce_migrations, render_python_code
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from gateway.tables import metadata

TARGET = Path(__file__).resolve().parent.parent / "gateway/migrations/versions/0001_initial.py"

HEADER = '''"""Initial schema.

Until the first release this one migration is regenerated from the models whenever they change
(no deployed database exists yet); from the first release on, every change is a new migration.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.kit.db import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
'''


def _body(code: str) -> str:
    code = code.replace("gateway.kit.db.UTCDateTime(timezone=True)", "UTCDateTime()")
    return "\n".join(line for line in code.splitlines() if "###" not in line)


def main() -> None:
    with create_engine("sqlite://").connect() as connection:
        operations = produce_migrations(MigrationContext.configure(connection), metadata)
    upgrade = _body(render_python_code(operations.upgrade_ops))
    downgrade = _body(render_python_code(operations.downgrade_ops))
    TARGET.write_text(
        HEADER + upgrade + "\n\n\ndef downgrade() -> None:\n" + downgrade + "\n", encoding="utf-8"
    )


if __name__ == "__main__":
    main()
