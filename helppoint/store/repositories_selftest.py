"""The self-test tables: schedules, each unit's next due time, and the runs asked of units.

The rules (what a schedule means, when it next comes round) are domain/selftest.py; the use
cases are services/selftest.py, which reach these tables only through this repository.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from helppoint.store import tables as t
from helppoint.store.tables_selftest import self_test_due, self_test_runs, self_test_schedules


class SelfTestRepository:
    """Schedules, due times (claimed with one conditional UPDATE each) and runs."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # -- schedules --------------------------------------------------------------------------

    def save_schedule(
        self, unit_id: str | None, zone_id: str | None, values: Mapping[str, Any]
    ) -> None:
        """Set the schedule of one unit or one zone (its row is made if it has none)."""
        c = self_test_schedules.c
        scope = c.unit_id == unit_id if unit_id is not None else c.zone_id == zone_id
        changed = self.session.execute(update(self_test_schedules).where(scope).values(**values))
        if changed.rowcount == 0:  # type: ignore[attr-defined]
            self.session.execute(
                insert(self_test_schedules).values(unit_id=unit_id, zone_id=zone_id, **values)
            )

    def schedules(self) -> Sequence[Row[Any]]:
        """Every zone's and unit's own schedule, zones first."""
        c = self_test_schedules.c
        return self.session.execute(
            select(self_test_schedules).order_by(c.zone_id, c.unit_id)
        ).all()

    def all_schedules(self) -> Sequence[Row[Any]]:
        """Every schedule row, in no order."""
        return self.session.execute(select(self_test_schedules)).all()

    def zone_units(self, zone_id: str | None) -> list[str]:
        """The ids of a zone's units."""
        c = t.help_points.c
        return list(self.session.scalars(select(c.id).where(c.zone_id == zone_id)))

    def zones_of(self, unit_ids: Sequence[str]) -> dict[str, str]:
        """Each of these units' zone."""
        c = t.help_points.c
        rows = self.session.execute(select(c.id, c.zone_id).where(c.id.in_(unit_ids))).all()
        return {unit_id: zone_id for unit_id, zone_id in rows}

    # -- due times --------------------------------------------------------------------------

    def replace_due(self, unit_ids: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> None:
        """Forget these units' due times, then store `rows` ({unit_id, due_at})."""
        self.session.execute(delete(self_test_due).where(self_test_due.c.unit_id.in_(unit_ids)))
        self.add_due(rows)

    def add_due(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Store due times ({unit_id, due_at}) of units that have none."""
        if rows:
            self.session.execute(insert(self_test_due), list(rows))

    def active_units_without_due(self) -> list[str]:
        """Units in service with no due time yet (new, or never scheduled)."""
        c = t.help_points.c
        return list(
            self.session.scalars(
                select(c.id)
                .outerjoin(self_test_due, self_test_due.c.unit_id == c.id)
                .where(self_test_due.c.unit_id.is_(None), c.active.is_(True))
            )
        )

    def due(self, now: datetime, limit: int) -> list[tuple[str, datetime]]:
        """(unit, due time) of self-tests due by `now`, oldest first."""
        c = self_test_due.c
        rows = self.session.execute(
            select(c.unit_id, c.due_at).where(c.due_at <= now).order_by(c.due_at).limit(limit)
        ).all()
        return [(unit_id, due_at) for unit_id, due_at in rows]

    def forget_due(self, unit_id: str, due_at: datetime) -> None:
        """Drop a unit's due time (it is no longer scheduled)."""
        c = self_test_due.c
        self.session.execute(delete(self_test_due).where(c.unit_id == unit_id, c.due_at == due_at))

    def move_due(self, unit_id: str, due_at: datetime, next_at: datetime) -> bool:
        """Claim a due run by moving its time on; False if another worker claimed it first."""
        c = self_test_due.c
        claimed = self.session.execute(
            update(self_test_due)
            .where(c.unit_id == unit_id, c.due_at == due_at)
            .values(due_at=next_at)
        )
        return claimed.rowcount == 1  # type: ignore[attr-defined,no-any-return]

    def due_times(self) -> dict[str, datetime]:
        """Each scheduled unit's next due self-test."""
        c = self_test_due.c
        return {
            unit_id: due_at
            for unit_id, due_at in self.session.execute(select(c.unit_id, c.due_at)).all()
        }

    def next_due_at(self) -> datetime | None:
        """When the next self-test falls due, if any."""
        value: datetime | None = self.session.scalar(select(func.min(self_test_due.c.due_at)))
        return value

    # -- runs -------------------------------------------------------------------------------

    def add_run(self, values: Mapping[str, Any]) -> None:
        """Record a run asked of a unit."""
        self.session.execute(insert(self_test_runs).values(**values))

    def mark_requested_run(self, command_id: str, values: Mapping[str, Any]) -> None:
        """Change a run that is still only requested (sent, or the unit unreachable)."""
        c = self_test_runs.c
        self.session.execute(
            update(self_test_runs)
            .where(c.command_id == command_id, c.status == "requested")
            .values(**values)
        )

    def finish_run(self, command_id: str, unit_id: str, values: Mapping[str, Any]) -> None:
        """Record the unit's answer to a run that has none yet."""
        c = self_test_runs.c
        self.session.execute(
            update(self_test_runs)
            .where(c.command_id == command_id, c.unit_id == unit_id, c.finished_at.is_(None))
            .values(**values)
        )

    def runs(self, unit_id: str | None, limit: int) -> Sequence[Row[Any]]:
        """Recent runs (of one unit, or of all), newest first."""
        c = self_test_runs.c
        query = select(self_test_runs).order_by(c.requested_at.desc(), c.id.desc()).limit(limit)
        if unit_id is not None:
            query = query.where(c.unit_id == unit_id)
        return self.session.execute(query).all()

    def latest_runs(self) -> Sequence[Row[Any]]:
        """Each unit's most recent run."""
        c = self_test_runs.c
        latest = select(func.max(c.id)).group_by(c.unit_id).scalar_subquery()
        return self.session.execute(select(self_test_runs).where(c.id.in_(latest))).all()
