"""The health board (units' supervision state), the maintenance queue and remote configuration."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from helppoint.domain.model import Operator, Permission
from helppoint.domain.selftest import DefaultSchedule
from helppoint.domain.supervision import TicketState
from helppoint.gateway.device_link import DeviceLinkHub, UnitNotConnected
from helppoint.gateway.frames import CommandResult
from helppoint.services import maintainers, maintenance, selftest, unit_config
from helppoint.services import supervision as supervision_service
from helppoint.services.clock import utcnow
from helppoint.store.uow import UnitOfWork
from helppoint.topics import TicketMessage
from helppoint.web.deps import Handler, HistoryReader, require, unit_of_work
from helppoint.web.rendering import page_context, signed_in_operator, templates
from helppoint.workers.selftest import send_run

log = logging.getLogger(__name__)
router = APIRouter(tags=["supervision"])
Supervisor = Annotated[Operator, Depends(require(Permission.SUPERVISE))]
Admin = Annotated[Operator, Depends(require(Permission.ADMINISTER))]


class AssignBody(BaseModel):
    engineer: str = Field(min_length=1, max_length=64)


class SupervisionBody(BaseModel):
    heartbeat_period: int | None = Field(default=None, ge=1, le=3600)
    heartbeat_grace: int | None = Field(default=None, ge=0, le=3600)


class ScheduleBody(BaseModel):
    unit_id: str | None = Field(default=None, max_length=64)
    zone_id: str | None = Field(default=None, max_length=64)
    at_time: str = Field(pattern=r"^\d\d:\d\d$")
    timezone: str = Field(min_length=1, max_length=64)
    enabled: bool = True


class ContactBody(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    channel: str = Field(min_length=1, max_length=16)
    target: str = Field(min_length=1, max_length=300)
    zone_id: str | None = Field(default=None, max_length=64)


class ConfigureBody(BaseModel):
    heartbeat_period: int | None = Field(default=None, ge=1, le=3600)
    hold_ms: int | None = Field(default=None, ge=0, le=10_000)
    volume: int | None = Field(default=None, ge=0, le=100)
    prompts: dict[str, Annotated[str, Field(min_length=1, max_length=500)]] | None = None


class SelfTestRun(BaseModel):
    """One self-test of a unit's light, camera, speaker and microphone."""

    command_id: str
    unit_id: str
    #: "schedule" or "operator", and who asked.
    trigger: str
    requested_by: str
    requested_at: str
    #: "requested", "sent" or "unreachable", then the unit's verdict: "passed" or "failed".
    status: str
    finished_at: str | None
    #: Each part's result, and what the unit measured (null until it answered).
    checks: dict[str, Any] | None
    measurements: dict[str, Any] | None
    detail: str


class UnitHealth(BaseModel):
    """A unit on the health board: derived status, last seen, power, open faults, uptime."""

    id: str
    name: str
    zone_id: str
    active: bool
    #: Derived from the last heartbeat: up, late, down or unknown.
    status: str
    #: The status supervision last recorded (its flips make the uptime).
    reported_status: str
    last_seen_at: str | None
    heartbeat_period: int
    heartbeat_grace: int
    firmware: str
    open_faults: int
    #: Share of the window (and of the last 7 days) the unit was up, 0-1; null: never heard.
    uptime: float | None
    uptime_7d: float | None
    #: Battery charge 0-1, mains present, as last reported (null: never reported).
    battery: float | None
    mains: bool | None
    battery_low: bool
    power_reported_at: str | None
    self_test: SelfTestRun | None
    next_self_test_at: str | None
    connected: bool


class TicketView(BaseModel):
    """A maintenance ticket: one fault of one unit, until the fix is verified."""

    id: int
    #: The reference engineers quote (MNT-…).
    ref: str
    unit_id: str
    fault: str
    detail: str
    state: TicketState
    occurrences: int
    incident_id: int | None
    opened_at: str
    updated_at: str
    assigned_to: str | None
    fixed_at: str | None
    fixed_by: str | None
    verified_at: str | None
    verified_by: str | None


class SupervisionView(BaseModel):
    """How the server supervises a unit: the heartbeat period it expects, and the grace."""

    id: str
    heartbeat_period: int
    heartbeat_grace: int


class ConfigSent(BaseModel):
    """The configuration sent; the unit's confirmation shows in /config."""

    id: str
    requested: dict[str, Any]


class ConfigRequest(BaseModel):
    """A configuration request to a unit and what it confirmed applying (null: not yet)."""

    command_id: str
    requested: dict[str, Any]
    requested_by: str
    requested_at: str
    ok: bool | None
    applied: dict[str, Any] | None
    detail: str
    confirmed_at: str | None


class SelfTestSent(BaseModel):
    """The self-test asked for; its result arrives as a self_test event."""

    id: str
    unit_id: str
    status: Literal["sent"]


class ScheduleView(BaseModel):
    """When a zone's units (or one unit) run their self-test: daily at a local time."""

    #: Exactly one of unit_id and zone_id.
    unit_id: str | None
    zone_id: str | None
    #: "HH:MM" in `timezone` (IANA name).
    at_time: str
    timezone: str
    enabled: bool
    updated_at: str | None = None
    updated_by: str | None = None


class DefaultScheduleView(BaseModel):
    """The schedule of units with none of their own or their zone's (settings)."""

    at_time: str
    timezone: str


class Schedules(BaseModel):
    """The default self-test schedule and every zone's and unit's own."""

    default: DefaultScheduleView
    schedules: list[ScheduleView]


class ContactView(BaseModel):
    """Someone told about maintenance tickets outside the board."""

    id: int
    name: str
    #: "email" or "webhook", and the address or URL.
    channel: str
    target: str
    #: null: every zone.
    zone_id: str | None
    active: bool
    created_at: str | None = None


@router.get("/health-board", response_class=HTMLResponse, include_in_schema=False)
def health_board_page(request: Request) -> Response:
    operator = signed_in_operator(request)
    if operator is None:
        return RedirectResponse("/login?next=/health-board", status_code=303)
    if not operator.can(Permission.VIEW_HISTORY):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "your role may not view the health board")
    context = page_context(request, operator) | {"demo": False}
    return templates.TemplateResponse(request, "health.html", context)


@router.get("/api/health/units", response_model=list[UnitHealth])
def health_units(
    request: Request,
    operator: HistoryReader,
    window_hours: Annotated[int, Query(ge=1, le=24 * 366)] = 24,
) -> list[dict[str, Any]]:
    """Every unit: derived status (up/late/down/unknown), last seen, open faults, uptime."""
    hub: DeviceLinkHub = request.app.state.device_link
    connected = hub.linked_units()
    rows = supervision_service.health_board(
        unit_of_work(request), utcnow(), timedelta(hours=window_hours)
    )
    return [row | {"connected": row["id"] in connected} for row in rows]


@router.get("/api/maintenance/tickets", response_model=list[TicketView])
def tickets(
    request: Request, operator: HistoryReader, include_verified: bool = False
) -> list[TicketMessage]:
    """The maintenance queue, oldest first (verified tickets only when asked)."""
    return maintenance.queue(unit_of_work(request), include_verified)


@router.post("/api/maintenance/tickets/{ticket_id}/assign", response_model=TicketView)
def assign_ticket(
    ticket_id: int, body: AssignBody, request: Request, operator: Supervisor
) -> TicketMessage:
    """Give a ticket to an engineer."""
    return maintenance.assign(
        request.app.state.uow_factory, ticket_id, body.engineer, operator.username
    )


@router.post("/api/maintenance/tickets/{ticket_id}/fixed", response_model=TicketView)
def ticket_fixed(ticket_id: int, request: Request, operator: Supervisor) -> TicketMessage:
    """Record that the fault was fixed."""
    return maintenance.mark_fixed(request.app.state.uow_factory, ticket_id, operator.username)


@router.post("/api/maintenance/tickets/{ticket_id}/verify", response_model=TicketView)
def verify_ticket(ticket_id: int, request: Request, operator: Supervisor) -> TicketMessage:
    """Confirm a fix (not by whoever fixed it)."""
    return maintenance.verify(request.app.state.uow_factory, ticket_id, operator.username)


@router.put("/api/units/{unit_id}/supervision", response_model=SupervisionView)
def set_supervision(
    unit_id: str, body: SupervisionBody, request: Request, operator: Admin
) -> dict[str, Any]:
    """Change how a unit is supervised (heartbeat period the server expects, grace)."""
    with unit_of_work(request) as uow:
        unit = supervision_service.set_supervision(
            uow, unit_id, body.heartbeat_period, body.heartbeat_grace, operator.username
        )
        view = {
            "id": unit.id,
            "heartbeat_period": unit.heartbeat_period,
            "heartbeat_grace": unit.heartbeat_grace,
        }
        uow.commit()
    request.app.state.supervision.wake()
    return view


@router.post("/api/units/{unit_id}/configure", response_model=ConfigSent)
async def configure(
    unit_id: str, body: ConfigureBody, request: Request, operator: Admin
) -> dict[str, Any]:
    """Send settings to a connected unit; it confirms what it applied (see /config)."""
    hub: DeviceLinkHub = request.app.state.device_link
    settings = body.model_dump(exclude_none=True)
    if not await run_in_threadpool(hub.is_connected, unit_id):
        raise HTTPException(status.HTTP_409_CONFLICT, f"unit {unit_id} is not connected")
    pending = unit_config.request_config(
        unit_of_work(request), unit_id, settings, operator.username
    )
    try:
        await hub.send_command(unit_id, "configure", settings, pending.command_id)
    except UnitNotConnected as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    return {"id": pending.command_id, "requested": settings}


@router.get("/api/units/{unit_id}/config", response_model=list[ConfigRequest])
def config_history(unit_id: str, request: Request, operator: HistoryReader) -> list[dict[str, Any]]:
    """The unit's configuration requests, newest first, with what it confirmed applying."""
    return unit_config.config_history(unit_of_work(request), unit_id)


@router.post("/api/units/{unit_id}/self-test", response_model=SelfTestSent)
async def start_self_test(unit_id: str, request: Request, operator: Handler) -> dict[str, Any]:
    """Ask a connected unit to test its light, camera, speaker and microphone now.

    The result arrives as a `self_test` event (see GET /api/units/{id}/self-tests).
    """
    run = await run_in_threadpool(
        selftest.request_run, unit_of_work(request), unit_id, operator.username, utcnow()
    )
    if not await send_run(request.app.state.uow_factory, request.app.state.device_link, run):
        raise HTTPException(status.HTTP_409_CONFLICT, f"unit {unit_id} is not connected")
    return {"id": run.command_id, "unit_id": unit_id, "status": "sent"}


@router.get("/api/units/{unit_id}/self-tests", response_model=list[SelfTestRun])
def unit_self_tests(
    unit_id: str, request: Request, operator: HistoryReader
) -> list[dict[str, Any]]:
    """The unit's recent self-tests, newest first, with each part's result."""
    return selftest.runs(unit_of_work(request), unit_id)


@router.get("/api/self-tests/schedules", response_model=Schedules)
def self_test_schedules(request: Request, operator: HistoryReader) -> dict[str, Any]:
    """The default schedule and every zone's and unit's own."""
    settings = request.app.state.settings
    return {
        "default": {"at_time": settings.self_test_at, "timezone": settings.self_test_timezone},
        "schedules": selftest.schedules(unit_of_work(request)),
    }


@router.put("/api/self-tests/schedules", response_model=ScheduleView)
def set_self_test_schedule(body: ScheduleBody, request: Request, operator: Admin) -> dict[str, Any]:
    """Set when a zone's units (or one unit) run their self-test, e.g. daily at 03:00."""
    settings = request.app.state.settings
    view = selftest.set_schedule(
        unit_of_work(request),
        operator.username,
        body.at_time,
        body.timezone,
        utcnow(),
        DefaultSchedule(settings.self_test_at, settings.self_test_timezone),
        unit_id=body.unit_id,
        zone_id=body.zone_id,
        enabled=body.enabled,
    )
    worker = getattr(request.app.state, "self_tests", None)
    if worker is not None:
        worker.wake()
    return view


@router.get("/api/maintainers", response_model=list[ContactView])
def maintainer_contacts(request: Request, operator: Supervisor) -> list[dict[str, Any]]:
    """Who is told about maintenance tickets outside the board."""
    return maintainers.contacts(unit_of_work(request))


@router.post("/api/maintainers", response_model=ContactView, status_code=status.HTTP_201_CREATED)
def add_maintainer(body: ContactBody, request: Request, operator: Admin) -> dict[str, Any]:
    """Add a maintainer contact (email or webhook), for one zone or, without one, for all."""
    return maintainers.add_contact(
        unit_of_work(request),
        body.name,
        body.channel,
        body.target,
        operator.username,
        utcnow(),
        zone_id=body.zone_id,
    )


@router.delete("/api/maintainers/{contact_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_maintainer(contact_id: int, request: Request, operator: Admin) -> Response:
    """Remove a maintainer contact."""
    maintainers.remove_contact(unit_of_work(request), contact_id, operator.username, utcnow())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def config_confirmer(
    uow_factory: Callable[[], UnitOfWork],
) -> Callable[[str, CommandResult], None]:
    """The device link's hook for `configure` answers: store them, never break the link."""

    def confirm(unit_id: str, result: CommandResult) -> None:
        try:
            known = unit_config.confirm_config(
                uow_factory(), unit_id, result.id, result.ok, result.applied or {}, result.detail
            )
        except Exception as exc:  # the link must outlive a database hiccup
            log.error("could not store %s's configuration answer %s: %s", unit_id, result.id, exc)
            return
        if not known:
            log.warning("unit %s confirmed unknown configuration %s", unit_id, result.id)

    return confirm
