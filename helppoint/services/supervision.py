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
from helppoint.domain.supervision import UnitFlip, UnitStatus, derive_status, uptime_fraction
from helppoint.services.clock import utcnow
from helppoint.services.ingest import INCIDENTS_TOPIC
from helppoint.services.maintenance import record_fault
from helppoint.services.views import incident_view, iso
from helppoint.store.uow import UnitOfWork

SUPERVISION_TOPIC = "supervision"
OFFLINE_FAULT = "offline"


@dataclass
class SweepResult:
    """Which units one sweep reported down and up."""

    down: list[str] = field(default_factory=list)
    up: list[str] = field(default_factory=list)


def sweep(
    uow: UnitOfWork,
    now: datetime,
    still_alive: Callable[[str], bool] = lambda unit_id: False,
    limit: int = 1000,
) -> SweepResult:
    """Flip every due unit, in one transaction; returns what was flipped.

    `still_alive(unit_id)` says the server heard from the unit but has not written it yet
    (the ingest queue's pending touches): such a unit is not reported down under load.
    """
    result = SweepResult()
    stamp = now.timestamp()
    with uow:
        for unit_id in uow.supervision.due_down(stamp, limit):
            if still_alive(unit_id):
                continue
            if uow.supervision.flip(unit_id, "up", "down", stamp):
                _went_down(uow, unit_id, now)
                result.down.append(unit_id)
        for unit_id in uow.supervision.due_up(stamp, limit):
            if uow.supervision.flip(unit_id, "down", "up", stamp):
                _came_back(uow, unit_id, now)
                result.up.append(unit_id)
        if result.down or result.up:
            uow.commit()
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
    uow.publish_after_commit(INCIDENTS_TOPIC, incident_view(incident, unit))
    uow.publish_after_commit(SUPERVISION_TOPIC, {"id": unit_id, "status": UnitStatus.DOWN.value})


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
        uow.publish_after_commit(INCIDENTS_TOPIC, incident_view(incident, unit))
    ticket = uow.tickets.open_for(unit_id, OFFLINE_FAULT)
    if ticket is not None and ticket.assigned_to is None and ticket.fixed_at is None:
        # The unit came back by itself: the ticket waits for someone to verify it.
        ticket.mark_fixed("system", now)
    uow.publish_after_commit(SUPERVISION_TOPIC, {"id": unit_id, "status": UnitStatus.UP.value})


def health_board(uow: UnitOfWork, now: datetime, window: timedelta) -> list[dict[str, Any]]:
    """Every unit's derived status, last seen, open faults and uptime over `window`."""
    since = now - window
    with uow:
        units = uow.units.list()
        faults = uow.tickets.open_counts()
        before = uow.supervision.status_before(since)
        flips_by_unit: dict[str, list[UnitFlip]] = {}
        for flip in uow.supervision.flips(since=since):
            flips_by_unit.setdefault(flip.unit_id, []).append(flip)
        rows = []
        for unit in units:
            status = derive_status(
                unit.last_seen_at, unit.heartbeat_period, unit.heartbeat_grace, now
            )
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
                    "uptime": round(
                        uptime_fraction(
                            flips_by_unit.get(unit.id, []),
                            before.get(unit.id, "up"),
                            since,
                            now,
                        ),
                        5,
                    ),
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
