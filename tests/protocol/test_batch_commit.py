"""One unit's events that cannot be stored never fail the other units' events in their batch.

Real databases: the failures are a unit unknown to the database, a trigger that refuses one
unit's event (as a constraint would), values one database refuses, and a real conflict with
another transaction over an incident.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text, update

from helppoint.domain.events import EventType
from helppoint.gateway.batch_commit import Batch, LinkOrder, commit_batches
from helppoint.gateway.batch_writer import BatchWriter
from helppoint.gateway.process_writer import ProcessWriter
from helppoint.gateway.thread_writer import ThreadWriter
from helppoint.services.ingest import Outcome, ReportedEvent
from helppoint.services.seed import seed_demo
from helppoint.store import tables as t
from helppoint.store.database import make_session_factory
from helppoint.store.uow import UnitOfWork
from tests.conftest import Database

T0 = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=5)
UNITS = [f"HP-0{n}" for n in range(1, 9)]


def press(unit: str, seq: int, **payload: Any) -> ReportedEvent:
    return ReportedEvent(unit, seq, EventType.ACTIVATION, T0 + timedelta(seconds=seq), payload)


def stored(database: Database) -> list[tuple[str, int]]:
    c = t.device_events.c
    with database.engine.connect() as connection:
        rows = connection.execute(select(c.unit_id, c.seq).order_by(c.unit_id, c.seq))
        return [(unit, seq) for unit, seq in rows]


def payload_of(database: Database, unit: str, seq: int) -> dict[str, Any]:
    c = t.device_events.c
    with database.engine.connect() as connection:
        payload: dict[str, Any] = connection.scalar(
            select(c.payload).where(c.unit_id == unit, c.seq == seq)
        )
        return payload


def writer_of(kind: str, database: Database) -> BatchWriter:
    if kind == "process":
        url = database.engine.url.render_as_string(hide_password=False)
        return ProcessWriter(url, WINDOW, lambda topic, message: None)
    factory = make_session_factory(database.engine)
    return ThreadWriter(lambda: UnitOfWork(factory), WINDOW)


@pytest.fixture
def seeded(database: Database) -> Database:
    seed_demo(database.uow())
    return database


def refuse_in_database(database: Database, unit: str, seq: int) -> None:
    """A trigger that refuses to store one event, as a constraint would."""
    with database.engine.begin() as connection:
        if database.kind == "sqlite":
            connection.execute(
                text(
                    "CREATE TRIGGER refuse_one BEFORE INSERT ON device_events "
                    f"WHEN NEW.unit_id = '{unit}' AND NEW.seq = {seq} "
                    "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
                )
            )
        else:
            connection.execute(
                text(
                    "CREATE FUNCTION refuse_one() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$"
                )
            )
            connection.execute(
                text(
                    "CREATE TRIGGER refuse_one BEFORE INSERT ON device_events FOR EACH ROW "
                    f"WHEN (NEW.unit_id = '{unit}' AND NEW.seq = {seq}) "
                    "EXECUTE FUNCTION refuse_one()"
                )
            )


def allow_again(database: Database) -> None:
    with database.engine.begin() as connection:
        connection.execute(
            text(
                "DROP TRIGGER refuse_one"
                + ("" if database.kind == "sqlite" else " ON device_events")
            )
        )


def test_one_units_failure_leaves_the_others_stored(seeded: Database) -> None:
    refuse_in_database(seeded, "HP-03", 1)
    uow = UnitOfWork(make_session_factory(seeded.engine))
    batch = Batch([press(unit, 1) for unit in UNITS], T0)
    [results] = commit_batches(uow, [batch], WINDOW)
    outcomes = {r.unit_id: r.outcome for r in results}
    assert outcomes.pop("HP-03") is Outcome.NOT_STORED
    assert set(outcomes.values()) == {Outcome.STORED}
    assert stored(seeded) == [(unit, 1) for unit in UNITS if unit != "HP-03"]


def test_a_links_later_events_are_not_stored_before_the_one_that_failed(seeded: Database) -> None:
    """Batches already with the writer when one failed: the writer keeps the link's order."""
    refuse_in_database(seeded, "HP-01", 1)
    uow = UnitOfWork(make_session_factory(seeded.engine))
    order = LinkOrder()
    first = Batch([press("HP-01", 1), press("HP-02", 1)], T0, links=[7, 9], number=1)
    [results] = commit_batches(uow, [first], WINDOW, order=order)
    assert [r.outcome for r in results] == [Outcome.NOT_STORED, Outcome.STORED]
    allow_again(seeded)  # seq 1 could be stored now, but the unit has not resent it yet
    # Handed over before the queue took in the first answer: seq 2 must wait for seq 1.
    second = Batch([press("HP-01", 2), press("HP-02", 2)], T0, links=[7, 9], number=2)
    [results] = commit_batches(uow, [second], WINDOW, order=order)
    assert [r.outcome for r in results] == [Outcome.NOT_STORED, Outcome.STORED]
    # The unit resends from seq 1 on a new link (8), in a batch the queue made knowing it all.
    resent = Batch([press("HP-01", 1), press("HP-01", 2)], T0, links=[8, 8], number=3, answered=2)
    [results] = commit_batches(uow, [resent], WINDOW, order=order)
    assert [r.outcome for r in results] == [Outcome.STORED, Outcome.STORED]
    assert stored(seeded) == [("HP-01", 1), ("HP-01", 2), ("HP-02", 1), ("HP-02", 2)]
    # Once the queue knew, the writer no longer holds link 7 (the queue refuses it itself).
    late = Batch([press("HP-01", 3)], T0, links=[7], number=4, answered=3)
    [results] = commit_batches(uow, [late], WINDOW, order=order)
    assert results[0].outcome is Outcome.STORED


@pytest.mark.parametrize("kind", ["process", "thread"])
async def test_an_event_whose_payload_cannot_be_encoded_is_stored_with_it_set_aside(
    seeded: Database, kind: str
) -> None:
    """Handed to the writer without the device link's repairs (a lone surrogate): once, its
    whole batch failed, on every resend."""
    writer = writer_of(kind, seeded)
    writer.open()
    poison = press("HP-02", 1, detail="\ud800")
    try:
        results = await writer.submit(Batch([press("HP-01", 1), poison], T0))
        assert [r.outcome for r in results] == [Outcome.STORED, Outcome.STORED]
        again = await writer.submit(Batch([press("HP-02", 1, detail="\ud800")], T0))
        assert again[0].outcome is Outcome.DUPLICATE  # its resend is the same event
    finally:
        await writer.close()
    assert stored(seeded) == [("HP-01", 1), ("HP-02", 1)]
    [note] = payload_of(seeded, "HP-02", 1)["server_repairs"]
    assert "could not be stored" in note and "set aside" in note


@pytest.mark.postgres
def test_a_fault_whose_text_postgresql_refuses_is_still_a_fault(
    postgres_database: Database,
) -> None:
    """PostgreSQL text cannot hold NUL: the maintenance ticket's detail failed the batch."""
    seed_demo(postgres_database.uow())
    uow = UnitOfWork(make_session_factory(postgres_database.engine))
    fault = ReportedEvent("HP-02", 1, EventType.FAULT, T0, {"fault": "light", "detail": "a\x00b"})
    [results] = commit_batches(uow, [Batch([press("HP-01", 1), fault], T0)], WINDOW)
    assert [r.outcome for r in results] == [Outcome.STORED, Outcome.STORED]
    assert "set aside" in payload_of(postgres_database, "HP-02", 1)["server_repairs"][0]
    with postgres_database.uow() as check:
        priorities = sorted(i.priority.label for i in check.incidents.open_for_units(["HP-02"]))
        assert priorities == ["fault"]


@pytest.mark.postgres
async def test_a_conflict_with_another_transaction_is_stored_again(
    postgres_database: Database,
) -> None:
    """As when a unit's old link on one process and its new one on another both join its
    incident: the update finds the incident changed (StaleDataError). Once, that failed the
    whole batch and every unit in it."""
    database = postgres_database
    seed_demo(database.uow())
    factory = make_session_factory(database.engine)
    commit_batches(UnitOfWork(factory), [Batch([press("HP-01", 1)], T0)], WINDOW)
    incidents = t.incidents.c
    other = database.engine.connect()
    try:
        transaction = other.begin()
        # Another writer changes the incident and holds its row until it commits.
        other.execute(
            update(t.incidents)
            .where(incidents.unit_id == "HP-01")
            .values(version=incidents.version + 1)
        )
        xid = other.scalar(
            text("SELECT backend_xid::text FROM pg_stat_activity WHERE pid = pg_backend_pid()")
        )
        waiting = text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'transactionid' "
            "AND transactionid::text = :xid AND NOT granted"
        )

        def commit_once_the_writer_waits() -> None:
            with database.engine.connect() as watcher:
                for _ in range(3000):  # the writer's update waits for the row within seconds
                    if watcher.scalar(waiting, {"xid": xid}):
                        break
                    threading.Event().wait(0.01)
            transaction.commit()

        releaser = threading.Thread(target=commit_once_the_writer_waits)
        releaser.start()
        batch = Batch([press("HP-01", 2)] + [press(unit, 1) for unit in UNITS[1:]], T0)
        [results] = await asyncio.to_thread(commit_batches, UnitOfWork(factory), [batch], WINDOW)
        releaser.join()
    finally:
        other.close()
    assert {r.outcome for r in results} == {Outcome.STORED}
    assert len(stored(database)) == 1 + len(UNITS)
    with database.engine.connect() as connection:
        count = connection.scalar(select(incidents.event_count).where(incidents.unit_id == "HP-01"))
    assert count == 2
