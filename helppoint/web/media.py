"""Camera stills, unit commands about an incident (light, preset, message) and unit prompts.

Two kinds of caller: units, which authenticate with their key (``Authorization: Bearer KEY``)
to upload stills and fetch prompts; and signed-in users of the console and the police view.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from helppoint.domain.model import Operator, Permission
from helppoint.gateway.device_link import DeviceLinkHub, UnitNotConnected
from helppoint.protocol.device_link import PROMPTS
from helppoint.services import prompts as prompt_service
from helppoint.services import stills as still_service
from helppoint.services import unit_commands
from helppoint.services.units import AuthenticationFailed, authenticate_unit
from helppoint.web.deps import (
    CurrentOperator,
    Handler,
    HistoryReader,
    client_address,
    require,
    unit_of_work,
)
from helppoint.web.file_answers import file_answer
from helppoint.web.forbidden import forbidden_page
from helppoint.web.rendering import page_context, signed_in_operator, templates
from helppoint.web.security import accepts_body_up_to

router = APIRouter(prefix="/api", tags=["media"])
Supervisor = Annotated[Operator, Depends(require(Permission.SUPERVISE))]


class UnitCommandBody(BaseModel):
    command: Literal["flash_light", "camera_preset", "play_message"]
    args: dict[str, Any] = Field(default_factory=dict)


class StoredStill(BaseModel):
    """What the server kept of a unit's still."""

    id: int
    incident_id: int
    sha256: str
    width: int
    height: int
    size: int


class StillView(BaseModel):
    """A camera still's facts; the picture is at `url` (each view of it is audited)."""

    id: int
    incident_id: int
    unit_id: str
    #: The seq of the unit's event it belongs to.
    seq: int
    taken_at: str
    received_at: str
    width: int
    height: int
    #: Bytes of the JPEG, and their SHA-256.
    size: int
    sha256: str
    url: str
    #: An evidence hold keeps it past retention, with who placed it and why.
    held: bool
    held_by: str | None
    hold_reason: str
    #: False once retention deleted the picture (at `purged_at`); the facts stay.
    available: bool
    purged_at: str | None


class CommandSent(BaseModel):
    """The id of the command sent; the unit's confirmation comes later on the console feed."""

    id: str


class UnitCommandView(BaseModel):
    """A command sent to a unit, and what the unit answered (null: not yet)."""

    id: str
    unit_id: str
    #: flash_light, camera_preset or play_message, with its arguments.
    command: str
    args: dict[str, Any]
    sent_at: str
    sent_by: str
    confirmed_at: str | None
    ok: bool | None
    detail: str


class AlarmLight(BaseModel):
    """The light as the unit runs it by itself from the activation: no change confirmed."""

    model_config = ConfigDict(extra="forbid")

    pattern: str
    since: None
    confirmed: bool
    #: A change sent but not confirmed yet ("alarm", "steady" or "off").
    pending: str | None


class ConfirmedLight(BaseModel):
    """The light as the unit confirmed the control room's last change to it."""

    #: "alarm", "steady" or "off".
    pattern: str
    since: str
    confirmed: bool
    #: Who changed it.
    by: str
    pending: str | None


class UnitMediaView(BaseModel):
    """What an incident's unit was told and confirmed, its light, presets and newest still."""

    incident_id: int
    unit_id: str
    light: ConfirmedLight | AlarmLight
    commands: list[UnitCommandView]
    camera_presets: list[str]
    latest_still: StillView | None


class PromptView(BaseModel):
    """A message a unit can play: built in (name and title only) or a custom audio file."""

    name: str
    title: str
    builtin: bool
    #: The custom file's facts (null for a built-in prompt).
    format: str | None = None
    content_type: str | None = None
    duration_ms: int | None = None
    size: int | None = None
    sha256: str | None = None
    uploaded_at: str | None = None
    uploaded_by: str | None = None


def unit_key(request: Request) -> str:
    """The unit key from ``Authorization: Bearer KEY``, or 401."""
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a unit authenticates with its key: Authorization: Bearer KEY",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return key.strip()


def authenticated_unit(unit_id: str, request: Request) -> str:
    """The unit id, once its key is checked; 401 otherwise (never saying which was wrong)."""
    key = unit_key(request)
    uow = unit_of_work(request)
    try:
        with uow:
            authenticate_unit(uow, unit_id, key)
    except AuthenticationFailed:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "unit authentication failed",
            headers={"WWW-Authenticate": "Bearer"},
        ) from None
    return unit_id


AuthenticatedUnit = Annotated[str, Depends(authenticated_unit)]


# ---------- stills ----------


@router.post(
    "/units/{unit_id}/stills", response_model=StoredStill, status_code=status.HTTP_201_CREATED
)
@accepts_body_up_to(still_service.MAX_STILL_BYTES)
async def upload_still(
    unit_id: AuthenticatedUnit,
    request: Request,
    seq: Annotated[int, Query(ge=1, description="seq of the activation the still belongs to")],
    taken_at: Annotated[datetime, Query(description="when the unit took it (ISO 8601, UTC)")],
) -> dict[str, Any]:
    """A unit uploads the JPEG it took on activation (body: image/jpeg)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "image/jpeg":
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "send the still as Content-Type: image/jpeg"
        )
    data = await request.body()
    try:
        return await run_in_threadpool(
            still_service.store_still, unit_of_work(request), unit_id, seq, taken_at, data
        )
    except still_service.EventNotStored as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None


@router.get("/incidents/{incident_id}/stills", response_model=list[StillView])
def incident_stills(
    incident_id: int, request: Request, reader: HistoryReader
) -> list[dict[str, Any]]:
    """The incident's camera stills (facts only, newest first)."""
    return still_service.stills_for_incident(unit_of_work(request), incident_id)


@router.get(
    "/stills/{still_id}",
    response_class=Response,
    responses=file_answer("image/jpeg", description="The picture"),
)
def view_still(still_id: int, request: Request, viewer: CurrentOperator) -> Response:
    """The picture (image/jpeg). Every view is recorded in the audit trail."""
    if viewer.can(Permission.VIEW_HISTORY):
        police_only = False
    elif viewer.can(Permission.POLICE_RESPONSE):
        police_only = True
    else:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "your role may not view camera stills")
    data, meta = still_service.view_still(
        unit_of_work(request),
        still_id,
        viewer.username,
        police_only=police_only,
        address=client_address(request),
    )
    return Response(
        data,
        media_type="image/jpeg",
        headers={
            "Cache-Control": "private, no-store",
            "X-Content-SHA256": meta["sha256"],
            "Content-Disposition": f'inline; filename="still-{still_id}.jpg"',
        },
    )


class StillHoldBody(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


@router.post("/stills/{still_id}/hold", response_model=StillView)
def hold_still(
    still_id: int, body: StillHoldBody, request: Request, supervisor: Supervisor
) -> dict[str, Any]:
    """Place an evidence hold on a still (supervisors; audited): retention keeps it."""
    return still_service.hold_still(
        unit_of_work(request), still_id, supervisor.username, body.reason, client_address(request)
    )


@router.post("/stills/{still_id}/release", response_model=StillView)
def release_still(still_id: int, request: Request, supervisor: Supervisor) -> dict[str, Any]:
    """Release a still's evidence hold (supervisors; audited)."""
    return still_service.release_still(
        unit_of_work(request), still_id, supervisor.username, client_address(request)
    )


# ---------- commands about an incident ----------


@router.post("/incidents/{incident_id}/unit-commands", response_model=CommandSent)
async def incident_command(
    incident_id: int, body: UnitCommandBody, request: Request, operator: Handler
) -> dict[str, str]:
    """Send a command (light, camera preset, message) to the incident's unit; the unit's
    confirmation arrives later (console feed ``command_result``) and shows on the incident."""
    hub: DeviceLinkHub = request.app.state.device_link
    command_id = uuid.uuid4().hex
    args = dict(body.args)
    if body.command == "play_message":
        args = await run_in_threadpool(_message_args, request, args)
    unit_id = await run_in_threadpool(
        unit_commands.record_sent,
        unit_of_work(request),
        command_id,
        incident_id,
        body.command,
        args,
        operator.username,
        client_address(request),
    )
    try:
        await hub.send_command(unit_id, body.command, args, command_id)
    except UnitNotConnected as exc:
        await run_in_threadpool(
            unit_commands.record_result,
            unit_of_work(request),
            unit_id,
            command_id,
            False,
            "not sent: the unit is not connected",
        )
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    return {"id": command_id}


@router.get("/incidents/{incident_id}/unit-media", response_model=UnitMediaView)
def incident_unit_media(
    incident_id: int, request: Request, reader: HistoryReader
) -> dict[str, Any]:
    """What the incident's unit was told and confirmed, its light state, presets and stills."""
    uow = unit_of_work(request)
    with uow:
        incident = uow.incidents.get(incident_id)
        if incident is None or incident.id is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"incident {incident_id} does not exist")
        unit = uow.units.get(incident.unit_id)
        commands = unit_commands.incident_commands(uow, incident.id)
        latest = still_service.latest_stills(uow, [incident.id]).get(incident.id)
    return {
        "incident_id": incident_id,
        "unit_id": incident.unit_id,
        "light": unit_commands.light_state(commands),
        "commands": commands,
        "camera_presets": camera_presets(unit.capabilities if unit else []),
        "latest_still": latest,
    }


def _message_args(request: Request, args: dict[str, Any]) -> dict[str, Any]:
    """play_message arguments; a custom prompt also gets its checksum, so the unit can tell
    whether its cached copy is current and fetch it otherwise."""
    message = args.get("message")
    if not isinstance(message, str) or message in PROMPTS:
        return args  # built-in (or malformed: refused by the command check)
    custom = prompt_service.custom_prompt(unit_of_work(request), message)
    if custom is None:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"there is no prompt {message!r}")
    return {"message": message, "sha256": custom["sha256"], "format": custom["format"]}


def camera_presets(capabilities: list[str] | None) -> list[str]:
    """The preset names a unit announced (``preset:NAME`` capabilities), else zoom and home."""
    names = [c.split(":", 1)[1] for c in capabilities or [] if c.startswith("preset:")]
    return [n for n in names if n] or ["zoom", "home"]


# ---------- prompts ----------

Admin = Annotated[Operator, Depends(require(Permission.ADMINISTER))]


@router.get("/prompts", response_model=list[PromptView])
def prompts(request: Request, reader: HistoryReader) -> list[dict[str, Any]]:
    """Every message a unit can play: built-in prompts, then custom audio files."""
    return prompt_service.list_prompts(unit_of_work(request))


@router.put("/admin/prompts/{name}", response_model=PromptView, status_code=status.HTTP_201_CREATED)
@accepts_body_up_to(prompt_service.MAX_PROMPT_BYTES)
async def upload_prompt(
    name: str,
    request: Request,
    admin: Admin,
    title: Annotated[str, Query(min_length=1, max_length=200)],
) -> dict[str, Any]:
    """Upload (or replace) a custom prompt: the body is the audio file (WAV, Ogg, FLAC, MP3)."""
    data = await request.body()
    return await run_in_threadpool(
        prompt_service.upload_prompt,
        unit_of_work(request),
        name,
        title,
        data,
        admin.username,
        client_address(request),
    )


@router.delete("/admin/prompts/{name}", status_code=status.HTTP_204_NO_CONTENT)
def delete_prompt(name: str, request: Request, admin: Admin) -> Response:
    """Remove a custom prompt."""
    prompt_service.delete_prompt(
        unit_of_work(request), name, admin.username, client_address(request)
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/units/{unit_id}/prompts/{name}",
    response_class=Response,
    responses=file_answer("audio/*", description="The prompt's audio"),
)
def unit_prompt_audio(unit_id: AuthenticatedUnit, name: str, request: Request) -> Response:
    """A unit downloads a custom prompt's audio (authenticated with its key)."""
    data, meta = prompt_service.prompt_audio(unit_of_work(request), name)
    return Response(
        data,
        media_type=meta["content_type"],
        headers={"X-Content-SHA256": meta["sha256"], "Cache-Control": "private, no-store"},
    )


page_router = APIRouter(include_in_schema=False)


@page_router.get("/admin/prompts", response_class=HTMLResponse)
def prompts_page(request: Request) -> Response:
    """Upload and manage the custom messages units play."""
    operator = signed_in_operator(request)
    if operator is None:
        return RedirectResponse("/login?next=/admin/prompts", status_code=303)
    if not operator.can(Permission.ADMINISTER):
        return forbidden_page(request, operator, "Only administrators may manage unit prompts.")
    context = page_context(request, operator) | {
        "demo": False,
        "active_page": "prompts",
        "max_prompt_bytes": prompt_service.MAX_PROMPT_BYTES,
        "max_prompt_seconds": int(prompt_service.MAX_PROMPT_SECONDS),
    }
    return templates.TemplateResponse(request, "prompts_admin.html", context)
