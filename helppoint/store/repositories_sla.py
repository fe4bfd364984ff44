"""What SLA supervision reads and writes (services/sla.py): alarms waiting to be acknowledged,
the one alert raised per alarm (table sla_alerts), and the times of alarms over a span.

An alarm is an activation incident of a unit not on test (a unit on test raises no alarm,
docs/triage.md); one is waiting while it is still new.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from helppoint.domain.events import Priority
from helppoint.domain.model import Incident, IncidentState
from helppoint.domain.sla import Alarm, AlarmTimes
from helppoint.store import tables as t
from helppoint.store.tables_sla import sla_alerts


def _alarms() -> list[Any]:
    c = t.incidents.c
    return [c.priority == int(Priority.ACTIVATION), c.on_test.is_(False)]


def _waiting_unalerted() -> list[Any]:
    c = t.incidents.c
    return [
        *_alarms(),
        c.state == IncidentState.NEW.value,
        c.id.not_in(select(sla_alerts.c.incident_id)),
    ]


class SlaRepository:
    """Overdue alarms, their alerts, and alarm times."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def overdue(
        self, now: datetime, threshold: timedelta, limit: int | None = None
    ) -> list[Incident]:
        """Alarms waiting since `now - threshold` or longer with no alert yet, oldest first
        (at most `limit`)."""
        c = t.incidents.c
        query = (
            select(Incident)
            .where(*_waiting_unalerted(), c.opened_at <= now - threshold)
            .order_by(c.opened_at, c.id)
            .limit(limit)
        )
        return list(self.session.scalars(query))

    def mark_alerted(self, incident_ids: Sequence[int], at: datetime) -> set[int]:
        """Record the alerts of these alarms in one statement; the ids recorded now (an alarm
        another process recorded first is left out)."""
        if not incident_ids:
            return set()
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = (
            insert(sla_alerts)
            .values([{"incident_id": i, "alerted_at": at} for i in incident_ids])
            .on_conflict_do_nothing()
            .returning(sla_alerts.c.incident_id)
        )
        return set(self.session.scalars(statement))

    def oldest_unalerted(self) -> datetime | None:
        """When the oldest waiting alarm with no alert yet was opened."""
        query = select(func.min(t.incidents.c.opened_at)).where(*_waiting_unalerted())
        oldest = self.session.scalar(query)
        return oldest if isinstance(oldest, datetime) else None

    def alarms_since(self, since: datetime) -> list[Alarm]:
        """Alarms opened since `since`, with who acknowledged them and when."""
        c = t.incidents.c
        rows = self.session.execute(
            select(c.opened_at, c.acknowledged_at, c.acknowledged_by).where(
                *_alarms(), c.opened_at >= since
            )
        )
        return [Alarm(*row) for row in rows]

    def alarm_times(self, since: datetime, now: datetime) -> list[AlarmTimes]:
        """The times of every alarm opened before `now` and not closed before `since`."""
        c = t.incidents.c
        rows = self.session.execute(
            select(
                c.opened_at,
                c.pressed_at,
                c.stored_at,
                c.acknowledged_at,
                c.acknowledged_by,
                c.closed_at,
            ).where(
                *_alarms(),
                c.opened_at < now,
                or_(c.closed_at.is_(None), c.closed_at >= since),
            )
        )
        return [AlarmTimes(*row) for row in rows]
