"""Commands sent to units about incidents, and the units' answers (table unit_commands)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from helppoint.store.tables_media import unit_commands


class UnitCommandRepository:
    """Record a command, find the one a unit answers, keep its answer, list an incident's."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, values: Mapping[str, Any]) -> None:
        self.session.execute(insert(unit_commands).values(**values))

    def unanswered(self, command_id: str, unit_id: str) -> Row[Any] | None:
        """The unit's command of this id that has no answer yet, if any."""
        c = unit_commands.c
        return self.session.execute(
            select(unit_commands).where(
                c.id == command_id, c.unit_id == unit_id, c.confirmed_at.is_(None)
            )
        ).first()

    def answer(self, command_id: str, values: Mapping[str, Any]) -> None:
        self.session.execute(
            update(unit_commands).where(unit_commands.c.id == command_id).values(**values)
        )

    def of_incident(self, incident_id: int) -> Sequence[Row[Any]]:
        """The commands sent about an incident, oldest first."""
        c = unit_commands.c
        return self.session.execute(
            select(unit_commands).where(c.incident_id == incident_id).order_by(c.sent_at, c.id)
        ).all()
