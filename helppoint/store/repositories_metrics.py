"""What a monitoring system reads from the database: a few counting queries, run per scrape.

Each is one indexed or small query, so a scrape every 15 s costs the database little even with
50,000 units and a million incidents (docs/deployment.md, Metrics).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, case, func, literal, select

from helppoint.domain.events import Priority
from helppoint.domain.model import IncidentState
from helppoint.domain.notifications import NotificationStatus
from helppoint.store import tables as t
from helppoint.store import tables_notifications as tn
from helppoint.store import tables_supervision as ts  # noqa: F401  (adds the units' columns)


@dataclass(frozen=True)
class OperationsReading:
    """Counts across the whole scheme (every server process sees the same)."""

    #: Incidents not closed yet, by (kind, state).
    standing: dict[tuple[str, str], int]
    #: Seconds the oldest alarm still waiting for an operator (state new, not on test) has
    #: waited since it was stored; 0 when none waits.
    oldest_waiting: float
    #: Active units by derived status: up, late, down, unknown (never heard from).
    units: dict[str, int]
    #: Notifications by status.
    notifications: dict[str, int]
    #: Notifications still pending after at least one failed attempt.
    retrying: int
    #: Seconds since the oldest notification not yet delivered (and not given up) was
    #: created; 0 when none.
    oldest_undelivered: float


def read_operations(connection: Connection, now: datetime) -> OperationsReading:
    """Read every count in a handful of queries."""
    i = t.incidents.c
    standing: dict[tuple[str, str], int] = {}
    rows = connection.execute(
        select(i.priority, i.state, func.count())
        .where(i.state != IncidentState.CLOSED)
        .group_by(i.priority, i.state)
    )
    for priority, state, count in rows:
        kind = Priority(priority).label if not isinstance(priority, Priority) else priority.label
        standing[(kind, IncidentState(state).value)] = int(count)
    oldest = connection.scalar(
        select(func.min(func.coalesce(i.stored_at, i.opened_at))).where(
            i.state == IncidentState.NEW, i.on_test.is_(False)
        )
    )
    oldest_waiting = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0

    h = t.help_points.c
    stamp = now.timestamp()
    status = case(
        (h.last_seen_at.is_(None), literal("unknown")),
        (h.alert_after < stamp, literal("down")),
        (h.alert_after - h.heartbeat_grace < stamp, literal("late")),
        else_=literal("up"),
    )
    units = dict.fromkeys(("up", "late", "down", "unknown"), 0)
    for name, count in connection.execute(
        select(status, func.count()).where(h.active.is_(True)).group_by(status)
    ):
        units[str(name)] = int(count)

    n = tn.notifications.c
    notifications = {s.value: 0 for s in NotificationStatus}
    for state, count in connection.execute(select(n.status, func.count()).group_by(n.status)):
        notifications[NotificationStatus(state).value] = int(count)
    pending = n.status == NotificationStatus.PENDING
    created, retrying = connection.execute(
        select(func.min(n.created_at), func.count().filter(n.attempts > 0)).where(pending)
    ).one()
    oldest_undelivered = max(0.0, (now - created).total_seconds()) if created is not None else 0.0
    return OperationsReading(
        standing, oldest_waiting, units, notifications, int(retrying or 0), oldest_undelivered
    )
