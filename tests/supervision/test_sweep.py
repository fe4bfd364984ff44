"""The supervision sweep with a controllable clock, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import random
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from helppoint.domain.classification import Classification
from helppoint.domain.events import EventType, Priority
from helppoint.domain.model import HelpPoint, IncidentState
from helppoint.domain.supervision import TicketState
from helppoint.services import maintenance
from helppoint.services.ingest import ReportedEvent, handle_device_events
from helppoint.services.seed import seed_demo
from helppoint.services.supervision import health_board, set_supervision, sweep
from helppoint.workers.supervision import SupervisionWorker
from tests.write_locks import transactions

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def s(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def seeded(database):  # type: ignore[no-untyped-def]
    seed_demo(database.uow())
    with database.uow() as uow:
        set_supervision(uow, "HP-01", 10, 8, "test")
        uow.commit()
    return database


def heard(database, unit_ids, at) -> None:  # type: ignore[no-untyped-def]
    with database.uow() as uow:
        uow.units.touch(list(unit_ids), at)
        uow.commit()


def test_silent_unit_is_reported_down_at_its_deadline(seeded) -> None:  # type: ignore[no-untyped-def]
    heard(seeded, ["HP-01"], T0)
    assert sweep(seeded.uow(), s(17.9)).down == []
    result = sweep(seeded.uow(), s(18.1))
    assert result.down == ["HP-01"]
    with seeded.uow() as uow:
        unit = uow.units.get("HP-01")
        assert unit is not None and unit.supervision_status == "down"
        [flip] = uow.supervision.flips("HP-01")
        assert (flip.old_status, flip.new_status, flip.last_seen_at) == ("up", "down", T0)
        incident = uow.incidents.get(flip.incident_id)  # type: ignore[arg-type]
        assert incident is not None
        assert incident.priority is Priority.FAULT and incident.state is IncidentState.NEW
        [ticket] = uow.tickets.list(open_only=True)
        assert (ticket.unit_id, ticket.fault) == ("HP-01", "offline")


def test_units_never_heard_are_not_reported(seeded) -> None:  # type: ignore[no-untyped-def]
    assert sweep(seeded.uow(), s(10_000)).down == []


def test_down_is_reported_once_however_many_sweeps(seeded) -> None:  # type: ignore[no-untyped-def]
    heard(seeded, ["HP-01"], T0)
    assert sweep(seeded.uow(), s(20)).down == ["HP-01"]
    assert sweep(seeded.uow(), s(21)).down == []
    with seeded.uow() as uow:
        # A second worker that read the unit as due before the first flipped it loses the race.
        assert uow.supervision.flip("HP-01", "up", "down", s(22).timestamp()) is False
        assert len(uow.supervision.flips("HP-01")) == 1
        assert uow.incidents.count() == 1


def test_recovered_unit_is_up_and_its_incident_closed(seeded) -> None:  # type: ignore[no-untyped-def]
    heard(seeded, ["HP-01"], T0)
    sweep(seeded.uow(), s(20))
    heard(seeded, ["HP-01"], s(60))
    result = sweep(seeded.uow(), s(60.5))
    assert result.up == ["HP-01"]
    with seeded.uow() as uow:
        unit = uow.units.get("HP-01")
        assert unit is not None and unit.supervision_status == "up"
        down, up = uow.supervision.flips("HP-01")
        assert up.new_status == "up" and up.incident_id == down.incident_id
        incident = uow.incidents.get(down.incident_id)  # type: ignore[arg-type]
        assert incident is not None and incident.state is IncidentState.CLOSED
        assert incident.classification is Classification.TECHNICAL
        assert incident.closed_by == "system"
        [ticket] = uow.tickets.list(open_only=True)
        assert ticket.state is TicketState.FIXED and ticket.fixed_by == "system"
    # ... and it is supervised again from its new heartbeat.
    assert sweep(seeded.uow(), s(78.1)).down == ["HP-01"]


def test_unit_heard_but_not_yet_written_is_not_reported(seeded) -> None:  # type: ignore[no-untyped-def]
    heard(seeded, ["HP-01"], T0)
    assert sweep(seeded.uow(), s(30), still_alive=lambda unit_id: True).down == []
    assert sweep(seeded.uow(), s(30)).down == ["HP-01"]


def test_a_sweep_that_finds_nothing_due_takes_no_write_lock(seeded) -> None:  # type: ignore[no-untyped-def]
    heard(seeded, ["HP-01"], T0)
    worker = SupervisionWorker(seeded.uow, clock=lambda: s(10))
    with transactions(seeded.engine) as began:
        sweep(seeded.uow(), s(10))
        worker._sweep_once()
    assert began.writing == 0
    # A due unit is flipped in one write transaction.
    with transactions(seeded.engine) as began:
        sweep(seeded.uow(), s(20))
    assert began.writing == 1
    with seeded.uow() as uow:
        assert [f.new_status for f in uow.supervision.flips("HP-01")] == ["down"]


def writable_now(database, unit_id: str) -> bool:  # type: ignore[no-untyped-def]
    """Whether another server process could write the unit's row (its last-seen time) now,
    without waiting: on PostgreSQL the row is not locked, on SQLite the write lock is free."""
    if database.kind == "sqlite":
        probe = sqlite3.connect(database.url.removeprefix("sqlite:///"), timeout=0)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.rollback()
            return True
        except sqlite3.OperationalError:  # database is locked
            return False
        finally:
            probe.close()
    engine = create_engine(database.url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(
                text("SELECT id FROM help_points WHERE id = :u FOR UPDATE NOWAIT"), {"u": unit_id}
            )
            conn.rollback()
            return True
    except OperationalError:  # could not obtain lock on row
        return False
    finally:
        engine.dispose()


def test_a_sweep_holds_no_unit_it_reported_while_it_reports_the_next(seeded) -> None:  # type: ignore[no-untyped-def]
    # Three units silent at once (a busy machine, a network cut): while the sweep reports the
    # later ones, the heartbeats other processes write must not wait for it. In one
    # transaction for all, the first unit's row stayed locked until the last was done: at
    # 50,000 units a sweep of 800 held a writer's heartbeats, and the presses behind them in
    # that writer, for 15 s, and more units went down because of it.
    units = ["HP-01", "HP-02", "HP-03"]
    with seeded.uow() as uow:
        for unit_id in units:
            set_supervision(uow, unit_id, 10, 8, "test")
        uow.commit()
    heard(seeded, units, T0)
    looks: list[str] = []
    free_while_flipping: dict[str, bool] = {}

    def still_alive(unit_id: str) -> bool:
        looks.append(unit_id)
        if len(looks) > len(units):  # the second look, just before the unit is flipped
            for done in units[: units.index(unit_id)]:
                free_while_flipping[done] = writable_now(seeded, done)
        return False

    assert sweep(seeded.uow(), s(30), still_alive=still_alive).down == units
    assert free_while_flipping == {"HP-01": True, "HP-02": True}
    with seeded.uow() as uow:  # each reported once, with its fault incident
        flips = [f for u in units for f in uow.supervision.flips(u)]
        assert [(f.unit_id, f.new_status) for f in flips] == [(u, "down") for u in units]
        assert all(f.incident_id is not None for f in flips)


def test_a_unit_is_not_reported_while_another_process_may_hold_its_heartbeat(seeded) -> None:  # type: ignore[no-untyped-def]
    # HP-01: heard at 0 s, period 10 s + grace 8 s: due at 18 s. The other server processes
    # have written everything they heard before `heard_through`: a heartbeat heard by one of
    # them at 17 s may still be unwritten while that is before 18 s.
    heard(seeded, ["HP-01"], T0)
    assert sweep(seeded.uow(), s(30), heard_through=s(17.5).timestamp()).down == []
    worker = SupervisionWorker(seeded.uow, clock=lambda: s(30))
    result, _ = worker._sweep_once(s(17.9).timestamp())
    assert result.down == []
    # Once they have written all they heard before its deadline, it is reported: the bound
    # is the deadline's, not the sweep's clock.
    assert sweep(seeded.uow(), s(30), heard_through=s(18.1).timestamp()).down == ["HP-01"]
    with seeded.uow() as uow:
        assert [f.new_status for f in uow.supervision.flips("HP-01")] == ["down"]


def test_a_process_that_writes_nothing_holds_reports_back_for_a_while_only(seeded) -> None:  # type: ignore[no-untyped-def]
    # Its writer stuck: what it heard stays unwritten, and its bound with it. The silence of
    # every other unit must still be reported, HOLD_AT_MOST late at worst.
    from helppoint.services.supervision import HOLD_AT_MOST

    heard(seeded, ["HP-01"], T0)  # due at 18 s
    stuck = s(5).timestamp()
    assert sweep(seeded.uow(), s(18 + HOLD_AT_MOST - 1), heard_through=stuck).down == []
    assert sweep(seeded.uow(), s(18 + HOLD_AT_MOST + 1), heard_through=stuck).down == ["HP-01"]


def test_a_unit_heard_while_the_sweep_looked_is_not_reported(seeded) -> None:  # type: ignore[no-untyped-def]
    heard(seeded, ["HP-01"], T0)
    asked: list[str] = []

    def heard_on_second_look(unit_id: str) -> bool:
        asked.append(unit_id)
        return len(asked) > 1

    assert sweep(seeded.uow(), s(30), still_alive=heard_on_second_look).down == []
    assert asked == ["HP-01", "HP-01"]


def test_out_of_service_unit_is_not_reported(seeded) -> None:  # type: ignore[no-untyped-def]
    heard(seeded, ["HP-01"], T0)
    with seeded.uow() as uow:
        uow.units.get("HP-01").active = False  # type: ignore[union-attr]
        uow.commit()
    assert sweep(seeded.uow(), s(60)).down == []


def test_health_board_shows_status_faults_and_uptime(seeded) -> None:  # type: ignore[no-untyped-def]
    heard(seeded, ["HP-01", "HP-02"], T0)
    sweep(seeded.uow(), s(20))
    heard(seeded, ["HP-01"], s(120))
    sweep(seeded.uow(), s(120))
    board = {row["id"]: row for row in health_board(seeded.uow(), s(125), timedelta(seconds=125))}
    assert board["HP-01"]["status"] == "up"
    assert board["HP-01"]["open_faults"] == 1  # the offline ticket waits for verification
    assert board["HP-01"]["uptime"] == pytest.approx(0.2)  # reported down from 20 s to 120 s
    assert board["HP-02"]["status"] == "down"  # derived: silent for 125 s > 30 s + 8 s
    assert board["HP-02"]["reported_status"] == "down"  # by the sweep at 120 s
    assert board["HP-02"]["uptime"] == pytest.approx(0.96)
    assert board["HP-03"]["status"] == "unknown"


def test_uptime_on_the_health_board_counts_from_when_a_unit_was_first_heard(seeded) -> None:  # type: ignore[no-untyped-def]
    heard(seeded, ["HP-02"], s(100))  # installed and first heard 100 s into the window
    sweep(seeded.uow(), s(150))  # silent for 50 s: reported down
    board = {row["id"]: row for row in health_board(seeded.uow(), s(200), timedelta(seconds=200))}
    # Down 50 s of the 100 s since first heard: 50%, not 75% of the whole window.
    assert board["HP-02"]["reported_status"] == "down"
    assert board["HP-02"]["uptime"] == pytest.approx(0.5)
    assert board["HP-02"]["uptime_7d"] == pytest.approx(0.5)
    assert board["HP-03"]["uptime"] is None  # never heard from: n/a


def test_fault_events_become_tickets(seeded) -> None:  # type: ignore[no-untyped-def]
    stuck = ReportedEvent(
        "HP-02", 1, EventType.FAULT, T0, {"fault": "button_stuck", "detail": "held 60 s"}
    )
    again = ReportedEvent("HP-02", 2, EventType.FAULT, s(5), {"fault": "button_stuck"})
    test = ReportedEvent(
        "HP-02", 3, EventType.SELF_TEST, s(6), {"passed": False, "checks": {"light": False}}
    )
    with seeded.uow() as uow:
        handle_device_events(uow, [stuck, again, test], s(7), timedelta(minutes=5))
        uow.commit()
    with seeded.uow() as uow:
        tickets = {t.fault: t for t in uow.tickets.list(open_only=True)}
    assert set(tickets) == {"button_stuck", "self_test"}
    assert tickets["button_stuck"].occurrences == 2
    assert tickets["self_test"].detail == "failed: light"
    ticket_id = tickets["button_stuck"].id
    assert ticket_id is not None
    maintenance.assign(seeded.uow, ticket_id, "eve", "sam")
    maintenance.mark_fixed(seeded.uow, ticket_id, "eve")
    view = maintenance.verify(seeded.uow, ticket_id, "sam")
    assert view["state"] == "verified"


@pytest.mark.slow
def test_thousands_of_heartbeating_units_are_never_reported_down(database) -> None:  # type: ignore[no-untyped-def]
    seed_demo(database.uow())
    count, period = 3000, 10
    ids = [f"LOAD-{i:05d}" for i in range(count)]
    with database.uow() as uow:
        for unit_id in ids:
            uow.units.add(
                HelpPoint(
                    id=unit_id,
                    name=unit_id,
                    zone_id="racecourse",
                    latitude=52.0,
                    longitude=0.0,
                    heartbeat_period=period,
                    heartbeat_grace=8,
                )
            )
        uow.commit()
    rng = random.Random(5)
    # Each unit heartbeats every `period` s, at its own phase, with up to 1 s of jitter
    # (network and the ingest queue's batching); the sweep runs every simulated second.
    phase = {unit_id: rng.uniform(0, period) for unit_id in ids}
    for second in range(90):
        due = [u for u in ids if (second - phase[u]) % period < 1 and rng.random() > 0.0]
        heard(database, due, s(second + rng.uniform(0, 1)))
        assert sweep(database.uow(), s(second + 1)).down == []
    # And a unit that stops is still caught among them.
    silent = ids[17]
    last = max(second for second in range(90) if (second - phase[silent]) % period < 1)
    for second in range(90, 120):
        due = [u for u in ids if u != silent and (second - phase[u]) % period < 1]
        heard(database, due, s(second))
        down = sweep(database.uow(), s(second + 1)).down
        if down:
            assert down == [silent]
            assert second + 1 - last <= period + 8 + 2
            break
    else:
        pytest.fail("the silent unit was never reported down")


async def test_the_worker_says_once_that_another_process_holds_nothing_back_any_more(
    seeded, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    worker = SupervisionWorker(
        seeded.uow, clock=lambda: s(100), heard_through=lambda: s(10).timestamp()
    )
    try:
        with caplog.at_level(logging.WARNING, logger="helppoint.workers.supervision"):
            await worker._round()
            await worker._round()
    finally:
        await worker.stop()
    said = [r for r in caplog.records if "has not written the heartbeats" in r.getMessage()]
    assert len(said) == 1
