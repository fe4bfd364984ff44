"""Battery and mains from heartbeats: kept, shown, and faulted once per change."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from websockets.asyncio.client import connect

from helppoint.domain.events import Priority
from helppoint.domain.model import IncidentState
from helppoint.domain.supervision import TicketState
from helppoint.gateway.frames import FrameError, HeartbeatFrame, parse_frame
from helppoint.services.seed import seed_demo
from helppoint.services.supervision import PowerReading, health_board, record_power
from helppoint.store.tables import audit_entries
from helppoint.store.tables_selftest import unit_power
from tests.waiting import eventually

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def seeded(database):  # type: ignore[no-untyped-def]
    seed_demo(database.uow())
    return database


def report(database, when: datetime, **readings: PowerReading) -> list[str]:  # type: ignore[no-untyped-def]
    with database.uow() as uow:
        changed = record_power(uow, {k.replace("_", "-"): v for k, v in readings.items()}, when)
        uow.commit()
    return changed


def tickets(database, fault: str) -> list[Any]:  # type: ignore[no-untyped-def]
    with database.uow() as uow:
        return [t for t in uow.tickets.list() if t.fault == fault]


def test_low_battery_opens_one_fault_however_many_heartbeats(seeded) -> None:  # type: ignore[no-untyped-def]
    assert report(seeded, at(0), HP_01=PowerReading(0.9, True)) == []
    assert report(seeded, at(10), HP_01=PowerReading(0.15, True)) == ["HP-01"]
    for n in range(2, 6):
        assert report(seeded, at(10 * n), HP_01=PowerReading(0.14, True)) == []
    # Above the low mark but below the recovery mark: still low, no flapping.
    assert report(seeded, at(70), HP_01=PowerReading(0.25, True)) == []
    [ticket] = tickets(seeded, "battery")
    assert ticket.state is TicketState.OPEN and ticket.occurrences == 1
    assert "15%" in ticket.detail
    with seeded.uow() as uow:
        incident = uow.incidents.get(ticket.incident_id)
        assert incident is not None and incident.priority is Priority.FAULT
        assert uow.incidents.count() == 1
    with seeded.session() as session:
        actions = list(session.scalars(select(audit_entries.c.action)))
    assert actions.count("unit.battery_fault") == 1


def test_battery_recovery_marks_the_ticket_fixed_and_closes_the_incident(seeded) -> None:  # type: ignore[no-untyped-def]
    report(seeded, at(0), HP_02=PowerReading(0.1, True))
    assert report(seeded, at(3600), HP_02=PowerReading(0.35, True)) == ["HP-02"]
    [ticket] = tickets(seeded, "battery")
    assert ticket.state is TicketState.FIXED and ticket.fixed_by == "system"
    assert "recovered" in ticket.detail
    with seeded.uow() as uow:
        incident = uow.incidents.get(ticket.incident_id)
        assert incident is not None and incident.state is IncidentState.CLOSED
    # Low again later: the fixed ticket is not reused, a new one opens.
    assert report(seeded, at(7200), HP_02=PowerReading(0.05, True)) == ["HP-02"]
    assert len(tickets(seeded, "battery")) == 2


def test_mains_lost_and_restored(seeded) -> None:  # type: ignore[no-untyped-def]
    assert report(seeded, at(0), HP_03=PowerReading(0.95, False)) == ["HP-03"]
    assert report(seeded, at(30), HP_03=PowerReading(0.94, False)) == []
    [ticket] = tickets(seeded, "power")
    assert ticket.state is TicketState.OPEN and "mains power lost" in ticket.detail
    # A battery-only report keeps the known mains state.
    assert report(seeded, at(40), HP_03=PowerReading(0.93, None)) == []
    assert report(seeded, at(60), HP_03=PowerReading(None, True)) == ["HP-03"]
    [ticket] = tickets(seeded, "power")
    assert ticket.state is TicketState.FIXED
    rows = {r["id"]: r for r in health_board(seeded.uow(), at(61), timedelta(hours=24))}
    assert rows["HP-03"]["mains"] is True
    assert rows["HP-03"]["battery"] == pytest.approx(0.93)
    assert rows["HP-01"]["battery"] is None and rows["HP-01"]["mains"] is None


def test_an_assigned_ticket_counts_a_repeat_instead_of_a_new_incident(seeded) -> None:  # type: ignore[no-untyped-def]
    from helppoint.services import maintenance

    report(seeded, at(0), HP_04=PowerReading(0.1, True))
    [ticket] = tickets(seeded, "battery")
    maintenance.assign(seeded.uow, ticket.id, "eve", "sup")
    report(seeded, at(10), HP_04=PowerReading(0.5, True))  # recovered: stays with eve
    report(seeded, at(20), HP_04=PowerReading(0.1, True))  # low again
    [ticket] = tickets(seeded, "battery")
    assert ticket.state is TicketState.ASSIGNED and ticket.occurrences == 2
    with seeded.uow() as uow:
        assert uow.incidents.count() == 1


@pytest.mark.parametrize(
    "status",
    [{"battery": 1.5}, {"battery": -0.1}, {"battery": "full"}, {"battery": True}, {"mains": "on"}],
)
def test_bad_power_fields_are_refused(status: dict[str, Any]) -> None:
    with pytest.raises(FrameError, match="status field"):
        parse_frame(json.dumps({"type": "heartbeat", "status": status}))


def test_power_fields_are_optional() -> None:
    frame = parse_frame(json.dumps({"type": "heartbeat", "status": {"light": "off"}}))
    assert isinstance(frame, HeartbeatFrame)
    assert (frame.battery, frame.mains) == (None, None)
    frame = parse_frame(json.dumps({"type": "heartbeat", "status": {"battery": 1, "mains": False}}))
    assert isinstance(frame, HeartbeatFrame) and (frame.battery, frame.mains) == (1.0, False)


def stored_battery(database, unit_id: str) -> float | None:  # type: ignore[no-untyped-def]
    with database.session() as session:
        value = session.scalar(select(unit_power.c.battery).where(unit_power.c.unit_id == unit_id))
        return float(value) if value is not None else None


async def test_heartbeats_over_the_link_open_one_battery_fault(live_server_any) -> None:  # type: ignore[no-untyped-def]
    server = live_server_any
    async with connect(server.device_url) as ws:
        await ws.send(json.dumps({"type": "hello", "unit": "HP-05", "key": server.key("HP-05")}))
        assert json.loads(await ws.recv())["type"] == "welcome"
        for battery in (0.12, 0.11, 0.1):
            await ws.send(
                json.dumps({"type": "heartbeat", "status": {"battery": battery, "mains": True}})
            )
            assert json.loads(await ws.recv())["type"] == "heartbeat_ack"
        await ws.send(json.dumps({"type": "heartbeat", "status": {"battery": 7}}))
        error = json.loads(await ws.recv())
        assert error["type"] == "error" and "battery" in error["message"]
        await eventually(lambda: tickets(server.database, "battery"))
        # A later low heartbeat is recorded, and opens nothing more.
        await ws.send(json.dumps({"type": "heartbeat", "status": {"battery": 0.09}}))
        assert json.loads(await ws.recv())["type"] == "heartbeat_ack"
        await eventually(lambda: stored_battery(server.database, "HP-05") == 0.09)
        [ticket] = tickets(server.database, "battery")
        assert ticket.unit_id == "HP-05" and ticket.occurrences == 1
        rows = {
            r["id"]: r
            for r in health_board(server.database.uow(), datetime.now(UTC), timedelta(hours=1))
        }
        assert rows["HP-05"]["battery_low"] is True
        assert rows["HP-05"]["battery"] == 0.09 and rows["HP-05"]["mains"] is True


def test_a_batch_of_many_units_stores_each_ones_state(seeded) -> None:  # type: ignore[no-untyped-def]
    # The writer stores a batch's power reports together (one statement for the new rows, one
    # for the changed ones): each unit still gets its own state, and unchanged ones are kept.
    first = {
        "HP_01": PowerReading(0.9, True),
        "HP_02": PowerReading(0.8, True),
        "HP_03": PowerReading(None, None),
    }
    assert report(seeded, at(0), **first) == []
    assert report(
        seeded,
        at(10),
        HP_01=PowerReading(0.5, True),  # changed
        HP_02=PowerReading(0.8, True),  # unchanged: not written
        HP_03=PowerReading(0.7, False),  # changed, and mains lost
        HP_04=PowerReading(1.0, True),  # new
    ) == ["HP-03"]
    with seeded.engine.connect() as conn:
        rows = {
            r.unit_id: (r.battery, r.mains, r.reported_at.replace(tzinfo=UTC), r.mains_lost)
            for r in conn.execute(select(unit_power))
        }
    assert rows == {
        "HP-01": (0.5, True, at(10), False),
        "HP-02": (0.8, True, at(0), False),
        "HP-03": (0.7, False, at(10), True),
        "HP-04": (1.0, True, at(10), False),
    }
