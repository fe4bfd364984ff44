"""Use cases of the "How safe do you feel here?" survey (docs/survey.md): keep an answer, limit
abuse, and sum the answers up for the scheme report and the open data.

Only the answer, its unit, the unit's zone and the hour are stored. The flood limits are in
services/survey_limits.py (counted in the database, addresses only as keyed hashes).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from helppoint.domain.errors import InvalidInput, NotFound
from helppoint.domain.reports import Month, time_zone
from helppoint.domain.survey import Answer, StoredAnswer, hour_of, stats
from helppoint.domain.units import in_scheme
from helppoint.services.clock import utcnow
from helppoint.store.uow import UnitOfWork


def record_answer(
    uow: UnitOfWork, unit_id: str, answer: Answer, now: datetime | None = None
) -> None:
    """Stores one answer for a unit on the public map (NotFound for any other)."""
    now = now or utcnow()
    with uow:
        unit = uow.units.get(unit_id)
        if unit is None or not in_scheme(unit):
            raise NotFound(f"there is no help point {unit_id!r}")
        uow.survey.add(unit.id, unit.zone_id, hour_of(now), answer)
        uow.commit()


def answer_count(uow: UnitOfWork) -> int:
    with uow:
        return uow.survey.count()


def answers(uow: UnitOfWork, start: datetime, end: datetime) -> list[StoredAnswer]:
    """Every answer given from `start` (inclusive) to `end` (exclusive)."""
    with uow:
        return uow.survey.between(start, end)


def installation_dates(uow: UnitOfWork, installed: date | None) -> dict[str, date]:
    """Each unit's installation date: its first commissioning test, else when it was first
    heard from, else `installed` (the scheme's date, if given)."""
    with uow:
        heard = {u.id: u.first_seen_at for u in uow.units.list(include_retired=True)}
        units = list(heard)
        first = uow.survey.first_commissioning()
    dates: dict[str, date] = {}
    for unit_id in units:
        started = first.get(unit_id) or heard[unit_id]
        if started is not None:
            dates[unit_id] = started.astimezone(UTC).date()
        elif installed is not None:
            dates[unit_id] = installed
    return dates


def _grouped(items: Iterable[tuple[str, int]]) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for key, feeling in items:
        groups[key].append(feeling)
    return {key: stats(groups[key]).as_dict() for key in sorted(groups)}


def outliers(found: Sequence[StoredAnswer], tz_name: str, least: int = 10) -> list[dict[str, Any]]:
    """Unit-days with far more answers than usual for that unit (at least `least`, and five
    times its median day): a campaign, a class outing, or someone gaming the survey. Shown,
    never removed."""
    tz = time_zone(tz_name)
    per_day: dict[str, dict[date, list[int]]] = defaultdict(lambda: defaultdict(list))
    for a in found:
        per_day[a.unit_id][a.hour.astimezone(tz).date()].append(a.feeling)
    flagged = []
    for unit_id, days in sorted(per_day.items()):
        median = statistics.median(len(v) for v in days.values())
        for day, feelings in sorted(days.items()):
            if len(feelings) >= max(least, 5 * median):
                flagged.append(
                    {
                        "unit_id": unit_id,
                        "day": day.isoformat(),
                        "answers": len(feelings),
                        "median_day": median,
                        "mean": round(sum(feelings) / len(feelings), 3),
                    }
                )
    return flagged


def summary(
    uow: UnitOfWork,
    start: datetime,
    end: datetime,
    timezone: str,
    installed: date | None = None,
) -> dict[str, Any]:
    """The survey section of the scheme report: counts, mean feeling and share feeling safe
    (4-5), each with a 95% interval, by unit, zone, month, local hour, gender and age band;
    before and after each unit's installation; and the outlying unit-days."""
    if end <= start:
        raise InvalidInput("the survey period must end after it starts")
    tz = time_zone(timezone)
    found = answers(uow, start, end)
    with uow:
        zone_names = {zone.id: zone.name for zone in uow.zones.list()}
    dates = installation_dates(uow, installed)
    before_after: dict[str, list[int]] = defaultdict(list)
    per_unit_phase: list[tuple[str, int]] = []
    for a in found:
        when = dates.get(a.unit_id)
        if when is None:
            continue
        phase = "before" if a.hour.astimezone(tz).date() < when else "after"
        before_after[phase].append(a.feeling)
        per_unit_phase.append((f"{a.unit_id} {phase}", a.feeling))
    return {
        "period": {"start": start.isoformat(), "end": end.isoformat(), "timezone": timezone},
        "question": "How safe do you feel here?",
        "scale": "1 very unsafe … 5 very safe; safe = 4 or 5",
        "intervals": "95%: mean by normal approximation, share safe by Wilson score",
        "overall": stats([a.feeling for a in found]).as_dict(),
        "by_unit": _grouped((a.unit_id, a.feeling) for a in found),
        "by_zone": _grouped(
            (zone_names.get(a.zone_id, a.zone_id) or "(none)", a.feeling) for a in found
        ),
        "by_month": _grouped((a.hour.astimezone(tz).strftime("%Y-%m"), a.feeling) for a in found),
        "by_hour": _grouped((f"{a.hour.astimezone(tz).hour:02d}", a.feeling) for a in found),
        "by_gender": _grouped((a.gender or "not_answered", a.feeling) for a in found),
        "by_age_band": _grouped((a.age_band or "not_answered", a.feeling) for a in found),
        "installed": {unit: day.isoformat() for unit, day in sorted(dates.items())},
        "before_after": {
            phase: stats(before_after[phase]).as_dict() for phase in ("before", "after")
        },
        "before_after_by_unit": _grouped(per_unit_phase),
        "outliers": outliers(found, timezone),
    }


def month_section(
    uow: UnitOfWork, month: Month, timezone: str, installed: date | None = None
) -> dict[str, Any]:
    """The survey section for one month: `summary` over the month, in the scheme's time zone
    (services/reports.py adds `summary` over its period to the monthly and yearly report)."""
    start, end = month.bounds(time_zone(timezone))
    return summary(uow, start, end, timezone, installed)
