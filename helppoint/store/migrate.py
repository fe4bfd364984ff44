"""Apply Alembic migrations to the configured database."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, RootTransaction, text
from sqlalchemy.exc import OperationalError

MIGRATIONS = Path(__file__).parent / "migrations"

#: How long a migration step waits for a table lock on PostgreSQL before giving up. A step
#: queued behind a long transaction would otherwise hold up every press behind it meanwhile.
LOCK_TIMEOUT = "5s"
#: Attempts before an upgrade that keeps missing its locks is reported as failed.
LOCK_ATTEMPTS = 5


class MigrationError(Exception):
    """The schema cannot be brought up to date (the message says why and what to do)."""


def alembic_config(engine: Engine) -> Config:
    """An Alembic config pointing at our migrations, without an alembic.ini on disk."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def take_migration_lock(connection: Connection) -> None:
    """Inside a transaction: wait for any other process migrating this schema, then limit
    how long a step may wait for table locks (PostgreSQL; SQLite's BEGIN IMMEDIATE already
    lets one writer in at a time).

    Several server processes starting at once on one database each run the upgrade; the lock
    makes the first do it and the others find the schema already new.
    """
    if connection.dialect.name != "postgresql":
        return
    connection.execute(
        text(
            "SELECT pg_advisory_xact_lock(hashtextextended("
            "'helppoint:migrate:' || current_database() || '.' || current_schema(), 0))"
        )
    )
    connection.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))


@contextmanager
def migration_transaction(connection: Connection) -> Iterator[RootTransaction]:
    """One transaction for a whole upgrade, with what SQLite's table rebuilds need.

    Alembic changes a SQLite table by building a new one, copying the rows and dropping the old
    one. With foreign keys enforced, dropping a table other rows refer to fails (a database with
    incidents could not be upgraded past 0016), so they are switched off for the upgrade, as
    SQLite's documentation prescribes for such changes, and every reference is checked before
    the commit instead. The pragma only works outside a transaction, hence the raw connection.
    """
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        _raw(connection).execute("PRAGMA foreign_keys=OFF")
    try:
        with connection.begin() as transaction:
            take_migration_lock(connection)
            yield transaction
            if transaction.is_active:
                check_references(connection)
    finally:
        if sqlite:
            _raw(connection).execute("PRAGMA foreign_keys=ON")


def check_references(connection: Connection) -> None:
    """SQLite: refuse (MigrationError) if any row refers to a row that does not exist."""
    if connection.dialect.name != "sqlite":
        return  # PostgreSQL enforces references throughout
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise MigrationError(
            f"the upgrade would leave {len(broken)} row(s) referring to rows that do not "
            f"exist (first: table {broken[0][0]}, row {broken[0][1]}); nothing was changed"
        )


def _raw(connection: Connection) -> Any:
    return connection.connection.dbapi_connection


def _lock_not_available(exc: OperationalError) -> bool:
    return getattr(exc.orig, "sqlstate", None) == "55P03"


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to `revision` (the newest by default), in one transaction."""
    config = alembic_config(engine)
    for attempt in range(1, LOCK_ATTEMPTS + 1):
        try:
            with engine.connect() as connection, migration_transaction(connection):
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
            return
        except OperationalError as exc:
            if not _lock_not_available(exc):
                raise
            if attempt == LOCK_ATTEMPTS:
                raise MigrationError(
                    f"the upgrade waited {LOCK_TIMEOUT} for a table lock {LOCK_ATTEMPTS} times "
                    "and changed nothing: a long transaction holds the table (see "
                    "pg_stat_activity); try again when it has finished"
                ) from exc
            time.sleep(1)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    """The newest revision this version of helppoint knows."""
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def autogenerate(engine: Engine, message: str) -> None:
    """Write a new migration from the difference between the tables and the database."""
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)
