"""Scheme reports, computed from plain facts about incidents (no I/O; see docs/reports.md).

An *activation* is an incident opened by a button press (repeat presses that joined it are
counted as `presses`). Answer time is from the incident opening to an operator acknowledging
it, measured against the scheme's answer-time targets (domain/sla.py; by default 80% within
30 s and 98.5% within 60 s).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from helppoint.domain.classification import Category, Classification
from helppoint.domain.errors import InvalidInput
from helppoint.domain.sla import DEFAULT_TARGETS, AnswerTargets

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
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

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """Start (inclusive) and end (exclusive) of the month as UTC instants."""
        start = datetime(self.year, self.month, 1, tzinfo=tz)
        following = (self.year + 1, 1) if self.month == 12 else (self.year, self.month + 1)
        end = datetime(*following, 1, tzinfo=tz)
        return start.astimezone(UTC), end.astimezone(UTC)


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
        if self.capital < 0 or self.monitoring_per_month < 0:
            raise InvalidInput("costs cannot be negative")
        if self.capital_months < 1:
            raise InvalidInput("the capital must be spread over at least one month")

    @property
    def per_month(self) -> float:
        """What one month of the scheme costs."""
        return self.capital / self.capital_months + self.monitoring_per_month


@dataclass(frozen=True)
class AnswerTimes:
    """Answer times of the month's activations against the scheme's targets."""

    answered: int
    unanswered: int
    within: dict[int, int]
    median_seconds: float | None
    p90_seconds: float | None
    targets: AnswerTargets = DEFAULT_TARGETS

    def share_within(self, seconds: int) -> float | None:
        """Share of answered activations acknowledged within `seconds`, or None if none."""
        return self.within[seconds] / self.answered if self.answered else None

    def meets(self, seconds: int, target: float) -> bool | None:
        """Whether the target is met (None when nothing was answered)."""
        share = self.share_within(seconds)
        return None if share is None else share >= target


@dataclass(frozen=True)
class Uptime:
    """A unit's share of the month not reported down by supervision."""

    unit_id: str
    down_seconds: float
    period_seconds: float

    @property
    def share(self) -> float:
        return 1 - self.down_seconds / self.period_seconds if self.period_seconds else 1.0


@dataclass(frozen=True)
class MonthlyReport:
    """Everything the scheme manager's monthly report shows."""

    month: Month
    timezone: str
    activations: int
    presses: int
    by_unit: dict[str, int]
    by_zone: dict[str, int]
    heatmap: list[list[int]]  # [day 0=Mon .. 6][hour 0..23], local time
    by_classification: dict[str, int]  # Classification value → count; "unclassified" too
    by_category: dict[str, int]  # genuine / false / technical / unknown / unclassified
    answer_times: AnswerTimes
    police_deployments: int
    uptime: list[Uptime]
    costs: CostInputs
    notes: list[str] = field(default_factory=list)

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
    def cost_per_genuine(self) -> float | None:
        """The month's cost divided by its genuine activations (None when there were none)."""
        return self.costs.per_month / self.genuine if self.genuine else None


def _percentile(ordered: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..1) by the nearest-rank method."""
    if not ordered:
        return None
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


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
    within = {t.seconds: sum(1 for s in seconds if s <= t.seconds) for t in targets.targets}
    return AnswerTimes(
        answered=len(seconds),
        unanswered=unanswered,
        within=within,
        median_seconds=_percentile(seconds, 0.5),
        p90_seconds=_percentile(seconds, 0.9),
        targets=targets,
    )


def uptime(
    unit_ids: Iterable[str],
    changes: Iterable[StatusChange],
    before: dict[str, str],
    start: datetime,
    end: datetime,
) -> list[Uptime]:
    """Each unit's time not reported down in [start, end).

    `before` holds each unit's status at `start` (its last change before it; "up" if none);
    `changes` are the changes within the period, in any order.
    """
    by_unit: dict[str, list[StatusChange]] = {}
    for change in changes:
        by_unit.setdefault(change.unit_id, []).append(change)
    period = (end - start).total_seconds()
    result = []
    for unit_id in sorted(unit_ids):
        status, since, down = before.get(unit_id, "up"), start, 0.0
        for change in sorted(by_unit.get(unit_id, []), key=lambda c: c.at):
            if status == "down":
                down += (change.at - since).total_seconds()
            status, since = change.new_status, change.at
        if status == "down":
            down += (end - since).total_seconds()
        result.append(Uptime(unit_id, down, period))
    return result


def monthly_report(
    month: Month,
    tz: ZoneInfo,
    facts: Iterable[IncidentFact],
    unit_zones: dict[str, str],
    uptimes: list[Uptime],
    costs: CostInputs,
    targets: AnswerTargets = DEFAULT_TARGETS,
) -> MonthlyReport:
    """Build the monthly report from the month's activations (one pass over the facts)."""
    facts = list(facts)
    by_unit: Counter[str] = Counter({unit_id: 0 for unit_id in unit_zones})
    by_zone: Counter[str] = Counter({zone: 0 for zone in unit_zones.values()})
    heatmap = [[0] * 24 for _ in DAYS]
    by_classification: Counter[str] = Counter()
    by_category: Counter[str] = Counter()
    presses = police = 0
    for fact in facts:
        by_unit[fact.unit_id] += 1
        by_zone[fact.zone_id] += 1
        local = fact.opened_at.astimezone(tz)
        heatmap[local.weekday()][local.hour] += 1
        if fact.classification is None:
            by_classification["unclassified"] += 1
            by_category["unclassified"] += 1
        else:
            by_classification[fact.classification.value] += 1
            by_category[fact.classification.category.value] += 1
        presses += fact.presses
        police += fact.escalated
    notes = [
        "Uptime is the share of the month a unit was not reported down by supervision; "
        "units never heard from are not in service yet and have no uptime (left out).",
    ]
    return MonthlyReport(
        month=month,
        timezone=str(tz),
        activations=len(facts),
        presses=presses,
        by_unit=dict(sorted(by_unit.items())),
        by_zone=dict(sorted(by_zone.items())),
        heatmap=heatmap,
        by_classification=dict(by_classification),
        by_category={
            **{c.value: by_category.get(c.value, 0) for c in Category},
            "unclassified": by_category.get("unclassified", 0),
        },
        answer_times=answer_times(facts, targets),
        police_deployments=police,
        uptime=uptimes,
        costs=costs,
        notes=notes,
    )
