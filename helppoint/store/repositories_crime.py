"""Street-level crime records imported from police.uk files (services/crime_import.py checks
them; services/evaluation.py compares them around help points), and the evaluations kept."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select
from sqlalchemy.orm import Session

from helppoint.domain.evaluation import Box, CrimePoint
from helppoint.store.tables_public import crime_records
from helppoint.store.tables_reports import evaluation_runs


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

    def types(self) -> list[tuple[str, int]]:
        """The crime types imported, with how many crimes of each, most common first."""
        c = crime_records.c
        rows = self.session.execute(
            select(c.crime_type, func.count())
            .group_by(c.crime_type)
            .order_by(func.count().desc(), c.crime_type)
        )
        return [(kind, int(count)) for kind, count in rows]

    def months(self) -> list[date]:
        """Every month imported (of any force)."""
        return list(self.session.scalars(select(crime_records.c.month).distinct()))

    def in_box(self, types: Sequence[str], box: Box) -> list[CrimePoint]:
        """The crimes of these types within the box."""
        c = crime_records.c
        rows = self.session.execute(
            select(c.month, c.crime_type, c.latitude, c.longitude).where(
                and_(
                    c.crime_type.in_(list(types)),
                    c.latitude.between(box.south, box.north),
                    c.longitude.between(box.west, box.east),
                )
            )
        )
        return [CrimePoint(*row) for row in rows]

    def remove_month(self, month: date, force: str | None) -> int:
        """Remove a month (one force's, or every force's); how many rows went."""
        c = crime_records.c
        condition = c.month == month
        if force is not None:
            condition = and_(condition, c.falls_within == force)
        gone = self.session.execute(delete(crime_records).where(condition))
        return int(getattr(gone, "rowcount", 0) or 0)


class EvaluationRunRepository:
    """Evaluations kept for the monthly and yearly reports (the latest is used)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, at: datetime, by: str, result: Mapping[str, Any]) -> None:
        self.session.execute(
            insert(evaluation_runs).values(run_at=at, run_by=by, result=dict(result))
        )

    def latest(self) -> dict[str, Any] | None:
        """The latest evaluation's result, if any was kept."""
        row = self.session.execute(
            select(evaluation_runs.c.result).order_by(evaluation_runs.c.id.desc()).limit(1)
        ).first()
        return dict(row[0]) if row is not None else None
