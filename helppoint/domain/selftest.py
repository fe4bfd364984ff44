"""The self-test schedule: a daily time of day in a time zone, and when it next comes round.

Pure rules (no I/O): services/selftest.py stores each unit's next due time and claims due runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from helppoint.domain.errors import InvalidInput


@dataclass(frozen=True)
class Schedule:
    """A daily time of day in a time zone."""

    at: time
    zone: ZoneInfo

    @property
    def text(self) -> str:
        return f"{self.at:%H:%M}"


@dataclass(frozen=True)
class DefaultSchedule:
    """The schedule of units with none of their own (`self_test_at`; None: no default)."""

    at_time: str = "03:00"
    timezone: str = "Europe/London"

    def schedule(self) -> Schedule | None:
        return parse_schedule(self.at_time, self.timezone) if self.at_time else None


def parse_schedule(at_time: str, timezone: str) -> Schedule:
    """A Schedule from "HH:MM" and an IANA zone name; InvalidInput says what is wrong."""
    try:
        hours, minutes = (int(part) for part in at_time.split(":"))
        at = time(hours, minutes)
    except ValueError:
        raise InvalidInput(f"time of day must be HH:MM (00:00-23:59), not {at_time!r}") from None
    if len(at_time) != 5:
        raise InvalidInput(f"time of day must be HH:MM (00:00-23:59), not {at_time!r}")
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"unknown time zone {timezone!r}; use e.g. Europe/London") from None
    return Schedule(at, zone)


def next_due(schedule: Schedule, after: datetime) -> datetime:
    """The first time after `after` that the schedule's local time of day comes round (UTC)."""
    local = after.astimezone(schedule.zone)
    day = local.date()
    for _ in range(3):
        candidate = datetime.combine(day, schedule.at, tzinfo=schedule.zone)
        # Round-trip through UTC: a time skipped by a clock change moves to a real instant.
        utc = candidate.astimezone(ZoneInfo("UTC"))
        if utc > after:
            return utc
        day += timedelta(days=1)
    raise AssertionError("unreachable: a daily time comes round within two days")
