"""Camera clips API: play (audited, a short-lived link signed by the server; every fetch through
it audited again), export (audited, with its SHA-256), evidence hold and release — as for call
recordings (web/calls.py)."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from helppoint.domain.model import Operator, Permission
from helppoint.services import camera_clips as clip_service
from helppoint.services.camera_views import ClipView
from helppoint.services.playback_links import PlaybackLinks
from helppoint.services.server_secrets import server_secret
from helppoint.store.recording_files import recordings_path
from helppoint.web.deps import HistoryReader, client_address, require, unit_of_work
from helppoint.web.file_answers import file_answer

#: Included by web/cameras.py's router, under its /api prefix.
router = APIRouter(tags=["cameras"])
Supervisor = Annotated[Operator, Depends(require(Permission.SUPERVISE))]

#: The name of the clip links' signing key in `server_secrets`.
CLIP_LINKS_SECRET = "clip-playback-links"


class HoldBody(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class PlaybackLink(BaseModel):
    url: str


#: A clip is MP4 (H.264) or Matroska (other codecs): cameras/clips.py ClipFileWriter.
CLIP = file_answer("video/mp4", "video/x-matroska", description="The clip")


def _links(request: Request) -> PlaybackLinks:
    """Playback links of clips: signed like recordings' (services/playback_links.py), with a
    secret of their own, so a recording's link can never open the clip with the same id."""
    links: PlaybackLinks | None = getattr(request.app.state, "clip_playback_links", None)
    if links is None:
        minutes = request.app.state.settings.playback_link_minutes
        secret = server_secret(unit_of_work(request), CLIP_LINKS_SECRET)
        links = PlaybackLinks(secret, minutes * 60)
        request.app.state.clip_playback_links = links
    return links


@router.post("/clips/{clip_id}/play", response_model=PlaybackLink)
def play(clip_id: int, request: Request, operator: HistoryReader) -> PlaybackLink:
    """Audit a playback (clip.played) and issue a short-lived link to stream the clip from."""
    clip_service.open_clip(
        unit_of_work(request), clip_id, operator.username, "clip.played", client_address(request)
    )
    token = _links(request).issue(clip_id, operator.username, time.time())
    return PlaybackLink(url=f"/api/clips/{clip_id}/media?token={token}")


@router.get("/clips/{clip_id}/media", response_class=FileResponse, responses=CLIP)
def media(clip_id: int, token: str, request: Request, operator: HistoryReader) -> FileResponse:
    """Stream a clip (range requests allowed) with a link issued by ``play``; every fetch is
    audited (``clip.streamed``, with the range asked for)."""
    if not _links(request).valid(clip_id, operator.username, token, time.time()):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "this playback link is not valid (press Play again)"
        )
    clip_service.open_clip(
        unit_of_work(request),
        clip_id,
        operator.username,
        "clip.streamed",
        client_address(request),
        range=request.headers.get("range", "whole file")[:100],
    )
    return _file(request, clip_id, attachment=False)


@router.get("/clips/{clip_id}/export", response_class=FileResponse, responses=CLIP)
def export(clip_id: int, request: Request, operator: HistoryReader) -> FileResponse:
    """Download a clip as evidence (audited, clip.exported); its SHA-256 in X-Content-SHA256."""
    clip = clip_service.open_clip(
        unit_of_work(request), clip_id, operator.username, "clip.exported", client_address(request)
    )
    response = _file(request, clip_id, attachment=True)
    response.headers["X-Content-SHA256"] = clip.sha256
    return response


@router.post("/clips/{clip_id}/hold", response_model=ClipView)
def hold(clip_id: int, body: HoldBody, request: Request, supervisor: Supervisor) -> ClipView:
    """Place an evidence hold (supervisors): retention will not delete the clip."""
    return clip_service.hold_clip(
        unit_of_work(request), clip_id, supervisor.username, body.reason, client_address(request)
    )


@router.post("/clips/{clip_id}/release", response_model=ClipView)
def release(clip_id: int, request: Request, supervisor: Supervisor) -> ClipView:
    """Release an evidence hold (supervisors)."""
    return clip_service.release_clip(
        unit_of_work(request), clip_id, supervisor.username, client_address(request)
    )


def _file(request: Request, clip_id: int, attachment: bool) -> FileResponse:
    with unit_of_work(request) as uow:
        clip = uow.cameras.get_clip(clip_id)
        if clip is None or not clip.available or not clip.path or clip.recording:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"clip {clip_id} is not kept")
        path = recordings_path(request.app.state.settings) / clip.path
        suffix = path.suffix
        name = f"INC-{clip.incident_id:06d}-{clip.camera_id}-clip-{clip.id}{suffix}"
        media_type = clip.media_type
    if not path.is_file():
        raise HTTPException(
            status.HTTP_410_GONE, f"the file of clip {clip_id} is missing from the store"
        )
    return FileResponse(
        path,
        media_type=media_type,
        filename=name if attachment else None,
        content_disposition_type="attachment" if attachment else "inline",
    )
