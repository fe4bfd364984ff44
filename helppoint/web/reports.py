"""The scheme manager's reports: dashboard, monthly report (JSON, CSV, PDF), open data.

Reports need the supervise permission (supervisors and admins). See docs/reports.md.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from helppoint.domain.errors import InvalidInput
from helppoint.domain.model import Operator, Permission
from helppoint.domain.reports import CostInputs, Month, MonthlyReport
from helppoint.printables.report import report_pdf
from helppoint.services import evaluation as evaluation_service
from helppoint.services import reports as report_service
from helppoint.services.sla import scheme_targets
from helppoint.web.deps import require
from helppoint.web.forbidden import forbidden_page
from helppoint.web.pages import _context, _signed_in, templates

router = APIRouter(tags=["reports"])
Manager = Annotated[Operator, Depends(require(Permission.SUPERVISE))]


MonthQ = Annotated[str, Query(description="YYYY-MM", max_length=7)]
CapitalQ = Annotated[float, Query(ge=0, le=1e9, description="capital cost, e.g. 22000")]
CapitalMonthsQ = Annotated[int, Query(ge=1, le=600, description="months to spread it over")]
MonitoringQ = Annotated[float, Query(ge=0, le=1e9, description="monitoring cost per month")]
ZoneQ = Annotated[str, Query(max_length=64, description="IANA time zone")]


def monthly_report(
    request: Request,
    manager: Manager,
    month: MonthQ,
    capital: CapitalQ = 22_000,
    capital_months: CapitalMonthsQ = 60,
    monitoring: MonitoringQ = 0,
    timezone: ZoneQ = report_service.DEFAULT_TIMEZONE,
) -> MonthlyReport:
    """The report the query asks for; shared by the JSON, CSV and PDF endpoints."""
    costs = CostInputs(capital, capital_months, monitoring)
    return report_service.build_monthly_report(
        request.app.state.uow_factory(),
        Month.parse(month),
        costs,
        timezone,
        scheme_targets(request.app.state.settings),
    )


Report = Annotated[MonthlyReport, Depends(monthly_report)]


@router.get("/api/reports/monthly")
def monthly_json(report: Report) -> dict[str, Any]:
    """The monthly report: activations, heatmap, classifications, answer times, uptime, cost."""
    return report_service.report_view(report)


@router.get("/api/reports/monthly.csv")
def monthly_csv(report: Report) -> Response:
    """The monthly report as CSV (section, item, value)."""
    return Response(
        report_service.report_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="report-{report.month}.csv"'},
    )


@router.get("/api/reports/monthly.pdf")
def monthly_pdf(report: Report) -> Response:
    """The monthly report as a PDF with charts."""
    return Response(
        report_pdf(report),
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


@router.get("/api/reports/open-data.csv")
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


class EvaluationBody(BaseModel):
    crime_types: list[str] = Field(min_length=1, max_length=20)
    installed: str = Field(description="installation month, YYYY-MM", max_length=7)
    comparison: list[str] = Field(
        min_length=1, max_length=100, description="comparison places, NAME:LAT,LON"
    )
    radius_m: float = Field(default=200, ge=10, le=5000)
    units: list[str] | None = Field(default=None, max_length=1000)
    confidence: float = Field(default=0.95, ge=0.5, lt=1)


@router.post("/api/evaluation")
def evaluation(body: EvaluationBody, request: Request, manager: Manager) -> dict[str, Any]:
    """Difference in differences of imported police.uk crime near the units (docs/evaluation.md)."""
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
    return evaluation_service.evaluation_view(result)


@router.get("/reports", response_class=HTMLResponse, include_in_schema=False)
def dashboard(request: Request) -> Response:
    """The scheme manager's dashboard."""
    operator = _signed_in(request)
    if operator is None:
        return RedirectResponse("/login?next=/reports", status_code=303)
    if not operator.can(Permission.SUPERVISE):
        return forbidden_page(request, operator, "Reports are for supervisors and admins.")
    context = _context(request, operator) | {"active_page": "reports", "demo": False}
    return templates.TemplateResponse(request, "reports.html", context)
