"""The open data the scheme publishes at /open-data when it chooses to (docs/open-data.md):
activations per unit and month, survey results per unit and month, a data dictionary and a
Frictionless data package describing both, under the scheme's licence. No personal data: counts
only, and survey figures resting on fewer than `min_answers` answers are left out.
"""

from __future__ import annotations

import io
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from helppoint.domain.reports import Month, time_zone
from helppoint.domain.survey import stats
from helppoint.services import reports as report_service
from helppoint.services import survey as survey_service
from helppoint.services.clock import utcnow
from helppoint.services.safe_csv import SafeCsvWriter
from helppoint.store.uow import UnitOfWork


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # Frictionless Table Schema type: string, integer, number, boolean
    description: str


@dataclass(frozen=True)
class DataFile:
    name: str
    path: str
    title: str
    description: str
    columns: tuple[Column, ...]


#: What each column of the supervisors' open-data CSV (services/reports.py OpenDataRow) means.
ACTIVATION_COLUMNS: dict[str, tuple[str, str]] = {
    "month": ("string", "calendar month, YYYY-MM, in the scheme's time zone"),
    "unit_id": ("string", "the help point's id, as on its sign"),
    "unit_name": ("string", "the help point's name"),
    "zone_id": ("string", "the id of the zone (area) the help point is in"),
    "activations": ("integer", "activations (an incident opened by a press)"),
    "genuine": (
        "integer",
        "activations classified as genuine (threat, concern, medical, information)",
    ),
    "false": ("integer", "activations classified as false (accidental, malicious, test)"),
    "technical": ("integer", "activations classified as a technical fault"),
    "unknown": ("integer", "activations classified as silent or unknown"),
    "unclassified": ("integer", "activations not classified (yet)"),
    "escalations": (
        "integer",
        "activations escalated under the trigger plan, or with a police call",
    ),
    "police_called": ("integer", "of those, activations with a police response recorded"),
    "police_deployments": ("integer", "activations passed to the police"),
}


def _activation_columns() -> tuple[Column, ...]:
    """The columns as the report code writes them, each with its meaning."""
    names = list(report_service.OpenDataRow.__dataclass_fields__)
    return tuple(
        Column(name, *ACTIVATION_COLUMNS.get(name, ("integer", "a count (docs/reports.md)")))
        for name in names
    )


ACTIVATIONS = DataFile(
    "activations",
    "activations.csv",
    "Help point activations per unit and month",
    "How often each help point was pressed in each month, and what the control room judged "
    "the activations to be. Counts only: no times, notes, people or incidents.",
    _activation_columns(),
)

SURVEY = DataFile(
    "survey",
    "survey.csv",
    "How safe people feel, per unit and month",
    'Answers to the optional, anonymous question "How safe do you feel here?" on each help '
    "point's page (1 very unsafe to 5 very safe). Figures resting on fewer answers than the "
    "scheme's threshold are left out (suppressed).",
    (
        Column("month", "string", "calendar month, YYYY-MM, in the scheme's time zone"),
        Column("unit_id", "string", "the help point's id, as on its sign"),
        Column("zone_id", "string", "the id of the zone the help point was in when answered"),
        Column("answers", "integer", "number of answers; empty when suppressed"),
        Column("suppressed", "boolean", "true when there were too few answers to publish"),
        Column("mean", "number", "mean answer, 1 to 5"),
        Column("mean_low", "number", "lower end of the mean's 95% confidence interval"),
        Column("mean_high", "number", "upper end of the mean's 95% confidence interval"),
        Column("safe_share", "number", "share of answers 4 or 5 (feeling safe), 0 to 1"),
        Column("safe_low", "number", "lower end of that share's 95% Wilson interval"),
        Column("safe_high", "number", "upper end of that share's 95% Wilson interval"),
    ),
)

FILES = (ACTIVATIONS, SURVEY)
STAT_KEYS = ("mean", "mean_low", "mean_high", "safe_share", "safe_low", "safe_high")


def published_months(count: int) -> list[Month]:
    """The last `count` complete months, oldest first."""
    today = utcnow().date()
    year, month = today.year, today.month
    months: list[Month] = []
    for _ in range(count):
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
        months.append(Month(year, month))
    return months[::-1]


def activations_csv(uow: UnitOfWork, months: list[Month], timezone: str) -> str:
    return report_service.open_data_csv(uow, months, timezone)


def survey_csv(uow: UnitOfWork, months: list[Month], timezone: str, min_answers: int) -> str:
    tz = time_zone(timezone)
    start, _ = months[0].bounds(tz)
    _, end = months[-1].bounds(tz)
    groups: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for a in survey_service.answers(uow, start, end):
        key = (a.hour.astimezone(tz).strftime("%Y-%m"), a.unit_id, a.zone_id)
        groups[key].append(a.feeling)
    out = io.StringIO()
    writer = SafeCsvWriter(out)
    writer.writerow([c.name for c in SURVEY.columns])
    for (month, unit_id, zone_id), feelings in sorted(groups.items()):
        if len(feelings) < min_answers:
            writer.writerow([month, unit_id, zone_id, "", "true", "", "", "", "", "", ""])
            continue
        s = stats(feelings).as_dict()
        figures = ["" if s[k] is None else s[k] for k in STAT_KEYS]
        writer.writerow([month, unit_id, zone_id, s["n"], "false", *figures])
    return out.getvalue()


def dictionary_csv() -> str:
    out = io.StringIO()
    writer = SafeCsvWriter(out)
    writer.writerow(["file", "column", "type", "description"])
    for data in FILES:
        for column in data.columns:
            writer.writerow([data.path, column.name, column.type, column.description])
    return out.getvalue()


def data_package(base_url: str, licence: str, licence_url: str, publisher: str) -> dict[str, Any]:
    """A Frictionless Data Package (datapackage.json) describing the files and their licence."""
    licences: list[dict[str, str]] = [{"title": licence}]
    if licence_url:
        licences[0]["path"] = licence_url
    package: dict[str, Any] = {
        "name": "help-points",
        "title": "Help points: activations and how safe people feel",
        "licenses": licences,
        "resources": [
            {
                "name": data.name,
                "path": f"{base_url}/open-data/{data.path}",
                "title": data.title,
                "description": data.description,
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "schema": {
                    "fields": [
                        {"name": c.name, "type": c.type, "description": c.description}
                        for c in data.columns
                    ]
                },
            }
            for data in FILES
        ],
    }
    if publisher:
        package["contributors"] = [{"title": publisher, "role": "publisher"}]
    return package
