"""POST /p/{unit_id}/survey: an answer to "How safe do you feel here?" (docs/survey.md).

A plain HTML form (it works without JavaScript). A good answer is stored and the browser is
sent back to the unit's page with a thank-you; the `hp_survey` cookie (today's date and the
units answered, nothing else) stops the same browser answering for the same unit twice in a
day. Bad input is refused with the reasons on the page, in the visitor's language, and nothing
is stored; so is a second answer the same day, and a flood (per address and per unit, an hour).
"""

from __future__ import annotations

import io
import threading
from datetime import date
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel

from helppoint.domain import survey as rules
from helppoint.domain.errors import InvalidInput, NotFound
from helppoint.domain.model import Operator, Permission
from helppoint.domain.reports import Month, time_zone
from helppoint.i18n import N_
from helppoint.services import public as public_service
from helppoint.services import survey as survey_service
from helppoint.services import survey_limits
from helppoint.services.clock import utcnow
from helppoint.services.reports import DEFAULT_TIMEZONE
from helppoint.services.safe_csv import SafeCsvWriter
from helppoint.web.deps import client_address, require
from helppoint.web.file_answers import file_answer
from helppoint.web.forbidden import forbidden_page
from helppoint.web.i18n import public_language
from helppoint.web.public_rendering import public_base, public_page, unit_url
from helppoint.web.rendering import page_context, signed_in_operator, templates
from helppoint.web.security import secure_cookie

router = APIRouter(tags=["public"])
TOO_LONG = N_("The answer is too long.")
_limiter_lock = threading.Lock()


def limiter(request: Request) -> survey_limits.RateLimiter:
    """The rate limiter, made on first use from the settings (it counts in the database)."""
    state = request.app.state
    with _limiter_lock:
        found: survey_limits.RateLimiter | None = getattr(state, "survey_limiter", None)
        if found is None:
            settings = state.settings
            found = survey_limits.RateLimiter(settings.survey_per_address, settings.survey_per_unit)
            state.survey_limiter = found
    return found


def unit_context(request: Request, unit: public_service.PublicUnit) -> dict[str, Any]:
    """What a unit's page shows: the unit, its short URL, and the survey's state."""
    context = {"unit": unit, "short_url": unit_url(public_base(request), unit.id)}
    return context | survey_context(request, unit.id)


def survey_context(request: Request, unit_id: str) -> dict[str, Any]:
    """What the unit page's survey section needs: whether this browser answered today."""
    today = utcnow().date()
    answered = unit_id in rules.answered_today(request.cookies.get(rules.COOKIE, ""), today)
    state = "form"
    if answered:
        state = "thanks" if request.query_params.get("answered") == "1" else "answered"
    return {
        "survey_on": request.app.state.settings.survey,
        "survey_state": state,
        "feelings": list(rules.FEELINGS.items()),
        "genders": [(g.value, label) for g, label in rules.GENDER_LABELS.items()],
        "age_bands": list(rules.AGE_BANDS.items()),
        "survey_errors": [],
        "survey_given": {},
    }


async def _form(request: Request) -> dict[str, list[str]]:
    """The posted form's fields, or SurveyRefused for a body that is not a small UTF-8 form."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise rules.SurveyRefused([("form", N_("The answer must be sent from the form."))])
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > rules.MAX_FORM_BYTES:
            raise rules.SurveyRefused([("form", TOO_LONG)])
    try:
        return parse_qs(
            body.decode("ascii"),
            keep_blank_values=True,
            strict_parsing=False,
            encoding="utf-8",
            errors="strict",
            max_num_fields=10,
        )
    except (UnicodeError, ValueError):
        raise rules.SurveyRefused([("form", N_("The answer could not be read."))]) from None


@router.post("/p/{unit_id}/survey", include_in_schema=False)
async def answer(request: Request, unit_id: str) -> Response:
    """Store one answer for a unit, or say why not (400, 409, 413, 429) and store nothing."""
    uow_factory = request.app.state.uow_factory
    try:
        unit = public_service.public_unit(uow_factory(), unit_id)
    except NotFound:
        return public_page(
            request, "public_not_found.html", {"unit_id": unit_id[:64]}, status_code=404
        )
    context = unit_context(request, unit)
    if not request.app.state.settings.survey:
        return public_page(request, "public_unit.html", context, status_code=404)
    try:
        fields = await _form(request)
        given = {name: values[0] for name, values in fields.items() if len(values) == 1}
        context["survey_given"] = given
        answer_ = rules.parse_form(fields)
    except rules.SurveyRefused as refused:
        context["survey_errors"] = [message for _, message in refused.problems]
        status = 413 if any(m == TOO_LONG for _, m in refused.problems) else 400
        return public_page(request, "public_unit.html", context, status_code=status)
    now = utcnow()
    done = rules.answered_today(request.cookies.get(rules.COOKIE, ""), now.date())
    if unit.id in done:
        context["survey_state"] = "answered"
        return public_page(request, "public_unit.html", context, status_code=409)
    try:
        limiter(request).check(uow_factory(), client_address(request) or "", unit.id, now)
    except survey_limits.RateLimited as limited:
        context["survey_errors"] = [
            N_("Too many answers have come from here in the last hour. Please try later.")
        ]
        response = public_page(request, "public_unit.html", context, status_code=429)
        response.headers["Retry-After"] = str(limited.retry_after)
        return response
    survey_service.record_answer(uow_factory(), unit.id, answer_, now)
    lang = public_language(request)
    response = RedirectResponse(f"/p/{unit.id}?lang={lang}&answered=1#survey", status_code=303)
    response.set_cookie(
        rules.COOKIE,
        rules.cookie_value(done, unit.id, now.date()),
        max_age=rules.seconds_left_today(now),
        path="/p/",
        httponly=True,
        samesite="strict",
        secure=secure_cookie(request),
    )
    response.headers["Cache-Control"] = "no-store"
    return response


# --- The scheme report's survey section (supervisors and admins) ---

Manager = Annotated[Operator, Depends(require(Permission.SUPERVISE))]
MonthQ = Annotated[str, Query(max_length=7, description="YYYY-MM")]
DateQ = Annotated[str, Query(max_length=10, description="YYYY-MM-DD")]
ZoneQ = Annotated[str, Query(max_length=64, description="IANA time zone")]
GROUPS = (
    "by_unit",
    "by_zone",
    "by_month",
    "by_hour",
    "by_gender",
    "by_age_band",
    "before_after_by_unit",
)
STAT_COLUMNS = ("n", "mean", "mean_low", "mean_high", "safe_share", "safe_low", "safe_high")


def _summary(
    request: Request, first: str, last: str, installed: str, timezone: str
) -> dict[str, Any]:
    start_month, end_month = Month.parse(first), Month.parse(last)
    tz = time_zone(timezone)
    start, _ = start_month.bounds(tz)
    _, end = end_month.bounds(tz)
    if end <= start:
        raise InvalidInput("'to' must not be before 'from'")
    day = None
    if installed:
        try:
            day = date.fromisoformat(installed)
        except ValueError:
            raise InvalidInput(f"installed is a date YYYY-MM-DD, not {installed!r}") from None
    return survey_service.summary(
        request.app.state.uow_factory(), start, end, timezone, installed=day
    )


class SurveyStats(BaseModel):
    """Answers to 'How safe do you feel here?' (1-5): how many, the mean and the share feeling
    safe (4 or 5), each with its 95% interval (null: no answers)."""

    n: int
    mean: float | None
    mean_low: float | None
    mean_high: float | None
    safe_share: float | None
    safe_low: float | None
    safe_high: float | None


class SurveyPeriod(BaseModel):
    start: str
    end: str
    timezone: str


class SurveyOutlier(BaseModel):
    """A unit-day with far more answers than that unit's usual day: shown, never removed."""

    unit_id: str
    day: str
    answers: int
    median_day: int | float
    mean: float


class SurveySummary(BaseModel):
    """The survey over a period: overall, by unit, zone, month, hour, gender and age band,
    before and after installation, and the outlying unit-days."""

    period: SurveyPeriod
    question: str
    scale: str
    intervals: str
    overall: SurveyStats
    by_unit: dict[str, SurveyStats]
    by_zone: dict[str, SurveyStats]
    by_month: dict[str, SurveyStats]
    by_hour: dict[str, SurveyStats]
    by_gender: dict[str, SurveyStats]
    by_age_band: dict[str, SurveyStats]
    #: Each unit's installation day (YYYY-MM-DD).
    installed: dict[str, str]
    before_after: dict[str, SurveyStats]
    before_after_by_unit: dict[str, SurveyStats]
    outliers: list[SurveyOutlier]


@router.get("/api/reports/survey", response_model=SurveySummary)
def survey_report(
    request: Request,
    manager: Manager,
    first: Annotated[str, Query(alias="from", max_length=7, description="YYYY-MM")],
    last: Annotated[str, Query(alias="to", max_length=7, description="YYYY-MM")],
    installed: DateQ = "",
    timezone: ZoneQ = DEFAULT_TIMEZONE,
) -> dict[str, Any]:
    """'How safe do you feel here?' from month `from` to month `to`: counts, means and shares
    feeling safe with 95% intervals by unit, zone, month, hour, gender and age band, before and
    after installation (each unit's first commissioning test, else `installed`), outliers."""
    return _summary(request, first, last, installed, timezone)


def summary_rows(result: dict[str, Any]) -> list[list[Any]]:
    """The summary as CSV rows: group, key, then the statistics."""
    rows: list[list[Any]] = [["group", "key", *STAT_COLUMNS]]
    rows.append(["overall", "all", *(result["overall"][c] for c in STAT_COLUMNS)])
    for phase, values in result["before_after"].items():
        rows.append(["before_after", phase, *(values[c] for c in STAT_COLUMNS)])
    for group in GROUPS:
        for key, values in result[group].items():
            rows.append([group, key, *(values[c] for c in STAT_COLUMNS)])
    for item in result["outliers"]:
        rows.append(["outlier_day", f"{item['unit_id']} {item['day']}", item["answers"]])
    return rows


@router.get("/api/reports/survey.csv", response_class=Response, responses=file_answer("text/csv"))
def survey_report_csv(
    request: Request,
    manager: Manager,
    first: Annotated[str, Query(alias="from", max_length=7, description="YYYY-MM")],
    last: Annotated[str, Query(alias="to", max_length=7, description="YYYY-MM")],
    installed: DateQ = "",
    timezone: ZoneQ = DEFAULT_TIMEZONE,
) -> Response:
    """The same as CSV, safe to open in a spreadsheet."""
    out = io.StringIO()
    writer = SafeCsvWriter(out)
    for row in summary_rows(_summary(request, first, last, installed, timezone)):
        writer.writerow(row)
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="survey-{first}-to-{last}.csv"'},
    )


@router.get("/reports/survey", response_class=HTMLResponse, include_in_schema=False)
def survey_report_page(
    request: Request,
    first: Annotated[str, Query(alias="from", max_length=7)] = "",
    last: Annotated[str, Query(alias="to", max_length=7)] = "",
    installed: Annotated[str, Query(max_length=10)] = "",
) -> Response:
    """The survey's results as tables, for the scheme manager."""
    operator = signed_in_operator(request)
    if operator is None:
        return RedirectResponse("/login?next=/reports/survey", status_code=303)
    if not operator.can(Permission.SUPERVISE):
        return forbidden_page(request, operator, "Only supervisors and admins see reports.")
    today = utcnow().date()
    last = last or f"{today:%Y-%m}"
    first = first or f"{today.year - 1:04d}-{today:%m}"
    context = page_context(request, operator) | {
        "active_page": "reports",
        "first": first,
        "last": last,
        "installed": installed,
        "error": "",
        "result": None,
        "groups": GROUPS,
        "columns": STAT_COLUMNS,
    }
    try:
        context["result"] = _summary(request, first, last, installed, DEFAULT_TIMEZONE)
    except InvalidInput as exc:
        context["error"] = str(exc)
    status = 400 if context["error"] else 200
    return templates.TemplateResponse(request, "survey_report.html", context, status_code=status)
