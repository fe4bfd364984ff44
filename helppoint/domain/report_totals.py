"""Activation totals a report is built from, when they are counted in the database rather than
read activation by activation (the yearly report over a million activations: issue #23).

The database groups the period's activations by unit, classification and whole seconds to
answer, and by a UTC time slot; the figures built from these totals are the same as those
built from every activation (domain/reports.py), which tests/reports check on both databases.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from helppoint.domain.classification import Classification
from helppoint.domain.sla import AnswerTargets


@dataclass(frozen=True)
class ActivationCount:
    """How many activations of one unit, one classification (None: unclassified) and one
    answer second (None: never answered) a period had, and their presses."""

    unit_id: str
    zone_id: str
    classification: Classification | None
    answer_second: int | None  # answer_second(microseconds to answer)
    activations: int
    presses: int


@dataclass(frozen=True)
class SlotCount:
    """Activations opened in one UTC time slot (slot_seconds long), for the hour-of-week maps."""

    start: datetime
    activations: int
    false: int
    malicious: int


@dataclass(frozen=True)
class PeriodCounts:
    """One period's activations (a month of the trends): how many, genuine, false, malicious,
    never answered, and answers per answer second."""

    activations: int = 0
    genuine: int = 0
    false: int = 0
    malicious: int = 0
    unanswered: int = 0
    histogram: dict[int, int] = field(default_factory=dict)


def answer_second(microseconds: int) -> int:
    """The whole seconds an answer took, rounded up (0 for none): an answer within a target of
    T seconds is one whose answer_second is at most T, exactly as the activations say."""
    return 0 if microseconds <= 0 else (microseconds + 999_999) // 1_000_000


def slot_seconds(tz: ZoneInfo, start: datetime, end: datetime) -> int:
    """The longest UTC slot (an hour, or a quarter of one) that falls in one local hour
    throughout [start, end): an hour where every offset from UTC is whole hours."""
    day = start
    while day < end:
        offset = day.astimezone(tz).utcoffset() or timedelta(0)
        if offset.total_seconds() % 3600:
            return 900
        day += timedelta(days=1)
    return 3600


def nearest_rank(count: int, q: float) -> int:
    """The 1-based rank of the q-th percentile (0..1) of `count` values, nearest-rank method."""
    return min(max(1, math.ceil(q * count)), count)


def percentile_positions(
    histogram: dict[int, int], quantiles: Sequence[float]
) -> dict[float, tuple[int, int]]:
    """Where each percentile lies: (answer second, 0-based position within that second's
    answers, in order), from how many answers each whole second holds."""
    count = sum(histogram.values())
    positions: dict[float, tuple[int, int]] = {}
    if not count:
        return positions
    for q in quantiles:
        rank, below = nearest_rank(count, q), 0
        for second in sorted(histogram):
            if below + histogram[second] >= rank:
                positions[q] = (second, rank - below - 1)
                break
            below += histogram[second]
    return positions


def answered_within(histogram: dict[int, int], targets: AnswerTargets) -> dict[int, int]:
    """How many answers came within each target's seconds."""
    return {
        t.seconds: sum(n for second, n in histogram.items() if second <= t.seconds)
        for t in targets.targets
    }


def answer_histogram(counts: Iterable[ActivationCount]) -> dict[int, int]:
    """Answers per answer second (the never answered left out)."""
    histogram: dict[int, int] = {}
    for count in counts:
        if count.answer_second is not None:
            second = count.answer_second
            histogram[second] = histogram.get(second, 0) + count.activations
    return histogram
