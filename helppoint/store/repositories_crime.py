"""Street-level crime records imported from police.uk files (services/crime_import.py checks
them; services/evaluation.py compares them around help points)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select
from sqlalchemy.orm import Session

from helppoint.store.tables_public import crime_records


class CrimeRecordRepository:
    """Replace, count and remove imported months of crime records."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def remove_months(self, months_and_forces: Collection[tuple[date, str]]) -> None:
        """Remove the records of these (month, force) pairs."""
        if not months_and_forces:
            return
        c = crime_records.c
        self.session.execute(
            delete(crime_records).where(
                or_(
                    *(
                        and_(c.month == month, c.falls_within == force)
                        for month, force in sorted(months_and_forces)
                    )
                )
            )
        )

    def add(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Store records (dicts of crime_records' columns) in one statement."""
        if records:
            self.session.execute(insert(crime_records), list(records))

    def month_counts(self) -> list[tuple[date, str, int]]:
        """(month, force, rows) of every imported month, by month then force."""
        c = crime_records.c
        rows = self.session.execute(
            select(c.month, c.falls_within, func.count())
            .group_by(c.month, c.falls_within)
            .order_by(c.month, c.falls_within)
        )
        return [(month, force, int(count)) for month, force, count in rows]

    def remove_month(self, month: date, force: str | None) -> int:
        """Remove a month (one force's, or every force's); how many rows went."""
        c = crime_records.c
        condition = c.month == month
        if force is not None:
            condition = and_(condition, c.falls_within == force)
        gone = self.session.execute(delete(crime_records).where(condition))
        return int(getattr(gone, "rowcount", 0) or 0)
