"""The JSON API used by the console (and by integrations); documented at /docs (OpenAPI)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from pydantic import BaseModel, Field

from helppoint.domain.classification import Classification
from helppoint.domain.events import Priority
from helppoint.domain.model import IncidentState
from helppoint.gateway.device_link import DeviceLinkHub, UnitNotConnected, UnknownCommand
from helppoint.services import incidents as incident_service
from helppoint.services import operators as operator_service
from helppoint.services.login_throttle import LoginLocked
from helppoint.services.views import (
    IncidentDetail,
    IncidentView,
    LinkedUnitView,
    NoteView,
    unit_view,
)
from helppoint.store.repositories import IncidentFilter
from helppoint.topics import IncidentMessage, NoteMessage
from helppoint.web.deps import (
    SESSION_COOKIE,
    CurrentOperator,
    Handler,
    HistoryReader,
    client_address,
    unit_of_work,
)
from helppoint.web.media import CommandSent
from helppoint.web.security import login_options, secure_cookie, set_pending_cookie

router = APIRouter(prefix="/api", tags=["api"])


class LoginBody(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1000)


class NoteBody(BaseModel):
    text: str = Field(min_length=1, max_length=4000)


class ClassifyBody(BaseModel):
    classification: Classification


class CloseBody(BaseModel):
    outcome: str = Field(default="", max_length=4000)
    classification: Classification | None = None


class CommandBody(BaseModel):
    command: Literal["flash_light", "camera_preset", "play_message"]
    args: dict[str, Any] = Field(default_factory=dict)


class Me(BaseModel):
    """A signed-in user (or an API token's operator) and their role."""

    username: str
    display_name: str
    role: str


class TwoFactorNeeded(BaseModel):
    """The password was right; finish with POST /api/v1/login/2fa ("enrol": set it up first)."""

    two_factor: Literal["code", "enrol"]


class ZoneView(BaseModel):
    id: str
    name: str
    description: str


class ClassificationView(BaseModel):
    """A classification code, its label and the category reports count it under."""

    value: str
    label: str
    category: str


class Pressed(BaseModel):
    ok: bool


class HistoryPage(BaseModel):
    """One page of the incident history, and how many incidents match in all."""

    items: list[IncidentView]
    total: int


@router.post("/login", response_model=Me | TwoFactorNeeded)
def login(body: LoginBody, request: Request, response: Response) -> dict[str, str]:
    """Sign in; sets the session cookie.

    With two-factor on (or required for the role) the answer is `{"two_factor": "code"}` (or
    `"enrol"`) and a pending cookie instead: finish with POST /api/login/2fa.
    """
    settings = request.app.state.settings
    try:
        signed_in = operator_service.login(
            unit_of_work(request),
            body.username,
            body.password,
            address=client_address(request),
            **login_options(settings),
        )
    except operator_service.LoginFailed:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password") from None
    except LoginLocked as exc:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, str(exc)) from None
    if signed_in.two_factor_pending:
        set_pending_cookie(response, signed_in.token, secure_cookie(request))
        return {"two_factor": "enrol" if signed_in.must_enrol else "code"}
    set_session_cookie(response, signed_in.token, settings.session_lifetime, secure_cookie(request))
    op = signed_in.operator
    return {"username": op.username, "display_name": op.display_name, "role": op.role.value}


def set_session_cookie(response: Response, token: str, lifetime: int, secure: bool) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=lifetime,
        httponly=True,
        samesite="strict",
        secure=secure,
        path="/",
    )


@router.post("/logout", status_code=204)
def logout(request: Request, response: Response) -> None:
    """End this browser's session."""
    token = request.cookies.get(SESSION_COOKIE, "")
    if token:
        operator_service.logout(unit_of_work(request), token, client_address(request))
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/me", response_model=Me)
def me(operator: CurrentOperator) -> dict[str, str]:
    """Who is signed in."""
    return {
        "username": operator.username,
        "display_name": operator.display_name,
        "role": operator.role.value,
    }


@router.get("/units", response_model=list[LinkedUnitView])
def units(request: Request, operator: HistoryReader) -> list[dict[str, Any]]:
    """Every unit, with whether its device link is up now."""
    hub: DeviceLinkHub = request.app.state.device_link
    connected = hub.linked_units()
    with unit_of_work(request) as uow:
        return [unit_view(u) | {"connected": u.id in connected} for u in uow.units.list()]


@router.get("/zones", response_model=list[ZoneView])
def zones(request: Request, operator: HistoryReader) -> list[dict[str, str]]:
    """Every zone."""
    with unit_of_work(request) as uow:
        return [
            {"id": z.id, "name": z.name, "description": z.description} for z in uow.zones.list()
        ]


@router.get("/classifications", response_model=list[ClassificationView])
def classifications(operator: CurrentOperator) -> list[dict[str, str]]:
    """Classification codes with their labels and report category."""
    return [
        {"value": c.value, "label": c.label, "category": c.category.value}
        for c in incident_service.classifications()
    ]


@router.get("/incidents/queue", response_model=list[IncidentView])
def queue(request: Request, operator: Handler) -> list[IncidentMessage]:
    """Open incidents, most urgent first."""
    return incident_service.open_queue(unit_of_work(request))


def _bound(value: str | None, name: str, end: bool) -> datetime | None:
    if not value:
        return None
    try:
        if len(value) == 10:
            moment = datetime.combine(date.fromisoformat(value), time.min, tzinfo=UTC)
            return moment + timedelta(days=1) if end else moment
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, f"{name} must be a date (YYYY-MM-DD) or ISO 8601 time"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@router.get("/incidents", response_model=HistoryPage)
def history(
    request: Request,
    operator: HistoryReader,
    text: Annotated[str, Query(max_length=200)] = "",
    unit_id: str | None = None,
    zone_id: str | None = None,
    state: IncidentState | None = None,
    classification: Classification | None = None,
    priority: Annotated[int | None, Query(ge=1, le=3)] = None,
    since: str | None = None,
    until: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Incident history, newest first; `since`/`until` are dates or ISO times (until exclusive)."""
    flt = IncidentFilter(
        text=text,
        unit_id=unit_id or None,
        zone_id=zone_id or None,
        state=state,
        classification=classification,
        priority=Priority(priority) if priority is not None else None,
        since=_bound(since, "since", end=False),
        until=_bound(until, "until", end=True),
        limit=limit,
        offset=offset,
    )
    items, total = incident_service.search_history(unit_of_work(request), flt)
    return {"items": items, "total": total}


@router.get("/incidents/{incident_id}", response_model=IncidentDetail)
def incident(incident_id: int, request: Request, operator: HistoryReader) -> dict[str, Any]:
    """One incident with its events, notes and timeline."""
    return incident_service.incident_detail(unit_of_work(request), incident_id)


@router.post("/incidents/{incident_id}/acknowledge", response_model=IncidentView)
def acknowledge(incident_id: int, request: Request, operator: Handler) -> IncidentMessage:
    """Claim the incident (409 if another operator already did)."""
    return incident_service.acknowledge(
        unit_of_work(request), incident_id, operator.username, client_address(request)
    )


@router.post("/incidents/{incident_id}/notes", response_model=NoteView)
def add_note(incident_id: int, body: NoteBody, request: Request, operator: Handler) -> NoteMessage:
    """Add a note to the incident."""
    return incident_service.add_note(
        unit_of_work(request), incident_id, body.text, operator.username, client_address(request)
    )


@router.post("/incidents/{incident_id}/classify", response_model=IncidentView)
def classify(
    incident_id: int, body: ClassifyBody, request: Request, operator: Handler
) -> IncidentMessage:
    """Record the classification (the incident becomes assessed)."""
    return incident_service.classify(
        unit_of_work(request),
        incident_id,
        body.classification,
        operator.username,
        client_address(request),
    )


@router.post("/incidents/{incident_id}/close", response_model=IncidentView)
def close(
    incident_id: int, body: CloseBody, request: Request, operator: Handler
) -> IncidentMessage:
    """Close with an outcome (classifying first if a classification is given)."""
    return incident_service.close(
        unit_of_work(request),
        incident_id,
        operator.username,
        body.outcome,
        body.classification,
        client_address(request),
    )


@router.post("/units/{unit_id}/commands", response_model=CommandSent)
async def command(
    unit_id: str, body: CommandBody, request: Request, operator: Handler
) -> dict[str, str]:
    """Send a command (light, camera preset, message) to a connected unit."""
    hub: DeviceLinkHub = request.app.state.device_link
    try:
        command_id = await hub.send_command(unit_id, body.command, body.args)
    except UnitNotConnected as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except UnknownCommand as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
    return {"id": command_id}


@router.post("/demo/press/{unit_id}", response_model=Pressed)
def demo_press(unit_id: str, request: Request, operator: Handler) -> dict[str, bool]:
    """Demo only: press a simulated unit's button, as a person would."""
    press = getattr(request.app.state, "demo_press", None)
    if press is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not running the demo")
    try:
        press(unit_id)
    except LookupError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no simulated unit {unit_id}") from None
    return {"ok": True}
