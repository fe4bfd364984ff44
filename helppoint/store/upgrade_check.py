"""`helppoint migrate --check`: what an upgrade would change, found by doing it and undoing it.

Each pending migration step is run inside one transaction that is rolled back at the end —
on a copy of the file for SQLite (so the running server's writer is never held up), on the
database itself for PostgreSQL (where DDL is transactional; the check holds the locks the real
upgrade would, for as long as it would, and gives up rather than queue behind a long
transaction). Between steps the schema is compared, so the report says what each step adds or
removes, how long it took on this data, and whether processes of the previous release can keep
running beside it (a rolling upgrade) or must stop first.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, func, inspect, select, table

from helppoint.store.migrate import (
    LOCK_TIMEOUT,
    MigrationError,
    alembic_config,
    check_references,
    current_revision,
    head_revision,
    migration_transaction,
)


@dataclass(frozen=True)
class Column:
    type: str
    nullable: bool
    default: str | None


@dataclass(frozen=True)
class Schema:
    """Tables, their columns and their indexes (name → unique?), as the database has them."""

    columns: dict[str, dict[str, Column]]
    indexes: dict[str, dict[str, bool]]


@dataclass
class Step:
    """One migration step: what it changes and what of that stops old processes."""

    revision: str
    title: str
    seconds: float = 0.0
    changes: list[str] = field(default_factory=list)
    breaking: list[str] = field(default_factory=list)
    altered: set[str] = field(default_factory=set)


@dataclass
class UpgradeCheck:
    current: str | None
    head: str | None
    steps: list[Step]
    rows_before: dict[str, int]
    rows_after: dict[str, int]
    dialect: str = "sqlite"

    @property
    def altered_tables(self) -> list[str]:
        """Tables that existed before and that some step changes (they are locked meanwhile)."""
        return sorted(
            {name for step in self.steps for name in step.altered} & set(self.rows_before)
        )

    @property
    def lost_rows(self) -> dict[str, tuple[int, int]]:
        """Tables with fewer rows after the upgrade than before: (before, after)."""
        return {
            name: (count, self.rows_after.get(name, 0))
            for name, count in self.rows_before.items()
            if self.rows_after.get(name, 0) < count
        }

    @property
    def rolling(self) -> bool:
        """Old processes can keep running while the upgrade runs and until they restart."""
        return not any(step.breaking for step in self.steps)


def read_schema(connection: Connection) -> Schema:
    inspector = inspect(connection)
    columns: dict[str, dict[str, Column]] = {}
    indexes: dict[str, dict[str, bool]] = {}
    for name in inspector.get_table_names():
        if name == "alembic_version" or name.startswith("_alembic_tmp"):
            continue
        columns[name] = {
            c["name"]: Column(
                str(c["type"]),
                bool(c["nullable"]),
                None if c.get("default") is None else str(c.get("default")),
            )
            for c in inspector.get_columns(name)
        }
        indexes[name] = {
            str(i["name"]): bool(i["unique"]) for i in inspector.get_indexes(name) if i["name"]
        }
        for constraint in inspector.get_unique_constraints(name):
            if constraint["name"]:
                indexes[name][str(constraint["name"])] = True
    return Schema(columns, indexes)


_VARCHAR = re.compile(r"VARCHAR\((\d+)\)")


def widens(was: str, now: str) -> bool:
    """Whether a column's new type takes every value of the old one as it was: a longer
    VARCHAR, or TEXT for a VARCHAR. Old processes keep writing what they wrote before."""
    old_length, new_length = _VARCHAR.fullmatch(was), _VARCHAR.fullmatch(now)
    if old_length is None:
        return False
    if now == "TEXT":
        return True
    return new_length is not None and int(new_length[1]) >= int(old_length[1])


def compare(before: Schema, after: Schema) -> tuple[list[str], list[str], set[str]]:
    """What changed between two schemas, the part of it that stops old processes, and the
    tables that were there before and changed.

    Old processes keep working beside a change that only adds: a table, a column that may be
    empty or has a default, an index that is not unique. They break on anything that removes
    or narrows what they use, or refuses rows they would write.
    """
    changes: list[str] = []
    breaking: list[str] = []
    altered: set[str] = set()
    for name in sorted(after.columns.keys() - before.columns.keys()):
        changes.append(f"+ table {name}")
    for name in sorted(before.columns.keys() - after.columns.keys()):
        changes.append(f"- table {name}")
        breaking.append(f"drops table {name}")
    for name in sorted(before.columns.keys() & after.columns.keys()):
        old, new = before.columns[name], after.columns[name]
        for column in sorted(new.keys() - old.keys()):
            c = new[column]
            empty = "may be empty" if c.nullable else f"default {c.default}"
            changes.append(f"+ {name}.{column} {c.type}, {empty}")
            if not c.nullable and c.default is None:
                breaking.append(f"adds {name}.{column}, required and without a default")
        for column in sorted(old.keys() - new.keys()):
            changes.append(f"- {name}.{column}")
            breaking.append(f"drops {name}.{column}")
        for column in sorted(old.keys() & new.keys()):
            was, now = old[column], new[column]
            if was.type != now.type:
                changes.append(f"~ {name}.{column} {was.type} -> {now.type}")
                if not widens(was.type, now.type):
                    breaking.append(f"changes the type of {name}.{column}")
            if was.nullable and not now.nullable:
                changes.append(f"~ {name}.{column} becomes required")
                if now.default is None:
                    breaking.append(f"makes {name}.{column} required without a default")
            elif now.nullable and not was.nullable:
                changes.append(f"~ {name}.{column} may be empty")
        old_indexes, new_indexes = before.indexes[name], after.indexes[name]
        for index in sorted(new_indexes.keys() - old_indexes.keys()):
            unique = new_indexes[index]
            changes.append(f"+ {'unique ' if unique else ''}index {index} on {name}")
            if unique:
                breaking.append(f"adds unique index {index} on {name}")
        for index in sorted(old_indexes.keys() - new_indexes.keys()):
            changes.append(f"- index {index} on {name}")
        if old != new or old_indexes != new_indexes:
            altered.add(name)
    return changes, breaking, altered


def count_rows(connection: Connection, tables: list[str]) -> dict[str, int]:
    return {
        name: int(connection.execute(select(func.count()).select_from(table(name))).scalar_one())
        for name in tables
    }


@contextmanager
def _scratch(engine: Engine) -> Iterator[Engine]:
    """The database to try the upgrade on: a copy for SQLite, the database for PostgreSQL."""
    if engine.dialect.name != "sqlite":
        yield engine
        return
    from helppoint.store.database import make_engine

    source = engine.url.database
    if not source or source == ":memory:":
        raise MigrationError("an in-memory SQLite database cannot be checked")
    if not Path(source).exists():
        yield engine  # nothing there yet: the upgrade would create it all
        return
    directory = Path(tempfile.mkdtemp(prefix="helppoint-check-"))
    try:
        copy = directory / "check.sqlite"
        with sqlite3.connect(source) as original, sqlite3.connect(copy) as target:
            original.backup(target)  # online: the running server keeps writing meanwhile
        scratch = make_engine(f"sqlite:///{copy}")
        try:
            yield scratch
        finally:
            scratch.dispose()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def pending_steps(engine: Engine, current: str | None) -> list[Step]:
    """The steps from ``current`` to the newest revision, oldest first."""
    scripts = ScriptDirectory.from_config(alembic_config(engine))
    known = {script.revision for script in scripts.walk_revisions()}
    if current is not None and current not in known:
        raise MigrationError(
            f"the database is at schema {current}, which this release does not know: it was "
            "made by a newer release; run that release (or restore a backup made before it)"
        )
    steps = [
        Step(script.revision, (script.doc or "").strip().splitlines()[0] if script.doc else "")
        for script in scripts.iterate_revisions("head", current or "base")
    ]
    steps.reverse()
    return steps


def check_upgrade(engine: Engine) -> UpgradeCheck:
    """Run every pending step in a transaction that is rolled back; report what changed."""
    current = current_revision(engine)
    steps = pending_steps(engine, current)
    with (
        _scratch(engine) as scratch,
        scratch.connect() as connection,
        migration_transaction(connection) as transaction,
    ):
        schema = read_schema(connection)
        before = count_rows(connection, sorted(schema.columns))
        config = alembic_config(scratch)
        config.attributes["connection"] = connection
        for step in steps:
            started = time.perf_counter()
            command.upgrade(config, step.revision)
            step.seconds = time.perf_counter() - started
            after_step = read_schema(connection)
            step.changes, step.breaking, step.altered = compare(schema, after_step)
            schema = after_step
        after = count_rows(connection, sorted(schema.columns))
        check_references(connection)
        transaction.rollback()
    return UpgradeCheck(current, head_revision(engine), steps, before, after, engine.dialect.name)


def report_lines(check: UpgradeCheck) -> list[str]:
    """The check as `helppoint migrate --check` prints it."""
    if not check.steps:
        return [f"schema {check.current} is the newest this release knows: nothing to do"]
    lines = [
        f"schema {check.current or 'empty'} -> {check.head}: {len(check.steps)} step(s); "
        "nothing has been changed (`helppoint migrate` applies them)"
    ]
    for step in check.steps:
        lines.append(f"{step.revision} {step.title} ({step.seconds * 1000:.0f} ms on this data)")
        lines.extend(f"    {change}" for change in step.changes or ["(no change to the schema)"])
    lost = check.lost_rows
    total = sum(check.rows_before.values())
    if lost:
        for name, (was, now) in sorted(lost.items()):
            lines.append(f"rows: {name} would go from {was} to {now}")
    else:
        lines.append(f"rows: every table keeps its rows ({total} rows before the upgrade)")
    if check.current is None:
        lines.append("old processes: none (a new database)")
    elif check.rolling:
        lines.append(
            "old processes: may keep running while it upgrades and until each is restarted "
            "(every step only adds)"
        )
    else:
        lines.append("old processes: stop them all before upgrading, because:")
        for step in check.steps:
            lines.extend(f"    {step.revision} {reason}" for reason in step.breaking)
    millis = sum(step.seconds for step in check.steps) * 1000
    if check.dialect == "sqlite":
        lines.append(
            f"pause: the upgrade is one transaction of {millis:.0f} ms on this data (tried on a "
            "copy); SQLite takes no other write meanwhile, so presses wait that long to be stored"
        )
    else:
        changed = ", ".join(check.altered_tables) or "none"
        lines.append(
            f"pause: the upgrade is one transaction of {millis:.0f} ms on this data; until it "
            f"commits, writes to the tables it changes in place wait ({changed}); each step "
            f"gives up after waiting {LOCK_TIMEOUT} for a lock and the upgrade is retried"
        )
    return lines
