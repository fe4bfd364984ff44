"""A unit of work that only reads (`uow.reading()`) takes no write lock on SQLite."""

from __future__ import annotations

import sqlite3

import pytest

from helppoint.services.units import ensure_zone
from tests.conftest import Database


def _take_write_lock(database: Database) -> sqlite3.Connection:
    """Another connection, as the event writer process is: its BEGIN IMMEDIATE, not waiting."""
    other = sqlite3.connect(database.engine.url.database or "", timeout=0, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    return other


def test_a_reading_transaction_leaves_the_write_lock_to_the_writer(
    sqlite_database: Database,
) -> None:
    uow = sqlite_database.uow()
    with uow:
        ensure_zone(uow, "park", "The park")
        uow.commit()
    with uow.reading():
        assert [z.id for z in uow.zones.list()] == ["park"]
        # Inside the read: the writer can still take the lock at once (timeout 0).
        writer = _take_write_lock(sqlite_database)
        writer.execute("ROLLBACK")
        writer.close()
    # And a read can begin while the writer holds it.
    writer = _take_write_lock(sqlite_database)
    try:
        with uow.reading():
            assert [z.id for z in uow.zones.list()] == ["park"]
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_an_ordinary_transaction_still_takes_the_write_lock(sqlite_database: Database) -> None:
    uow = sqlite_database.uow()
    with uow:
        uow.zones.list()
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            _take_write_lock(sqlite_database)


def test_a_reading_unit_of_work_cannot_commit_and_is_ordinary_again_after(
    database: Database,
) -> None:
    uow = database.uow()
    with uow.reading(), pytest.raises(RuntimeError, match="only reads"):
        ensure_zone(uow, "park", "The park")
        uow.commit()
    with uow:  # the same unit of work, an ordinary transaction again
        ensure_zone(uow, "park", "The park")
        uow.commit()
    with uow.reading():
        assert [z.id for z in uow.zones.list()] == ["park"]
