"""Use cases behind the scheme manager's reports: the monthly report (JSON, CSV; the PDF is in
helppoint/printables/report.py) and the aggregated open-data export. See docs/reports.md."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from helppoint.domain.classification import Category, Classification
from helppoint.domain.errors import InvalidInput, NotFound
from helppoint.domain.model import AuditEntry, HelpPoint
from helppoint.domain.report_totals import (
    PeriodCounts,
    answer_histogram,
    answered_within,
    percentile_positions,
    slot_seconds,
)
from helppoint.domain.reports import (
    DAYS,
    AnswerTimes,
    CostInputs,
    IncidentFact,
    Intervention,
    InterventionEffect,
    Month,
    MonthlyReport,
    Period,
    ReportSettings,
    StatusChange,
    Summary,
    Trend,
    Uptime,
    Year,
    intervention_effect,
    monthly_report,
    police_outcomes,
    report_from_totals,
    supervised_window,
    time_zone,
    total,
    uptime,
)
from helppoint.domain.sla import DEFAULT_TARGETS, AnswerTargets
from helppoint.services.clock import utcnow
from helppoint.services.safe_csv import SafeCsvWriter
from helppoint.services.survey import summary as survey_summary
from helppoint.store.uow import UnitOfWork

#: The scheme's local time zone: the hour-of-week heatmap and month boundaries use it.
DEFAULT_TIMEZONE = "Europe/London"


def _facts(uow: UnitOfWork, start: datetime, end: datetime) -> list[IncidentFact]:
    return uow.reports.facts(start, end)


def _status_before(uow: UnitOfWork, start: datetime) -> dict[str, str]:
    return uow.supervision.status_before(start)


def _changes(uow: UnitOfWork, start: datetime, end: datetime) -> list[StatusChange]:
    return uow.reports.status_changes(start, end)


def _medians(
    uow: UnitOfWork,
    bounds: list[tuple[datetime, datetime]],
    counts: list[PeriodCounts],
    groups: list[list[int]],
) -> list[float | None]:
    """The exact median answer time of each group of periods (a month, the year to date…):
    its answer second from the counts, then the few answers of that second from the store."""
    positions: list[tuple[int, int] | None] = []
    wanted: set[tuple[int, int]] = set()
    for group in groups:
        histogram: dict[int, int] = {}
        for index in group:
            for second, n in counts[index].histogram.items():
                histogram[second] = histogram.get(second, 0) + n
        position = percentile_positions(histogram, (0.5,)).get(0.5)
        positions.append(position)
        if position is not None:
            wanted |= {(index, position[0]) for index in group}
    found = uow.reports.period_answer_microseconds(bounds, wanted)
    medians: list[float | None] = []
    for group, position in zip(groups, positions, strict=True):
        if position is None:
            medians.append(None)
            continue
        second, offset = position
        values = sorted(v for index in group for v in found[(index, second)])
        medians.append(values[offset] / 1_000_000)
    return medians


def _summaries(
    uow: UnitOfWork,
    months: list[Month],
    tz: ZoneInfo,
    targets: AnswerTargets,
    units: Sequence[HelpPoint],
    now: datetime,
    totals: dict[str, list[Month]] | None = None,
) -> tuple[dict[Month, Summary], dict[str, Summary]]:
    """Headline figures of consecutive months, counted in the database (store/
    repositories_reports.py), uptime from the flips; and of `totals`, named groups of those
    months (the year to date…), each with its own median answer time."""
    totals = totals or {}
    bounds = [month.bounds(tz) for month in months]
    counts = uow.reports.period_counts(bounds)
    index_of = {month: index for index, month in enumerate(months)}
    groups = [[index] for index in range(len(months))] + [
        [index_of[m] for m in group] for group in totals.values()
    ]
    medians = _medians(uow, bounds, counts, groups)
    start, end = bounds[0][0], bounds[-1][1]
    changes = _changes(uow, start, end)
    status = _status_before(uow, start)
    result: dict[Month, Summary] = {}
    for index, (month, (lo, hi)) in enumerate(zip(months, bounds, strict=True)):
        inside = [c for c in changes if lo <= c.at < hi]
        windows = {
            u.id: supervised_window(u.first_seen_at, u.retired_at, lo, hi, now) for u in units
        }
        uptimes = uptime(windows, inside, status, lo, hi)
        for change in inside:
            status[change.unit_id] = change.new_status
        figures = counts[index]
        result[month] = Summary(
            label=str(month),
            activations=figures.activations,
            genuine=figures.genuine,
            false=figures.false,
            malicious=figures.malicious,
            unanswered=figures.unanswered,
            within=answered_within(figures.histogram, targets),
            down_seconds=sum(u.down_seconds for u in uptimes),
            supervised_seconds=sum(u.supervised_seconds for u in uptimes),
            median_seconds=medians[index],
        )
    named = {
        label: total([result[m] for m in group], label, medians[len(months) + n])
        for n, (label, group) in enumerate(totals.items())
    }
    return result, named


def _trend(
    uow: UnitOfWork,
    period: Period,
    tz: ZoneInfo,
    targets: AnswerTargets,
    units: Sequence[HelpPoint],
    now: datetime,
) -> Trend:
    if isinstance(period, Year):
        months = period.months
        wanted = [*Year(period.year - 1).months, *months]
        label = str(period.year - 1)
        figures, totals = _summaries(uow, wanted, tz, targets, units, now, {label: wanted[:12]})
        return Trend([figures[m] for m in months], None, totals[label], None)
    first = period.shifted(-12)  # the same month last year, then the 12 months to this one
    wanted = [first.shifted(n) for n in range(13)]
    label = f"{period.year} to {period.short}"
    this_year = [m for m in wanted if m.year == period.year]
    figures, totals = _summaries(uow, wanted, tz, targets, units, now, {label: this_year})
    return Trend(
        months=[figures[m] for m in wanted[1:]],
        previous=figures[period.shifted(-1)],
        last_year=figures[first],
        year_to_date=totals[label],
    )


def report_settings(uow: UnitOfWork) -> ReportSettings:
    """The stored scheme name and cost inputs (the defaults until someone saves them)."""
    with uow:
        return uow.report_inputs.settings() or ReportSettings()


def save_report_settings(
    uow: UnitOfWork, scheme_name: str, costs: CostInputs, by: str, now: datetime
) -> ReportSettings:
    """Store the scheme name and cost inputs every report uses from now on (audited)."""
    name = " ".join(scheme_name.split())
    if not 1 <= len(name) <= 200 or not name.isprintable():
        raise InvalidInput("the scheme's name is 1-200 printable characters")
    saved = ReportSettings(name, costs, now, by)
    with uow:
        uow.report_inputs.save_settings(saved)
        uow.audit.add(
            AuditEntry(
                at=now,
                actor=by,
                action="report.settings",
                detail={
                    "scheme_name": name,
                    "capital": costs.capital,
                    "capital_months": costs.capital_months,
                    "monitoring_per_month": costs.monitoring_per_month,
                },
            )
        )
        uow.commit()
    return saved


#: Days before and after an intervention the report compares.
INTERVENTION_DAYS = 28


def add_intervention(
    uow: UnitOfWork, unit_id: str, on: date, what: str, by: str, now: datetime
) -> Intervention:
    """Record something done at a unit (new signage…): the report shows before and after."""
    what = " ".join(what.split())
    if not 1 <= len(what) <= 500 or not what.isprintable():
        raise InvalidInput("say what was done in 1-500 printable characters")
    with uow:
        if uow.units.get(unit_id) is None:
            raise InvalidInput(f"no unit {unit_id!r}")
        made = uow.report_inputs.add_intervention(unit_id, on, what, now, by)
        uow.audit.add(
            AuditEntry(
                at=now,
                actor=by,
                action="report.intervention",
                detail={"unit": unit_id, "on": on.isoformat(), "what": what},
            )
        )
        uow.commit()
    return made


def remove_intervention(uow: UnitOfWork, intervention_id: int, by: str, now: datetime) -> None:
    """Forget a mistaken intervention (audited)."""
    with uow:
        if not uow.report_inputs.remove_intervention(intervention_id):
            raise NotFound(f"no intervention {intervention_id}")
        uow.audit.add(
            AuditEntry(
                at=now,
                actor=by,
                action="report.intervention_removed",
                detail={"intervention": intervention_id},
            )
        )
        uow.commit()


def list_interventions(uow: UnitOfWork) -> list[Intervention]:
    with uow:
        return uow.report_inputs.interventions()


def _intervention_effects(
    uow: UnitOfWork, period: Period, tz: ZoneInfo, now: datetime
) -> list[InterventionEffect]:
    """Interventions within the period or the INTERVENTION_DAYS before it, with the false
    presses at their unit in equal windows either side."""
    start, end = period.bounds(tz)
    days = INTERVENTION_DAYS
    first_day = (start.astimezone(tz) - timedelta(days=days)).date()
    last_day = (end.astimezone(tz) - timedelta(days=1)).date()
    with uow:
        effects = []
        for made in uow.report_inputs.interventions(first_day, last_day):
            day = datetime(made.on.year, made.on.month, made.on.day, tzinfo=tz)
            presses = uow.reports.false_presses(
                made.unit_id, day - timedelta(days=days), day + timedelta(days=days)
            )
            effects.append(intervention_effect(made, presses, tz, days, now))
    return effects


def _report_from_totals(
    uow: UnitOfWork,
    period: Period,
    tz: ZoneInfo,
    targets: AnswerTargets,
    unit_zones: dict[str, str],
    uptimes: list[Uptime],
    costs: CostInputs,
    names: dict[str, str],
) -> MonthlyReport:
    """The report's figures from activations counted in the database (the same figures as
    monthly_report's from every activation; tests/reports/test_report_totals.py)."""
    start, end = period.bounds(tz)
    counts = uow.reports.activation_counts(start, end)
    histogram = answer_histogram(counts)
    positions = percentile_positions(histogram, (0.5, 0.9))
    wanted = {second for second, _ in positions.values()}
    micros = uow.reports.answer_microseconds(start, end, wanted) if wanted else {}
    value = {q: micros[second][index] / 1_000_000 for q, (second, index) in positions.items()}
    times = AnswerTimes(
        answered=sum(histogram.values()),
        unanswered=sum(c.activations for c in counts if c.answer_second is None),
        within=answered_within(histogram, targets),
        median_seconds=value.get(0.5),
        p90_seconds=value.get(0.9),
        targets=targets,
    )
    return report_from_totals(
        period,
        tz,
        counts,
        uow.reports.slot_counts(start, end, slot_seconds(tz, start, end)),
        times,
        police_outcomes(uow.reports.escalations(start, end)),
        uow.reports.never_answered(start, end),
        unit_zones,
        uptimes,
        costs,
        names,
    )


def build_monthly_report(
    uow: UnitOfWork,
    month: Period,
    costs: CostInputs | None = None,
    timezone: str = DEFAULT_TIMEZONE,
    targets: AnswerTargets = DEFAULT_TARGETS,
    now: datetime | None = None,
    trend: bool = True,
) -> MonthlyReport:
    """The report for a month or a year from the stored incidents, police responses and
    supervision flips, its answer times against the scheme's `targets` (setting sla_targets),
    its costs the stored ones (report_settings) unless `costs` are given."""
    tz = time_zone(timezone)
    start, end = month.bounds(tz)
    now = now or utcnow()
    settings = report_settings(uow)
    with uow:
        units = uow.units.list(include_retired=True)
        unit_zones = {unit.id: unit.zone_id for unit in units}
        # Supervised time only: from first heard to now or retirement ("no data" without any).
        windows = {
            u.id: supervised_window(u.first_seen_at, u.retired_at, start, end, now) for u in units
        }
        uptimes = uptime(windows, _changes(uow, start, end), _status_before(uow, start), start, end)
        figures = _trend(uow, month, tz, targets, units, now) if trend else None
        names = {unit.id: unit.name for unit in units}
        if isinstance(month, Year):
            # A year may hold a million activations: counted in the database, not read.
            report = _report_from_totals(
                uow, month, tz, targets, unit_zones, uptimes, costs or settings.costs, names
            )
            report = replace(report, trend=figures)
        else:
            facts = _facts(uow, start, end)
            report = monthly_report(
                month,
                tz,
                facts,
                unit_zones,
                uptimes,
                costs or settings.costs,
                targets,
                names,
                figures,
            )
    effects = _intervention_effects(uow, month, tz, now)
    survey = survey_summary(uow, start, end, timezone)
    return replace(report, interventions=effects, generated_at=now, survey=survey)


def _ratio(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _money(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _summary_view(summary: Summary | None, targets: AnswerTargets) -> dict[str, Any] | None:
    """A period's figures; before the scheme ran (no unit supervised, no activation) its
    counts and shares are None ("no data"), not 0."""
    if summary is None:
        return None
    known = summary.has_data
    return {
        "label": summary.label,
        "has_data": known,
        "activations": summary.activations if known else None,
        "genuine": summary.genuine if known else None,
        "false": summary.false if known else None,
        "malicious": summary.malicious if known else None,
        "unanswered": summary.unanswered if known else None,
        "answered_within": {
            str(t.seconds): _ratio(summary.share_within(t.seconds)) for t in targets.targets
        },
        "median_answer_seconds": summary.median_seconds,
        "uptime": None if summary.uptime is None else round(summary.uptime, 5),
    }


def report_view(report: MonthlyReport) -> dict[str, Any]:
    """The report as JSON for the dashboard and the API."""
    times = report.answer_times
    police = report.police
    trend = report.trend
    kind = "year" if isinstance(report.month, Year) else "month"
    return {
        "kind": kind,
        "month": str(report.month),
        "label": report.month.label,
        "timezone": report.timezone,
        "generated_at": report.generated_at.isoformat() if report.generated_at else None,
        "activations": report.activations,
        "presses": report.presses,
        "unit_names": report.unit_names,
        "by_unit": report.by_unit,
        "by_zone": report.by_zone,
        "heatmap": {"days": list(DAYS), "hours": list(range(24)), "counts": report.heatmap},
        "false_heatmap": report.false_heatmap,
        "malicious_heatmap": report.malicious_heatmap,
        "by_classification": report.by_classification,
        "by_category": report.by_category,
        "genuine_share": _ratio(report.share(Category.GENUINE)),
        "false_share": _ratio(report.share(Category.FALSE)),
        "false_categories": report.false_categories,
        "false_by_unit": report.false_by_unit,
        "top_prank_units": [
            {"unit_id": unit_id, "malicious": malicious, "false": false}
            for unit_id, malicious, false in report.top_prank_units()
        ],
        "answer_times": {
            "activations": times.total,
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
                    "share_of_answered": _ratio(times.share_within_answered(target.seconds)),
                    "met": times.meets(target.seconds, target.share),
                }
                for target in times.targets.targets
            ],
            "targets_label": times.targets.label,
            "never_answered": [
                {"opened_at": at.isoformat(), "unit_id": unit_id}
                for at, unit_id in report.unanswered
            ],
        },
        "police": {
            "escalated": police.escalated,
            "police_called": police.police_called,
            "police_acknowledged": police.police_acknowledged,
            "police_attended": police.police_attended,
            "median_minutes_to_attend": _money(police.median_minutes_to_attend),
            "medical_without_police": police.medical_without_police,
            "other_without_police": police.other_without_police,
        },
        "uptime": [
            {
                "unit_id": u.unit_id,
                "share": None if u.share is None else round(u.share, 5),
                "down_seconds": u.down_seconds,
                "supervised_seconds": u.supervised_seconds,
            }
            for u in report.uptime
        ],
        "costs": {
            "capital": report.costs.capital,
            "capital_months": report.costs.capital_months,
            "monitoring_per_month": report.costs.monitoring_per_month,
            "month_cost": round(report.costs.per_month, 2),
            "period_cost": round(report.period_cost, 2),
            "inputs": report.costs.formula,
            "cost_per_genuine": _money(report.cost_per_genuine),
            "rolling_12_months_cost_per_genuine": _money(report.rolling_cost_per_genuine),
            "rolling_months": report.rolling_months,
        },
        "trend": None
        if trend is None
        else {
            "months": [_summary_view(m, times.targets) for m in trend.months],
            "previous": _summary_view(trend.previous, times.targets),
            "last_year": _summary_view(trend.last_year, times.targets),
            "year_to_date": _summary_view(trend.year_to_date, times.targets),
        },
        "interventions": [
            {
                "id": e.intervention.id,
                "unit_id": e.intervention.unit_id,
                "on": e.intervention.on.isoformat(),
                "what": e.intervention.what,
                "days": e.days,
                "false_before": e.false_before,
                "false_after": e.false_after,
                "malicious_before": e.malicious_before,
                "malicious_after": e.malicious_after,
                "complete": e.complete,
            }
            for e in report.interventions
        ],
        "survey": report.survey,
        "notes": report.notes,
    }


def report_csv(report: MonthlyReport) -> str:
    """The report as one long CSV: section, item, value (easy to pivot in a spreadsheet)."""
    out = io.StringIO()
    writer = SafeCsvWriter(out)
    writer.writerow(["section", "item", "value"])
    view = report_view(report)
    writer.writerow(["summary", "period", view["month"]])
    writer.writerow(["summary", "activations", view["activations"]])
    writer.writerow(["summary", "presses", view["presses"]])
    writer.writerow(["summary", "genuine_share", view["genuine_share"]])
    writer.writerow(["summary", "false_share", view["false_share"]])
    for key, value in view["police"].items():
        writer.writerow(["police", key, value])
    for unit_id, count in view["by_unit"].items():
        writer.writerow(["by_unit", unit_id, count])
    for zone_id, count in view["by_zone"].items():
        writer.writerow(["by_zone", zone_id, count])
    for category, count in view["by_category"].items():
        writer.writerow(["by_category", category, count])
    for code in [c.value for c in Classification] + ["unclassified"]:
        writer.writerow(["by_classification", code, view["by_classification"].get(code, 0)])
    for unit_id, counts in view["false_by_unit"].items():
        for code, count in counts.items():
            writer.writerow(["false_by_unit", f"{unit_id} {code}", count])
    for target in view["answer_times"]["targets"]:
        seconds = target["within_seconds"]
        writer.writerow(["answer_times", f"share_within_{seconds}s", target["share"]])
        writer.writerow(
            ["answer_times", f"share_of_answered_within_{seconds}s", target["share_of_answered"]]
        )
        writer.writerow(["answer_times", f"target_{seconds}s_met", target["met"]])
    for key in ("answered", "unanswered", "median_seconds", "p90_seconds"):
        writer.writerow(["answer_times", key, view["answer_times"][key]])
    for item in view["answer_times"]["never_answered"]:
        writer.writerow(["never_answered", item["opened_at"], item["unit_id"]])
    for day, counts in zip(DAYS, report.heatmap, strict=True):
        for hour, count in enumerate(counts):
            writer.writerow(["hour_of_week", f"{day} {hour:02d}:00", count])
    for day, counts in zip(DAYS, report.false_heatmap, strict=True):
        for hour, count in enumerate(counts):
            writer.writerow(["false_hour_of_week", f"{day} {hour:02d}:00", count])
    for item in view["uptime"]:
        share = "no data" if item["share"] is None else item["share"]
        writer.writerow(["uptime", item["unit_id"], share])
    for key, value in view["costs"].items():
        writer.writerow(["costs", key, value])
    if view["trend"] is not None:
        for month in view["trend"]["months"]:
            for key in ("activations", "genuine", "unanswered", "median_answer_seconds"):
                value = month[key] if month["has_data"] else "no data"
                writer.writerow([f"trend_{key}", month["label"], value])
            uptime = "no data" if month["uptime"] is None else month["uptime"]
            writer.writerow(["trend_uptime", month["label"], uptime])
    survey = view["survey"]
    if survey is not None:
        groups = [
            ("survey", {"all": survey["overall"]}),
            ("survey_before_after", survey["before_after"]),
            ("survey_by_unit", survey["by_unit"]),
            ("survey_by_zone", survey["by_zone"]),
            ("survey_by_hour", survey["by_hour"]),
        ]
        for section, stats in groups:
            for key, figures in stats.items():
                for name, value in figures.items():
                    writer.writerow([section, f"{key} {name}", value])
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
    escalations: int
    police_called: int


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
            row["escalations"] += fact.escalated or fact.police_called_at is not None
            row["police_called"] += fact.police_called_at is not None
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
