"""The supervisor's SLA dashboard: answer times against the scheme's targets, live."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from helppoint.domain.model import Operator, Permission
from helppoint.services import sla as sla_service
from helppoint.services.clock import utcnow
from helppoint.web.deps import require
from helppoint.web.pages import _context, _signed_in, templates
from helppoint.web.triage import answer_targets

router = APIRouter(tags=["sla"])
Supervisor = Annotated[Operator, Depends(require(Permission.SUPERVISE))]


@router.get("/api/sla")
def sla_dashboard(
    request: Request,
    supervisor: Supervisor,
    hours: Annotated[int, Query(ge=1, le=24 * 31)] = 24,
) -> dict[str, Any]:
    """Share of alarms acknowledged within 30 s and 60 s over the last `hours`, overall, per
    operator and per shift, with the open queue."""
    settings = request.app.state.settings
    shifts = sla_service.parse_shifts(settings.sla_shift_starts, settings.sla_timezone)
    now = utcnow()
    report = sla_service.dashboard(
        request.app.state.uow_factory(), now, now - timedelta(hours=hours), shifts
    )
    return report | {"limit_seconds": settings.sla_ack_seconds, "targets": answer_targets()}


@router.get("/supervisor", response_class=HTMLResponse, include_in_schema=False)
def supervisor_page(request: Request) -> Response:
    """The supervisor's dashboard."""
    operator = _signed_in(request)
    if operator is None:
        return RedirectResponse("/login?next=/supervisor", status_code=303)
    if not operator.can(Permission.SUPERVISE):
        return HTMLResponse("Only supervisors may open the SLA dashboard.", status_code=403)
    context = _context(request, operator) | {"demo": False, "answer_targets": answer_targets()}
    return templates.TemplateResponse(request, "supervisor.html", context)
