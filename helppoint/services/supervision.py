"""Supervision sweep: report units that fell silent, and units that came back.

Each flip is one conditional UPDATE (`services` never trust a status read earlier), so two
sweeps racing (two processes, or a sweep overlapping itself) report a unit once. A flip to
down opens a fault incident and a maintenance ticket; a flip back to up closes that incident
if nobody has started handling it. Both are pushed to consoles after commit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from helppoint.domain.errors import InvalidInput, NotFound
from helppoint.domain.events import Priority
from helppoint.domain.model import AuditEntry, HelpPoint, Incident
from helppoint.domain.power import PowerState, next_power_state, worth_writing
from helppoint.domain.supervision import UnitFlip, UnitStatus, derive_status, uptime_fraction
from helppoint.domain.units import in_service_yet
from helppoint.services import selftest
from helppoint.services.clock import utcnow
from helppoint.services.maintenance import fixed_by_system, record_fault, ticket_view
from helppoint.services.views import incident_view, iso
from helppoint.store.uow import UnitOfWork
from helppoint.topics import Topic

OFFLINE_FAULT = "offline"
#: The longest (seconds) the other server processes' unwritten heartbeats hold a report back
#: (`sweep`'s `heard_through`): a process that has written nothing it heard for longer (its
#: writer stuck) must not keep every other unit's silence from being reported.
HOLD_AT_MOST = 30.0
BATTERY_FAULT = "battery"
MAINS_FAULT = "power"


@dataclass
class SweepResult:
    """Which units one sweep reported down and up."""

    down: list[str] = field(default_factory=list)
    up: list[str] = field(default_factory=list)


def sweep(
    uow: UnitOfWork,
    now: datetime,
    still_alive: Callable[[str], bool] = lambda unit_id: False,
    heard_through: float | None = None,
    limit: int = 1000,
) -> SweepResult:
    """Flip every due unit, each in a transaction of its own; returns what was flipped.

    `still_alive(unit_id)` says this server process heard from the unit but has not written
    it yet (the ingest queue's pending touches): such a unit is not reported down under load.
    `heard_through` (POSIX seconds): the other server processes have written every sign of
    life they heard before it, not necessarily since; a unit whose deadline falls after it
    may have been heard by one of them and is not reported down yet, for `HOLD_AT_MOST`
    seconds at most.
    """
    result = SweepResult()
    stamp = now.timestamp()
    # Due down: silent past its deadline, and the deadline before what every process has
    # written (`down_by` <= now), or HOLD_AT_MOST ago.
    down_by = stamp
    if heard_through is not None:
        down_by = min(stamp, max(heard_through, stamp - HOLD_AT_MOST))
    # Looked for without the write lock (on SQLite a write transaction holds it from its
    # BEGIN): a sweep that finds nothing due, nearly every one, never makes the event writer
    # wait. What was found is flipped only if it is still due (`flip` checks it again).
    with uow.reading():
        going_down = [u for u in uow.supervision.due_down(down_by, limit) if not still_alive(u)]
        coming_up = uow.supervision.due_up(stamp, limit)
    # One transaction a unit, its flip last: a flip locks the unit's row (on SQLite, the whole
    # database) until its commit, and the last-seen times the event writers write lock the
    # same rows. In one transaction for all of them, a sweep of hundreds of units (a network
    # cut, a busy machine) held them for seconds; a heartbeat written meanwhile waited, and
    # every event batch behind it in that writer, presses included, and the units whose
    # heartbeats waited were reported down in turn (50,000 units, docs/performance.md).
    for unit_id in going_down:
        if still_alive(unit_id):  # heard from since it was looked for
            continue
        with uow:
            # Its fault incident, ticket and audit entry are written before the flip, so the
            # unit's row is locked only from the flip to the commit.
            _went_down(uow, unit_id, now)
            uow.flush()
            if uow.supervision.flip(unit_id, "up", "down", down_by):
                uow.commit()
                result.down.append(unit_id)
    for unit_id in coming_up:
        with uow:
            # Flipped first, as before: the unit's row is locked before its fault incident's,
            # in the order the event writer locks them (it was heard: no heartbeat waits).
            if uow.supervision.flip(unit_id, "down", "up", stamp):
                _came_back(uow, unit_id, now)
                uow.commit()
                result.up.append(unit_id)
    return result


def _went_down(uow: UnitOfWork, unit_id: str, now: datetime) -> None:
    unit = uow.units.get(unit_id)
    last_seen = unit.last_seen_at if unit is not None else None
    incident = Incident(unit_id=unit_id, priority=Priority.FAULT, opened_at=now, last_event_at=now)
    uow.incidents.add(incident)
    uow.flush()
    uow.supervision.add_flip(
        UnitFlip(unit_id, now, "up", "down", last_seen_at=last_seen, incident_id=incident.id)
    )
    uow.audit.add(
        AuditEntry(
            at=now,
            actor="system:supervision",
            action="unit.down",
            incident_id=incident.id,
            detail={"unit": unit_id, "last_seen_at": iso(last_seen)},
        )
    )
    silent = f"silent since {iso(last_seen)}" if last_seen else "never heard"
    record_fault(uow, unit_id, OFFLINE_FAULT, silent, incident.id, now)
    uow.publish_after_commit(Topic.INCIDENTS, incident_view(incident, unit))
    uow.publish_after_commit(Topic.SUPERVISION, {"id": unit_id, "status": UnitStatus.DOWN.value})


def _came_back(uow: UnitOfWork, unit_id: str, now: datetime) -> None:
    unit = uow.units.get(unit_id)
    down = uow.supervision.last_flip(unit_id, "down")
    incident = (
        uow.incidents.get_for_update(down.incident_id)
        if down is not None and down.incident_id is not None
        else None
    )
    uow.supervision.add_flip(
        UnitFlip(
            unit_id,
            now,
            "down",
            "up",
            last_seen_at=unit.last_seen_at if unit is not None else None,
            incident_id=incident.id if incident is not None else None,
        )
    )
    outage = (now - down.at).total_seconds() if down is not None else None
    uow.audit.add(
        AuditEntry(
            at=now,
            actor="system:supervision",
            action="unit.recovered",
            incident_id=incident.id if incident is not None else None,
            detail={"unit": unit_id, "outage_seconds": outage},
        )
    )
    if incident is not None and incident.resolve(now, "unit back online (automatic)"):
        uow.publish_after_commit(Topic.INCIDENTS, incident_view(incident, unit))
    ticket = uow.tickets.open_for(unit_id, OFFLINE_FAULT)
    if ticket is not None and ticket.assigned_to is None and ticket.fixed_at is None:
        # The unit came back by itself: the ticket waits for someone to verify it.
        fixed_by_system(uow, ticket, now)
    uow.publish_after_commit(Topic.SUPERVISION, {"id": unit_id, "status": UnitStatus.UP.value})


@dataclass(frozen=True)
class PowerReading:
    """What a heartbeat said about power: battery share 0.0-1.0 and whether mains is present."""

    battery: float | None = None
    mains: bool | None = None


def record_power(uow: UnitOfWork, readings: dict[str, PowerReading], now: datetime) -> list[str]:
    """Keep the latest power report of each unit, in the caller's transaction.

    A battery falling low, or mains being lost (domain/power.py), opens a fault incident and a
    maintenance ticket once, when it happens (not per heartbeat); recovering marks the
    ticket fixed by the system and closes the incident if nobody is handling it. Returns the
    units whose fault state changed. Writes only what changed (or every POWER_REFRESH).
    """
    if not readings:
        return []
    stored = uow.power.states(readings)
    changed: list[str] = []
    added: list[tuple[str, PowerState]] = []
    updated: list[tuple[str, PowerState]] = []
    for unit_id, reading in readings.items():
        row = stored.get(unit_id)
        state = next_power_state(row, reading.battery, reading.mains, now)
        if row is None:
            added.append((unit_id, state))
        elif worth_writing(row, state):
            updated.append((unit_id, state))
        battery, low, lost = state.battery, state.battery_low, state.mains_lost
        was_low = row is not None and row.battery_low
        was_lost = row is not None and row.mains_lost
        percent = f"{battery:.0%}" if battery is not None else "unknown"
        if low and not was_low:
            _power_fault(uow, unit_id, BATTERY_FAULT, f"battery low: {percent}", now)
            changed.append(unit_id)
        elif was_low and not low:
            _power_restored(uow, unit_id, BATTERY_FAULT, f"battery recovered: {percent}", now)
            changed.append(unit_id)
        if lost and not was_lost:
            _power_fault(uow, unit_id, MAINS_FAULT, f"mains power lost (battery {percent})", now)
            changed.append(unit_id)
        elif was_lost and not lost:
            _power_restored(uow, unit_id, MAINS_FAULT, "mains power restored", now)
            changed.append(unit_id)
    # One statement each for all of the batch's units, not one per unit.
    uow.power.add_many(added)
    uow.power.update_many(updated)
    return changed


def _power_fault(uow: UnitOfWork, unit_id: str, fault: str, detail: str, now: datetime) -> None:
    ticket = uow.tickets.open_for(unit_id, fault)
    if ticket is not None and ticket.fixed_at is None:
        # Still being worked on: count it, and open no second incident.
        ticket.recur(now, detail)
        return
    incident = Incident(unit_id=unit_id, priority=Priority.FAULT, opened_at=now, last_event_at=now)
    uow.incidents.add(incident)
    uow.flush()
    uow.audit.add(
        AuditEntry(
            at=now,
            actor=f"unit:{unit_id}",
            action=f"unit.{fault}_fault",
            incident_id=incident.id,
            detail={"unit": unit_id, "detail": detail},
        )
    )
    record_fault(uow, unit_id, fault, detail, incident.id, now)
    uow.publish_after_commit(Topic.INCIDENTS, incident_view(incident, uow.units.get(unit_id)))


def _power_restored(uow: UnitOfWork, unit_id: str, fault: str, detail: str, now: datetime) -> None:
    ticket = uow.tickets.open_for(unit_id, fault)
    uow.audit.add(
        AuditEntry(
            at=now,
            actor=f"unit:{unit_id}",
            action=f"unit.{fault}_restored",
            incident_id=ticket.incident_id if ticket is not None else None,
            detail={"unit": unit_id, "detail": detail},
        )
    )
    if ticket is None:
        return
    if ticket.incident_id is not None:
        incident = uow.incidents.get_for_update(ticket.incident_id)
        if incident is not None and incident.resolve(now, f"{detail} (automatic)"):
            uow.publish_after_commit(
                Topic.INCIDENTS, incident_view(incident, uow.units.get(unit_id))
            )
    ticket.detail = f"{ticket.detail}; {detail}"[:1000]
    if ticket.assigned_to is None and ticket.fixed_at is None:
        # Recovered by itself: the ticket waits for someone to verify it.
        fixed_by_system(uow, ticket, now)
    else:
        uow.publish_after_commit(Topic.MAINTENANCE, ticket_view(ticket))


def health_board(uow: UnitOfWork, now: datetime, window: timedelta) -> list[dict[str, Any]]:
    """Every unit's derived status, last seen, power, open faults and uptime.

    `uptime` covers `window`; `uptime_7d` the last seven days (both from the flips).
    """
    week = now - timedelta(days=7)
    since = now - window
    earliest = min(week, since)
    with uow:
        units = uow.units.list()
        faults = uow.tickets.open_counts()
        before = {span: uow.supervision.status_before(span) for span in (since, week)}
        flips_by_unit: dict[str, list[UnitFlip]] = {}
        for flip in uow.supervision.flips(since=earliest):
            flips_by_unit.setdefault(flip.unit_id, []).append(flip)
        power = uow.power.states()
        self_tests = selftest.latest_by_unit(uow)
        due = selftest.due_times(uow)
        rows = []
        for unit in units:
            status = derive_status(
                unit.last_seen_at, unit.heartbeat_period, unit.heartbeat_grace, now
            )
            flips = flips_by_unit.get(unit.id, [])
            reading = power.get(unit.id)

            def uptime(
                start: datetime, unit: HelpPoint = unit, flips: list[UnitFlip] = flips
            ) -> float:
                # Counted from when the unit was first heard, if that was within the span:
                # the time before it was not service, neither up nor down.
                since = max(start, unit.first_seen_at or start)
                spanned = [f for f in flips if f.at >= since]
                status_before = before[start].get(unit.id, "up")
                return round(uptime_fraction(spanned, status_before, since, now), 5)

            rows.append(
                {
                    "id": unit.id,
                    "name": unit.name,
                    "zone_id": unit.zone_id,
                    "active": unit.active,
                    "status": status.value,
                    "reported_status": unit.supervision_status,
                    "last_seen_at": iso(unit.last_seen_at),
                    "heartbeat_period": unit.heartbeat_period,
                    "heartbeat_grace": unit.heartbeat_grace,
                    "firmware": unit.firmware,
                    "open_faults": faults.get(unit.id, 0),
                    # Never heard from: not in service yet, so no uptime to report (n/a).
                    "uptime": uptime(since) if in_service_yet(unit) else None,
                    "uptime_7d": uptime(week) if in_service_yet(unit) else None,
                    "battery": reading.battery if reading is not None else None,
                    "mains": reading.mains if reading is not None else None,
                    "battery_low": reading.battery_low if reading is not None else False,
                    "power_reported_at": iso(reading.reported_at) if reading is not None else None,
                    "self_test": self_tests.get(unit.id),
                    "next_self_test_at": iso(due.get(unit.id)),
                }
            )
        return rows


def set_supervision(
    uow: UnitOfWork, unit_id: str, period: int | None, grace: int | None, actor: str
) -> HelpPoint:
    """Change a unit's heartbeat period and/or grace (takes effect from its next heartbeat)."""
    unit = uow.units.get(unit_id)
    if unit is None:
        raise NotFound(f"unit {unit_id!r} does not exist")
    if period is not None:
        if not 1 <= period <= 3600:
            raise InvalidInput("heartbeat period must be 1-3600 seconds")
        unit.heartbeat_period = period
    if grace is not None:
        if not 0 <= grace <= 3600:
            raise InvalidInput("grace must be 0-3600 seconds")
        unit.heartbeat_grace = grace
    if unit.last_seen_at is not None:
        unit.alert_after = (
            unit.last_seen_at.timestamp() + unit.heartbeat_period + unit.heartbeat_grace
        )
    uow.audit.add(
        AuditEntry(
            at=utcnow(),
            actor=actor,
            action="unit.supervision_changed",
            detail={
                "unit": unit_id,
                "period": unit.heartbeat_period,
                "grace": unit.heartbeat_grace,
            },
        )
    )
    return unit
