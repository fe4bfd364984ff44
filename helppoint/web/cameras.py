"""Cameras API: the registry (administrators) and an incident's cameras (operators).

docs/cameras.md describes every route. A camera's password is accepted here and never
returned: views carry the first characters of the user name and whether a password is set.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.concurrency import run_in_threadpool

from helppoint.cameras.ptz import PtzError
from helppoint.cameras.viewer import CameraUnavailable, CameraViews
from helppoint.domain.cameras import check_preset
from helppoint.domain.errors import InvalidInput
from helppoint.domain.model import Operator, Permission
from helppoint.services import cameras as camera_service
from helppoint.services import incident_cameras as incident_camera_service
from helppoint.services.camera_views import CameraView, IncidentCameras
from helppoint.store.sealed import Sealer, SealError, sealer_for
from helppoint.web import camera_clips
from helppoint.web.deps import Handler, HistoryReader, client_address, require, unit_of_work

router = APIRouter(prefix="/api", tags=["cameras"])
# Clips (play, export, hold) come with the cameras' routes.
router.include_router(camera_clips.router)
Admin = Annotated[Operator, Depends(require(Permission.ADMINISTER))]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CameraChange(_Strict):
    """A camera's details; what is left out stays as it is (on a change)."""

    name: str | None = Field(None, min_length=1, max_length=200)
    rtsp_url: str | None = Field(None, min_length=1, max_length=500)
    onvif: str | None = Field(
        None, max_length=500, description="host[:port] of the ONVIF service; '' = fixed camera"
    )
    onvif_profile: str | None = Field(None, max_length=64)
    username: str | None = Field(None, max_length=64, description="'' removes the account")
    password: str | None = Field(None, max_length=200, description="never shown back")
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    description: str | None = Field(None, max_length=2000)

    @field_validator("latitude", "longitude")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    def details(self) -> camera_service.CameraDetails:
        return camera_service.CameraDetails(**self.model_dump())


class NewCamera(CameraChange):
    """A camera to register."""

    id: str = Field(min_length=1, max_length=64, description="e.g. CAM-01")
    name: str = Field(min_length=1, max_length=200)
    rtsp_url: str = Field(min_length=1, max_length=500)

    def details(self) -> camera_service.CameraDetails:
        return camera_service.CameraDetails(**self.model_dump(exclude={"id"}))


class LinkBody(_Strict):
    """Show the camera for a unit (turned to ``preset``) or for every unit of a zone."""

    unit_id: str | None = Field(None, min_length=1, max_length=64)
    zone_id: str | None = Field(None, min_length=1, max_length=64)
    preset: str = Field("", max_length=64, description="ONVIF preset token (units only)")
    own: bool = Field(False, description="the unit's own camera (units only)")


class ViewOffer(_Strict):
    """The browser's offer to receive one camera's video."""

    type: Literal["offer"] = "offer"
    sdp: str = Field(min_length=1, max_length=32 * 1024)


class ViewAnswer(BaseModel):
    """The server's answer: the camera's picture, forwarded as encoded or re-encoded."""

    view: str = Field(description="the view's token, to end it")
    type: Literal["answer"] = "answer"
    sdp: str
    codec: str = Field(description="what the camera sends, e.g. h264 or mjpeg")
    forwarded: bool = Field(description="true: the camera's own H.264, never re-encoded")


class PtzBody(_Strict):
    """Move a PTZ camera: start a move (speeds -1 … 1), stop it, or turn to a preset."""

    action: Literal["move", "stop", "preset"]
    pan: float = Field(0.0, ge=-1, le=1, description="left -1 … right 1")
    tilt: float = Field(0.0, ge=-1, le=1, description="down -1 … up 1")
    zoom: float = Field(0.0, ge=-1, le=1, description="out -1 … in 1")
    preset: str = Field(
        "", max_length=64, description="preset token; '' = the unit's preset (action preset)"
    )

    @field_validator("pan", "tilt", "zoom")
    @classmethod
    def _finite_speed(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value


class PtzDone(BaseModel):
    """The camera accepted the request."""

    camera_id: str
    action: str
    preset: str = ""


class Unavailable(BaseModel):
    """Why a camera cannot be shown now (503)."""

    detail: str
    state: str


def camera_sealer(request: Request) -> Sealer:
    """The installation's sealer, made once per app."""
    sealer: Sealer | None = getattr(request.app.state, "camera_sealer", None)
    if sealer is None:
        sealer = sealer_for(request.app.state.settings)
        request.app.state.camera_sealer = sealer
    return sealer


@router.get("/admin/cameras", response_model=list[CameraView])
def list_cameras(request: Request, admin: Admin) -> list[CameraView]:
    """Every registered camera with its links (never its password)."""
    return camera_service.list_cameras(unit_of_work(request))


@router.post("/admin/cameras", response_model=CameraView, status_code=status.HTTP_201_CREATED)
def add_camera(body: NewCamera, request: Request, admin: Admin) -> CameraView:
    """Register a camera; 400 says what is wrong with it (and nothing is stored)."""
    return camera_service.register_camera(
        unit_of_work(request),
        camera_sealer(request),
        body.id,
        body.details(),
        admin.username,
        client_address(request),
    )


@router.get("/admin/cameras/{camera_id}", response_model=CameraView)
def get_camera(camera_id: str, request: Request, admin: Admin) -> CameraView:
    return camera_service.get_camera(unit_of_work(request), camera_id)


@router.patch("/admin/cameras/{camera_id}", response_model=CameraView)
def change_camera(camera_id: str, body: CameraChange, request: Request, admin: Admin) -> CameraView:
    """Change what is given; the rest stays."""
    return camera_service.update_camera(
        unit_of_work(request),
        camera_sealer(request),
        camera_id,
        body.details(),
        admin.username,
        client_address(request),
    )


@router.delete(
    "/admin/cameras/{camera_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
)
def remove_camera(camera_id: str, request: Request, admin: Admin) -> Response:
    """Take the camera out of use (its links and account go; its clips stay)."""
    camera_service.remove_camera(
        unit_of_work(request), camera_id, admin.username, client_address(request)
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/admin/cameras/{camera_id}/links", response_model=CameraView)
def link_camera(camera_id: str, body: LinkBody, request: Request, admin: Admin) -> CameraView:
    """Link the camera to a unit or a zone (again: change the link's preset)."""
    return camera_service.link_camera(
        unit_of_work(request),
        camera_id,
        unit_id=body.unit_id,
        zone_id=body.zone_id,
        preset=body.preset,
        own=body.own,
        actor=admin.username,
        address=client_address(request),
    )


@router.delete("/admin/cameras/{camera_id}/links", response_model=CameraView)
def unlink_camera(
    camera_id: str,
    request: Request,
    admin: Admin,
    unit: Annotated[str | None, Query(max_length=64)] = None,
    zone: Annotated[str | None, Query(max_length=64)] = None,
) -> CameraView:
    """Stop showing the camera for ``?unit=`` or ``?zone=``."""
    return camera_service.unlink_camera(
        unit_of_work(request),
        camera_id,
        unit_id=unit,
        zone_id=zone,
        actor=admin.username,
        address=client_address(request),
    )


@router.get("/incidents/{incident_id}/cameras", response_model=IncidentCameras)
async def incident_cameras(
    incident_id: int, request: Request, operator: HistoryReader
) -> IncidentCameras:
    """The cameras of the incident's unit (own first, then linked to the unit, then to its
    zone), what this server sees of each, and the clips recorded."""
    from helppoint.services.incident_cameras import incident_cameras as load

    view: IncidentCameras = await run_in_threadpool(load, unit_of_work(request), incident_id)
    return _views(request).with_live_states(view)


def _views(request: Request) -> CameraViews:
    views: CameraViews = request.app.state.cameras
    return views


@router.post(
    "/incidents/{incident_id}/cameras/{camera_id}/view",
    response_model=ViewAnswer,
    responses={503: {"model": Unavailable, "description": "the camera cannot be shown now"}},
)
async def view_camera(
    incident_id: int, camera_id: str, body: ViewOffer, request: Request, operator: Handler
) -> ViewAnswer | JSONResponse:
    """Show a camera of the incident live: answers the browser's WebRTC offer. Audited
    (camera.viewed). 503 says why a camera cannot be shown (unreachable, wrong account, not an
    RTSP camera, stream lost); 404 if the camera is not shown on this incident."""
    try:
        answer = await _views(request).view(
            incident_id, camera_id, operator.username, body.sdp, client_address(request)
        )
    except CameraUnavailable as exc:
        return JSONResponse({"detail": str(exc), "state": exc.state.value}, status_code=503)
    except SealError as exc:
        return JSONResponse({"detail": str(exc), "state": "unauthorized"}, status_code=503)
    return ViewAnswer(**answer)


@router.delete(
    "/camera-views/{view}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response
)
async def end_view(view: str, request: Request, operator: Handler) -> Response:
    """Stop sending a camera's picture to this browser."""
    await _views(request).close(view, operator.username)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/incidents/{incident_id}/cameras/{camera_id}/ptz",
    response_model=PtzDone,
    responses={502: {"description": "the camera did not do it (the detail says why)"}},
)
async def move_camera(
    incident_id: int, camera_id: str, body: PtzBody, request: Request, operator: Handler
) -> PtzDone | JSONResponse:
    """Move a PTZ camera shown on the incident (audited, except a stop). A move stops by itself
    after a few seconds if no stop follows. 409 for a fixed camera; 502 when the camera did not
    do it (unreachable, refused the account, no such preset)."""
    views = _views(request)
    try:
        access, unit_preset = await run_in_threadpool(
            incident_camera_service.open_ptz,
            unit_of_work(request),
            views.sealer(),
            incident_id,
            camera_id,
        )
    except SealError as exc:
        return JSONResponse({"detail": str(exc)}, status_code=502)
    ptz = views.ptz
    details: dict[str, Any] = {"how": body.action}
    problem = ""
    try:
        if body.action == "move":
            details |= {"pan": body.pan, "tilt": body.tilt, "zoom": body.zoom}
            await ptz.move(access, body.pan, body.tilt, body.zoom)
        elif body.action == "stop":
            await ptz.stop(access)
        else:
            preset = body.preset or unit_preset
            if not preset:
                raise InvalidInput(f"camera {camera_id} has no preset for this help point")
            details["preset"] = check_preset(preset)
            await ptz.goto_preset(access, details["preset"])
    except PtzError as exc:
        problem = str(exc)
    if body.action != "stop" or problem:
        await run_in_threadpool(
            incident_camera_service.record_move,
            unit_of_work(request),
            incident_id,
            operator.username,
            camera_id,
            problem,
            client_address(request),
            **details,
        )
    if problem:
        return JSONResponse({"detail": problem}, status_code=502)
    return PtzDone(camera_id=camera_id, action=body.action, preset=details.get("preset", ""))
