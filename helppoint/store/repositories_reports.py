"""Activation totals for the scheme's reports, counted in the database (domain/report_totals.py):
a year of a million activations is grouped there rather than read row by row (issue #23)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    and_,
    case,
    cast,
    extract,
    func,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.orm import Session

from helppoint.domain.classification import Category, Classification
from helppoint.domain.events import Priority
from helppoint.domain.report_totals import ActivationCount, PeriodCounts, SlotCount
from helppoint.domain.reports import IncidentFact, StatusChange
from helppoint.store.tables import help_points, incidents
from helppoint.store.tables_plans import police_responses
from helppoint.store.tables_supervision import unit_flips
from helppoint.store.types import UTCDateTime

_FALSE = [c for c in Classification if c.category is Category.FALSE]


class ReportRepository:
    """Grouped counts of the activations opened in [start, end): not on test, priority
    activation, as the reports count them."""

    def __init__(self, session: Session) -> None:
        self.session = session

    @property
    def _sqlite(self) -> bool:
        return self.session.get_bind().dialect.name == "sqlite"

    def _activations(
        self, start: datetime, end: datetime, whole_rows: bool = False
    ) -> ColumnElement[bool]:
        """The grouped counts read only columns of ix_incidents_report, which both databases
        read as a range of that index; `whole_rows`: the query reads more of each row, and a
        long span of them SQLite reads faster through the table than by an index (a unary +
        keeps it off the index; docs/performance.md)."""
        opened: ColumnElement[Any] = incidents.c.opened_at
        if whole_rows and self._sqlite and end - start > timedelta(days=62):
            opened = literal_column("+incidents.opened_at", UTCDateTime())
        return and_(
            incidents.c.priority == Priority.ACTIVATION,
            incidents.c.on_test.is_(False),
            opened >= start,
            opened < end,
        )

    def _answer_second(self) -> ColumnElement[int]:
        """domain.report_totals.answer_second of each activation, in SQL (NULL: unanswered),
        from the answer time stored on acknowledgement (incidents.answer_microseconds)."""
        micro = incidents.c.answer_microseconds
        return case((micro <= 0, 0), else_=(micro + 999_999) // 1_000_000)

    @staticmethod
    def _in_seconds(seconds: Sequence[int]) -> ColumnElement[bool]:
        """Answers whose answer second is one of `seconds`: integer ranges of the stored
        microseconds, which an index can serve (unlike the answer second's expression)."""
        micro = incidents.c.answer_microseconds
        ranges = [
            micro <= 0 if s == 0 else and_(micro > (s - 1) * 1_000_000, micro <= s * 1_000_000)
            for s in sorted(set(seconds))
        ]
        return or_(*ranges)

    def activation_counts(self, start: datetime, end: datetime) -> list[ActivationCount]:
        """Activations by unit, zone, classification and answer second, with their presses."""
        second = self._answer_second().label("second")
        query = (
            select(
                incidents.c.unit_id,
                help_points.c.zone_id,
                incidents.c.classification,
                second,
                func.count(),
                func.sum(incidents.c.event_count),
            )
            .join(help_points, help_points.c.id == incidents.c.unit_id)
            .where(self._activations(start, end))
            .group_by(
                incidents.c.unit_id, help_points.c.zone_id, incidents.c.classification, second
            )
        )
        return [
            ActivationCount(
                unit, zone, kind, None if s is None else int(s), int(n), int(presses or 0)
            )
            for unit, zone, kind, s, n, presses in self.session.execute(query)
        ]

    def period_counts(self, bounds: Sequence[tuple[datetime, datetime]]) -> list[PeriodCounts]:
        """Counts of consecutive periods (the months of the trends) in one grouped query over
        their whole span, so a year of a million activations is not fetched row by row."""
        bucket = self._bucket(bounds)
        second = self._answer_second().label("second")
        kind = incidents.c.classification
        genuine = [c for c in Classification if c.category is Category.GENUINE]

        def count(condition: ColumnElement[bool]) -> ColumnElement[Any]:
            return func.sum(case((condition, 1), else_=0))

        query = (
            select(
                bucket,
                second,
                func.count(),
                count(kind.in_(genuine)),
                count(kind.in_(_FALSE)),
                count(kind == Classification.FALSE_MALICIOUS),
            )
            .where(self._activations(bounds[0][0], bounds[-1][1]))
            .group_by(bucket, second)
        )
        totals: list[list[Any]] = [[0, 0, 0, 0, 0, {}] for _ in bounds]
        for index, s, n, real, false, malicious in self.session.execute(query):
            if index < 0:
                continue
            row: list[Any] = totals[index]
            for position, value in enumerate((n, real, false, malicious)):
                row[position] += int(value or 0)
            if s is None:
                row[4] += int(n)
            else:
                row[5][int(s)] = row[5].get(int(s), 0) + int(n)
        return [PeriodCounts(*row) for row in totals]

    def _bucket(self, bounds: Sequence[tuple[datetime, datetime]]) -> ColumnElement[int]:
        """Which of the periods an activation was opened in (-1: none). For consecutive
        periods (the months of the trends), whose span the queries' WHERE already keeps to, a
        binary search (5 comparisons for 24 months, not up to 48: most of a year's count)."""
        opened = incidents.c.opened_at
        consecutive = all(a[1] == b[0] for a, b in pairwise(bounds))
        if not consecutive:
            return case(
                *[(and_(opened >= lo, opened < hi), i) for i, (lo, hi) in enumerate(bounds)],
                else_=-1,
            ).label("bucket")

        def search(first: int, last: int) -> ColumnElement[int]:
            if last - first == 1:
                return literal(first, Integer)
            middle = (first + last) // 2
            return case(
                (opened < bounds[middle][0], search(first, middle)),
                else_=search(middle, last),
            )

        return case(
            (or_(opened < bounds[0][0], opened >= bounds[-1][1]), -1),
            else_=search(0, len(bounds)),
        ).label("bucket")

    def period_answer_microseconds(
        self, bounds: Sequence[tuple[datetime, datetime]], wanted: set[tuple[int, int]]
    ) -> dict[tuple[int, int], list[int]]:
        """The answer times in microseconds, in order, of the answers in the given (period,
        answer second) pairs: the few needed to find each period's median exactly."""
        result: dict[tuple[int, int], list[int]] = {pair: [] for pair in wanted}
        if not wanted:
            return result
        bucket = self._bucket(bounds)
        second = self._answer_second()
        micro = incidents.c.answer_microseconds
        query = select(bucket, second, micro).where(
            self._activations(bounds[0][0], bounds[-1][1]),
            self._in_seconds([s for _, s in wanted]),
        )
        for index, s, value in self.session.execute(query):
            values = result.get((int(index), int(s)))
            if values is not None:
                values.append(int(value))
        for values in result.values():
            values.sort()
        return result

    def answer_microseconds(
        self, start: datetime, end: datetime, seconds: set[int]
    ) -> dict[int, list[int]]:
        """The answer times (in microseconds, in order) of the answers in the given answer
        seconds: the few needed to find a median exactly."""
        second = self._answer_second()
        micro = incidents.c.answer_microseconds
        query = select(second, micro).where(
            self._activations(start, end), self._in_seconds(list(seconds))
        )
        result: dict[int, list[int]] = {s: [] for s in seconds}
        for s, value in self.session.execute(query):
            result[int(s)].append(int(value))
        for values in result.values():
            values.sort()
        return result

    def slot_counts(self, start: datetime, end: datetime, slot_seconds: int) -> list[SlotCount]:
        """Activations, false and malicious ones by UTC slot of an hour or a quarter of one."""
        opened: ColumnElement[Any] = incidents.c.opened_at
        if self._sqlite:
            hour: ColumnElement[Any] = func.substr(opened, 1, 13)  # 'YYYY-MM-DD HH'
            minute: ColumnElement[Any] = cast(func.substr(opened, 15, 2), Integer)
        else:
            utc = func.timezone("UTC", opened)
            hour = func.date_trunc("hour", utc)
            minute = cast(extract("minute", utc), Integer)
        # Hour slots: every quarter is 0 (an expression, which both databases group by).
        quarter = (minute // 15 if slot_seconds == 900 else minute * 0).label("quarter")
        kind = incidents.c.classification
        query = (
            select(
                hour.label("hour"),
                quarter,
                func.count(),
                func.sum(case((kind.in_(_FALSE), 1), else_=0)),
                func.sum(case((kind == Classification.FALSE_MALICIOUS, 1), else_=0)),
            )
            .where(self._activations(start, end))
            .group_by(hour, quarter)
        )
        slots = []
        for key, q, n, false, malicious in self.session.execute(query):
            if isinstance(key, str):
                at = datetime.strptime(key, "%Y-%m-%d %H").replace(tzinfo=UTC)
            else:
                at = key.replace(tzinfo=UTC)
            at += timedelta(minutes=15 * int(q))
            slots.append(SlotCount(at, int(n), int(false or 0), int(malicious or 0)))
        return slots

    def escalations(self, start: datetime, end: datetime) -> list[IncidentFact]:
        """The escalated activations and those the police were called to, with the police
        side: all the police outcomes need."""
        return self.facts(start, end, escalated_only=True)

    def facts(
        self, start: datetime, end: datetime, escalated_only: bool = False
    ) -> list[IncidentFact]:
        """The activations opened in [start, end), each with its police side (the monthly
        report computes from them); only the escalated ones and those the police were called
        to if `escalated_only`."""
        police = police_responses.c
        query = (
            select(
                incidents.c.unit_id,
                help_points.c.zone_id,
                incidents.c.opened_at,
                incidents.c.acknowledged_at,
                incidents.c.classification,
                incidents.c.escalated_at,
                incidents.c.event_count,
                police.called_at,
                police.acknowledged_at,
                police.on_scene_at,
            )
            .join(help_points, help_points.c.id == incidents.c.unit_id)
            .outerjoin(police_responses, police.incident_id == incidents.c.id)
            .where(self._activations(start, end, whole_rows=True))
        )
        if escalated_only:
            query = query.where(
                or_(incidents.c.escalated_at.is_not(None), police.called_at.is_not(None))
            )
        return [
            IncidentFact(
                unit_id=row[0],
                zone_id=row[1],
                opened_at=row[2],
                acknowledged_at=row[3],
                classification=row[4],
                escalated=row[5] is not None,
                presses=row[6],
                police_called_at=row[7],
                police_acknowledged_at=row[8],
                police_on_scene_at=row[9],
            )
            for row in self.session.execute(query)
        ]

    def never_answered(self, start: datetime, end: datetime) -> list[tuple[datetime, str]]:
        """When and where each activation never answered was opened (no answer time is
        stored for it: one is exactly when it was acknowledged)."""
        query = select(incidents.c.opened_at, incidents.c.unit_id).where(
            self._activations(start, end), incidents.c.answer_microseconds.is_(None)
        )
        return [(at, unit) for at, unit in self.session.execute(query)]

    def false_presses(
        self, unit_id: str, start: datetime, end: datetime
    ) -> list[tuple[datetime, bool]]:
        """When each false activation at the unit in [start, end) was opened, and whether it
        was malicious (an intervention's before and after)."""
        query = select(incidents.c.opened_at, incidents.c.classification).where(
            self._activations(start, end),
            incidents.c.unit_id == unit_id,
            incidents.c.classification.in_(_FALSE),
        )
        return [
            (at, kind is Classification.FALSE_MALICIOUS) for at, kind in self.session.execute(query)
        ]

    def status_changes(self, start: datetime, end: datetime) -> list[StatusChange]:
        """The units' supervision flips in [start, end), in time order (their uptime)."""
        c = unit_flips.c
        rows = self.session.execute(
            select(c.unit_id, c.at, c.new_status)
            .where(c.at >= start, c.at < end)
            .order_by(c.at, c.id)
        )
        return [StatusChange(unit_id, at, status) for unit_id, at, status in rows]
