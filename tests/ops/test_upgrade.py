"""Upgrades: a database made by an older release (tests/ops/upgrade/, with data) is migrated to
the current schema on SQLite and PostgreSQL with nothing lost, `helppoint migrate --check` says
what would change and changes nothing, every step since then lets old processes keep running,
and several processes upgrading one PostgreSQL schema at once do it once."""

from __future__ import annotations

import json
import shutil
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, MetaData, create_engine, func, select, text

from helppoint import cli
from helppoint.domain.events import EventType
from helppoint.domain.model import Classification
from helppoint.services import audit, incidents
from helppoint.services.ingest import ReportedEvent, handle_device_events
from helppoint.store.database import make_engine, make_session_factory
from helppoint.store.migrate import current_revision, head_revision, upgrade
from helppoint.store.tables import metadata
from helppoint.store.uow import UnitOfWork
from helppoint.store.upgrade_check import Column, Schema, check_upgrade, compare
from tests.conftest import PG_ADMIN_URL, require_postgres

FIXTURES = sorted((Path(__file__).parent / "upgrade").glob("schema-*.sqlite"))
OLDEST = FIXTURES[0]


def fixture_revision(fixture: Path) -> str:
    return fixture.stem.removeprefix("schema-")


@pytest.fixture
def postgres_schema() -> Iterator[str]:
    """An empty schema of its own (no tables at all) on the test PostgreSQL; its URL."""
    require_postgres()
    schema = f"u_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in PG_ADMIN_URL else "?"
    try:
        yield f"{PG_ADMIN_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _utc(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # SQLite keeps UTC times without their zone
    return value


def load_into_postgres(fixture: Path, url: str) -> None:
    """Make the fixture's database on PostgreSQL: its schema revision, then every row of it."""
    target = make_engine(url)
    upgrade(target, fixture_revision(fixture))
    source = create_engine(f"sqlite:///{fixture}")
    source_tables, target_tables = MetaData(), MetaData()
    source_tables.reflect(source)
    target_tables.reflect(target)
    assert set(source_tables.tables) == set(target_tables.tables)
    with source.connect() as reading, target.begin() as writing:
        for table in reversed(target_tables.sorted_tables):
            if table.name != "alembic_version":
                writing.execute(table.delete())  # rows the migrations seeded: the fixture has them
        for table in target_tables.sorted_tables:
            if table.name == "alembic_version":
                continue  # upgrade() wrote it
            rows = [
                {key: _utc(value) for key, value in row._mapping.items()}
                for row in reading.execute(select(source_tables.tables[table.name]))
            ]
            if rows:
                writing.execute(table.insert(), rows)
            if "id" in table.c and table.c.id.autoincrement and rows:
                # As if the rows had been added one by one: the next id follows them.
                writing.execute(
                    text("SELECT setval(pg_get_serial_sequence(:t, 'id'), :n)"),
                    {"t": table.name, "n": max(row["id"] for row in rows)},
                )
    source.dispose()
    target.dispose()


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return _utc(value).astimezone(UTC).isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return value


def snapshot(engine: Engine, columns: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """Every row of every table (only the given columns, if given), in a comparable form."""
    tables = MetaData()
    tables.reflect(engine)
    found: dict[str, Any] = {}
    with engine.connect() as connection:
        for name, table in tables.tables.items():
            if name == "alembic_version" or (columns is not None and name not in columns):
                continue
            keep = columns[name] if columns is not None else [c.name for c in table.c]
            rows = connection.execute(select(*(table.c[c] for c in keep)))
            found[name] = sorted(
                (tuple(_plain(v) for v in row) for row in rows), key=lambda row: repr(row)
            )
            found[name].insert(0, tuple(keep))
    return found


def columns_of(shot: dict[str, Any]) -> dict[str, list[str]]:
    return {name: list(rows[0]) for name, rows in shot.items()}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def older_database(fixture: Path, kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The URL of a database as the older release left it."""
    if kind == "sqlite":
        copy = tmp_path / "helppoint.sqlite"
        shutil.copy(fixture, copy)
        return f"sqlite:///{copy}"
    url: str = request.getfixturevalue("postgres_schema")
    load_into_postgres(fixture, url)
    return url


@pytest.mark.parametrize("fixture", FIXTURES, ids=fixture_revision)
def test_an_older_database_upgrades_with_nothing_lost(
    fixture: Path,
    kind: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = older_database(fixture, kind, tmp_path, request)
    engine = make_engine(url)
    before = snapshot(engine)
    assert sum(len(rows) - 1 for rows in before.values()) > 50  # the fixture holds data
    pending = fixture_revision(fixture) != head_revision(engine)

    # The check says what would change and changes nothing.
    assert cli.main(["migrate", "--check", "--database-url", url]) == (1 if pending else 0)
    said = capsys.readouterr().out
    assert current_revision(engine) == fixture_revision(fixture)
    assert snapshot(engine) == before
    if pending:
        assert f"schema {fixture_revision(fixture)} -> {head_revision(engine)}" in said
        assert "every table keeps its rows" in said
        assert "old processes: may keep running" in said

    assert cli.main(["migrate", "--database-url", url]) == 0
    assert current_revision(engine) == head_revision(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
    # Every row is still there with every value it had.
    assert snapshot(engine, columns_of(before)) == before

    uow = UnitOfWork(make_session_factory(engine))
    chain = audit.verify(uow)
    assert chain.ok, chain
    with engine.connect() as connection:
        acknowledged = connection.execute(
            text("SELECT acknowledged_by, held_by FROM incidents WHERE acknowledged_by IS NOT NULL")
        ).all()
    assert acknowledged and all(by == held for by, held in acknowledged)  # 0020 filled it in

    # The upgraded database carries on: a new press is stored and the waiting alarm is handled.
    with engine.connect() as connection:
        last_seq = connection.execute(
            text("SELECT max(seq) FROM device_events WHERE unit_id = 'HP-08'")
        ).scalar_one()
        waiting = connection.execute(
            text("SELECT id FROM incidents WHERE state = 'new' AND unit_id = 'HP-08'")
        ).scalar_one()
    with uow:
        [stored] = handle_device_events(
            uow,
            [ReportedEvent("HP-02", 1000, EventType.ACTIVATION, datetime.now(UTC), {})],
            datetime.now(UTC),
            timedelta(minutes=5),
        )
        uow.commit()
    assert stored.incident_id is not None and last_seq
    incidents.acknowledge(uow, waiting, "olive")
    incidents.close(
        uow, waiting, "olive", "checked after the upgrade", Classification.FALSE_ACCIDENTAL
    )
    assert audit.verify(uow).ok
    with engine.connect() as connection:
        count = connection.execute(select(func.count()).select_from(text("incidents")))
        assert count.scalar_one() == len(before["incidents"]) - 1 + 1  # (less the header row)
    engine.dispose()


def test_every_step_since_the_oldest_fixture_lets_old_processes_run(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # A step that breaks this must say so in docs/deployment.md (Upgrades), and this test then
    # names it; the check reports it to whoever upgrades.
    engine = make_engine(older_database(OLDEST, kind, tmp_path, request))
    check = check_upgrade(engine)
    assert [step.revision for step in check.steps][-1] == head_revision(engine)
    assert check.rolling, [(step.revision, step.breaking) for step in check.steps]
    assert check.lost_rows == {}
    assert current_revision(engine) == fixture_revision(OLDEST)
    engine.dispose()


def _schema(columns: dict[str, Column], indexes: dict[str, bool] | None = None) -> Schema:
    return Schema({"incidents": columns}, {"incidents": indexes or {}})


def test_the_check_names_what_would_stop_old_processes() -> None:
    state = Column("VARCHAR(32)", False, None)
    before = _schema({"id": Column("INTEGER", False, None), "state": state})
    kept = {"id": Column("INTEGER", False, None), "state": state}
    assert compare(before, _schema({**kept, "note": Column("TEXT", True, None)}))[1] == []
    assert compare(before, _schema({**kept, "n": Column("INTEGER", False, "0")}))[1] == []
    assert compare(before, _schema(kept, {"ix_state": False}))[1] == []
    # A longer text column takes everything old processes write (sip_accounts.light_on, 0026).
    for wider in ("VARCHAR(512)", "TEXT"):
        assert compare(before, _schema({**kept, "state": Column(wider, False, None)}))[1] == []
    breaking = {
        "drops incidents.state": _schema({"id": Column("INTEGER", False, None)}),
        "adds incidents.n, required and without a default": _schema(
            {**kept, "n": Column("INTEGER", False, None)}
        ),
        "changes the type of incidents.state": _schema(
            {**kept, "state": Column("VARCHAR(8)", False, None)}
        ),
        "adds unique index uq_state on incidents": _schema(kept, {"uq_state": True}),
    }
    for reason, after in breaking.items():
        assert compare(before, after)[1] == [reason]
    assert compare(before, Schema({}, {}))[1] == ["drops table incidents"]


def test_a_database_of_a_newer_release_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'newer.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    assert cli.main(["migrate", "--check", "--database-url", url]) == 2
    assert "schema 9999, which this release does not know" in capsys.readouterr().err
    engine.dispose()


@pytest.mark.postgres
def test_processes_upgrading_one_postgresql_schema_at_once_do_it_once(
    postgres_schema: str,
) -> None:
    # Several machines' services starting together each migrate on start.
    engines = [make_engine(postgres_schema) for _ in range(3)]
    start = threading.Barrier(len(engines))
    failures: list[BaseException] = []

    def run(engine: Engine) -> None:
        start.wait()
        try:
            upgrade(engine)
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert current_revision(engines[0]) == head_revision(engines[0])
    for engine in engines:
        engine.dispose()
