"""Scheme reports, computed from plain facts about incidents (no I/O; see docs/reports.md).

An *activation* is an incident opened by a button press (repeat presses that joined it are
counted as `presses`). Answer time is from the incident opening to an operator acknowledging
it, measured against the scheme's answer-time targets (domain/sla.py; by default 80% within
30 s and 98.5% within 60 s).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from helppoint.domain.classification import Category, Classification
from helppoint.domain.errors import InvalidInput
from helppoint.domain.report_totals import ActivationCount, SlotCount, answer_second, nearest_rank
from helppoint.domain.sla import DEFAULT_TARGETS, AnswerTargets

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month of the scheme, in its local time zone."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """`2026-10` → Month(2026, 10); anything else is InvalidInput."""
        try:
            year, month = (int(part) for part in text.strip().split("-"))
            date(year, month, 1)
        except ValueError as exc:
            raise InvalidInput(f"a month is written YYYY-MM, e.g. 2026-10, not {text!r}") from exc
        return cls(year, month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def label(self) -> str:
        """How a reader names it: "October 2026"."""
        return f"{date(self.year, self.month, 1):%B} {self.year}"

    @property
    def short(self) -> str:
        """A chart's tick: "Oct 26"."""
        return f"{date(self.year, self.month, 1):%b} {self.year % 100:02d}"

    def shifted(self, months: int) -> Month:
        """The month `months` later (earlier when negative)."""
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """Start (inclusive) and end (exclusive) of the month as UTC instants."""
        start = datetime(self.year, self.month, 1, tzinfo=tz)
        following = self.shifted(1)
        end = datetime(following.year, following.month, 1, tzinfo=tz)
        return start.astimezone(UTC), end.astimezone(UTC)

    @property
    def months(self) -> list[Month]:
        return [self]


@dataclass(frozen=True, order=True)
class Year:
    """A calendar year of the scheme (the yearly report), in its local time zone."""

    year: int

    @classmethod
    def parse(cls, text: str) -> Year:
        """`2026` → Year(2026); anything else is InvalidInput."""
        text = text.strip()
        if len(text) != 4 or not text.isascii() or not text.isdigit() or text < "1970":
            raise InvalidInput(f"a year is written YYYY, e.g. 2026, not {text!r}")
        return cls(int(text))

    def __str__(self) -> str:
        return f"{self.year:04d}"

    @property
    def label(self) -> str:
        return str(self)

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        start = datetime(self.year, 1, 1, tzinfo=tz)
        end = datetime(self.year + 1, 1, 1, tzinfo=tz)
        return start.astimezone(UTC), end.astimezone(UTC)

    @property
    def months(self) -> list[Month]:
        return [Month(self.year, m) for m in range(1, 13)]


def time_zone(name: str) -> ZoneInfo:
    """A ZoneInfo, or InvalidInput naming the bad zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(f"unknown time zone {name!r} (e.g. Europe/London)") from exc


#: What a report covers: a month, or a year (the yearly report).
Period = Month | Year


def parse_period(text: str) -> Period:
    """`2026-10` (a month) or `2026` (a year)."""
    return Year.parse(text) if "-" not in text.strip() else Month.parse(text)


@dataclass(frozen=True)
class IncidentFact:
    """What a report needs to know about one activation."""

    unit_id: str
    zone_id: str
    opened_at: datetime
    acknowledged_at: datetime | None
    classification: Classification | None
    escalated: bool
    presses: int = 1
    #: The police side (domain/police.py), when the police were called for it.
    police_called_at: datetime | None = None
    police_acknowledged_at: datetime | None = None
    police_on_scene_at: datetime | None = None


@dataclass(frozen=True)
class StatusChange:
    """A unit reported down or back up by supervision (issue #5's unit flips)."""

    unit_id: str
    at: datetime
    new_status: str


@dataclass(frozen=True)
class CostInputs:
    """The scheme's costs: capital spread over its life, plus monthly monitoring."""

    capital: float = 22_000.0
    capital_months: int = 60
    monitoring_per_month: float = 0.0

    def __post_init__(self) -> None:
        for value in (self.capital, self.monitoring_per_month):
            if not math.isfinite(value) or value < 0 or value > 1e9:
                raise InvalidInput("a cost is a number from 0 to 1,000,000,000")
        if not 1 <= self.capital_months <= 600:
            raise InvalidInput("the capital is spread over 1 to 600 months")

    @property
    def per_month(self) -> float:
        """What one month of the scheme costs."""
        return self.capital / self.capital_months + self.monitoring_per_month

    @property
    def formula(self) -> str:
        """The inputs as a reader checks them: "£22,000 / 60 months + £500 a month"."""
        return (
            f"£{self.capital:,.0f} capital / {self.capital_months} months "
            f"+ £{self.monitoring_per_month:,.0f} monitoring a month "
            f"= £{self.per_month:,.2f} a month"
        )


@dataclass(frozen=True)
class ReportSettings:
    """The scheme's name and cost inputs, as stored (the defaults until someone saves them)."""

    scheme_name: str = "Help point scheme"
    costs: CostInputs = field(default_factory=CostInputs)
    updated_at: datetime | None = None
    updated_by: str | None = None


@dataclass(frozen=True)
class AnswerTimes:
    """Answer times of the period's activations against the scheme's targets.

    An activation never answered has failed every target: the shares are of *all* activations
    (`share_within`); `share_within_answered` gives the flattering figure for comparison."""

    answered: int
    unanswered: int
    within: dict[int, int]
    median_seconds: float | None
    p90_seconds: float | None
    targets: AnswerTargets = DEFAULT_TARGETS

    @property
    def total(self) -> int:
        return self.answered + self.unanswered

    def share_within(self, seconds: int) -> float | None:
        """Share of all activations acknowledged within `seconds` (None if there were none)."""
        return self.within[seconds] / self.total if self.total else None

    def share_within_answered(self, seconds: int) -> float | None:
        """Share of the answered activations only (unanswered left out)."""
        return self.within[seconds] / self.answered if self.answered else None

    def meets(self, seconds: int, target: float) -> bool | None:
        """Whether the target is met, unanswered counting as failures (None with no activations)."""
        share = self.share_within(seconds)
        return None if share is None else share >= target


@dataclass(frozen=True)
class Uptime:
    """A unit's share of its supervised time in the period not reported down.

    Supervised time runs from when the unit was first heard (or the period's start) to now, its
    retirement or the period's end, whichever is first; with none, there is no data (None)."""

    unit_id: str
    down_seconds: float
    supervised_seconds: float
    period_seconds: float

    @property
    def share(self) -> float | None:
        if self.supervised_seconds <= 0:
            return None
        return max(0.0, 1 - self.down_seconds / self.supervised_seconds)


@dataclass(frozen=True)
class PoliceOutcomes:
    """What came of the period's escalations: the police side apart from the rest."""

    escalated: int
    police_called: int
    police_acknowledged: int
    police_attended: int
    median_minutes_to_attend: float | None  # from the call to officers on scene
    medical_without_police: int  # escalated (e.g. to an ambulance) with no police call
    other_without_police: int


@dataclass(frozen=True)
class Summary:
    """A period's headline figures, for trends (previous month, last year, 12-month lines)."""

    label: str
    activations: int
    genuine: int
    false: int
    malicious: int
    unanswered: int
    within: dict[int, int]
    down_seconds: float
    supervised_seconds: float
    #: Median seconds to answer the answered activations (None without any).
    median_seconds: float | None = None

    def share_within(self, seconds: int) -> float | None:
        """Share of all activations answered within `seconds` (unanswered as failures)."""
        return self.within.get(seconds, 0) / self.activations if self.activations else None

    @property
    def has_data(self) -> bool:
        """Whether the scheme ran in the period: a unit supervised, or an activation. Before
        it did, its counts are "no data", not 0."""
        return self.activations > 0 or self.supervised_seconds > 0

    @property
    def uptime(self) -> float | None:
        """Uptime over every unit's supervised time (None without any)."""
        if self.supervised_seconds <= 0:
            return None
        return max(0.0, 1 - self.down_seconds / self.supervised_seconds)

    def plus(self, other: Summary, label: str) -> Summary:
        """The two periods' figures together (the median is not additive: left unknown)."""
        return Summary(
            label,
            self.activations + other.activations,
            self.genuine + other.genuine,
            self.false + other.false,
            self.malicious + other.malicious,
            self.unanswered + other.unanswered,
            {s: self.within.get(s, 0) + other.within.get(s, 0) for s in self.within | other.within},
            self.down_seconds + other.down_seconds,
            self.supervised_seconds + other.supervised_seconds,
        )


def total(summaries: Sequence[Summary], label: str, median_seconds: float | None = None) -> Summary:
    """The sum of some periods' figures, with their median answer time if known."""
    result = Summary(label, 0, 0, 0, 0, 0, {}, 0.0, 0.0)
    for summary in summaries:
        result = result.plus(summary, label)
    return replace(result, median_seconds=median_seconds)


@dataclass(frozen=True)
class Trend:
    """The report's period against others.

    Monthly report: the 12 months ending with it, the previous month, the same month last year
    and the year to date. Yearly report: its 12 months and the previous year (no year to date).
    """

    months: list[Summary]
    previous: Summary | None
    last_year: Summary | None
    year_to_date: Summary | None

    @property
    def genuine(self) -> int:
        return sum(m.genuine for m in self.months)

    @property
    def months_run(self) -> int:
        """How many of its months the scheme ran in (fewer than 12 in its first year)."""
        return sum(m.has_data for m in self.months)


@dataclass(frozen=True)
class Intervention:
    """Something done at a unit to cut false presses (new signage, a moved camera…)."""

    id: int
    unit_id: str
    on: date
    what: str


@dataclass(frozen=True)
class InterventionEffect:
    """False presses at the unit in equal windows before and after the intervention."""

    intervention: Intervention
    days: int
    false_before: int
    false_after: int
    malicious_before: int
    malicious_after: int
    complete: bool  # the after window has ended


@dataclass(frozen=True)
class MonthlyReport:
    """Everything the scheme manager's report shows, for a month or a year (`month`)."""

    month: Period
    timezone: str
    activations: int
    presses: int
    by_unit: dict[str, int]
    by_zone: dict[str, int]
    heatmap: list[list[int]]  # [day 0=Mon .. 6][hour 0..23], local time
    by_classification: dict[str, int]  # Classification value → count; "unclassified" too
    by_category: dict[str, int]  # genuine / false / technical / unknown / unclassified
    answer_times: AnswerTimes
    police: PoliceOutcomes
    uptime: list[Uptime]
    costs: CostInputs
    notes: list[str] = field(default_factory=list)
    unit_names: dict[str, str] = field(default_factory=dict)
    unanswered: list[tuple[datetime, str]] = field(default_factory=list)
    false_by_unit: dict[str, dict[str, int]] = field(default_factory=dict)
    false_heatmap: list[list[int]] = field(default_factory=list)
    malicious_heatmap: list[list[int]] = field(default_factory=list)
    trend: Trend | None = None
    interventions: list[InterventionEffect] = field(default_factory=list)
    generated_at: datetime | None = None
    #: The public survey's answers in the period (services/survey.py summary), if asked for.
    survey: dict[str, Any] | None = None

    @property
    def genuine(self) -> int:
        return self.by_category.get(Category.GENUINE.value, 0)

    @property
    def false(self) -> int:
        return self.by_category.get(Category.FALSE.value, 0)

    @property
    def classified(self) -> int:
        return self.activations - self.by_category.get("unclassified", 0)

    def share(self, category: Category) -> float | None:
        """Share of classified activations in a category, or None if none were classified."""
        classified = self.classified
        return self.by_category.get(category.value, 0) / classified if classified else None

    @property
    def false_categories(self) -> dict[str, int]:
        """The false activations by kind: accidental, malicious, test."""
        return {
            c.value: self.by_classification.get(c.value, 0)
            for c in Classification
            if c.category is Category.FALSE
        }

    @property
    def period_cost(self) -> float:
        """What the period cost: a month's cost, or twelve for a year."""
        return self.costs.per_month * len(self.month.months)

    @property
    def cost_per_genuine(self) -> float | None:
        """The period's cost divided by its genuine activations (None when there were none)."""
        return self.period_cost / self.genuine if self.genuine else None

    @property
    def rolling_cost_per_genuine(self) -> float | None:
        """The cost of the 12 months ending with the period over their genuine activations:
        steadier than one month's figure, which swings with two or three calls. Only the
        months the scheme ran count (rolling_months), so a young scheme is not charged for
        months before it began."""
        if self.trend is None or not self.trend.genuine:
            return None
        return self.costs.per_month * self.trend.months_run / self.trend.genuine

    @property
    def rolling_months(self) -> int | None:
        """How many months the rolling cost covers (12 once the scheme has run a year)."""
        return None if self.trend is None else self.trend.months_run

    def top_prank_units(self, limit: int = 5) -> list[tuple[str, int, int]]:
        """Units with the most false presses: (unit, malicious, all false), most malicious first."""
        rows = [
            (unit_id, counts.get(Classification.FALSE_MALICIOUS.value, 0), sum(counts.values()))
            for unit_id, counts in self.false_by_unit.items()
        ]
        rows = [row for row in rows if row[2]]
        rows.sort(key=lambda row: (-row[1], -row[2], row[0]))
        return rows[:limit]


def _percentile(ordered: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..1) by the nearest-rank method."""
    if not ordered:
        return None
    return ordered[nearest_rank(len(ordered), q) - 1]


def answer_times(
    facts: Iterable[IncidentFact], targets: AnswerTargets = DEFAULT_TARGETS
) -> AnswerTimes:
    """Answer times of the given activations against the scheme's targets."""
    seconds: list[float] = []
    unanswered = 0
    for fact in facts:
        if fact.acknowledged_at is None:
            unanswered += 1
        else:
            seconds.append((fact.acknowledged_at - fact.opened_at).total_seconds())
    seconds.sort()
    within = {t.seconds: bisect_right(seconds, t.seconds) for t in targets.targets}
    return AnswerTimes(
        answered=len(seconds),
        unanswered=unanswered,
        within=within,
        median_seconds=_percentile(seconds, 0.5),
        p90_seconds=_percentile(seconds, 0.9),
        targets=targets,
    )


def police_outcomes(facts: Iterable[IncidentFact]) -> PoliceOutcomes:
    """Escalations split into police calls (acknowledged, attended, time to attend) and the
    rest (medical, other) that never involved the police."""
    escalated = called = acknowledged = attended = medical = other = 0
    minutes: list[float] = []
    for fact in facts:
        if fact.police_called_at is not None:
            called += 1
            acknowledged += fact.police_acknowledged_at is not None
            if fact.police_on_scene_at is not None:
                attended += 1
                minutes.append((fact.police_on_scene_at - fact.police_called_at).total_seconds())
        if fact.escalated or fact.police_called_at is not None:
            escalated += 1
            if fact.police_called_at is None:
                if fact.classification is Classification.MEDICAL:
                    medical += 1
                else:
                    other += 1
    minutes.sort()
    median = median_of(minutes)
    return PoliceOutcomes(
        escalated,
        called,
        acknowledged,
        attended,
        None if median is None else median / 60,
        medical,
        other,
    )


def median_of(ordered: Sequence[float]) -> float | None:
    """The median (the mean of the middle two for an even count)."""
    if not ordered:
        return None
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def supervised_window(
    first_seen: datetime | None,
    retired_at: datetime | None,
    start: datetime,
    end: datetime,
    now: datetime,
) -> tuple[datetime, datetime] | None:
    """The part of [start, end) a unit was supervised: from first heard to now or retirement.

    None when it was not supervised at all in the period (never heard, not yet heard, retired
    before, or a period in the future): its uptime is "no data", not 100%."""
    if first_seen is None:
        return None
    since = max(start, first_seen)
    until = min(end, now, retired_at or end)
    return (since, until) if until > since else None


def uptime(
    windows: dict[str, tuple[datetime, datetime] | None],
    changes: Iterable[StatusChange],
    before: dict[str, str],
    start: datetime,
    end: datetime,
) -> list[Uptime]:
    """Each unit's time not reported down within its supervised window of [start, end).

    `windows` holds each unit's supervised part of the period (supervised_window); `before`
    each unit's status at `start` (its last change before it; "up" if none); `changes` are the
    changes within the period, in any order.
    """
    by_unit: dict[str, list[StatusChange]] = {}
    for change in changes:
        by_unit.setdefault(change.unit_id, []).append(change)
    period = (end - start).total_seconds()
    result = []
    for unit_id in sorted(windows):
        window = windows[unit_id]
        if window is None:
            result.append(Uptime(unit_id, 0.0, 0.0, period))
            continue
        since, until = window
        status, mark, down = before.get(unit_id, "up"), since, 0.0
        for change in sorted(by_unit.get(unit_id, []), key=lambda c: c.at):
            at = min(max(change.at, since), until)
            if status == "down":
                down += (at - mark).total_seconds()
            status, mark = change.new_status, at
        if status == "down":
            down += (until - mark).total_seconds()
        result.append(Uptime(unit_id, down, (until - since).total_seconds(), period))
    return result


def intervention_effect(
    intervention: Intervention,
    false_presses: Iterable[tuple[datetime, bool]],
    tz: ZoneInfo,
    days: int,
    now: datetime,
) -> InterventionEffect:
    """False presses at the unit `days` days before and after the intervention's date.

    `false_presses` are (opened_at, malicious) of the unit's false activations around it."""
    day = datetime(intervention.on.year, intervention.on.month, intervention.on.day, tzinfo=tz)
    start, pivot = (day - timedelta(days=days)).astimezone(UTC), day.astimezone(UTC)
    end = (day + timedelta(days=days)).astimezone(UTC)
    counts = [0, 0, 0, 0]  # false before, after, malicious before, after
    for at, malicious in false_presses:
        if start <= at < end:
            later = int(at >= pivot)
            counts[later] += 1
            if malicious:
                counts[2 + later] += 1
    before, after, malicious_before, malicious_after = counts
    return InterventionEffect(
        intervention, days, before, after, malicious_before, malicious_after, now >= end
    )


def monthly_report(
    month: Period,
    tz: ZoneInfo,
    facts: Iterable[IncidentFact],
    unit_zones: dict[str, str],
    uptimes: list[Uptime],
    costs: CostInputs,
    targets: AnswerTargets = DEFAULT_TARGETS,
    unit_names: dict[str, str] | None = None,
    trend: Trend | None = None,
) -> MonthlyReport:
    """Build the report for a month or a year from its activations, one by one."""
    facts = list(facts)
    grouped: Counter[tuple[str, str, Classification | None, int | None]] = Counter()
    presses: Counter[tuple[str, str, Classification | None, int | None]] = Counter()
    slots = []
    for fact in facts:
        answered = fact.acknowledged_at
        second = (
            None
            if answered is None
            else answer_second((answered - fact.opened_at) // timedelta(microseconds=1))
        )
        key = (fact.unit_id, fact.zone_id, fact.classification, second)
        grouped[key] += 1
        presses[key] += fact.presses
        kind = fact.classification
        false = kind is not None and kind.category is Category.FALSE
        slots.append(
            SlotCount(fact.opened_at, 1, int(false), int(kind is Classification.FALSE_MALICIOUS))
        )
    counts = [ActivationCount(*key, n, presses[key]) for key, n in grouped.items()]
    unanswered = [(f.opened_at, f.unit_id) for f in facts if f.acknowledged_at is None]
    return report_from_totals(
        month,
        tz,
        counts,
        slots,
        answer_times(facts, targets),
        police_outcomes(facts),
        unanswered,
        unit_zones,
        uptimes,
        costs,
        unit_names,
        trend,
    )


def report_from_totals(
    month: Period,
    tz: ZoneInfo,
    counts: Iterable[ActivationCount],
    slots: Iterable[SlotCount],
    times: AnswerTimes,
    police: PoliceOutcomes,
    unanswered: Iterable[tuple[datetime, str]],
    unit_zones: dict[str, str],
    uptimes: list[Uptime],
    costs: CostInputs,
    unit_names: dict[str, str] | None = None,
    trend: Trend | None = None,
) -> MonthlyReport:
    """Build the report for a month or a year from its activations counted by unit,
    classification and answer second, and by time slot (domain/report_totals.py)."""
    by_unit: Counter[str] = Counter({unit_id: 0 for unit_id in unit_zones})
    by_zone: Counter[str] = Counter({zone: 0 for zone in unit_zones.values()})
    heatmap = [[0] * 24 for _ in DAYS]
    false_heatmap = [[0] * 24 for _ in DAYS]
    malicious_heatmap = [[0] * 24 for _ in DAYS]
    false_codes = [c.value for c in Classification if c.category is Category.FALSE]
    false_by_unit = {unit_id: dict.fromkeys(false_codes, 0) for unit_id in unit_zones}
    by_classification: Counter[str] = Counter()
    by_category: Counter[str] = Counter()
    activations = presses = 0
    for count in counts:
        n = count.activations
        activations += n
        presses += count.presses
        by_unit[count.unit_id] += n
        by_zone[count.zone_id] += n
        kind = count.classification
        if kind is None:
            by_classification["unclassified"] += n
            by_category["unclassified"] += n
        else:
            by_classification[kind.value] += n
            by_category[kind.category.value] += n
            if kind.category is Category.FALSE:
                row = false_by_unit.setdefault(count.unit_id, dict.fromkeys(false_codes, 0))
                row[kind.value] += n
    for slot in slots:
        local = slot.start.astimezone(tz)
        day, hour = local.weekday(), local.hour
        heatmap[day][hour] += slot.activations
        false_heatmap[day][hour] += slot.false
        malicious_heatmap[day][hour] += slot.malicious
    notes = [
        "Answer-time shares are of all activations: one never answered counts as a failure.",
        "Uptime is the share of each unit's supervised time (from first heard to now, or its "
        'retirement) not reported down; "no data" where a unit was not supervised.',
    ]
    return MonthlyReport(
        month=month,
        timezone=str(tz),
        activations=activations,
        presses=presses,
        by_unit=dict(sorted(by_unit.items())),
        by_zone=dict(sorted(by_zone.items())),
        heatmap=heatmap,
        by_classification=dict(by_classification),
        by_category={
            **{c.value: by_category.get(c.value, 0) for c in Category},
            "unclassified": by_category.get("unclassified", 0),
        },
        answer_times=times,
        police=police,
        uptime=uptimes,
        costs=costs,
        notes=notes,
        unit_names=dict(unit_names or {}),
        unanswered=sorted(unanswered),
        false_by_unit=dict(sorted(false_by_unit.items())),
        false_heatmap=false_heatmap,
        malicious_heatmap=malicious_heatmap,
        trend=trend,
    )
