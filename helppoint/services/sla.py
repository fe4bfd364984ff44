"""SLA supervision: alarm the supervisor (and re-alert operators) when an alarm waits too long
to be acknowledged, report answer times against the scheme's targets, and the load on the
control room (docs/sla.md)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from helppoint.config import Settings
from helppoint.domain.errors import InvalidInput
from helppoint.domain.events import Priority
from helppoint.domain.model import AuditEntry, IncidentState
from helppoint.domain.sla import (
    AnswerTargets,
    Shifts,
    accepted_per_operator,
    answer_times,
    flood_share,
    parse_targets,
    spread,
)
from helppoint.services.views import incident_view, iso
from helppoint.store.uow import UnitOfWork
from helppoint.topics import SlaAlertMessage, Topic

SLA_ACTOR = "system:sla"


def scheme_targets(settings: Settings) -> AnswerTargets:
    """The scheme's answer-time targets (setting sla_targets, checked when settings load)."""
    return parse_targets(settings.sla_targets)


def parse_shifts(text: str, timezone: str) -> Shifts:
    """Shift start times from 'HH:MM,HH:MM'."""
    starts = []
    for part in text.split(","):
        try:
            hours, minutes = part.strip().split(":")
            starts.append(time(int(hours), int(minutes)))
        except ValueError:
            raise InvalidInput(f"shift start {part.strip()!r} is not HH:MM") from None
    if not starts:
        raise InvalidInput("at least one shift start time is needed")
    return Shifts(tuple(starts), timezone)


#: Alerts raised in one transaction: the thousands of alarms of a flood that fall due together
#: are alerted in transactions of this many, so none holds SQLite's write lock (and the
#: event writer's commits behind it) for long.
ALERTS_PER_TRANSACTION = 200


def alert_unacknowledged(
    uow: UnitOfWork, now: datetime, threshold: timedelta
) -> list[SlaAlertMessage]:
    """Raise one alert for each alarm unacknowledged for longer than `threshold`."""
    alerts: list[SlaAlertMessage] = []
    with uow.reading():  # most rounds find none: then no write lock is taken (SQLite)
        if not uow.sla.overdue(now, threshold, limit=1):
            return alerts
    while True:
        with uow:
            overdue = uow.sla.overdue(now, threshold, limit=ALERTS_PER_TRANSACTION)
            raised = uow.sla.mark_alerted([i.id for i in overdue if i.id is not None], now)
            units = {u.id: u for u in uow.units.load(sorted({i.unit_id for i in overdue}))}
            for incident in overdue:
                if incident.id not in raised:
                    continue  # another process raised it first
                waited = int((now - incident.opened_at).total_seconds())
                uow.audit.add(
                    AuditEntry(
                        at=now,
                        actor=SLA_ACTOR,
                        action="incident.sla_breached",
                        incident_id=incident.id,
                        detail={"waited_seconds": waited, "limit_seconds": threshold.seconds},
                    )
                )
                view = incident_view(incident, units.get(incident.unit_id))
                alert: SlaAlertMessage = {
                    "incident": view,
                    "waited_seconds": waited,
                    "message": f"{view['ref']} at {view['unit_name']} has waited {waited} s "
                    "without acknowledgement",
                }
                uow.publish_after_commit(Topic.SLA_ALERT, alert)
                alerts.append(alert)
            uow.commit()
        if len(overdue) < ALERTS_PER_TRANSACTION:
            return alerts


def next_deadline(uow: UnitOfWork, threshold: timedelta) -> datetime | None:
    """When the oldest waiting, not yet alerted alarm reaches the threshold."""
    with uow.reading():
        oldest = uow.sla.oldest_unalerted()
    return oldest + threshold if oldest is not None else None


def dashboard(
    uow: UnitOfWork,
    now: datetime,
    since: datetime,
    shifts: Shifts,
    targets: AnswerTargets | None = None,
    min_alarms: int = 1,
) -> dict[str, Any]:
    """Answer times of alarms opened since `since` against the scheme's targets (overall, per
    operator, per shift) and the open queue; a group of fewer than `min_alarms` alarms is
    shown but not judged (sla_min_alarms)."""
    targets = targets or parse_targets(Settings().sla_targets)
    with uow:
        alarms = uow.sla.alarms_since(since)
        queue = [
            incident_view(i, uow.units.get(i.unit_id))
            | {"waiting_seconds": int((now - i.opened_at).total_seconds())}
            for i in uow.incidents.open_queue()
            if i.state is IncidentState.NEW and i.priority is Priority.ACTIVATION and not i.on_test
        ]
    report = answer_times(
        alarms,
        shifts,
        now,
        targets,
    )
    return {
        "now": iso(now),
        "since": iso(since),
        "targets": targets.view(),
        "targets_label": targets.label,
        "min_alarms": min_alarms,
        "overall": report.overall.view(min_alarms),
        "operators": [
            {"operator": k} | v.view(min_alarms) for k, v in sorted(report.operators.items())
        ],
        "shifts": [
            {"shift": k} | v.view(min_alarms)
            for k, v in sorted(report.shifts.items(), reverse=True)
        ],
        "queue": queue,
    }


def load_metrics(
    uow: UnitOfWork, now: datetime, since: datetime, flood_waiting: int
) -> dict[str, Any]:
    """The load on the control room from `since` to `now` (alarms of units on test left out):
    alarms accepted per hour by each operator, the alarms standing now, the share of the time
    in flood (at least `flood_waiting` alarms waiting at once), and the spread of each step of
    an alarm's times: press to receipt (unit clocks drift), receipt to store (the unit's
    acknowledgement follows), receipt to acceptance by an operator."""
    with uow:
        alarms = uow.sla.alarm_times(since, now)
    hours = max((now - since).total_seconds() / 3600, 1e-9)
    share, peak = flood_share(alarms, since, now, flood_waiting)
    received = [a for a in alarms if a.opened_at >= since]
    per_operator = accepted_per_operator(alarms, since, now)
    return {
        "since": iso(since),
        "now": iso(now),
        "alarms": len(received),
        "alarms_per_hour": round(len(received) / hours, 3),
        "operators": [
            {"operator": who, "accepted": n, "per_hour": round(n / hours, 3)}
            for who, n in sorted(per_operator.items())
        ],
        "standing": sum(1 for a in alarms if a.closed_at is None),
        "waiting": sum(1 for a in alarms if a.closed_at is None and a.accepted_at is None),
        "flood_waiting": flood_waiting,
        "flood_share": round(share, 4),
        "peak_waiting": peak,
        "times": {
            "press_to_received": spread(
                [_seconds(a.pressed_at, a.opened_at) for a in received if a.pressed_at]
            ),
            "received_to_stored": spread(
                [_seconds(a.opened_at, a.stored_at) for a in received if a.stored_at]
            ),
            "received_to_accepted": spread(
                [_seconds(a.opened_at, a.accepted_at) for a in received if a.accepted_at]
            ),
        },
    }


def _seconds(start: datetime | None, end: datetime | None) -> float:
    assert start is not None and end is not None
    return (end - start).total_seconds()
