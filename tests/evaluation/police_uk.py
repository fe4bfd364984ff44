"""Generate street-level crime files in the police.uk CSV format, with a planted effect."""

from __future__ import annotations

import csv
import math
import random
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from helppoint.services.crime_import import COLUMNS

FORCE = "Northamptonshire Police"
CHOSEN = "Violence and sexual offences"


@dataclass(frozen=True)
class Plan:
    """Monthly Poisson rates of the chosen crime type per area, and the planted effect."""

    treated: list[tuple[float, float]]
    comparison: list[tuple[float, float]]
    months: list[date]
    installed: date
    before_rate: float = 10.0
    trend: float = 1.2  # every area's rate after installation, without help points
    effect: float = 0.7  # the planted rate ratio near help points
    radius_m: float = 100.0


def month_range(first: date, count: int) -> list[date]:
    months, year, month = [], first.year, first.month
    for _ in range(count):
        months.append(date(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _poisson(rng: random.Random, rate: float) -> int:
    # Knuth's method: fine for the small rates used here.
    limit, k, p = math.exp(-rate), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _near(rng: random.Random, lat: float, lon: float, radius_m: float) -> tuple[float, float]:
    distance = radius_m * math.sqrt(rng.random())
    bearing = rng.random() * 2 * math.pi
    dlat = distance * math.cos(bearing) / 111_195
    dlon = distance * math.sin(bearing) / (111_195 * math.cos(math.radians(lat)))
    return lat + dlat, lon + dlon


def write_files(plan: Plan, folder: Path, seed: int = 6) -> list[Path]:
    """One file per month, as police.uk publishes them, with noise that must not count."""
    rng = random.Random(seed)
    paths = []
    for month in plan.months:
        after = month > plan.installed
        rows = []
        areas = [(p, True) for p in plan.treated] + [(p, False) for p in plan.comparison]
        for (lat, lon), treated in areas:
            rate = plan.before_rate
            if after:
                rate *= plan.trend * (plan.effect if treated else 1.0)
            for _ in range(_poisson(rng, rate)):
                rows.append((CHOSEN, *_near(rng, lat, lon, plan.radius_m * 0.9)))
            for _ in range(_poisson(rng, 3)):  # another type, not chosen
                rows.append(("Bicycle theft", *_near(rng, lat, lon, plan.radius_m * 0.9)))
        for _ in range(40):  # the chosen type, but far from every area
            rows.append((CHOSEN, 52.30 + rng.random() / 50, -0.80 + rng.random() / 50))
        path = folder / f"{month:%Y-%m}-northamptonshire-street.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(COLUMNS)
            for n, (kind, lat, lon) in enumerate(rows):
                writer.writerow(
                    [
                        f"{rng.getrandbits(64):016x}",
                        f"{month:%Y-%m}",
                        FORCE,
                        FORCE,
                        f"{lon:.6f}",
                        f"{lat:.6f}",
                        "On or near Market Square",
                        "E01027000",
                        "Northampton 020A",
                        kind,
                        "Investigation complete; no suspect identified",
                        "",
                    ]
                )
                if n == 0:  # anti-social behaviour rows have no Crime ID; some no location
                    writer.writerow(
                        ["", f"{month:%Y-%m}", FORCE, FORCE, "", "", "No location", "", "",
                         "Anti-social behaviour", "", ""]
                    )  # fmt: skip
        paths.append(path)
    return paths
