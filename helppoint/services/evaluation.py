"""Use case: evaluate the scheme's impact on recorded crime (docs/evaluation.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from helppoint.domain.errors import InvalidInput, NotFound
from helppoint.domain.evaluation import Area, Evaluation, Interval, bounding_box, evaluate
from helppoint.domain.model import AuditEntry
from helppoint.services.crime_import import thin_months
from helppoint.store.uow import UnitOfWork


def parse_place(text: str) -> Area:
    """A comparison place written NAME:LAT,LON, e.g. "Abington Park:52.2425,-0.8650"."""
    name, _, position = text.rpartition(":")
    try:
        lat_text, lon_text = position.split(",")
        latitude, longitude = float(lat_text), float(lon_text)
    except ValueError as exc:
        raise InvalidInput(f"a comparison place is NAME:LAT,LON, not {text!r}") from exc
    if not name.strip() or not -90 <= latitude <= 90 or not -180 <= longitude <= 180:
        raise InvalidInput(f"a comparison place is NAME:LAT,LON with a real position: {text!r}")
    return Area(name.strip(), latitude, longitude, treated=False)


def crime_types(uow: UnitOfWork) -> list[tuple[str, int]]:
    """The crime types imported, with how many crimes of each, most common first."""
    with uow:
        return uow.crime_records.types()


def evaluate_scheme(
    uow: UnitOfWork,
    types: Sequence[str],
    radius_m: float,
    installed: date,
    comparison: Sequence[Area],
    unit_ids: Sequence[str] | None = None,
    confidence: float = 0.95,
) -> Evaluation:
    """Difference in differences of the chosen crime types around the units (all, or those
    named) against the comparison places, over the months of imported crime data."""
    if not comparison:
        raise InvalidInput("name at least one comparison place (NAME:LAT,LON)")
    with uow:
        units = {unit.id: unit for unit in uow.units.list(include_retired=True)}
        chosen = list(unit_ids) if unit_ids else sorted(units)
        for unit_id in chosen:
            if unit_id not in units:
                raise NotFound(f"there is no help point {unit_id!r}")
        areas = [
            Area(units[u].id, units[u].latitude, units[u].longitude, treated=True) for u in chosen
        ]
        areas += list(comparison)
        months = uow.crime_records.months()
        if not months:
            raise InvalidInput("no crime data imported yet: run `helppoint crime import FILE`")
    # A month that looks incomplete would count as a month of little crime: left out.
    left_out = thin_months(uow) & set(months)
    months = [m for m in months if m not in left_out]
    with uow:
        crimes = uow.crime_records.in_box(types, bounding_box(areas, radius_m))
    result = evaluate(areas, crimes, types, radius_m, installed, months, confidence)
    return replace(result, left_out=tuple(sorted(left_out)))


def _interval(value: Interval | None, digits: int) -> dict[str, float] | None:
    if value is None:
        return None
    return {
        "estimate": round(value.estimate, digits),
        "low": round(value.low, digits),
        "high": round(value.high, digits),
    }


def evaluation_view(result: Evaluation) -> dict[str, Any]:
    """The evaluation as JSON."""
    return {
        "crime_types": list(result.crime_types),
        "radius_m": result.radius_m,
        "installed": f"{result.installed:%Y-%m}",
        "months_before": [f"{m:%Y-%m}" for m in result.months_before],
        "months_after": [f"{m:%Y-%m}" for m in result.months_after],
        "confidence": result.confidence,
        "areas": [
            {
                "name": c.area.name,
                "help_point": c.area.treated,
                "before": c.before,
                "after": c.after,
            }
            for c in result.areas
        ],
        "difference_per_area_month": _interval(result.difference, 3),
        "rate_ratio": _interval(result.rate_ratio, 3),
        "monthly": [
            {"month": f"{m:%Y-%m}", "help_points": round(t, 3), "comparison": round(c, 3)}
            for m, t, c in result.monthly
        ],
        "months_left_out": [f"{m:%Y-%m}" for m in result.left_out],
        "summary": result.summary(),
        "caveat": result.caveat,
    }


def save_latest(uow: UnitOfWork, view: dict[str, Any], by: str, now: datetime) -> dict[str, Any]:
    """Keep an evaluation as the latest, for the monthly and yearly PDF (audited)."""
    stored = view | {"run_at": now.isoformat(), "run_by": by}
    with uow:
        uow.evaluation_runs.add(now, by, stored)
        uow.audit.add(
            AuditEntry(
                at=now,
                actor=by,
                action="evaluation.run",
                detail={
                    "crime_types": view["crime_types"],
                    "radius_m": view["radius_m"],
                    "installed": view["installed"],
                    "difference": view["difference_per_area_month"],
                },
            )
        )
        uow.commit()
    return stored


def latest(uow: UnitOfWork) -> dict[str, Any] | None:
    """The latest evaluation kept, or None."""
    with uow:
        return uow.evaluation_runs.latest()
