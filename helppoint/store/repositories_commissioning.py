"""Commissioning runs: when each unit's commissioning test was started, and by whom.

The checklist itself is domain/commissioning.py; services/commissioning.py is the use case.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from helppoint.store.tables_admin import commissioning_runs


class CommissioningRun(NamedTuple):
    started_at: datetime
    started_by: str


class CommissioningRepository:
    """Start commissioning runs and find a unit's latest."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add_run(self, unit_id: str, started_at: datetime, started_by: str) -> None:
        self.session.execute(
            insert(commissioning_runs).values(
                unit_id=unit_id, started_at=started_at, started_by=started_by
            )
        )

    def latest_run(self, unit_id: str) -> CommissioningRun | None:
        """The unit's most recently started run, if it ever had one."""
        c = commissioning_runs.c
        row = self.session.execute(
            select(c.started_at, c.started_by)
            .where(c.unit_id == unit_id)
            .order_by(c.started_at.desc())
            .limit(1)
        ).first()
        return CommissioningRun(row.started_at, row.started_by) if row is not None else None
