"""The supervisor's SLA dashboard: answer times against the scheme's targets, live."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel

from helppoint.domain.model import Operator, Permission
from helppoint.services import sla as sla_service
from helppoint.services.clock import utcnow
from helppoint.services.views import IncidentView
from helppoint.web.deps import require
from helppoint.web.forbidden import forbidden_page
from helppoint.web.rendering import page_context, signed_in_operator, templates
from helppoint.web.triage import answer_targets

router = APIRouter(tags=["sla"])
Supervisor = Annotated[Operator, Depends(require(Permission.SUPERVISE))]


class TargetView(BaseModel):
    """An answer-time target: at least `share` (0-1) of alarms accepted within `seconds`."""

    seconds: int
    share: float


class TargetResult(BaseModel):
    """How a group of alarms did against one target."""

    seconds: int
    #: The share the target asks for, how many alarms were accepted within the time, the
    #: share achieved (null: no alarms) and whether it meets the target (null: too few alarms).
    target: float
    within: int
    share: float | None
    meets: bool | None


class AnswerTimesView(BaseModel):
    """Answer times of a group of alarms (all, an operator's, a shift's)."""

    alarms: int
    #: Not accepted yet.
    waiting: int
    #: Fewer alarms than the scheme's sla_min_alarms: shown, not judged.
    too_few: bool
    targets: list[TargetResult]


class OperatorAnswerTimes(AnswerTimesView):
    operator: str


class ShiftAnswerTimes(AnswerTimesView):
    #: The shift's local start, e.g. "2026-11-25 19:00".
    shift: str


class WaitingAlarm(IncidentView):
    """An alarm waiting to be accepted, and for how long."""

    waiting_seconds: int


class SlaDashboard(BaseModel):
    """Answer times against the scheme's targets over a period, and the alarms waiting now."""

    now: str
    since: str
    targets: list[TargetView]
    targets_label: str
    min_alarms: int
    overall: AnswerTimesView
    operators: list[OperatorAnswerTimes]
    shifts: list[ShiftAnswerTimes]
    queue: list[WaitingAlarm]
    #: The acknowledgement time the console's timers count against (sla_ack_seconds).
    limit_seconds: int


@router.get("/api/sla", response_model=SlaDashboard)
def sla_dashboard(
    request: Request,
    supervisor: Supervisor,
    hours: Annotated[int, Query(ge=1, le=24 * 31)] = 24,
) -> dict[str, Any]:
    """Share of alarms accepted within each of the scheme's target times (sla_targets) over
    the last `hours`, overall, per operator and per shift, with the open queue."""
    settings = request.app.state.settings
    shifts = sla_service.parse_shifts(settings.sla_shift_starts, settings.sla_timezone)
    now = utcnow()
    report = sla_service.dashboard(
        request.app.state.uow_factory(),
        now,
        now - timedelta(hours=hours),
        shifts,
        sla_service.scheme_targets(settings),
        settings.sla_min_alarms,
    )
    return report | {"limit_seconds": settings.sla_ack_seconds}


class Spread(BaseModel):
    """Durations of one step of the alarms' times (seconds)."""

    count: int
    median: float | None
    p95: float | None
    max: float | None


class AlarmTimesSpread(BaseModel):
    #: The unit's own time of the press to receipt by the server (unit clocks drift).
    press_to_received: Spread
    #: Receipt to stored; the unit's acknowledgement follows that commit.
    received_to_stored: Spread
    #: Receipt to acceptance (acknowledgement) by an operator.
    received_to_accepted: Spread


class OperatorLoad(BaseModel):
    operator: str
    accepted: int
    per_hour: float


class LoadView(BaseModel):
    """The load on the control room over the period (alarms of units on test left out)."""

    since: str
    now: str
    alarms: int
    alarms_per_hour: float
    #: Alarms each operator accepted, and per hour.
    operators: list[OperatorLoad]
    #: Alarms open now, and of those still waiting to be accepted.
    standing: int
    waiting: int
    #: The share of the period with at least `flood_waiting` alarms waiting at once.
    flood_waiting: int
    flood_share: float
    peak_waiting: int
    times: AlarmTimesSpread


@router.get("/api/sla/load", response_model=LoadView)
def load(
    request: Request,
    supervisor: Supervisor,
    hours: Annotated[int, Query(ge=1, le=24 * 31)] = 24,
) -> dict[str, Any]:
    """Alarms per hour per operator, standing alarms, the share of time in flood, and the
    spread of each alarm's recorded times over the last `hours` (docs/sla.md)."""
    settings = request.app.state.settings
    now = utcnow()
    return sla_service.load_metrics(
        request.app.state.uow_factory(),
        now,
        now - timedelta(hours=hours),
        settings.sla_flood_waiting,
    )


@router.get("/supervisor", response_class=HTMLResponse, include_in_schema=False)
def supervisor_page(request: Request) -> Response:
    """The supervisor's dashboard."""
    operator = signed_in_operator(request)
    if operator is None:
        return RedirectResponse("/login?next=/supervisor", status_code=303)
    if not operator.can(Permission.SUPERVISE):
        return forbidden_page(request, operator, "Only supervisors may open the SLA dashboard.")
    targets = sla_service.scheme_targets(request.app.state.settings)
    context = page_context(request, operator) | {
        "demo": False,
        "answer_targets": answer_targets(targets),
    }
    return templates.TemplateResponse(request, "supervisor.html", context)
