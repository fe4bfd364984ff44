"""Prepared statements run on the driver's cursor read and write what SQLAlchemy itself would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import bindparam, create_engine, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from helppoint.domain.events import EventType, Priority
from helppoint.domain.model import IncidentState
from helppoint.services.seed import seed_demo
from helppoint.store import tables as t
from helppoint.store.prepared import BulkStatement, PreparedStatement
from tests.conftest import Database
from tests.waiting import eventually_sync

T0 = datetime(2026, 12, 2, 3, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
def seeded(database: Database) -> Database:
    seed_demo(database.uow())
    return database


def test_rows_are_the_rows_sqlalchemy_reads(seeded: Database) -> None:
    i = t.incidents.c
    with seeded.session() as session:
        for n, unit in enumerate(["HP-01", "HP-02", "HP-03"]):
            session.execute(
                insert(t.incidents).values(
                    unit_id=unit,
                    priority=Priority.ACTIVATION,
                    state=IncidentState.NEW if n else IncidentState.ACKNOWLEDGED,
                    opened_at=T0,
                    last_event_at=T0 + timedelta(seconds=n),
                    acknowledged_at=None if n else T0,
                    event_count=n + 1,
                    outcome="",
                    version=1,
                )
            )
        query = (
            select(i.id, i.unit_id, i.priority, i.state, i.opened_at, i.acknowledged_at)
            .where(
                i.unit_id.in_(bindparam("b_ids", expanding=True)),
                i.state.in_([IncidentState.NEW.value, IncidentState.ACKNOWLEDGED.value]),
            )
            .order_by(i.id)
        )
        prepared = PreparedStatement(query)
        connection = session.connection()
        for ids in (["HP-01"], ["HP-01", "HP-02", "HP-03"], ["HP-03", "HP-02", "HP-01", "X"]):
            ours = prepared.rows(connection, {"b_ids": ids})
            theirs = [tuple(row) for row in session.execute(query, {"b_ids": ids})]
            assert ours == theirs
        assert prepared.rows(connection, {"b_ids": []}) == []
        row = prepared.rows(connection, {"b_ids": ["HP-01"]})[0]
        # Values come back as their types say: enums, aware UTC times.
        assert row[2] is Priority.ACTIVATION and row[3] is IncidentState.ACKNOWLEDGED
        assert row[4] == T0 and row[4].tzinfo is not None and row[5] == T0


def test_lists_of_every_length_share_a_dozen_plans(seeded: Database) -> None:
    h = t.help_points.c
    prepared = PreparedStatement(
        select(h.id).where(h.id.in_(bindparam("b_ids", expanding=True))).order_by(h.id)
    )
    with seeded.session() as session:
        connection = session.connection()
        units = [f"HP-{n:02d}" for n in range(1, 9)]
        for size in range(1, 300):
            ids = (units * 40)[:size]
            assert prepared.rows(connection, {"b_ids": ids}) == [(u,) for u in sorted(set(ids))]
    plans = next(iter(prepared._plans.values()))
    if seeded.kind == "sqlite":
        assert len(plans) == 10  # lengths 1, 2, 4 … 256 and 512 (299 rounded up)
    else:
        # PostgreSQL: the list is one array parameter (= ANY), whatever its length.
        [plan] = plans.values()
        assert "ANY(" in plan.sql and " IN (" not in plan.sql


def test_not_in_a_list_is_every_value_but_the_lists(seeded: Database) -> None:
    h = t.help_points.c
    prepared = PreparedStatement(
        select(h.id).where(h.id.not_in(bindparam("b_ids", expanding=True))).order_by(h.id)
    )
    with seeded.uow() as uow:
        connection = uow._session.connection()
        every = [unit for (unit,) in prepared.rows(connection, {"b_ids": []})]
        assert len(every) == 8
        left = prepared.rows(connection, {"b_ids": ["HP-01", "HP-03", "HP-01"]})
        assert [unit for (unit,) in left] == [u for u in every if u not in ("HP-01", "HP-03")]


def test_execute_counts_changed_rows_and_binds_through_column_types(seeded: Database) -> None:
    h = t.help_points.c
    prepared = PreparedStatement(
        update(t.help_points)
        .where(h.id.in_(bindparam("b_ids", expanding=True)))
        .values(last_seen_at=bindparam("b_at", type_=h.last_seen_at.type))
    )
    with seeded.session() as session:
        connection = session.connection()
        at = T0.astimezone(ZoneInfo("Europe/London"))
        assert prepared.execute(connection, {"b_ids": ["HP-01", "HP-02", "NOPE"], "b_at": at}) == 2
        seen = session.execute(
            select(h.id, h.last_seen_at).where(h.id.in_(["HP-01", "HP-02", "HP-03"])).order_by(h.id)
        ).all()
    assert [(unit, when) for unit, when in seen][:2] == [("HP-01", T0), ("HP-02", T0)]
    assert seen[2][1] != T0


def test_a_driver_error_is_sqlalchemys_error_and_the_transaction_can_roll_back(
    seeded: Database,
) -> None:
    keys = ("unit_id", "seq", "type", "unit_time", "received_at", "payload", "digest")
    bulk = BulkStatement(insert(t.device_events), keys)
    row = ("HP-01", 1, EventType.ACTIVATION, T0, T0, {}, "d")
    with seeded.session() as session:
        bulk.execute(session.connection(), [row])
        with pytest.raises(IntegrityError):
            bulk.execute(session.connection(), [row])  # (unit, seq) is unique
        session.rollback()
    with seeded.engine.connect() as connection:
        assert connection.execute(select(t.device_events.c.id)).all() == []


def test_a_prepared_statement_refuses_parameters_it_does_not_have() -> None:
    h = t.help_points.c
    prepared = PreparedStatement(select(h.id).where(h.id == bindparam("b_id")))
    engine = create_engine("sqlite://")
    with engine.connect() as connection, pytest.raises(ValueError, match="b_other"):
        prepared.rows(connection, {"b_id": "x", "b_other": 1})


@pytest.mark.postgres
def test_a_dead_connection_is_dropped_from_the_pool_and_the_error_says_so(
    postgres_database: Database,
) -> None:
    """The writer process does not ping its connection before each batch: a prepared
    statement on a connection found dead must say so, and the next one must get a new one."""
    h = t.help_points.c
    prepared = PreparedStatement(select(h.id).where(h.id.in_(bindparam("b_ids", expanding=True))))
    seed_demo(postgres_database.uow())
    engine = postgres_database.engine
    with engine.connect() as connection:
        pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        connection.commit()
        with engine.connect() as other:
            other.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")

            def gone() -> bool:
                other.rollback()  # (a transaction sees one snapshot of pg_stat_activity)
                query = f"SELECT count(*) FROM pg_stat_activity WHERE pid = {int(pid)}"
                return other.exec_driver_sql(query).scalar_one() == 0

            eventually_sync(gone, what="the terminated backend to exit")
        with pytest.raises(DBAPIError) as raised:
            prepared.rows(connection, {"b_ids": ["HP-01"]})
        assert raised.value.connection_invalidated
    with engine.connect() as connection:
        assert prepared.rows(connection, {"b_ids": ["HP-01"]}) == [("HP-01",)]


def test_in_a_pipeline_a_statement_that_fails_unwaited_for_fails_the_commit(
    seeded: Database,
) -> None:
    """On PostgreSQL `send` does not wait for the statement (uow.pipelined): its failure must
    still come out before the COMMIT, and nothing of the transaction be stored."""
    keys = ("unit_id", "seq", "type", "unit_time", "received_at", "payload", "digest")
    bulk = BulkStatement(insert(t.device_events), keys)
    row = ("HP-01", 1, EventType.ACTIVATION, T0, T0, {}, "d")
    uow = seeded.uow()
    with pytest.raises(IntegrityError), uow, uow.pipelined():
        connection = uow._session.connection()
        bulk.send(connection, [row])
        bulk.send(connection, [row])  # (unit, seq) is unique
        uow.commit()
    with seeded.engine.connect() as connection:
        assert connection.execute(select(t.device_events.c.id)).all() == []
    # The connection went back to the pool out of pipeline mode: it serves the next one.
    with seeded.uow() as again, again.pipelined():
        bulk.send(again._session.connection(), [row])
        again.commit()
    with seeded.engine.connect() as connection:
        assert len(connection.execute(select(t.device_events.c.id)).all()) == 1


def test_in_a_pipeline_every_statement_that_needs_its_answer_still_reads_it(
    seeded: Database,
) -> None:
    """Counts, rows, and the statements SQLAlchemy runs itself (an ORM insert reading back
    its id, an update's count) wait in a pipeline, after the statements sent before them."""
    h = t.help_points.c
    touch = PreparedStatement(
        update(t.help_points)
        .where(h.id.in_(bindparam("b_ids", expanding=True)))
        .values(last_seen_at=bindparam("b_at", type_=h.last_seen_at.type))
    )
    seen = PreparedStatement(select(h.id, h.last_seen_at).where(h.id == bindparam("b_id")))
    uow = seeded.uow()
    with uow, uow.pipelined():
        connection = uow._session.connection()
        touch.send(connection, {"b_ids": ["HP-01"], "b_at": T0})
        assert seen.rows(connection, {"b_id": "HP-01"}) == [("HP-01", T0)]
        touch.send(connection, {"b_ids": ["HP-02"], "b_at": T0})
        assert touch.execute(connection, {"b_ids": ["HP-01", "HP-03", "NOPE"], "b_at": T0}) == 2
        changed = uow._session.execute(
            update(t.help_points).where(h.id.in_(["HP-01", "HP-02"])).values(last_seen_at=T0)
        )
        assert changed.rowcount == 2  # type: ignore[attr-defined]
        opened = uow._session.execute(
            insert(t.incidents)
            .values(
                unit_id="HP-02",
                priority=Priority.ACTIVATION,
                state=IncidentState.NEW,
                opened_at=T0,
                last_event_at=T0,
                event_count=1,
                outcome="",
                version=1,
            )
            .returning(t.incidents.c.id)
        ).scalar_one()
        assert opened > 0
        uow.commit()
    with seeded.engine.connect() as connection:
        stored = connection.execute(select(h.id).where(h.last_seen_at == T0).order_by(h.id))
        assert [unit for (unit,) in stored] == ["HP-01", "HP-02", "HP-03"]
