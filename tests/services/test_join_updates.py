"""Repeat presses update their incident at most every interval, and the latest always follows
(SQLite and PostgreSQL for what touches the database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from helppoint.domain.events import EventType
from helppoint.gateway.batch_commit import Batch, commit_batches
from helppoint.services import incidents as incident_service
from helppoint.services.ingest import ReportedEvent
from helppoint.services.join_updates import JoinUpdates
from helppoint.services.seed import seed_demo
from helppoint.store.database import make_session_factory
from helppoint.store.uow import UnitOfWork
from helppoint.topics import Topic
from tests.clock import Clock
from tests.conftest import Database

T0 = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=5)


# ---- the bookkeeping ------------------------------------------------------------------------


def test_a_join_is_published_at_once_unless_its_incident_was_updated_within_the_interval() -> None:
    clock = Clock()
    updates = JoinUpdates(0.5, clock)
    assert updates.publish_join(7)  # never updated by this writer
    updates.committed()
    clock.now += 0.2
    assert not updates.publish_join(7)  # 0.2 s after its update: owed
    assert updates.publish_join(8)  # another incident is not held back
    updates.committed()
    assert updates.owed() == 1
    assert updates.wait() == pytest.approx(0.3)  # due 0.5 s after its last update
    clock.now += 0.3
    assert updates.publish_join(7)  # the interval is over: at once, and no longer owed
    updates.committed()
    assert updates.owed() == 0 and updates.wait() is None


def test_an_incident_opened_by_the_batch_counts_as_updated() -> None:
    clock = Clock()
    updates = JoinUpdates(0.5, clock)
    updates.published(3)
    updates.committed()
    clock.now += 0.1
    assert not updates.publish_join(3)


def test_what_a_failed_batch_decided_counts_for_nothing() -> None:
    clock = Clock()
    updates = JoinUpdates(0.5, clock)
    assert updates.publish_join(1)
    updates.discard()  # rolled back: that update never went out
    assert updates.publish_join(1)
    updates.committed()
    clock.now += 0.1
    assert not updates.publish_join(1)
    updates.discard()  # the deferred join was not stored either: nothing is owed
    assert updates.owed() == 0


def test_owed_updates_are_taken_together_once_the_first_is_due() -> None:
    clock = Clock()
    updates = JoinUpdates(0.5, clock)
    for incident in (1, 2):
        updates.published(incident)
        updates.committed()
        clock.now += 0.2
    assert not updates.publish_join(1) and not updates.publish_join(2)
    updates.committed()
    assert updates.take_due() == []  # incident 1 is due at 1000.5, it is 1000.4
    clock.now += 0.1
    assert sorted(updates.take_due()) == [1, 2]  # 2 is not due until 1000.7: taken along
    assert updates.owed() == 0 and updates.take_due() == []
    assert not updates.publish_join(2)  # just published: the interval starts again
    assert updates.caught_up == 2


def test_incidents_long_since_updated_are_forgotten() -> None:
    clock = Clock()
    updates = JoinUpdates(0.5, clock)
    for incident in range(10_001):
        updates.published(incident)
    updates.committed()
    clock.now += 1
    updates.published(20_000)
    updates.committed()  # over the limit: the 10,001 old ones go
    assert len(updates._last) == 1


# ---- through the event writer -----------------------------------------------------------------


class Published:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def __call__(self, topic: str, message: dict[str, Any]) -> None:
        assert topic == Topic.INCIDENTS
        self.messages.append(message)


def press(seq: int, unit: str = "HP-01") -> ReportedEvent:
    return ReportedEvent(unit, seq, EventType.ACTIVATION, T0 + timedelta(seconds=seq))


@pytest.fixture
def seeded(database: Database) -> Database:
    seed_demo(database.uow())
    return database


def test_a_burst_of_presses_updates_the_consoles_once_then_with_the_latest_count(
    seeded: Database,
) -> None:
    clock, published = Clock(), Published()
    updates = JoinUpdates(0.5, clock)
    factory = make_session_factory(seeded.engine)

    def uow() -> UnitOfWork:
        return UnitOfWork(factory, published)

    def store(*events: ReportedEvent) -> None:
        commit_batches(uow(), [Batch(list(events), T0)], WINDOW, updates=updates)

    store(press(1))  # opens the incident: published at once
    store(press(2))  # joins moments later: owed
    store(press(3), press(1, "HP-02"))  # another unit's alarm is not held back
    assert [(m["unit_id"], m["event_count"]) for m in published.messages] == [
        ("HP-01", 1),
        ("HP-02", 1),
    ]
    updates.publish_due(uow())
    assert len(published.messages) == 2  # not due yet
    clock.now += 0.5
    updates.publish_due(uow())
    assert [(m["unit_id"], m["event_count"]) for m in published.messages[2:]] == [("HP-01", 3)]
    owed = published.messages[2]
    assert owed["unit_name"] == "Racecourse - Kettering Road gate"
    assert owed["latitude"] is not None
    clock.now += 0.6
    store(press(4))  # the interval is over: at once
    assert [(m["unit_id"], m["event_count"]) for m in published.messages[3:]] == [("HP-01", 4)]


def test_an_owed_update_shows_what_an_operator_did_meanwhile(seeded: Database) -> None:
    clock, published = Clock(), Published()
    updates = JoinUpdates(0.5, clock)
    factory = make_session_factory(seeded.engine)

    def uow() -> UnitOfWork:
        return UnitOfWork(factory, published)

    commit_batches(uow(), [Batch([press(1)], T0)], WINDOW, updates=updates)
    commit_batches(uow(), [Batch([press(2)], T0)], WINDOW, updates=updates)
    incident_id = published.messages[0]["id"]
    incident_service.acknowledge(uow(), incident_id, "op1")
    clock.now += 0.5
    updates.publish_due(uow())
    latest = published.messages[-1]
    assert (latest["id"], latest["event_count"], latest["state"]) == (
        incident_id,
        2,
        "acknowledged",
    )
    assert latest["acknowledged_by"] == "op1"


def test_without_updates_every_join_is_published(seeded: Database) -> None:
    published = Published()
    factory = make_session_factory(seeded.engine)
    for seq in (1, 2, 3):
        commit_batches(UnitOfWork(factory, published), [Batch([press(seq)], T0)], WINDOW)
    assert [m["event_count"] for m in published.messages] == [1, 2, 3]


def test_a_failed_owed_read_is_logged_and_the_writer_goes_on(
    seeded: Database, caplog: pytest.LogCaptureFixture
) -> None:
    clock, published = Clock(), Published()
    updates = JoinUpdates(0.5, clock)
    factory = make_session_factory(seeded.engine)
    commit_batches(UnitOfWork(factory, published), [Batch([press(1)], T0)], WINDOW, updates=updates)
    commit_batches(UnitOfWork(factory, published), [Batch([press(2)], T0)], WINDOW, updates=updates)
    clock.now += 0.5

    def broken() -> Any:
        raise RuntimeError("database gone")

    updates.publish_due(UnitOfWork(broken))  # type: ignore[arg-type]
    assert "could not publish the latest presses of 1 incident(s): database gone" in caplog.text
    assert updates.owed() == 0  # the next press publishes its incident again
