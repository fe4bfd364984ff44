"""What the API and the console are told about cameras, links and clips (typed view models).

A camera's account is never in a view: only the first characters of its user name and whether
a password is set.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from helppoint.domain.cameras import Camera, CameraClip, CameraLink


class CameraLinkView(BaseModel):
    """A camera shown for a unit (with the preset that turns it there) or for a zone."""

    camera_id: str
    unit_id: str | None
    zone_id: str | None
    preset: str = Field(description="ONVIF preset token used on an activation ('' = none)")
    own: bool = Field(description="the unit's own camera")


class CameraView(BaseModel):
    """A registered camera, without its password."""

    id: str
    name: str
    rtsp_url: str = Field(description="the stream's address, without the account")
    onvif: str | None = Field(description="host:port of the ONVIF service; null: fixed camera")
    onvif_profile: str
    ptz: bool
    username_hint: str = Field(description="the first characters of the user name, or ''")
    password_set: bool
    latitude: float | None
    longitude: float | None
    description: str
    active: bool
    links: list[CameraLinkView]


class ClipView(BaseModel):
    """A clip of one camera around a press: evidence with its checksum and retention."""

    id: int
    camera_id: str
    incident_id: int
    state: str = Field(description="recording, recorded, interrupted or failed")
    pressed_at: datetime
    started_at: datetime
    pre_roll: float = Field(description="seconds of video before the press")
    ended_at: datetime | None
    duration: float
    size_bytes: int
    sha256: str
    media_type: str
    retain_until: datetime | None
    held: bool
    held_by: str | None
    held_at: datetime | None
    hold_reason: str
    available: bool
    purged_at: datetime | None
    detail: str


class IncidentCamera(BaseModel):
    """A camera shown on an incident, and whether this server can show it live now."""

    camera_id: str
    name: str
    own: bool
    linked_by: str = Field(description="'unit' or 'zone'")
    preset: str
    ptz: bool
    latitude: float | None
    longitude: float | None
    state: str = Field(
        description="idle, connecting, live, unreachable, unauthorized, not_rtsp, lost or "
        "unsupported (what this server last saw of the stream)"
    )
    detail: str
    codec: str
    forwarded: bool | None = Field(
        description="true: sent to browsers as the camera encoded it; false: re-encoded; "
        "null: not known yet"
    )


class IncidentCameras(BaseModel):
    """The cameras of an incident's unit and the clips recorded for it."""

    incident_id: int
    unit_id: str
    cameras: list[IncidentCamera]
    clips: list[ClipView]


def link_view(link: CameraLink) -> CameraLinkView:
    return CameraLinkView(
        camera_id=link.camera_id,
        unit_id=link.unit_id,
        zone_id=link.zone_id,
        preset=link.preset,
        own=link.own,
    )


def camera_view(camera: Camera, links: list[CameraLink]) -> CameraView:
    return CameraView(
        id=camera.id,
        name=camera.name,
        rtsp_url=camera.rtsp_url,
        onvif=f"{camera.onvif_host}:{camera.onvif_port}" if camera.onvif_host else None,
        onvif_profile=camera.onvif_profile,
        ptz=camera.ptz,
        username_hint=camera.username_hint,
        password_set=bool(camera.sealed_credentials),
        latitude=camera.latitude,
        longitude=camera.longitude,
        description=camera.description,
        active=camera.active,
        links=[link_view(link) for link in links],
    )


def clip_view(clip: CameraClip) -> ClipView:
    assert clip.id is not None
    return ClipView(
        id=clip.id,
        camera_id=clip.camera_id,
        incident_id=clip.incident_id,
        state=clip.state,
        pressed_at=clip.pressed_at,
        started_at=clip.started_at,
        pre_roll=round(max(0.0, (clip.pressed_at - clip.started_at).total_seconds()), 3),
        ended_at=clip.ended_at,
        duration=round(clip.duration, 3),
        size_bytes=clip.size_bytes,
        sha256=clip.sha256,
        media_type=clip.media_type,
        retain_until=clip.retain_until,
        held=clip.held,
        held_by=clip.held_by,
        held_at=clip.held_at,
        hold_reason=clip.hold_reason,
        available=clip.available and bool(clip.path),
        purged_at=clip.purged_at,
        detail=clip.detail,
    )
