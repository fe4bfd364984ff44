"""Use cases behind the scheme manager's reports: the monthly report (JSON, CSV; the PDF is in
helppoint/printables/report.py) and the aggregated open-data export. See docs/reports.md."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, func, select

from helppoint.domain.classification import Category, Classification
from helppoint.domain.errors import InvalidInput
from helppoint.domain.events import Priority
from helppoint.domain.reports import (
    DAYS,
    CostInputs,
    IncidentFact,
    Month,
    MonthlyReport,
    StatusChange,
    monthly_report,
    uptime,
)
from helppoint.domain.sla import DEFAULT_TARGETS, AnswerTargets
from helppoint.domain.units import in_service_yet
from helppoint.services.safe_csv import SafeCsvWriter
from helppoint.store.tables import help_points, incidents
from helppoint.store.tables_supervision import unit_flips
from helppoint.store.uow import UnitOfWork

#: The scheme's local time zone: the hour-of-week heatmap and month boundaries use it.
DEFAULT_TIMEZONE = "Europe/London"


def time_zone(name: str) -> ZoneInfo:
    """A ZoneInfo, or InvalidInput naming the bad zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(f"unknown time zone {name!r} (e.g. Europe/London)") from exc


def _facts(uow: UnitOfWork, start: datetime, end: datetime) -> list[IncidentFact]:
    query = (
        select(
            incidents.c.unit_id,
            help_points.c.zone_id,
            incidents.c.opened_at,
            incidents.c.acknowledged_at,
            incidents.c.classification,
            incidents.c.escalated_at,
            incidents.c.event_count,
        )
        .join(help_points, help_points.c.id == incidents.c.unit_id)
        .where(
            and_(
                incidents.c.priority == Priority.ACTIVATION,
                incidents.c.on_test.is_(False),  # a unit on test: no alarm (docs/triage.md)
                incidents.c.opened_at >= start,
                incidents.c.opened_at < end,
            )
        )
    )
    return [
        IncidentFact(
            unit_id=row[0],
            zone_id=row[1],
            opened_at=row[2],
            acknowledged_at=row[3],
            classification=row[4],
            escalated=row[5] is not None,
            presses=row[6],
        )
        for row in uow.session.execute(query)
    ]


def _status_before(uow: UnitOfWork, start: datetime) -> dict[str, str]:
    latest = (
        select(unit_flips.c.unit_id, func.max(unit_flips.c.id).label("id"))
        .where(unit_flips.c.at < start)
        .group_by(unit_flips.c.unit_id)
        .subquery()
    )
    rows = uow.session.execute(
        select(unit_flips.c.unit_id, unit_flips.c.new_status).join(
            latest, latest.c.id == unit_flips.c.id
        )
    )
    return {unit_id: status for unit_id, status in rows}


def _changes(uow: UnitOfWork, start: datetime, end: datetime) -> list[StatusChange]:
    rows = uow.session.execute(
        select(unit_flips.c.unit_id, unit_flips.c.at, unit_flips.c.new_status).where(
            and_(unit_flips.c.at >= start, unit_flips.c.at < end)
        )
    )
    return [StatusChange(unit_id, at, status) for unit_id, at, status in rows]


def build_monthly_report(
    uow: UnitOfWork,
    month: Month,
    costs: CostInputs | None = None,
    timezone: str = DEFAULT_TIMEZONE,
    targets: AnswerTargets = DEFAULT_TARGETS,
) -> MonthlyReport:
    """The monthly report for `month` from the stored incidents and supervision flips, its
    answer times against the scheme's `targets` (setting sla_targets)."""
    tz = time_zone(timezone)
    start, end = month.bounds(tz)
    with uow:
        units = uow.units.list(include_retired=True)
        unit_zones = {unit.id: unit.zone_id for unit in units}
        # A unit never heard from is not in service yet: it has no uptime (n/a), rather than
        # 100% (domain/units.py).
        heard = [unit.id for unit in units if in_service_yet(unit)]
        facts = _facts(uow, start, end)
        uptimes = uptime(heard, _changes(uow, start, end), _status_before(uow, start), start, end)
    return monthly_report(month, tz, facts, unit_zones, uptimes, costs or CostInputs(), targets)


def _ratio(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def report_view(report: MonthlyReport) -> dict[str, Any]:
    """The report as JSON for the dashboard and the API."""
    times = report.answer_times
    return {
        "month": str(report.month),
        "timezone": report.timezone,
        "activations": report.activations,
        "presses": report.presses,
        "by_unit": report.by_unit,
        "by_zone": report.by_zone,
        "heatmap": {"days": list(DAYS), "hours": list(range(24)), "counts": report.heatmap},
        "by_classification": report.by_classification,
        "by_category": report.by_category,
        "genuine_share": _ratio(report.share(Category.GENUINE)),
        "false_share": _ratio(report.share(Category.FALSE)),
        "false_categories": report.false_categories,
        "answer_times": {
            "answered": times.answered,
            "unanswered": times.unanswered,
            "median_seconds": times.median_seconds,
            "p90_seconds": times.p90_seconds,
            "targets": [
                {
                    "within_seconds": target.seconds,
                    "target": target.share,
                    "answered_within": times.within[target.seconds],
                    "share": _ratio(times.share_within(target.seconds)),
                    "met": times.meets(target.seconds, target.share),
                }
                for target in times.targets.targets
            ],
            "targets_label": times.targets.label,
        },
        "police_deployments": report.police_deployments,
        "uptime": [
            {"unit_id": u.unit_id, "share": round(u.share, 5), "down_seconds": u.down_seconds}
            for u in report.uptime
        ],
        "costs": {
            "capital": report.costs.capital,
            "capital_months": report.costs.capital_months,
            "monitoring_per_month": report.costs.monitoring_per_month,
            "month_cost": round(report.costs.per_month, 2),
            "cost_per_genuine": _money(report.cost_per_genuine),
        },
        "notes": report.notes,
    }


def _money(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def report_csv(report: MonthlyReport) -> str:
    """The report as one long CSV: section, item, value (easy to pivot in a spreadsheet)."""
    out = io.StringIO()
    writer = SafeCsvWriter(out)
    writer.writerow(["section", "item", "value"])
    view = report_view(report)
    writer.writerow(["summary", "month", view["month"]])
    writer.writerow(["summary", "activations", view["activations"]])
    writer.writerow(["summary", "presses", view["presses"]])
    writer.writerow(["summary", "police_deployments", view["police_deployments"]])
    writer.writerow(["summary", "genuine_share", view["genuine_share"]])
    writer.writerow(["summary", "false_share", view["false_share"]])
    for unit_id, count in view["by_unit"].items():
        writer.writerow(["by_unit", unit_id, count])
    for zone_id, count in view["by_zone"].items():
        writer.writerow(["by_zone", zone_id, count])
    for category, count in view["by_category"].items():
        writer.writerow(["by_category", category, count])
    for code in [c.value for c in Classification] + ["unclassified"]:
        writer.writerow(["by_classification", code, view["by_classification"].get(code, 0)])
    for target in view["answer_times"]["targets"]:
        seconds = target["within_seconds"]
        writer.writerow(["answer_times", f"share_within_{seconds}s", target["share"]])
        writer.writerow(["answer_times", f"target_{seconds}s_met", target["met"]])
    for key in ("answered", "unanswered", "median_seconds", "p90_seconds"):
        writer.writerow(["answer_times", key, view["answer_times"][key]])
    for day, counts in zip(DAYS, report.heatmap, strict=True):
        for hour, count in enumerate(counts):
            writer.writerow(["hour_of_week", f"{day} {hour:02d}:00", count])
    for item in view["uptime"]:
        writer.writerow(["uptime", item["unit_id"], item["share"]])
    for key, value in view["costs"].items():
        writer.writerow(["costs", key, value])
    return out.getvalue()


@dataclass(frozen=True)
class OpenDataRow:
    """One unit's counts for one month: nothing about any person or incident."""

    month: str
    unit_id: str
    unit_name: str
    zone_id: str
    activations: int
    genuine: int
    false: int
    technical: int
    unknown: int
    unclassified: int
    police_deployments: int


def open_data_csv(uow: UnitOfWork, months: list[Month], timezone: str = DEFAULT_TIMEZONE) -> str:
    """Aggregated counts per unit and month, safe to publish: no times, notes or people."""
    tz = time_zone(timezone)
    if not months or len(months) > 120:
        raise InvalidInput("ask for 1 to 120 months of open data")
    with uow:
        units = {unit.id: unit for unit in uow.units.list(include_retired=True)}
        per_month = {}
        for month in months:
            start, end = month.bounds(tz)
            per_month[month] = _facts(uow, start, end)
    out = io.StringIO()
    writer = SafeCsvWriter(out)
    header = list(OpenDataRow.__dataclass_fields__)
    writer.writerow(header)
    for month in months:
        counts: dict[str, dict[str, int]] = {
            unit_id: dict.fromkeys(header[4:], 0) for unit_id in units
        }
        for fact in per_month[month]:
            row = counts.setdefault(fact.unit_id, dict.fromkeys(header[4:], 0))
            row["activations"] += 1
            kind = fact.classification.category.value if fact.classification else "unclassified"
            row[kind] += 1
            row["police_deployments"] += fact.escalated
        for unit_id in sorted(counts):
            unit = units.get(unit_id)
            writer.writerow(
                [
                    str(month),
                    unit_id,
                    unit.name if unit else "",
                    unit.zone_id if unit else "",
                    *counts[unit_id].values(),
                ]
            )
    return out.getvalue()
