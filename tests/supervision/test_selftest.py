"""Scheduled self-tests: due times, claiming once, results, the agent's checks, the API."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from helppoint.agent.backoff import Backoff
from helppoint.agent.hardware import virtual_hardware
from helppoint.agent.light import LightPattern
from helppoint.agent.link import DeviceLink
from helppoint.agent.outbox import Outbox
from helppoint.agent.selftest import PowerSupply, SimulatedAcousticPath, acoustic_loopback
from helppoint.agent.unit import Agent
from helppoint.domain.errors import InvalidInput, NotFound
from helppoint.domain.events import EventType
from helppoint.domain.model import Role
from helppoint.domain.selftest import DefaultSchedule, next_due, parse_schedule
from helppoint.services import selftest
from helppoint.services.ingest import ReportedEvent, handle_device_events
from helppoint.services.seed import seed_demo
from helppoint.services.selftest import claim_due
from helppoint.store.tables_selftest import self_test_due
from helppoint.workers.selftest import SelfTestWorker
from tests.waiting import eventually

from .test_web import client

LONDON = DefaultSchedule("03:00", "Europe/London")
# 25 November 2026, 12:00 UTC (London is on GMT in November).
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_next_due_is_the_next_local_time_of_day() -> None:
    winter = parse_schedule("03:00", "Europe/London")
    assert next_due(winter, T0) == datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
    assert next_due(winter, datetime(2026, 11, 26, 2, 59, tzinfo=UTC)) == datetime(
        2026, 11, 26, 3, 0, tzinfo=UTC
    )
    # Exactly at the time: the next one is tomorrow (a run never repeats itself).
    assert next_due(winter, datetime(2026, 11, 26, 3, 0, tzinfo=UTC)) == datetime(
        2026, 11, 27, 3, 0, tzinfo=UTC
    )
    # British Summer Time: 03:00 local is 02:00 UTC.
    assert next_due(winter, datetime(2026, 7, 1, 12, 0, tzinfo=UTC)) == datetime(
        2026, 7, 2, 2, 0, tzinfo=UTC
    )
    # 01:30 does not exist in London on 29 March 2026: it still runs once that night.
    gap = parse_schedule("01:30", "Europe/London")
    due = next_due(gap, datetime(2026, 3, 28, 12, 0, tzinfo=UTC))
    assert datetime(2026, 3, 29, 0, 0, tzinfo=UTC) < due < datetime(2026, 3, 29, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("at", "zone", "message"),
    [
        ("3:00", "Europe/London", "HH:MM"),
        ("24:00", "Europe/London", "HH:MM"),
        ("ab:cd", "Europe/London", "HH:MM"),
        ("03:00", "Mars/Olympus", "time zone"),
        ("03:00", "../etc/passwd", "time zone"),
    ],
)
def test_bad_schedules_are_refused(at: str, zone: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_schedule(at, zone)


@pytest.fixture
def seeded(database):  # type: ignore[no-untyped-def]
    seed_demo(database.uow())
    return database


def due(database) -> dict[str, datetime]:  # type: ignore[no-untyped-def]
    with database.session() as session:
        rows = session.execute(select(self_test_due.c.unit_id, self_test_due.c.due_at))
        return {unit_id: due_at for unit_id, due_at in rows}


def test_each_due_run_is_claimed_once(seeded) -> None:  # type: ignore[no-untyped-def]
    assert claim_due(seeded.uow(), T0, LONDON) == []
    tomorrow = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
    assert set(due(seeded).values()) == {tomorrow}
    assert len(due(seeded)) == 8
    runs = claim_due(seeded.uow(), tomorrow + timedelta(seconds=1), LONDON)
    assert sorted(r.unit_id for r in runs) == [f"HP-0{n}" for n in range(1, 9)]
    assert claim_due(seeded.uow(), tomorrow + timedelta(seconds=2), LONDON) == []
    assert set(due(seeded).values()) == {tomorrow + timedelta(days=1)}


def test_runs_missed_while_down_run_once(seeded) -> None:  # type: ignore[no-untyped-def]
    claim_due(seeded.uow(), T0, LONDON)
    # The server was off for four days: on start, every unit is tested once, not four times.
    back = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    runs = claim_due(seeded.uow(), back, LONDON)
    assert len(runs) == 8 and len({r.unit_id for r in runs}) == 8
    assert set(due(seeded).values()) == {datetime(2026, 12, 1, 3, 0, tzinfo=UTC)}


def test_zone_and_unit_schedules(seeded) -> None:  # type: ignore[no-untyped-def]
    claim_due(seeded.uow(), T0, LONDON)
    with seeded.uow() as uow:
        zone = uow.units.get("HP-01").zone_id  # type: ignore[union-attr]
        zone_units = [u.id for u in uow.units.list() if u.zone_id == zone]
    selftest.set_schedule(seeded.uow(), "ada", "22:30", "Europe/London", T0, LONDON, zone_id=zone)
    selftest.set_schedule(
        seeded.uow(), "ada", "04:15", "Europe/London", T0, LONDON, unit_id="HP-01"
    )
    selftest.set_schedule(
        seeded.uow(),
        "ada",
        "04:15",
        "Europe/London",
        T0,
        LONDON,
        unit_id=zone_units[-1],
        enabled=False,
    )
    times = due(seeded)
    assert times["HP-01"] == datetime(2026, 11, 26, 4, 15, tzinfo=UTC)
    for unit_id in zone_units[1:-1]:
        assert times[unit_id] == datetime(2026, 11, 25, 22, 30, tzinfo=UTC)
    assert zone_units[-1] not in times
    # Re-setting the zone does not override a unit's own schedule.
    selftest.set_schedule(seeded.uow(), "ada", "23:00", "Europe/London", T0, LONDON, zone_id=zone)
    assert due(seeded)["HP-01"] == datetime(2026, 11, 26, 4, 15, tzinfo=UTC)
    listed = selftest.schedules(seeded.uow())
    assert {(s["unit_id"], s["zone_id"]) for s in listed} == {
        (None, zone),
        ("HP-01", None),
        (zone_units[-1], None),
    }


def test_bad_schedule_changes_nothing(seeded) -> None:  # type: ignore[no-untyped-def]
    claim_due(seeded.uow(), T0, LONDON)
    before = due(seeded)
    with pytest.raises(InvalidInput):
        selftest.set_schedule(
            seeded.uow(), "ada", "03:00", "Nowhere/City", T0, LONDON, unit_id="HP-01"
        )
    with pytest.raises(InvalidInput):
        selftest.set_schedule(seeded.uow(), "ada", "03:00", "UTC", T0, LONDON)
    with pytest.raises(NotFound):
        selftest.set_schedule(seeded.uow(), "ada", "03:00", "UTC", T0, LONDON, unit_id="HP-99")
    assert due(seeded) == before and selftest.schedules(seeded.uow()) == []


def test_no_default_schedules_nothing(seeded) -> None:  # type: ignore[no-untyped-def]
    assert claim_due(seeded.uow(), T0, DefaultSchedule("", "UTC")) == []
    assert due(seeded) == {}


def test_results_reach_the_run_and_a_failure_opens_a_ticket(seeded) -> None:  # type: ignore[no-untyped-def]
    run = selftest.request_run(seeded.uow(), "HP-02", "olive", T0)
    payload = {
        "passed": False,
        "checks": {"light": True, "camera": True, "speaker": False, "microphone": False},
        "measurements": {"loopback": {"snr_db": 1.2}},
        "run": run.command_id,
    }
    with seeded.uow() as uow:
        handle_device_events(
            uow,
            [ReportedEvent("HP-02", 1, EventType.SELF_TEST, T0, payload)],
            T0,
            timedelta(minutes=5),
        )
        uow.commit()
    [view] = selftest.runs(seeded.uow(), "HP-02")
    assert view["status"] == "failed" and view["trigger"] == "operator"
    assert view["checks"]["speaker"] is False and view["measurements"]["loopback"]["snr_db"] == 1.2
    with seeded.uow() as uow:
        [ticket] = uow.tickets.list(open_only=True)
    assert ticket.fault == "self_test" and "microphone, speaker" in ticket.detail


class RecordingHub:
    """Stands in for the device link hub: records commands; some units are offline."""

    def __init__(self, offline: set[str]) -> None:
        self.sent: list[tuple[str, str, dict[str, Any]]] = []
        self.offline = offline

    async def send_command(
        self, unit_id: str, command: str, args: dict[str, Any], command_id: str | None = None
    ) -> str:
        if unit_id in self.offline:
            raise LookupError(f"unit {unit_id} is not connected")
        self.sent.append((unit_id, command, args))
        return command_id or ""


async def test_worker_sends_due_runs_and_records_offline_units(seeded) -> None:  # type: ignore[no-untyped-def]
    now = [T0]
    hub = RecordingHub({"HP-08"})
    worker = SelfTestWorker(seeded.uow, hub, LONDON, clock=lambda: now[0])
    try:
        assert await worker.run_once() == []
        now[0] = datetime(2026, 11, 26, 3, 0, 5, tzinfo=UTC)
        runs = await worker.run_once()
        assert len(runs) == 8 and worker.sent == 7
        assert {u for u, c, a in hub.sent} == {f"HP-0{n}" for n in range(1, 8)}
        assert all(c == "self_test" and "run" in a for _, c, a in hub.sent)
        assert await worker.run_once() == []  # nothing twice
    finally:
        await worker.stop()
    [offline] = selftest.runs(seeded.uow(), "HP-08")
    assert offline["status"] == "unreachable" and "not connected" in offline["detail"]
    [sent] = selftest.runs(seeded.uow(), "HP-01")
    assert sent["status"] == "sent" and sent["trigger"] == "schedule"


# ---- the agent ---------------------------------------------------------------------------


def test_loopback_tells_a_working_path_from_a_dead_one() -> None:
    path = SimulatedAcousticPath(rng=__import__("random").Random(5))
    good = acoustic_loopback(path)
    assert good.passed and good.snr_db > 30
    assert not acoustic_loopback(path, speaker_ok=False).passed
    assert not acoustic_loopback(path, microphone_ok=False).passed
    # A path drowned in noise fails too.
    assert not acoustic_loopback(SimulatedAcousticPath(noise=2.0, rng=path.rng)).passed


def test_a_silent_path_never_passes_by_chance() -> None:
    # The noise floor was one band: in about one loop-back in a hundred the noise alone stood
    # 20 dB above it, and a unit with a dead speaker passed its self-test (seed 0-299 found it).
    import random

    for seed in range(300):
        path = SimulatedAcousticPath(rng=random.Random(seed))
        assert not acoustic_loopback(path, speaker_ok=False).passed, seed
    for seed in range(20):
        assert acoustic_loopback(SimulatedAcousticPath(rng=random.Random(seed))).passed, seed


def test_power_supply_drains_without_mains() -> None:
    clock = [0.0]
    power = PowerSupply(battery=0.5, mains=False, drain_per_hour=0.1, clock=lambda: clock[0])
    clock[0] = 3600.0
    assert power.reading() == {"battery": 0.4, "mains": False}
    power.set_mains(True)
    clock[0] = 7200.0
    assert power.battery == pytest.approx(0.65)
    with pytest.raises(ValueError):
        power.set_battery(1.5)


def test_agent_self_test_checks_every_part(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite")
    agent = Agent("HP-01", outbox, virtual_hardware(bounce_time=0.0), alarm_light_seconds=None)
    try:
        result = agent.execute("self_test", {"run": "r1"})
        assert result.ok and result.detail == "self-test passed"
        assert agent.hardware.light.pattern is LightPattern.OFF  # put back as it was
        event = agent.last_event
        assert event is not None and event.type == "self_test"
        assert event.payload["run"] == "r1" and event.payload["passed"] is True
        assert event.payload["measurements"]["loopback"]["snr_db"] > 20
        agent.injected_faults.add("microphone")
        agent.injected_faults.add("camera")
        result = agent.run_self_test()
        assert not result.ok and result.detail == "self-test failed: camera, speaker, microphone"
        checks = agent.last_event.payload["checks"]  # type: ignore[union-attr]
        assert checks == {"light": True, "camera": False, "speaker": False, "microphone": False}
        status = agent.status()
        assert status["battery"] == 1.0 and status["mains"] is True
    finally:
        agent.close()
        outbox.close()


async def test_operator_starts_a_self_test_and_the_failure_reaches_the_board(  # type: ignore[no-untyped-def]
    server_factory, tmp_path: Path
) -> None:
    server = server_factory(self_test_at="")
    operator = client(server, "olive", Role.OPERATOR)
    outbox = Outbox(tmp_path / "outbox.sqlite")
    agent = Agent("HP-06", outbox, virtual_hardware(bounce_time=0.0), alarm_light_seconds=None)
    link = DeviceLink(
        server.device_url,
        "HP-06",
        server.key("HP-06"),
        outbox,
        status=agent.status,
        backoff=Backoff(base=0.01, cap=0.05),
    )
    agent.attach(link)
    agent.injected_faults.add("speaker")
    task = asyncio.create_task(link.run())
    try:
        await eventually(lambda: link.state.value == "connected", what="the unit linking")
        offline = await asyncio.to_thread(operator.post, "/api/units/HP-07/self-test")
        assert offline.status_code == 409 and "not connected" in offline.json()["detail"]
        missing = await asyncio.to_thread(operator.post, "/api/units/HP-99/self-test")
        assert missing.status_code == 404
        started = await asyncio.to_thread(operator.post, "/api/units/HP-06/self-test")
        assert started.status_code == 200, started.text
        run_id = started.json()["id"]

        async def finished() -> list[dict[str, Any]] | None:
            runs = (await asyncio.to_thread(operator.get, "/api/units/HP-06/self-tests")).json()
            return runs if runs and runs[0]["status"] in ("passed", "failed") else None

        runs = await eventually(finished, every=0.05, what="the self-test finishing")
        assert runs[0]["command_id"] == run_id and runs[0]["status"] == "failed"
        assert runs[0]["checks"]["speaker"] is False and runs[0]["checks"]["light"] is True
        board = (await asyncio.to_thread(operator.get, "/api/health/units")).json()
        row = next(r for r in board if r["id"] == "HP-06")
        assert row["self_test"]["status"] == "failed" and row["open_faults"] == 1
        tickets = (await asyncio.to_thread(operator.get, "/api/maintenance/tickets")).json()
        assert [(t["unit_id"], t["fault"]) for t in tickets] == [("HP-06", "self_test")]
        # Schedules are for admins.
        refused = await asyncio.to_thread(
            operator.put,
            "/api/self-tests/schedules",
            json={"unit_id": "HP-06", "at_time": "03:00", "timezone": "UTC"},
        )
        assert refused.status_code == 403
    finally:
        link.stop()
        await asyncio.wait_for(task, 10)
        agent.close()
        outbox.close()


def test_admin_sets_a_schedule_over_the_api(server_factory) -> None:  # type: ignore[no-untyped-def]
    server = server_factory()
    admin = client(server, "ada", Role.ADMIN)
    bad = admin.put(
        "/api/self-tests/schedules",
        json={"zone_id": "nowhere", "at_time": "03:00", "timezone": "Europe/London"},
    )
    assert bad.status_code == 404
    bad = admin.put(
        "/api/self-tests/schedules",
        json={"unit_id": "HP-01", "at_time": "03:00", "timezone": "Atlantis/Capital"},
    )
    assert bad.status_code == 400 and "time zone" in bad.json()["detail"]
    ok = admin.put(
        "/api/self-tests/schedules",
        json={"unit_id": "HP-01", "at_time": "04:30", "timezone": "UTC"},
    )
    assert ok.status_code == 200, ok.text
    listed = admin.get("/api/self-tests/schedules").json()
    assert listed["default"] == {"at_time": "03:00", "timezone": "Europe/London"}
    assert [(s["unit_id"], s["at_time"]) for s in listed["schedules"]] == [("HP-01", "04:30")]
    row = next(r for r in admin.get("/api/health/units").json() if r["id"] == "HP-01")
    assert row["next_self_test_at"].startswith(datetime.now(UTC).date().isoformat()[:4])
    assert "T04:30:00" in row["next_self_test_at"]
