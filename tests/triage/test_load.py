"""Load metrics for the supervisor (issue 18, item 6), on SQLite and PostgreSQL: each alarm's
times recorded separately, alarms per operator, standing alarms, the share of time in flood."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from helppoint.domain.events import EventType
from helppoint.domain.sla import AlarmTimes, flood_share, spread
from helppoint.gateway.batch_commit import Batch, commit_batches
from helppoint.services import incidents as incident_service
from helppoint.services import sla as sla_service
from helppoint.services import triage_on_test
from helppoint.services.ingest import ReportedEvent
from helppoint.services.seed import seed_demo
from helppoint.store.database import make_session_factory
from helppoint.store.uow import UnitOfWork
from tests.conftest import Database

T0 = datetime(2026, 12, 6, 1, 0, tzinfo=UTC)


def times(opened: int, accepted: int | None, closed: int | None = None) -> AlarmTimes:
    def at(s: int | None) -> datetime | None:
        return None if s is None else T0 + timedelta(seconds=s)

    return AlarmTimes(T0 + timedelta(seconds=opened), None, None, at(accepted), "a", at(closed))


def test_flood_share_counts_the_time_enough_alarms_wait_at_once() -> None:
    alarms = [times(0, 40), times(10, 30), times(20, None, 25), times(50, None)]
    share, peak = flood_share(alarms, T0, T0 + timedelta(seconds=100), 2)
    # Two or more waiting: 10-30 s (3 at 20-25), and none after; 20 s of 100.
    assert (share, peak) == (0.2, 3)
    assert flood_share([], T0, T0 + timedelta(seconds=10), 1) == (0.0, 0)
    # Alarms before the period count only from its start.
    early = [times(-100, 10), times(-50, 20)]
    assert flood_share(early, T0, T0 + timedelta(seconds=100), 2) == (0.1, 2)


def test_spread() -> None:
    assert spread([]) == {"count": 0, "median": None, "p95": None, "max": None}
    assert spread([3.0, 1.0, 2.0]) == {"count": 3, "median": 2.0, "p95": 3.0, "max": 3.0}


@pytest.fixture
def seeded(database: Database) -> Database:
    seed_demo(database.uow())
    return database


def test_each_alarm_keeps_its_times_and_the_load_is_measured(seeded: Database) -> None:
    factory = make_session_factory(seeded.engine)
    now = datetime.now(UTC)
    pressed = now - timedelta(seconds=2)  # the unit's clock
    published: list[dict[str, Any]] = []
    uow = UnitOfWork(
        factory, lambda topic, m: published.append(m) if topic == "incidents" else None
    )
    events = [
        ReportedEvent(unit, 1, EventType.ACTIVATION, pressed, {})
        for unit in ("HP-01", "HP-02", "HP-03")
    ]
    commit_batches(uow, [Batch(events, now)], timedelta(minutes=5))
    view = published[0]
    assert view["pressed_at"] == pressed.isoformat()
    assert view["opened_at"] == now.isoformat()
    stored = datetime.fromisoformat(view["stored_at"])
    assert now <= stored <= datetime.now(UTC)
    # A unit on test is no alarm: not counted.
    triage_on_test.put_on_test(seeded.uow(), "HP-04", 10, "test", "sue")
    test_press = ReportedEvent("HP-04", 1, EventType.ACTIVATION, now, {})
    commit_batches(UnitOfWork(factory), [Batch([test_press], now)], timedelta(minutes=5))

    ids = {i["unit_id"]: i["id"] for i in incident_service.open_queue(seeded.uow())}
    incident_service.acknowledge(seeded.uow(), ids["HP-01"], "alice")
    incident_service.acknowledge(seeded.uow(), ids["HP-02"], "bob")
    later = datetime.now(UTC) + timedelta(seconds=1)
    load = sla_service.load_metrics(seeded.uow(), later, later - timedelta(hours=1), 1)
    assert load["alarms"] == 3 and load["alarms_per_hour"] == 3.0
    assert load["operators"] == [
        {"operator": "alice", "accepted": 1, "per_hour": 1.0},
        {"operator": "bob", "accepted": 1, "per_hour": 1.0},
    ]
    assert (load["standing"], load["waiting"]) == (3, 1)
    assert 0 < load["flood_share"] < 1 and load["peak_waiting"] == 3
    steps = load["times"]
    assert steps["press_to_received"]["count"] == 3
    assert steps["press_to_received"]["median"] == pytest.approx(2.0, abs=0.01)
    assert steps["received_to_stored"]["count"] == 3 and steps["received_to_stored"]["max"] >= 0
    assert steps["received_to_accepted"]["count"] == 2


def test_supervisors_read_the_load_and_the_schemes_targets(server_factory: Any) -> None:
    from helppoint.domain.model import Role
    from tests.web.test_api import client

    server = server_factory(sla_targets="10:80,40:98.5")
    sue = client(server, "sue", Role.SUPERVISOR)
    assert client(server, "alice").get("/api/sla/load").status_code == 403
    load = sue.get("/api/sla/load", params={"hours": 2})
    assert load.status_code == 200 and load.json()["alarms"] == 0
    assert sue.get("/api/sla/load", params={"hours": 0}).status_code == 422
    report = sue.get("/api/sla").json()
    assert report["targets"] == [{"seconds": 10, "share": 0.8}, {"seconds": 40, "share": 0.985}]
    assert report["targets_label"] == "the scheme's targets: 80% within 10 s, 98.5% within 40 s"
    page = sue.get("/supervisor").text
    assert "the scheme&#39;s targets" in page or "the scheme's targets" in page
    assert "80% within 10 s" in page and "EN 50518" not in page
