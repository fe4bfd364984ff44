"""Scheduled self-tests: when each unit is due, claiming due runs once, and their results.

A schedule is a time of day in a time zone, set per unit, per zone (the zone's default) or
by the `self_test_at` setting (the default of every unit). Each scheduled unit has one row
in `self_test_due` with its next due time: the worker's one indexed query. Claiming a due
run moves that time to the next occurrence *after now* with a conditional UPDATE, so a run
missed while the server was down happens once, not once per missed day, and two workers
never both claim it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from helppoint.domain.errors import InvalidInput, NotFound
from helppoint.domain.events import EventType
from helppoint.domain.model import AuditEntry
from helppoint.domain.selftest import DefaultSchedule, Schedule, next_due, parse_schedule
from helppoint.services.maintenance import EventFacts
from helppoint.services.views import iso
from helppoint.store.uow import UnitOfWork
from helppoint.topics import Topic

SCHEDULER = "system:selftest"


@dataclass(frozen=True)
class Run:
    """A self-test the server asked a unit for."""

    unit_id: str
    command_id: str


# ---- schedules ---------------------------------------------------------------------------


def set_schedule(
    uow: UnitOfWork,
    actor: str,
    at_time: str,
    timezone: str,
    now: datetime,
    default: DefaultSchedule,
    unit_id: str | None = None,
    zone_id: str | None = None,
    enabled: bool = True,
) -> dict[str, Any]:
    """Set the schedule of one unit or one zone, and reschedule the units it governs."""
    if (unit_id is None) == (zone_id is None):
        raise InvalidInput("give exactly one of a unit or a zone")
    parse_schedule(at_time, timezone)
    with uow:
        if unit_id is not None and uow.units.get(unit_id) is None:
            raise NotFound(f"unit {unit_id!r} does not exist")
        if zone_id is not None and uow.zones.get(zone_id) is None:
            raise NotFound(f"zone {zone_id!r} does not exist")
        values = {
            "at_time": at_time,
            "timezone": timezone,
            "enabled": enabled,
            "updated_at": now,
            "updated_by": actor,
        }
        uow.self_tests.save_schedule(unit_id, zone_id, values)
        uow.audit.add(
            AuditEntry(
                at=now,
                actor=actor,
                action="self_test.scheduled",
                detail={
                    "unit": unit_id,
                    "zone": zone_id,
                    "at": at_time,
                    "timezone": timezone,
                    "enabled": enabled,
                },
            )
        )
        units = [unit_id] if unit_id is not None else uow.self_tests.zone_units(zone_id)
        reschedule(uow, units, now, default)
        uow.commit()
        return {
            "unit_id": unit_id,
            "zone_id": zone_id,
            "at_time": at_time,
            "timezone": timezone,
            "enabled": enabled,
        }


def schedules(uow: UnitOfWork) -> list[dict[str, Any]]:
    """Every zone's and unit's own schedule."""
    with uow:
        rows = uow.self_tests.schedules()
    return [
        {
            "unit_id": r.unit_id,
            "zone_id": r.zone_id,
            "at_time": r.at_time,
            "timezone": r.timezone,
            "enabled": r.enabled,
            "updated_at": iso(r.updated_at),
            "updated_by": r.updated_by,
        }
        for r in rows
    ]


def effective_schedules(
    uow: UnitOfWork, unit_ids: list[str], default: DefaultSchedule
) -> dict[str, Schedule | None]:
    """Each unit's schedule: its own, else its zone's, else the default (None: no tests)."""
    rows = uow.self_tests.all_schedules()
    by_unit = {r.unit_id: r for r in rows if r.unit_id is not None}
    by_zone = {r.zone_id: r for r in rows if r.zone_id is not None}
    zones = uow.self_tests.zones_of(unit_ids)
    fallback = default.schedule()
    found: dict[str, Schedule | None] = {}
    for unit_id in unit_ids:
        row = by_unit.get(unit_id) or by_zone.get(zones.get(unit_id))
        if row is None:
            found[unit_id] = fallback
        else:
            found[unit_id] = parse_schedule(row.at_time, row.timezone) if row.enabled else None
    return found


def reschedule(
    uow: UnitOfWork, unit_ids: list[str], now: datetime, default: DefaultSchedule
) -> None:
    """Set the units' next due self-test from their schedules (none: not scheduled)."""
    if not unit_ids:
        return
    schedules = effective_schedules(uow, unit_ids, default)
    rows = [
        {"unit_id": unit_id, "due_at": next_due(schedule, now)}
        for unit_id, schedule in schedules.items()
        if schedule is not None
    ]
    uow.self_tests.replace_due(unit_ids, rows)


def schedule_new_units(uow: UnitOfWork, now: datetime, default: DefaultSchedule) -> int:
    """Give units that have no due time yet (new, or never scheduled) theirs; how many."""
    missing = uow.self_tests.active_units_without_due()
    schedules = effective_schedules(uow, missing, default)
    rows = [
        {"unit_id": u, "due_at": next_due(s, now)} for u, s in schedules.items() if s is not None
    ]
    uow.self_tests.add_due(rows)
    return len(rows)


# ---- runs --------------------------------------------------------------------------------


def claim_due(
    uow: UnitOfWork, now: datetime, default: DefaultSchedule, limit: int = 200
) -> list[Run]:
    """Claim every due self-test once, moving each unit's due time past `now`; commits."""
    with uow:
        schedule_new_units(uow, now, default)
        due = uow.self_tests.due(now, limit)
        schedules = effective_schedules(uow, [unit_id for unit_id, _ in due], default)
        runs: list[Run] = []
        for unit_id, due_at in due:
            schedule = schedules.get(unit_id)
            if schedule is None:  # unscheduled since: forget it
                uow.self_tests.forget_due(unit_id, due_at)
                continue
            # The next run after *now*: however many days were missed, this is one run.
            if not uow.self_tests.move_due(unit_id, due_at, next_due(schedule, now)):
                continue  # another worker claimed it first
            runs.append(_add_run(uow, unit_id, "schedule", SCHEDULER, now))
        uow.commit()
    return runs


def request_run(uow: UnitOfWork, unit_id: str, actor: str, now: datetime) -> Run:
    """Record an operator's request for a self-test of a unit, before it is sent."""
    with uow:
        if uow.units.get(unit_id) is None:
            raise NotFound(f"unit {unit_id!r} does not exist")
        run = _add_run(uow, unit_id, "operator", actor, now)
        uow.audit.add(
            AuditEntry(at=now, actor=actor, action="self_test.requested", detail={"unit": unit_id})
        )
        uow.commit()
    return run


def _add_run(uow: UnitOfWork, unit_id: str, trigger: str, actor: str, now: datetime) -> Run:
    command_id = uuid.uuid4().hex
    uow.self_tests.add_run(
        {
            "unit_id": unit_id,
            "command_id": command_id,
            "trigger": trigger,
            "requested_by": actor,
            "requested_at": now,
            "status": "requested",
            "detail": "",
        }
    )
    return Run(unit_id, command_id)


def mark_sent(uow: UnitOfWork, run: Run, sent: bool, detail: str, now: datetime) -> None:
    """Record whether the command reached the unit (an unreachable unit is down already)."""
    with uow:
        values: dict[str, Any] = {"status": "sent" if sent else "unreachable", "detail": detail}
        if not sent:
            values["finished_at"] = now
        uow.self_tests.mark_requested_run(run.command_id, values)
        uow.publish_after_commit(Topic.SELF_TEST, {"unit_id": run.unit_id, "run": run.command_id})
        uow.commit()


def record_results(uow: UnitOfWork, events: Sequence[EventFacts]) -> None:
    """Attach self-test events that answer a run to it (in the ingest's transaction)."""
    for event in events:
        if event.type is not EventType.SELF_TEST:
            continue
        payload = event.payload or {}
        run = payload.get("run")
        if not isinstance(run, str):
            continue
        checks = payload.get("checks")
        measurements = payload.get("measurements")
        passed = payload.get("passed") is True
        uow.self_tests.finish_run(
            run,
            event.unit_id,
            {
                "status": "passed" if passed else "failed",
                "finished_at": event.received_at,
                "checks": checks if isinstance(checks, dict) else None,
                "measurements": measurements if isinstance(measurements, dict) else None,
            },
        )
        uow.publish_after_commit(Topic.SELF_TEST, {"unit_id": event.unit_id, "run": run})


def runs(uow: UnitOfWork, unit_id: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Recent self-test runs, newest first."""
    with uow:
        return [_run_view(row._mapping) for row in uow.self_tests.runs(unit_id, limit)]


def latest_by_unit(uow: UnitOfWork) -> dict[str, dict[str, Any]]:
    """Each unit's most recent self-test run (for the health board), in the caller's uow."""
    return {row.unit_id: _run_view(row._mapping) for row in uow.self_tests.latest_runs()}


def due_times(uow: UnitOfWork) -> dict[str, datetime]:
    """Each scheduled unit's next due self-test (in the caller's uow)."""
    return uow.self_tests.due_times()


def next_wake(uow: UnitOfWork) -> datetime | None:
    """When the next self-test falls due, if any."""
    with uow.reading():
        return uow.self_tests.next_due_at()


def _run_view(row: Any) -> dict[str, Any]:
    return {
        "command_id": row["command_id"],
        "unit_id": row["unit_id"],
        "trigger": row["trigger"],
        "requested_by": row["requested_by"],
        "requested_at": iso(row["requested_at"]),
        "status": row["status"],
        "finished_at": iso(row["finished_at"]),
        "checks": row["checks"],
        "measurements": row["measurements"],
        "detail": row["detail"],
    }
