"""The event writer writes a unit's last-seen time at most once an interval, the latest always
(services/unit_touches.py; SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from helppoint.domain.events import EventType
from helppoint.gateway.batch_commit import Batch, commit_batches
from helppoint.services.ingest import Outcome, ReportedEvent
from helppoint.services.seed import seed_demo
from helppoint.services.unit_touches import UnitTouches, next_wait
from helppoint.store import tables as t

T0 = datetime(2026, 12, 6, 22, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=5)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def seeded(database):  # type: ignore[no-untyped-def]
    seed_demo(database.uow())
    return database


def press(unit: str, seq: int) -> ReportedEvent:
    return ReportedEvent(unit, seq, EventType.ACTIVATION, T0, {"code": "PA"})


def last_seen(database) -> dict[str, datetime | None]:  # type: ignore[no-untyped-def]
    with database.engine.connect() as connection:
        rows = connection.execute(select(t.help_points.c.id, t.help_points.c.last_seen_at))
        return {unit: at if at is None else at.replace(tzinfo=UTC) for unit, at in rows}


def store(database, touches, events, at, heard=()):  # type: ignore[no-untyped-def]
    [results] = commit_batches(
        database.uow(), [Batch(events, at, touched=list(heard))], WINDOW, touches=touches
    )
    assert all(r.outcome is Outcome.STORED for r in results)


def test_a_unit_heard_again_within_the_interval_is_written_once_it_is_due(seeded) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    touches = UnitTouches(interval=1.0, clock=clock)
    store(seeded, touches, [press("HP-01", 1), press("HP-02", 1)], T0)
    assert last_seen(seeded)["HP-01"] == T0
    assert touches.wait() is None  # nothing owed

    clock.now += 0.3
    later = T0 + timedelta(seconds=0.3)
    store(seeded, touches, [press("HP-01", 2)], later)
    clock.now += 0.3
    latest = T0 + timedelta(seconds=0.6)
    store(seeded, touches, [press("HP-01", 3)], latest)
    # Not written yet (the event itself is stored): owed, at the latest time it was heard.
    assert last_seen(seeded)["HP-01"] == T0
    assert touches.owed() == {"HP-01": latest}
    assert touches.wait() == pytest.approx(0.4)

    touches.write_due(seeded.uow())  # not due yet: nothing happens
    assert last_seen(seeded)["HP-01"] == T0
    clock.now += 0.4
    assert touches.wait() == 0
    touches.write_due(seeded.uow())
    assert last_seen(seeded)["HP-01"] == latest
    assert last_seen(seeded)["HP-02"] == T0
    assert touches.owed() == {} and touches.wait() is None


def test_a_batch_after_the_interval_writes_the_unit_at_once_and_owes_nothing(seeded) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    touches = UnitTouches(interval=1.0, clock=clock)
    store(seeded, touches, [press("HP-01", 1)], T0)
    clock.now += 0.5
    store(seeded, touches, [press("HP-01", 2)], T0 + timedelta(seconds=0.5))
    clock.now += 0.5
    then = T0 + timedelta(seconds=1)
    store(seeded, touches, [press("HP-01", 3)], then)
    assert last_seen(seeded)["HP-01"] == then
    assert touches.owed() == {}


def test_a_heartbeat_written_with_a_batch_settles_what_the_unit_was_owed(seeded) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    touches = UnitTouches(interval=1.0, clock=clock)
    store(seeded, touches, [press("HP-01", 1)], T0)
    clock.now += 0.2
    store(seeded, touches, [press("HP-01", 2)], T0 + timedelta(seconds=0.2))
    assert "HP-01" in touches.owed()
    clock.now += 0.2
    beat = T0 + timedelta(seconds=0.4)
    store(seeded, touches, [press("HP-02", 1)], beat, heard=["HP-01"])
    # Written at the heartbeat's (later) time, and not owed any more: never moved back.
    assert last_seen(seeded)["HP-01"] == beat
    assert touches.owed() == {}


def test_a_failed_batch_writes_and_owes_nothing(seeded) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    touches = UnitTouches(interval=1.0, clock=clock)
    store(seeded, touches, [press("HP-01", 1)], T0)
    assert touches.due(["HP-01", "HP-02"], T0) == ["HP-02"]
    touches.discard()
    assert touches.owed() == {}
    # HP-02's write was not committed: it is still due at once.
    assert touches.due(["HP-02"], T0) == ["HP-02"]


def test_the_soonest_of_what_is_owed_is_waited_for() -> None:
    assert next_wait(None, None) is None
    assert next_wait(0.4, None, 0.1) == 0.1
