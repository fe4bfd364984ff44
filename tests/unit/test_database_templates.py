"""The tests' databases are copies of one migrated template per pytest process
(tests/conftest.py, `_Templates`): a copy must be exactly what running the migrations makes,
tables, indexes and rows alike, and each test's copy its own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, inspect, text

from helppoint.store.database import make_engine
from helppoint.store.migrate import upgrade
from tests.conftest import PG_ADMIN_URL, Database, _templates


def picture(engine: Engine) -> dict[str, Any]:
    """Every table's columns, indexes, foreign keys and rows."""
    found: dict[str, Any] = {}
    with engine.connect() as connection:
        schema_inspector = inspect(connection)
        for table in sorted(schema_inspector.get_table_names()):
            columns = [
                (c["name"], str(c["type"]), c["nullable"])
                for c in schema_inspector.get_columns(table)
            ]
            indexes = sorted(
                (i["name"] or "", tuple(i["column_names"]), bool(i["unique"]))
                for i in schema_inspector.get_indexes(table)
            )
            keys = sorted(
                (tuple(k["constrained_columns"]), k["referred_table"])
                for k in schema_inspector.get_foreign_keys(table)
            )
            rows = sorted(map(repr, connection.execute(text(f'SELECT * FROM "{table}"'))))
            found[table] = (columns, indexes, keys, rows)
    return found


@pytest.fixture
def migrated(database: Database, tmp_path: Path) -> Iterator[Engine]:
    """A database of the same kind, migrated the long way."""
    if database.kind == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'migrated.sqlite'}")
        upgrade(engine)
        yield engine
        engine.dispose()
        return
    schema = f"m_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}")
    upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_a_copy_is_what_the_migrations_make(database: Database, migrated: Engine) -> None:
    copy = picture(database.engine)
    assert "alembic_version" in copy and len(copy) > 30
    assert copy == picture(migrated)


@pytest.mark.parametrize("round_", [1, 2])
def test_each_test_has_a_database_of_its_own(database: Database, round_: int) -> None:
    """What one test writes is not in the next test's copy (the two rounds run one after the
    other, each writing the same row: the second would fail on a shared database)."""
    with database.engine.begin() as connection:
        assert connection.execute(text("SELECT count(*) FROM zones")).scalar_one() == 0
        connection.execute(
            text("INSERT INTO zones (id, name, description) VALUES ('z-t', 'Template', '')")
        )


@pytest.mark.postgres
def test_a_copy_after_postgresql_restarted(postgres_database: Database) -> None:
    """A test that restarts PostgreSQL (tests/faults) ends every connection to it; the next
    test's copy must not use one of them (a loaded whole-suite run failed so once)."""
    template = _templates.postgres()
    assert template is not None
    _templates.drop(_templates.copy(template[0]))
    killer = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with killer.connect() as conn:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = :name"
            ),
            {"name": _templates.admin_name},
        )
    killer.dispose()
    _templates.drop(_templates.copy(template[0]))
