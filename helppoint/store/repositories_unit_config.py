"""Remote configuration of units: each change asked of a unit and its answer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from helppoint.store.tables_supervision import unit_config_changes


class UnitConfigRepository:
    """Record a change asked of a unit, its answer (once), and the unit's history."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add_request(self, values: Mapping[str, Any]) -> None:
        self.session.execute(insert(unit_config_changes).values(**values))

    def confirm(self, command_id: str, unit_id: str, values: Mapping[str, Any]) -> bool:
        """Keep the unit's answer to a change it has not answered yet; False if none such."""
        c = unit_config_changes.c
        found = self.session.execute(
            update(unit_config_changes)
            .where(c.command_id == command_id, c.unit_id == unit_id, c.confirmed_at.is_(None))
            .values(**values)
        )
        return found.rowcount == 1  # type: ignore[attr-defined,no-any-return]

    def history(self, unit_id: str, limit: int) -> Sequence[Row[Any]]:
        """A unit's changes, newest first."""
        c = unit_config_changes.c
        return self.session.execute(
            select(unit_config_changes)
            .where(c.unit_id == unit_id)
            .order_by(c.requested_at.desc(), c.id.desc())
            .limit(limit)
        ).all()

    def applied(self, unit_id: str) -> list[tuple[dict[str, Any] | None, datetime]]:
        """(settings applied, when) of each change the unit confirmed, oldest first."""
        c = unit_config_changes.c
        rows = self.session.execute(
            select(c.applied, c.confirmed_at)
            .where(c.unit_id == unit_id, c.confirmed_at.is_not(None))
            .order_by(c.confirmed_at, c.id)
        ).all()
        return [(applied, confirmed_at) for applied, confirmed_at in rows]

    def pending_count(self, unit_id: str) -> int:
        """How many changes the unit has not answered yet."""
        c = unit_config_changes.c
        count = self.session.scalar(
            select(func.count()).where(c.unit_id == unit_id, c.confirmed_at.is_(None))
        )
        return int(count or 0)
