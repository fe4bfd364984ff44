"""The writer's KnownUnits: what batches leave is not read again, and never trusted when stale.

Each test stores batches as the writer process does (commit_batches with a KnownUnits, on
SQLite), changes the database in between as operators, supervision or another writer would,
and checks that the next batch does exactly what a writer reading everything would do.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from helppoint.domain.classification import Classification
from helppoint.domain.events import EventType, Priority
from helppoint.domain.model import Incident
from helppoint.gateway.batch_commit import Batch, commit_batches
from helppoint.services import incidents as incident_service
from helppoint.services.ingest import Outcome, ReportedEvent
from helppoint.services.known_units import KnownUnits
from helppoint.services.seed import seed_demo
from helppoint.store import tables as t
from helppoint.store.database import make_engine, make_session_factory
from helppoint.store.migrate import upgrade
from helppoint.store.uow import UnitOfWork
from tests.clock import Clock
from tests.conftest import Database

T0 = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=5)


class Writer:
    """commit_batches as the writer process runs it, with what it published."""

    def __init__(self, database: Database, known: KnownUnits | None) -> None:
        self.factory = make_session_factory(database.engine)
        self.known = known
        self.published: list[dict[str, Any]] = []

    def store(self, events: list[ReportedEvent], at: datetime) -> list[tuple[str, int | None]]:
        uow = UnitOfWork(self.factory, lambda topic, m: self.published.append(m))
        [results] = commit_batches(uow, [Batch(events, at)], WINDOW, self.known)
        return [(r.outcome.value, r.incident_id) for r in results]


def press(unit: str, seq: int, kind: EventType = EventType.ACTIVATION) -> ReportedEvent:
    return ReportedEvent(unit, seq, kind, T0, {"code": "PA"})


@pytest.fixture
def seeded(sqlite_database: Database) -> Database:
    seed_demo(sqlite_database.uow())
    return sqlite_database


def open_incidents(database: Database) -> list[tuple[str, int, str, int]]:
    i = t.incidents.c
    with database.engine.connect() as connection:
        rows = connection.execute(
            select(i.unit_id, i.priority, i.state, i.event_count).order_by(i.id)
        )
        return [(unit, int(priority), str(state), count) for unit, priority, state, count in rows]


def workload() -> list[tuple[list[ReportedEvent], datetime]]:
    """Joins, repeats and resends, a new incident after the window, faults, heartbeats."""
    return [
        ([press("HP-01", 1), press("HP-02", 1), press("HP-01", 2)], T0),
        ([press("HP-01", 3), press("HP-02", 1), press("HP-03", 1, EventType.HEARTBEAT)], T0),
        ([press("HP-02", 2), ReportedEvent("HP-02", 2, EventType.ACTIVATION, T0, {"x": 1})], T0),
        (
            [
                press("HP-01", 4),
                press("HP-03", 2, EventType.FAULT),
                ReportedEvent("HP-02", 2, EventType.ACTIVATION, T0, {"x": 1}),
            ],
            T0 + timedelta(minutes=1),
        ),
        ([press("HP-01", 5), press("HP-02", 3)], T0 + timedelta(minutes=7)),
        ([press("HP-03", 3, EventType.FAULT), press("HP-01", 6)], T0 + timedelta(minutes=8)),
    ]


def test_a_writer_that_keeps_what_it_knows_stores_and_publishes_the_same(tmp_path: Path) -> None:
    stored = []
    for name, known in (("reads", None), ("keeps", KnownUnits())):
        engine = make_engine(f"sqlite:///{tmp_path / name}.sqlite")
        upgrade(engine)
        database = Database("sqlite", str(engine.url), engine)
        seed_demo(database.uow())
        writer = Writer(database, known)
        results = [writer.store(events, at) for events, at in workload()]
        a = t.audit_entries.c
        with engine.connect() as connection:
            # (An incident's stored_at is the writer's wall clock: two runs never share it.)
            kept = [c for c in t.incidents.c if c.name != "stored_at"]
            rows = {
                t.device_events.name: [
                    tuple(row)[1:] for row in connection.execute(select(t.device_events))
                ],
                t.incidents.name: [tuple(row)[1:] for row in connection.execute(select(*kept))],
            }
            # The writer's entries (seeding's differ in their times, and so the chain).
            rows["audit"] = [
                tuple(row)
                for row in connection.execute(
                    select(a.at, a.actor, a.action, a.incident_id, a.detail)
                    .where(a.actor.like("unit:%"))
                    .order_by(a.seq)
                )
            ]
        published = [{k: v for k, v in m.items() if k != "stored_at"} for m in writer.published]
        stored.append((results, rows, published))
        engine.dispose()
    assert stored[0] == stored[1]
    results, rows, _ = stored[1]
    assert results[1][1][0] == "duplicate" and results[2][1][0] == "regressed"
    assert results[3][2][0] == "conflict"
    # HP-01, HP-02 and HP-03's fault, and each again once the join window has passed.
    assert len({incident for batch in results for _, incident in batch if incident}) == 6
    assert [row[2] for row in rows["audit"]].count("incident.opened") == 6


def test_an_incident_acknowledged_meanwhile_is_joined_as_it_now_is(seeded: Database) -> None:
    writer = Writer(seeded, KnownUnits())
    [(_, incident)] = writer.store([press("HP-01", 1)], T0)
    assert incident is not None
    incident_service.acknowledge(seeded.uow(), incident, "alice")
    writer.published.clear()
    assert writer.store([press("HP-01", 2)], T0) == [("stored", incident)]
    [view] = writer.published
    assert (view["state"], view["acknowledged_by"], view["event_count"]) == (
        "acknowledged",
        "alice",
        2,
    )


def test_after_an_incident_is_closed_the_next_alarm_opens_a_new_one(seeded: Database) -> None:
    writer = Writer(seeded, KnownUnits())
    [(_, first)] = writer.store([press("HP-01", 1)], T0)
    assert first is not None
    incident_service.acknowledge(seeded.uow(), first, "alice")
    incident_service.close(
        seeded.uow(), first, "alice", "pressed by a child", Classification.FALSE_ACCIDENTAL
    )
    [(outcome, second)] = writer.store([press("HP-01", 2)], T0)
    assert outcome == "stored" and second is not None and second != first
    assert open_incidents(seeded) == [("HP-01", 1, "closed", 1), ("HP-01", 1, "new", 1)]


def test_a_fault_incident_opened_by_supervision_meanwhile_is_joined(seeded: Database) -> None:
    known = KnownUnits()
    writer = Writer(seeded, known)
    writer.store([press("HP-01", 1, EventType.HEARTBEAT)], T0)
    with seeded.uow() as uow:  # as supervision does for a unit that fell silent
        fault = Incident(unit_id="HP-01", priority=Priority.FAULT, opened_at=T0, last_event_at=T0)
        uow.incidents.add(fault)
        uow.commit()
    assert writer.store([press("HP-01", 2, EventType.FAULT)], T0) == [("stored", fault.id)]
    assert known.forgotten == 1
    assert open_incidents(seeded) == [("HP-01", 3, "new", 2)]


def test_events_another_writer_stored_meanwhile_are_told_apart(seeded: Database) -> None:
    known = KnownUnits()
    ours, other = Writer(seeded, known), Writer(seeded, None)
    [(_, incident)] = ours.store([press("HP-01", 1)], T0)
    other.store([press("HP-01", 2), press("HP-01", 3)], T0)
    # We knew 1 as HP-01's highest seq: a resend of 2 would be stored twice, and a new 4
    # must join the incident that now counts 3 events.
    assert ours.store([press("HP-01", 2), press("HP-01", 4)], T0) == [
        ("duplicate", incident),
        ("stored", incident),
    ]
    assert open_incidents(seeded) == [("HP-01", 1, "new", 4)]


def test_a_renamed_unit_shows_its_new_name_once_its_place_is_read_again(
    seeded: Database,
) -> None:
    clock = Clock()
    writer = Writer(seeded, KnownUnits(ttl=5.0, clock=clock))
    writer.store([press("HP-01", 1)], T0)
    with seeded.session() as session:
        session.execute(
            update(t.help_points).where(t.help_points.c.id == "HP-01").values(name="Renamed")
        )
        session.commit()
    writer.store([press("HP-01", 2)], T0)
    clock.now += 5.1  # past the 5 s ttl
    writer.store([press("HP-01", 3)], T0)
    names = [m["unit_name"] for m in writer.published]
    assert names[1:] == ["Racecourse - Kettering Road gate", "Renamed"]


def test_a_batch_that_failed_leaves_nothing_known(seeded: Database) -> None:
    known = KnownUnits()
    writer = Writer(seeded, known)
    writer.store([press("HP-01", 1)], T0)
    assert len(known) == 1
    naive = datetime(2026, 12, 2, 2, 0)  # refused by the column type: the batch fails
    failed = writer.store([ReportedEvent("HP-01", 2, EventType.ACTIVATION, naive)], T0)
    assert failed == [(Outcome.NOT_STORED.value, None)]
    assert len(known) == 0
    assert writer.store([press("HP-01", 2)], T0)[0][0] == Outcome.STORED.value


def test_known_units_are_bounded(seeded: Database) -> None:
    known = KnownUnits(capacity=3)
    writer = Writer(seeded, known)
    for n in range(1, 9):
        writer.store([press(f"HP-0{n}", 1)], T0)
    assert len(known) == 3
