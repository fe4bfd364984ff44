"""Impact evaluation: crime near help points before and after installation, against comparison
areas, as a difference-in-differences estimate with a confidence interval (docs/evaluation.md).

Pure computation: the crimes come in as plain points; nothing here reads files or databases.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from helppoint.domain.errors import InvalidInput

EARTH_RADIUS_M = 6_371_008.8
CAVEAT = (
    "This compares the change in recorded crime near the help points, before and after they "
    "were installed, with the change over the same months in comparison areas without help "
    "points. It shows an association, not proof that the help points caused any difference: "
    "other things may have changed in one place and not the other (policing, lighting, "
    "events, how crimes are recorded). police.uk places crimes at approximate, anonymised "
    "points, and the interval assumes crimes are independent counts, so the true uncertainty "
    "is larger than shown."
)


@dataclass(frozen=True)
class Area:
    """A circle around a help point (treated) or around a comparison place (not treated)."""

    name: str
    latitude: float
    longitude: float
    treated: bool


@dataclass(frozen=True)
class CrimePoint:
    """One street-level crime: its month, type and approximate place."""

    month: date
    crime_type: str
    latitude: float
    longitude: float


@dataclass(frozen=True)
class AreaCounts:
    """Crimes of the chosen types within the radius of one area."""

    area: Area
    before: int
    after: int


@dataclass(frozen=True)
class Interval:
    """An estimate with the bounds of its confidence interval."""

    estimate: float
    low: float
    high: float

    def contains(self, value: float) -> bool:
        """Whether `value` lies within the interval."""
        return self.low <= value <= self.high


@dataclass(frozen=True)
class Evaluation:
    """The outcome of an evaluation, with what it was computed from."""

    crime_types: tuple[str, ...]
    radius_m: float
    installed: date
    months_before: tuple[date, ...]
    months_after: tuple[date, ...]
    confidence: float
    areas: tuple[AreaCounts, ...]
    #: Change in crimes per area per month near help points, minus the change elsewhere.
    difference: Interval
    #: (treated after / before) / (comparison after / before); None when a group has no crime.
    rate_ratio: Interval | None
    caveat: str
    #: Month by month: (month, mean crimes per help point area, per comparison area).
    monthly: tuple[tuple[date, float, float], ...] = ()
    #: Imported months left out because their data looked incomplete.
    left_out: tuple[date, ...] = ()

    def summary(self) -> str:
        """The result in one or two plain sentences."""
        d = self.difference
        level = f"{self.confidence * 100:g}%"
        words = (
            f"Near the help points, recorded crime changed by {d.estimate:+.2f} per area per "
            f"month more than in the comparison areas ({level} interval {d.low:+.2f} to "
            f"{d.high:+.2f})."
        )
        if self.rate_ratio is not None:
            r = self.rate_ratio
            words += (
                f" As a ratio: {r.estimate:.2f} ({level} interval {r.low:.2f} to {r.high:.2f}), "
                f"i.e. {(r.estimate - 1) * 100:+.0f}%."
            )
        if d.contains(0):
            words += " The interval includes no change, so chance cannot be ruled out."
        return words


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


@dataclass(frozen=True)
class Box:
    """A latitude/longitude rectangle: the crimes worth loading for an evaluation."""

    south: float
    north: float
    west: float
    east: float


def bounding_box(areas: Sequence[Area], radius_m: float) -> Box:
    """A box holding every area's circle, with 5% to spare (a degree of longitude narrows
    towards the poles, so the widest latitude sets its padding)."""
    pad_lat = radius_m / 111_000 * 1.05
    lats = [a.latitude for a in areas]
    widest = max(abs(lat) for lat in lats)
    pad_lon = pad_lat / max(math.cos(math.radians(min(widest + pad_lat, 89.0))), 0.01)
    lons = [a.longitude for a in areas]
    return Box(min(lats) - pad_lat, max(lats) + pad_lat, min(lons) - pad_lon, max(lons) + pad_lon)


def _mean_var(values: Sequence[int]) -> tuple[float, float]:
    mean = statistics.fmean(values)
    return mean, statistics.variance(values) if len(values) > 1 else 0.0


def evaluate(
    areas: Sequence[Area],
    crimes: Iterable[CrimePoint],
    crime_types: Sequence[str],
    radius_m: float,
    installed: date,
    months: Sequence[date],
    confidence: float = 0.95,
) -> Evaluation:
    """Difference in differences of crime counts per area-month.

    `months` are the months the crime data covers (first of month); those before `installed`
    are "before", those after it "after"; the installation month itself is left out, since the
    units went in during it. A crime within `radius_m` of several areas counts for each.
    """
    if not any(a.treated for a in areas) or all(a.treated for a in areas):
        raise InvalidInput("an evaluation needs help point areas and comparison areas")
    if not 10 <= radius_m <= 5000:
        raise InvalidInput("the radius must be 10-5000 metres")
    if not 0.5 <= confidence < 1:
        raise InvalidInput("the confidence level must be between 0.5 and 1")
    if not crime_types:
        raise InvalidInput("choose at least one crime type")
    installed = installed.replace(day=1)
    before = tuple(sorted(m for m in set(months) if m < installed))
    after = tuple(sorted(m for m in set(months) if m > installed))
    if not before or not after:
        raise InvalidInput(
            f"the crime data must cover months before and after {installed:%Y-%m} "
            f"(it covers {len(before)} before and {len(after)} after)"
        )
    wanted, period = set(crime_types), set(before) | set(after)
    counts = {(i, m): 0 for i in range(len(areas)) for m in period}
    for crime in crimes:
        if crime.crime_type not in wanted or crime.month not in period:
            continue
        for i, area in enumerate(areas):
            if distance_m(area.latitude, area.longitude, crime.latitude, crime.longitude) <= (
                radius_m
            ):
                counts[(i, crime.month)] += 1
    groups: dict[tuple[bool, bool], list[int]] = {
        (treated, later): [] for treated in (True, False) for later in (False, True)
    }
    for (i, month), count in counts.items():
        groups[(areas[i].treated, month > installed)].append(count)
    z = statistics.NormalDist().inv_cdf(0.5 + confidence / 2)
    stats = {key: _mean_var(values) for key, values in groups.items()}
    estimate = (stats[(True, True)][0] - stats[(True, False)][0]) - (
        stats[(False, True)][0] - stats[(False, False)][0]
    )
    se = math.sqrt(sum(var / len(groups[key]) for key, (_, var) in stats.items()))
    difference = Interval(estimate, estimate - z * se, estimate + z * se)
    totals = {key: sum(values) for key, values in groups.items()}
    ratio = None
    if all(totals.values()):
        log_ratio = math.log(totals[(True, True)] * totals[(False, False)]) - math.log(
            totals[(True, False)] * totals[(False, True)]
        )
        log_se = math.sqrt(sum(1 / total for total in totals.values()))
        ratio = Interval(
            math.exp(log_ratio), math.exp(log_ratio - z * log_se), math.exp(log_ratio + z * log_se)
        )
    per_area = tuple(
        AreaCounts(
            area,
            sum(counts[(i, m)] for m in before),
            sum(counts[(i, m)] for m in after),
        )
        for i, area in enumerate(areas)
    )
    treated = [i for i, area in enumerate(areas) if area.treated]
    others = [i for i, area in enumerate(areas) if not area.treated]
    monthly = tuple(
        (
            month,
            sum(counts[(i, month)] for i in treated) / len(treated),
            sum(counts[(i, month)] for i in others) / len(others),
        )
        for month in sorted(period)
    )
    return Evaluation(
        monthly=monthly,
        crime_types=tuple(crime_types),
        radius_m=radius_m,
        installed=installed,
        months_before=before,
        months_after=after,
        confidence=confidence,
        areas=per_area,
        difference=difference,
        rate_ratio=ratio,
        caveat=CAVEAT,
    )
