"""The Alembic migrations build exactly the schema the code expects, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from helppoint.store.migrate import current_revision, head_revision, upgrade
from helppoint.store.tables import metadata


def test_migrated_schema_matches_tables(database) -> None:  # type: ignore[no-untyped-def]
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == []
    assert current_revision(database.engine) == head_revision(database.engine)


def test_upgrade_is_idempotent(database) -> None:  # type: ignore[no-untyped-def]
    upgrade(database.engine)
    assert current_revision(database.engine) == head_revision(database.engine)
