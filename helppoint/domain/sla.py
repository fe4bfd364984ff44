"""Answer-time supervision: the share of alarms accepted (acknowledged by an operator) within
the scheme's target times, per operator and per shift, and the load on the control room.
Pure Python: no I/O.

The targets are the scheme's own (setting ``sla_targets``; by default 80% within 30 s and
98.5% within 60 s). They are often quoted as EN 50518's, which has not been checked against
the standard's text here, so they are labelled as the scheme's targets (docs/sla.md). This
module is their one home: the dashboard, the monthly report and the console take them from it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from helppoint.domain.errors import InvalidInput


@dataclass(frozen=True)
class Target:
    """One answer-time target: at least `share` of alarms accepted within `seconds`."""

    seconds: int
    share: float


@dataclass(frozen=True)
class AnswerTargets:
    """The scheme's answer-time targets, shortest time first (1-4 of them)."""

    targets: tuple[Target, ...]

    def __post_init__(self) -> None:
        if not 1 <= len(self.targets) <= 4:
            raise InvalidInput("give 1 to 4 answer-time targets")
        seconds = [t.seconds for t in self.targets]
        if seconds != sorted(set(seconds)):
            raise InvalidInput("answer-time targets must have different times, shortest first")
        for target in self.targets:
            if not 1 <= target.seconds <= 3600:
                raise InvalidInput("an answer-time target's time is 1-3600 seconds")
            if not 0 < target.share <= 1:
                raise InvalidInput("an answer-time target's share is more than 0% and at most 100%")

    @property
    def label(self) -> str:
        """How the page names them: the scheme's targets, not a standard's."""
        parts = [f"{_percent(t.share)} within {t.seconds} s" for t in self.targets]
        return "the scheme's targets: " + ", ".join(parts)

    def view(self) -> list[dict[str, float | int]]:
        return [{"seconds": t.seconds, "share": t.share} for t in self.targets]


def _percent(share: float) -> str:
    return f"{share * 100:g}%"


#: The default of the `sla_targets` setting: 80% of alarms accepted within 30 s, 98.5% within
#: 60 s (config.py takes it from here).
DEFAULT_TARGETS_SETTING = "30:80,60:98.5"


def parse_targets(text: str) -> AnswerTargets:
    """Targets from 'SECONDS:PERCENT,…', e.g. '30:80,60:98.5'; InvalidInput if malformed."""
    targets = []
    for part in text.split(","):
        seconds, colon, percent = part.strip().partition(":")
        try:
            if not colon:
                raise ValueError(part)
            targets.append(Target(int(seconds), float(percent) / 100))
        except ValueError:
            raise InvalidInput(
                f"answer-time target {part.strip()!r} is not SECONDS:PERCENT (e.g. 30:80)"
            ) from None
    return AnswerTargets(tuple(targets))


#: The default targets, as AnswerTargets.
DEFAULT_TARGETS = parse_targets(DEFAULT_TARGETS_SETTING)


@dataclass(frozen=True)
class Alarm:
    """An alarm as answer-time supervision sees it."""

    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None


@dataclass
class AnswerTimes:
    """Counts for one group of alarms (an operator, a shift, or all)."""

    targets: AnswerTargets = DEFAULT_TARGETS
    alarms: int = 0
    waiting: int = 0
    #: Alarms accepted within each target's time, in the targets' order.
    within: list[int] = field(default_factory=list)

    def add(self, alarm: Alarm, now: datetime) -> None:
        if not self.within:
            self.within = [0] * len(self.targets.targets)
        self.alarms += 1
        if alarm.acknowledged_at is None:
            self.waiting += 1
            waited = now - alarm.opened_at
        else:
            waited = alarm.acknowledged_at - alarm.opened_at
        # An alarm still waiting counts as within a limit only while the limit has not passed.
        for index, target in enumerate(self.targets.targets):
            if waited <= timedelta(seconds=target.seconds):
                self.within[index] += 1

    def view(self, min_alarms: int = 1) -> dict[str, Any]:
        """Alarms, waiting, and for each target: the time, the target share, how many were
        accepted within it, the share achieved and whether it meets the target.

        With fewer than `min_alarms` alarms (the scheme's sla_min_alarms) the sample is too
        small to judge: `too_few` is true and `meets` is None (one late alarm is 0%, not a
        verdict on the control room)."""
        too_few = 0 < self.alarms < min_alarms
        rows = []
        for index, target in enumerate(self.targets.targets):
            within = self.within[index] if self.within else 0
            share = within / self.alarms if self.alarms else None
            rows.append(
                {
                    "seconds": target.seconds,
                    "target": target.share,
                    "within": within,
                    "share": share,
                    "meets": None if share is None or too_few else share >= target.share,
                }
            )
        return {
            "alarms": self.alarms,
            "waiting": self.waiting,
            "too_few": too_few,
            "targets": rows,
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


def answer_times(
    alarms: Iterable[Alarm],
    shifts: Shifts,
    now: datetime,
    targets: AnswerTargets = DEFAULT_TARGETS,
) -> SlaReport:
    """Group alarms by who acknowledged them and by the shift they came in."""
    overall = AnswerTimes(targets)
    operators: dict[str, AnswerTimes] = {}
    by_shift: dict[str, AnswerTimes] = {}
    for alarm in alarms:
        overall.add(alarm, now)
        who = alarm.acknowledged_by or "(not acknowledged)"
        operators.setdefault(who, AnswerTimes(targets)).add(alarm, now)
        by_shift.setdefault(shifts.label(alarm.opened_at), AnswerTimes(targets)).add(alarm, now)
    return SlaReport(overall, operators, by_shift)


# ---------- load on the control room ----------


@dataclass(frozen=True)
class AlarmTimes:
    """The times of one alarm, each recorded separately: the unit's press (its own clock),
    received by the server, stored (the unit's acknowledgement follows that commit), accepted
    by an operator; and closed."""

    opened_at: datetime  # received
    pressed_at: datetime | None
    stored_at: datetime | None
    accepted_at: datetime | None
    accepted_by: str | None
    closed_at: datetime | None


def flood_share(
    alarms: Iterable[AlarmTimes], start: datetime, end: datetime, waiting_from: int
) -> tuple[float, int]:
    """The share of [start, end) during which at least `waiting_from` alarms waited to be
    accepted at once, and the most that waited at once. An alarm waits from when it was
    received until it was accepted (or closed without, or until `end`)."""
    changes: list[tuple[datetime, int]] = []
    for alarm in alarms:
        stop = alarm.accepted_at or alarm.closed_at or end
        begin, finish = max(alarm.opened_at, start), min(stop, end)
        if begin < finish:
            changes += [(begin, 1), (finish, -1)]
    changes.sort(key=lambda change: (change[0], change[1]))
    waiting = peak = 0
    flooded = timedelta(0)
    since: datetime | None = None
    for at, step in changes:
        if since is not None:
            flooded += at - since
            since = None
        waiting += step
        peak = max(peak, waiting)
        if waiting >= waiting_from:
            since = at
    if since is not None:
        flooded += end - since
    period = (end - start).total_seconds()
    return (flooded.total_seconds() / period if period > 0 else 0.0), peak


def spread(seconds: list[float]) -> dict[str, float | int | None]:
    """Count, median, 95th percentile and largest of some durations (seconds)."""
    ordered = sorted(seconds)
    if not ordered:
        return {"count": 0, "median": None, "p95": None, "max": None}

    def at(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 3)

    return {"count": len(ordered), "median": at(0.5), "p95": at(0.95), "max": round(ordered[-1], 3)}


def accepted_per_operator(
    alarms: Iterable[AlarmTimes], start: datetime, end: datetime
) -> dict[str, int]:
    """How many alarms each operator accepted in [start, end)."""
    counts: dict[str, int] = {}
    for alarm in alarms:
        if alarm.accepted_at is not None and start <= alarm.accepted_at < end:
            who = alarm.accepted_by or "(unknown)"
            counts[who] = counts.get(who, 0) + 1
    return counts
