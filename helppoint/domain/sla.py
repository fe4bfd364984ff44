"""Answer-time supervision (EN 50518): the share of alarms acknowledged within 30 s and 60 s,
per operator and per shift. Pure Python: no I/O."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

#: EN 50518 targets: 80% of alarms acknowledged within 30 s, 98.5% within 60 s.
TARGET_30S = 0.80
TARGET_60S = 0.985


@dataclass(frozen=True)
class Alarm:
    """An alarm as answer-time supervision sees it."""

    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None


@dataclass
class AnswerTimes:
    """Counts for one group of alarms (an operator, a shift, or all)."""

    alarms: int = 0
    within_30s: int = 0
    within_60s: int = 0
    waiting: int = 0

    def add(self, alarm: Alarm, now: datetime) -> None:
        self.alarms += 1
        if alarm.acknowledged_at is None:
            self.waiting += 1
            waited = now - alarm.opened_at
        else:
            waited = alarm.acknowledged_at - alarm.opened_at
        # An alarm still waiting counts as within a limit only while the limit has not passed.
        if waited <= timedelta(seconds=30):
            self.within_30s += 1
        if waited <= timedelta(seconds=60):
            self.within_60s += 1

    def view(self) -> dict[str, float | int | bool | None]:
        share_30 = self.within_30s / self.alarms if self.alarms else None
        share_60 = self.within_60s / self.alarms if self.alarms else None
        return {
            "alarms": self.alarms,
            "waiting": self.waiting,
            "within_30s": self.within_30s,
            "within_60s": self.within_60s,
            "share_30s": share_30,
            "share_60s": share_60,
            "meets_30s": None if share_30 is None else share_30 >= TARGET_30S,
            "meets_60s": None if share_60 is None else share_60 >= TARGET_60S,
        }


@dataclass(frozen=True)
class Shifts:
    """Shift changes at fixed local times (e.g. 07:00 and 19:00 Europe/London)."""

    starts: tuple[time, ...]
    timezone: str = "Europe/London"

    def label(self, at: datetime) -> str:
        """The shift an instant falls in, named by its local start: '2026-11-25 19:00'."""
        local = at.astimezone(ZoneInfo(self.timezone))
        starts = sorted(self.starts)
        today = [s for s in starts if s <= local.time()]
        if today:
            day, start = local.date(), today[-1]
        else:  # before the first change of the day: the previous day's last shift
            day, start = local.date() - timedelta(days=1), starts[-1]
        return f"{day.isoformat()} {start.strftime('%H:%M')}"


@dataclass(frozen=True)
class SlaReport:
    """Answer times overall, per operator and per shift."""

    overall: AnswerTimes
    operators: dict[str, AnswerTimes]
    shifts: dict[str, AnswerTimes]


def answer_times(alarms: Iterable[Alarm], shifts: Shifts, now: datetime) -> SlaReport:
    """Group alarms by who acknowledged them and by the shift they came in."""
    overall = AnswerTimes()
    operators: dict[str, AnswerTimes] = {}
    by_shift: dict[str, AnswerTimes] = {}
    for alarm in alarms:
        overall.add(alarm, now)
        who = alarm.acknowledged_by or "(not acknowledged)"
        operators.setdefault(who, AnswerTimes()).add(alarm, now)
        by_shift.setdefault(shifts.label(alarm.opened_at), AnswerTimes()).add(alarm, now)
    return SlaReport(overall, operators, by_shift)
