"""SLA supervision: alarm the supervisor (and re-alert operators) when an alarm waits too long
to be acknowledged, and report answer times against EN 50518."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from helppoint.domain.errors import InvalidInput
from helppoint.domain.events import Priority
from helppoint.domain.model import AuditEntry, Incident, IncidentState
from helppoint.domain.sla import TARGET_30S, TARGET_60S, Alarm, Shifts, answer_times
from helppoint.services.views import incident_view, iso
from helppoint.store import tables as t
from helppoint.store.tables_sla import sla_alerts
from helppoint.store.uow import UnitOfWork

#: Broker topic of unacknowledged-alarm alerts: every console re-alerts, supervisors are told.
SLA_ALERT_TOPIC = "sla_alert"
SLA_ACTOR = "system:sla"


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


def _waiting(threshold: timedelta, now: datetime) -> list[Any]:
    c = t.incidents.c
    return [
        c.state == IncidentState.NEW.value,
        c.priority == int(Priority.ACTIVATION),
        c.on_test.is_(False),  # a unit on test raises no alarm (docs/triage.md)
        c.opened_at <= now - threshold,
        c.id.not_in(select(sla_alerts.c.incident_id)),
    ]


def alert_unacknowledged(
    uow: UnitOfWork, now: datetime, threshold: timedelta
) -> list[dict[str, Any]]:
    """Raise one alert for each alarm unacknowledged for longer than `threshold`."""
    alerts = []
    with uow:
        overdue = uow.session.scalars(
            select(Incident).where(*_waiting(threshold, now)).order_by(t.incidents.c.opened_at)
        ).all()
        for incident in overdue:
            try:
                with uow.session.begin_nested():  # another process may have raised it first
                    uow.session.execute(
                        insert(sla_alerts).values(incident_id=incident.id, alerted_at=now)
                    )
            except IntegrityError:
                continue
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
            view = incident_view(incident, uow.units.get(incident.unit_id))
            alert = {
                "incident": view,
                "waited_seconds": waited,
                "message": f"{view['ref']} at {view['unit_name']} has waited {waited} s "
                "without acknowledgement",
            }
            uow.publish_after_commit(SLA_ALERT_TOPIC, alert)
            alerts.append(alert)
        uow.commit()
    return alerts


def next_deadline(uow: UnitOfWork, threshold: timedelta) -> datetime | None:
    """When the oldest waiting, not yet alerted alarm reaches the threshold."""
    c = t.incidents.c
    with uow:
        oldest = uow.session.scalar(
            select(func.min(c.opened_at)).where(
                c.state == IncidentState.NEW.value,
                c.priority == int(Priority.ACTIVATION),
                c.on_test.is_(False),
                c.id.not_in(select(sla_alerts.c.incident_id)),
            )
        )
    return oldest + threshold if isinstance(oldest, datetime) else None


def dashboard(uow: UnitOfWork, now: datetime, since: datetime, shifts: Shifts) -> dict[str, Any]:
    """Answer times of alarms opened since `since` (overall, per operator, per shift) and the
    open queue."""
    c = t.incidents.c
    with uow:
        rows = uow.session.execute(
            select(c.opened_at, c.acknowledged_at, c.acknowledged_by).where(
                c.priority == int(Priority.ACTIVATION),
                c.on_test.is_(False),
                c.opened_at >= since,
            )
        ).all()
        queue = [
            incident_view(i, uow.units.get(i.unit_id))
            | {"waiting_seconds": int((now - i.opened_at).total_seconds())}
            for i in uow.incidents.open_queue()
            if i.state is IncidentState.NEW and i.priority is Priority.ACTIVATION and not i.on_test
        ]
    report = answer_times(
        (Alarm(r.opened_at, r.acknowledged_at, r.acknowledged_by) for r in rows), shifts, now
    )
    return {
        "now": iso(now),
        "since": iso(since),
        "targets": {"share_30s": TARGET_30S, "share_60s": TARGET_60S},
        "overall": report.overall.view(),
        "operators": [{"operator": k} | v.view() for k, v in sorted(report.operators.items())],
        "shifts": [{"shift": k} | v.view() for k, v in sorted(report.shifts.items(), reverse=True)],
        "queue": queue,
    }
