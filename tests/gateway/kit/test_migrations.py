"""The migrations create exactly the schema the models describe, on the database under test."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from gateway.kit.db import make_engine
from gateway.tables import metadata


class TestMigrations:
    def test_migrated_schema_matches_the_models(self, database_url: object) -> None:
        engine = make_engine(database_url("schema"))  # type: ignore[operator]
        try:
            with engine.connect() as connection:
                differences = compare_metadata(MigrationContext.configure(connection), metadata)
            assert differences == []
            assert "alembic_version" in inspect(engine).get_table_names()
        finally:
            engine.dispose()
