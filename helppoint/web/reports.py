"""The scheme manager's reports: dashboard, monthly report (JSON, CSV, PDF), open data.

Reports need the supervise permission (supervisors and admins). See docs/reports.md.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from helppoint.domain.errors import InvalidInput
from helppoint.domain.model import Operator, Permission
from helppoint.domain.reports import (
    CostInputs,
    Month,
    MonthlyReport,
    Period,
    ReportSettings,
    Year,
)
from helppoint.printables.report import report_pdf
from helppoint.services import crime_import
from helppoint.services import evaluation as evaluation_service
from helppoint.services import reports as report_service
from helppoint.services.clock import utcnow
from helppoint.services.sla import scheme_targets
from helppoint.web.deps import require
from helppoint.web.file_answers import file_answer
from helppoint.web.forbidden import forbidden_page
from helppoint.web.rendering import page_context, signed_in_operator, templates
from helppoint.web.security import accepts_body_up_to
from helppoint.web.survey import SurveySummary
from helppoint.web.upload_progress import UPLOADS

router = APIRouter(tags=["reports"])
Manager = Annotated[Operator, Depends(require(Permission.SUPERVISE))]


MonthQ = Annotated[str | None, Query(description="YYYY-MM (or give year)", max_length=7)]
YearQ = Annotated[str | None, Query(description="YYYY: the yearly report", max_length=4)]
CapitalQ = Annotated[
    float | None, Query(ge=0, le=1e9, description="what-if capital cost (default: stored)")
]
CapitalMonthsQ = Annotated[
    int | None, Query(ge=1, le=600, description="what-if months to spread it over")
]
MonitoringQ = Annotated[
    float | None, Query(ge=0, le=1e9, description="what-if monitoring cost per month")
]
ZoneQ = Annotated[str, Query(max_length=64, description="IANA time zone")]


def monthly_report(
    request: Request,
    manager: Manager,
    month: MonthQ = None,
    year: YearQ = None,
    capital: CapitalQ = None,
    capital_months: CapitalMonthsQ = None,
    monitoring: MonitoringQ = None,
    timezone: ZoneQ = report_service.DEFAULT_TIMEZONE,
) -> MonthlyReport:
    """The report the query asks for (a month, or a year); shared by the JSON, CSV and PDF
    endpoints. Costs are the stored ones; any cost parameter given overrides its input."""
    if (month is None) == (year is None):
        raise InvalidInput("ask for a month (month=YYYY-MM) or a year (year=YYYY)")
    period: Period = Month.parse(month) if month is not None else Year.parse(year or "")
    uow_factory = request.app.state.uow_factory
    stored = report_service.report_settings(uow_factory()).costs
    costs = CostInputs(
        stored.capital if capital is None else capital,
        stored.capital_months if capital_months is None else capital_months,
        stored.monitoring_per_month if monitoring is None else monitoring,
    )
    return report_service.build_monthly_report(
        uow_factory(),
        period,
        costs,
        timezone,
        scheme_targets(request.app.state.settings),
    )


Report = Annotated[MonthlyReport, Depends(monthly_report)]


class Heatmap(BaseModel):
    """Activations by weekday (0 = Monday) and local hour."""

    days: list[str]
    hours: list[int]
    counts: list[list[int]]


class PrankUnit(BaseModel):
    unit_id: str
    malicious: int
    false: int


class TargetOutcome(BaseModel):
    """How the period's activations did against one answer-time target."""

    within_seconds: int
    target: float
    answered_within: int
    #: Of all activations (one never answered failed every target), and of those answered.
    share: float | None
    share_of_answered: float | None
    met: bool | None


class NeverAnswered(BaseModel):
    opened_at: str
    unit_id: str


class ReportAnswerTimes(BaseModel):
    activations: int
    answered: int
    unanswered: int
    median_seconds: float | None
    p90_seconds: float | None
    targets: list[TargetOutcome]
    targets_label: str
    never_answered: list[NeverAnswered]


class PoliceOutcomesView(BaseModel):
    escalated: int
    police_called: int
    police_acknowledged: int
    police_attended: int
    median_minutes_to_attend: float | None
    #: Escalated (e.g. to an ambulance) without a police call.
    medical_without_police: int
    other_without_police: int


class UnitUptime(BaseModel):
    unit_id: str
    #: Share of the supervised time the unit was up (null: not supervised in the period).
    share: float | None
    down_seconds: float
    supervised_seconds: float


class ReportCosts(BaseModel):
    capital: float
    capital_months: int
    monitoring_per_month: float
    month_cost: float
    period_cost: float
    inputs: str
    cost_per_genuine: float | None
    rolling_12_months_cost_per_genuine: float | None
    #: How many months the rolling figure covers.
    rolling_months: int | None


class PeriodSummary(BaseModel):
    """One month (or year) of the trend."""

    label: str
    #: False before the scheme ran (no unit supervised, no activation): the counts are null.
    has_data: bool
    activations: int | None
    genuine: int | None
    false: int | None
    malicious: int | None
    unanswered: int | None
    #: Target seconds → share of activations answered within them.
    answered_within: dict[str, float | None]
    median_answer_seconds: float | None
    uptime: float | None


class ReportTrend(BaseModel):
    """The 12 months ending with the report's, the previous month, the same month last year
    and the year to date (a yearly report: its 12 months and the previous year)."""

    months: list[PeriodSummary]
    previous: PeriodSummary | None
    last_year: PeriodSummary | None
    year_to_date: PeriodSummary | None


class InterventionEffect(BaseModel):
    """False and malicious presses in equal windows before and after an intervention."""

    id: int
    unit_id: str
    on: str
    what: str
    days: int
    false_before: int
    false_after: int
    malicious_before: int
    malicious_after: int
    #: The window after it has ended.
    complete: bool


class MonthlyReportView(BaseModel):
    """The monthly (or yearly) report (services/reports.report_view; docs/reports.md)."""

    kind: Literal["month", "year"]
    #: YYYY-MM or YYYY, and in words.
    month: str
    label: str
    timezone: str
    generated_at: str | None
    activations: int
    presses: int
    unit_names: dict[str, str]
    by_unit: dict[str, int]
    by_zone: dict[str, int]
    heatmap: Heatmap
    false_heatmap: list[list[int]]
    malicious_heatmap: list[list[int]]
    by_classification: dict[str, int]
    by_category: dict[str, int]
    genuine_share: float | None
    false_share: float | None
    false_categories: dict[str, int]
    false_by_unit: dict[str, dict[str, int]]
    top_prank_units: list[PrankUnit]
    answer_times: ReportAnswerTimes
    police: PoliceOutcomesView
    uptime: list[UnitUptime]
    costs: ReportCosts
    trend: ReportTrend | None
    interventions: list[InterventionEffect]
    #: The survey section over the period (as GET /api/v1/reports/survey answers).
    survey: SurveySummary | None
    notes: list[str]


@router.get("/api/reports/monthly", response_model=MonthlyReportView)
def monthly_json(report: Report) -> dict[str, Any]:
    """The monthly report: activations, heatmap, classifications, answer times, uptime, cost."""
    return report_service.report_view(report)


@router.get("/api/reports/monthly.csv", response_class=Response, responses=file_answer("text/csv"))
def monthly_csv(report: Report) -> Response:
    """The monthly report as CSV (section, item, value)."""
    return Response(
        report_service.report_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="report-{report.month}.csv"'},
    )


@router.get(
    "/api/reports/monthly.pdf", response_class=Response, responses=file_answer("application/pdf")
)
def monthly_pdf(request: Request, report: Report) -> Response:
    """The monthly (or yearly) report as a PDF with charts."""
    uow_factory = request.app.state.uow_factory
    settings = report_service.report_settings(uow_factory())
    latest = evaluation_service.latest(uow_factory())
    return Response(
        report_pdf(report, settings.scheme_name, latest),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="report-{report.month}.pdf"'},
    )


def _months(first: Month, last: Month) -> list[Month]:
    if (last.year, last.month) < (first.year, first.month):
        raise InvalidInput(f"{last} is before {first}")
    months: list[Month] = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month) and len(months) <= 120:
        months.append(Month(year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


@router.get(
    "/api/reports/open-data.csv", response_class=Response, responses=file_answer("text/csv")
)
def open_data(
    request: Request,
    manager: Manager,
    first: Annotated[str, Query(alias="from", max_length=7)],
    last: Annotated[str, Query(alias="to", max_length=7)],
    timezone: ZoneQ = report_service.DEFAULT_TIMEZONE,
) -> Response:
    """Counts per unit and month, safe to publish: no times, people, notes or incidents."""
    months = _months(Month.parse(first), Month.parse(last))
    text = report_service.open_data_csv(request.app.state.uow_factory(), months, timezone)
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="help-points-{first}-to-{last}.csv"'
        },
    )


class SettingsBody(BaseModel):
    scheme_name: str = Field(min_length=1, max_length=200)
    capital: float = Field(ge=0, le=1e9)
    capital_months: int = Field(ge=1, le=600)
    monitoring_per_month: float = Field(ge=0, le=1e9)


class ReportSettingsView(BaseModel):
    """The scheme's name and the cost inputs every report uses."""

    scheme_name: str
    capital: float
    capital_months: int
    monitoring_per_month: float
    #: The cost formula in words, with these inputs.
    inputs: str
    updated_at: str | None
    updated_by: str | None


def _settings_view(settings: ReportSettings) -> dict[str, Any]:
    return {
        "scheme_name": settings.scheme_name,
        "capital": settings.costs.capital,
        "capital_months": settings.costs.capital_months,
        "monitoring_per_month": settings.costs.monitoring_per_month,
        "inputs": settings.costs.formula,
        "updated_at": settings.updated_at.isoformat() if settings.updated_at else None,
        "updated_by": settings.updated_by,
    }


@router.get("/api/reports/settings", response_model=ReportSettingsView)
def get_settings(request: Request, manager: Manager) -> dict[str, Any]:
    """The scheme's name and the cost inputs every report uses."""
    return _settings_view(report_service.report_settings(request.app.state.uow_factory()))


@router.put("/api/reports/settings", response_model=ReportSettingsView)
def put_settings(body: SettingsBody, request: Request, manager: Manager) -> dict[str, Any]:
    """Store the scheme's name and cost inputs (audited)."""
    costs = CostInputs(body.capital, body.capital_months, body.monitoring_per_month)
    saved = report_service.save_report_settings(
        request.app.state.uow_factory(), body.scheme_name, costs, manager.username, utcnow()
    )
    return _settings_view(saved)


class InterventionBody(BaseModel):
    unit_id: str = Field(min_length=1, max_length=64)
    on: date
    what: str = Field(min_length=1, max_length=500)


class InterventionView(BaseModel):
    """Something done at a unit (new signage …) that reports compare false presses around."""

    id: int
    unit_id: str
    #: The day, YYYY-MM-DD.
    on: str
    what: str


@router.get("/api/reports/interventions", response_model=list[InterventionView])
def get_interventions(request: Request, manager: Manager) -> list[dict[str, Any]]:
    """Interventions recorded at units (new signage…), oldest first."""
    return [
        {"id": i.id, "unit_id": i.unit_id, "on": i.on.isoformat(), "what": i.what}
        for i in report_service.list_interventions(request.app.state.uow_factory())
    ]


@router.post("/api/reports/interventions", response_model=InterventionView, status_code=201)
def post_intervention(body: InterventionBody, request: Request, manager: Manager) -> dict[str, Any]:
    """Record an intervention; reports show false presses before and after it."""
    made = report_service.add_intervention(
        request.app.state.uow_factory(),
        body.unit_id,
        body.on,
        body.what,
        manager.username,
        utcnow(),
    )
    return {"id": made.id, "unit_id": made.unit_id, "on": made.on.isoformat(), "what": made.what}


@router.delete("/api/reports/interventions/{intervention_id}", status_code=204)
def delete_intervention(intervention_id: int, request: Request, manager: Manager) -> Response:
    """Forget a mistaken intervention (audited)."""
    report_service.remove_intervention(
        request.app.state.uow_factory(), intervention_id, manager.username, utcnow()
    )
    return Response(status_code=204)


class EvaluationBody(BaseModel):
    crime_types: list[str] = Field(min_length=1, max_length=20)
    installed: str = Field(description="installation month, YYYY-MM", max_length=7)
    comparison: list[str] = Field(
        min_length=1, max_length=100, description="comparison places, NAME:LAT,LON"
    )
    radius_m: float = Field(default=200, ge=10, le=5000)
    units: list[str] | None = Field(default=None, max_length=1000)
    confidence: float = Field(default=0.95, ge=0.5, lt=1)


class Interval(BaseModel):
    """An estimate with its confidence interval."""

    estimate: float
    low: float
    high: float


class AreaCounts(BaseModel):
    """Crimes in one area before and after installation."""

    name: str
    #: Around a help point (true) or a comparison place (false).
    help_point: bool
    before: int
    after: int


class MonthRates(BaseModel):
    """Crimes per area in one month, near the help points and in the comparison areas."""

    month: str
    help_points: float
    comparison: float


class EvaluationView(BaseModel):
    """Difference in differences of police.uk crime near the units (docs/evaluation.md)."""

    crime_types: list[str]
    radius_m: float
    #: The installation month and the months compared before and after it (YYYY-MM).
    installed: str
    months_before: list[str]
    months_after: list[str]
    confidence: float
    areas: list[AreaCounts]
    #: null: a group had no crime to compare.
    difference_per_area_month: Interval | None
    rate_ratio: Interval | None
    monthly: list[MonthRates]
    #: Thin months left out of the estimate.
    months_left_out: list[str]
    summary: str
    caveat: str
    #: When it was run, and by whom.
    run_at: str
    run_by: str


@router.post("/api/evaluation", response_model=EvaluationView)
def evaluation(body: EvaluationBody, request: Request, manager: Manager) -> dict[str, Any]:
    """Difference in differences of imported police.uk crime near the units (docs/evaluation.md);
    kept as the latest, which the report's PDF shows."""
    month = Month.parse(body.installed)
    result = evaluation_service.evaluate_scheme(
        request.app.state.uow_factory(),
        body.crime_types,
        body.radius_m,
        date(month.year, month.month, 1),
        [evaluation_service.parse_place(text) for text in body.comparison],
        body.units,
        body.confidence,
    )
    return evaluation_service.save_latest(
        request.app.state.uow_factory(),
        evaluation_service.evaluation_view(result),
        manager.username,
        utcnow(),
    )


@router.get("/api/evaluation/latest", response_model=EvaluationView | None)
def latest_evaluation(request: Request, manager: Manager) -> dict[str, Any] | None:
    """The latest evaluation run (null before the first)."""
    return evaluation_service.latest(request.app.state.uow_factory())


class CrimeFileImported(BaseModel):
    """What one police.uk file brought in; implausible rows were left out with a warning."""

    name: str
    rows: int
    imported: int
    without_location: int
    #: YYYY-MM of the months it holds, and the forces.
    months: list[str]
    forces: list[str]
    warnings: list[str]


class CrimeMonth(BaseModel):
    """One force's imported month."""

    month: str
    force: str
    rows: int
    warnings: list[str]


class CrimeTypeCount(BaseModel):
    type: str
    count: int


class CrimeMonths(BaseModel):
    """What is imported, per month and force, with plausibility warnings, and the crime types."""

    months: list[CrimeMonth]
    warnings: list[str]
    crime_types: list[CrimeTypeCount]


#: A police.uk force-month file is a few megabytes; this leaves room for the largest forces.
MAX_CRIME_FILE_BYTES = 64 * 1024 * 1024


UploadQ = Annotated[
    str,
    Query(
        pattern=r"^[A-Za-z0-9_-]{8,64}$",
        description="an id the browser chose for the upload, to ask how far the server has got",
    ),
]


@router.post("/api/evaluation/crime-files", response_model=CrimeFileImported)
@accepts_body_up_to(MAX_CRIME_FILE_BYTES)
async def upload_crime_file(
    request: Request,
    manager: Manager,
    name: Annotated[str, Query(min_length=1, max_length=200, description="the file's name")],
    upload: UploadQ | None = None,
) -> dict[str, Any]:
    """Import one police.uk street-level CSV file (the body). A malformed file is refused with
    its problems and their line numbers and nothing from it is stored; implausible rows are
    left out with a warning. With `upload`, the server's progress checking and storing the
    rows can be asked for meanwhile (GET …/crime-files/progress)."""
    data = await request.body()
    if not data:
        raise InvalidInput("the file is empty; choose a police.uk street-level CSV file")
    owner = manager.username

    def progress(report: crime_import.ImportProgress) -> None:
        if upload is not None:
            UPLOADS.report(owner, upload, report)

    try:
        result = await run_in_threadpool(
            crime_import.import_crime_upload,
            request.app.state.uow_factory(),
            name,
            data,
            progress,
        )
    except InvalidInput:
        if upload is not None:
            UPLOADS.finish(owner, upload, "refused", 0)
        raise
    if upload is not None:
        UPLOADS.finish(owner, upload, "done", result.rows)
    return {
        "name": result.name,
        "rows": result.rows,
        "imported": result.imported,
        "without_location": result.without_location,
        "months": sorted(f"{m:%Y-%m}" for m in result.months),
        "forces": sorted(result.forces),
        "warnings": result.warnings,
    }


class UploadProgress(BaseModel):
    """How far the server has got with an upload (null phase: it knows nothing of it)."""

    #: "checking", "storing", "done" or "refused"; null: unknown here.
    phase: str | None
    rows: int
    #: Share of the file read, 0-1 (null: not known).
    fraction: float | None
    reports: int


@router.get("/api/evaluation/crime-files/progress", response_model=UploadProgress)
def crime_file_progress(manager: Manager, upload: UploadQ) -> dict[str, Any]:
    """How far this server process has got with one of your uploads: phase "checking" or
    "storing" with the rows so far and the share of the file read, then "done" (with its rows)
    or "refused"; null when it knows nothing of it (another process, or long finished)."""
    state = UPLOADS.get(manager.username, upload)
    if state is None:
        return {"phase": None, "rows": 0, "fraction": None, "reports": 0}
    return {
        "phase": state.phase,
        "rows": state.rows,
        "fraction": None if state.fraction is None else round(state.fraction, 3),
        "reports": state.reports,
    }


@router.get("/api/evaluation/months", response_model=CrimeMonths)
def crime_months(request: Request, manager: Manager) -> dict[str, Any]:
    """What is imported, per month and force, with plausibility warnings."""
    months, warnings = crime_import.imported_months(request.app.state.uow_factory())
    types = evaluation_service.crime_types(request.app.state.uow_factory())
    return {
        "months": [
            {
                "month": f"{m.month:%Y-%m}",
                "force": m.force,
                "rows": m.rows,
                "warnings": list(m.warnings),
            }
            for m in months
        ],
        "warnings": warnings,
        "crime_types": [{"type": kind, "count": count} for kind, count in types],
    }


@router.delete("/api/evaluation/months/{month}", status_code=204)
def delete_crime_month(
    month: str,
    request: Request,
    manager: Manager,
    force: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    """Remove an imported month (one force's with ?force=, else every force's; audited)."""
    parsed = Month.parse(month)
    crime_import.remove_crime_month(
        request.app.state.uow_factory(),
        date(parsed.year, parsed.month, 1),
        force,
        manager.username,
        utcnow(),
    )
    return Response(status_code=204)


@router.get("/reports/evaluation", response_class=HTMLResponse, include_in_schema=False)
def evaluation_page(request: Request) -> Response:
    """Crime near the help points: import police.uk files and run the evaluation."""
    operator = signed_in_operator(request)
    if operator is None:
        return RedirectResponse("/login?next=/reports/evaluation", status_code=303)
    if not operator.can(Permission.SUPERVISE):
        return forbidden_page(request, operator, "Reports are for supervisors and admins.")
    context = page_context(request, operator) | {"active_page": "reports", "demo": False}
    return templates.TemplateResponse(request, "evaluation.html", context)


@router.get("/reports", response_class=HTMLResponse, include_in_schema=False)
def dashboard(request: Request) -> Response:
    """The scheme manager's dashboard."""
    operator = signed_in_operator(request)
    if operator is None:
        return RedirectResponse("/login?next=/reports", status_code=303)
    if not operator.can(Permission.SUPERVISE):
        return forbidden_page(request, operator, "Reports are for supervisors and admins.")
    context = page_context(request, operator) | {"active_page": "reports", "demo": False}
    return templates.TemplateResponse(request, "reports.html", context)
