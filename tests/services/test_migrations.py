"""The Alembic migrations build exactly the schema the code expects, on both databases."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from helppoint.store.migrate import alembic_config, current_revision, head_revision, upgrade
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


def _index_definition(engine, name: str) -> str:  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            sql = "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :name"
        else:
            # This test's schema only: other runs' schemas come and go meanwhile.
            sql = (
                "SELECT indexdef FROM pg_indexes "
                "WHERE indexname = :name AND schemaname = current_schema()"
            )
        return str(connection.execute(text(sql), {"name": name}).scalar_one())


def test_newest_migration_can_be_undone_and_redone(database) -> None:  # type: ignore[no-untyped-def]
    engine = database.engine
    head = head_revision(engine)
    newest = ScriptDirectory.from_config(alembic_config(engine)).get_revision(head)
    previous = newest.down_revision if newest is not None else None
    assert isinstance(previous, str)  # one parent: no merge revisions here
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, previous)
    assert current_revision(engine) == previous
    upgrade(engine)
    test_migrated_schema_matches_tables(database)


def test_index_of_audit_entries_by_incident_leaves_out_repeat_presses(database) -> None:  # type: ignore[no-untyped-def]
    # compare_metadata does not compare a partial index's predicate: the migration's must be
    # the tables' (and the timeline's query's, tests/services/test_incidents.py).
    definition = _index_definition(database.engine, "ix_audit_entries_incident_id")
    assert "incident.event_joined" in definition and "WHERE" in definition.upper()
