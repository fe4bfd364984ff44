"""SLA alerts and the answer-time dashboard on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import event

from helppoint.domain.errors import InvalidInput
from helppoint.domain.events import EventType
from helppoint.domain.sla import Shifts
from helppoint.services import incidents, sla
from helppoint.services.ingest import ReportedEvent, handle_device_events
from helppoint.services.seed import seed_demo
from helppoint.services.units import ensure_zone, provision_unit

NOW = datetime.now(UTC)
LIMIT = timedelta(seconds=30)


def opened(database: Any, unit: str, ago: int, event: EventType = EventType.ACTIVATION) -> int:
    at = NOW - timedelta(seconds=ago)
    uow = database.uow()
    with uow:
        [result] = handle_device_events(
            uow, [ReportedEvent(unit, 1, event, at, {})], at, timedelta(minutes=5)
        )
        uow.commit()
    assert result.incident_id is not None
    return result.incident_id


@pytest.fixture
def seeded(database: Any) -> Any:
    seed_demo(database.uow())
    return database


def test_unacknowledged_alarms_alert_once(seeded: Any) -> None:
    late = opened(seeded, "HP-01", 45)
    opened(seeded, "HP-02", 10)  # not yet
    answered = opened(seeded, "HP-03", 50)
    incidents.acknowledge(seeded.uow(), answered, "alice")
    opened(seeded, "HP-04", 90, EventType.FAULT)  # not an alarm
    assert sla.next_deadline(seeded.uow(), LIMIT) is not None
    alerts = sla.alert_unacknowledged(seeded.uow(), NOW, LIMIT)
    assert [a["incident"]["id"] for a in alerts] == [late]
    assert alerts[0]["waited_seconds"] >= 45 and "without acknowledgement" in alerts[0]["message"]
    assert sla.alert_unacknowledged(seeded.uow(), NOW, LIMIT) == []
    uow = seeded.uow()
    with uow:
        rows, _ = uow.audit.search(action="incident.sla_breached")
    assert [(e.actor, e.incident_id) for e in rows] == [("system:sla", late)]
    deadline = sla.next_deadline(seeded.uow(), LIMIT)
    assert deadline is not None and deadline > NOW  # only HP-02's alarm is left to watch


def test_a_flood_falling_due_together_is_alerted_in_short_transactions(database: Any) -> None:
    # A flood's alarms fall due together: each is alerted once, but in transactions of at
    # most ALERTS_PER_TRANSACTION (one for all of them held SQLite's write lock, and the event
    # writer's commits behind it, for as long as thousands of alerts took).
    count = 2 * sla.ALERTS_PER_TRANSACTION + 50
    at = NOW - timedelta(seconds=60)
    uow = database.uow()
    with uow:
        ensure_zone(uow, "flood", "Flood")
        uow.flush()
        for n in range(count):
            provision_unit(uow, f"F{n:04d}", f"Flood {n}", "flood", 52.0, -1.0, actor="test")
        uow.commit()
    uow = database.uow()
    with uow:
        events = [ReportedEvent(f"F{n:04d}", 1, EventType.ACTIVATION, at, {}) for n in range(count)]
        handle_device_events(uow, events, at, timedelta(minutes=5))
        uow.commit()
    commits: list[int] = []

    def committed(_connection: Any) -> None:
        commits.append(1)

    event.listen(database.engine, "commit", committed)
    try:
        alerts = sla.alert_unacknowledged(database.uow(), NOW, LIMIT)
    finally:
        event.remove(database.engine, "commit", committed)
    assert len({a["incident"]["id"] for a in alerts}) == len(alerts) == count
    assert {a["incident"]["unit_name"] for a in alerts} == {f"Flood {n}" for n in range(count)}
    assert len(commits) == 3
    assert sla.alert_unacknowledged(database.uow(), NOW, LIMIT) == []


def test_dashboard_per_operator_and_queue(seeded: Any) -> None:
    fast = opened(seeded, "HP-01", 100)
    slow = opened(seeded, "HP-02", 100)
    opened(seeded, "HP-03", 5)
    incidents.acknowledge(seeded.uow(), fast, "alice")
    incidents.acknowledge(seeded.uow(), slow, "bob")
    # Make bob's answer late: acknowledged 70 s after the alarm.
    uow = seeded.uow()
    with uow:
        incident = uow.incidents.get(slow)
        incident.acknowledged_at = incident.opened_at + timedelta(seconds=70)
        uow.commit()
    report = sla.dashboard(
        seeded.uow(), datetime.now(UTC), NOW - timedelta(hours=1), Shifts((time(7), time(19)))
    )
    by_operator = {r["operator"]: r for r in report["operators"]}
    [_, bob_60] = by_operator["bob"]["targets"]
    assert (bob_60["seconds"], bob_60["within"], bob_60["meets"]) == (60, 0, False)
    assert by_operator["(not acknowledged)"]["waiting"] == 1
    assert report["overall"]["alarms"] == 3
    assert [i["unit_id"] for i in report["queue"]] == ["HP-03"]
    assert sum(s["alarms"] for s in report["shifts"]) == 3


def test_shift_setting_is_checked() -> None:
    assert sla.parse_shifts("07:00, 19:00", "Europe/London").starts == (time(7), time(19))
    with pytest.raises(InvalidInput, match="not HH:MM"):
        sla.parse_shifts("7am", "Europe/London")
