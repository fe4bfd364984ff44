"""Calls and recordings API: answer, hang up, call state, play, export, evidence hold."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from helppoint.calls.hub import (
    CallHub,
    CallSetupFailed,
    UnitUnavailable,
    browser_ice_servers,
)
from helppoint.calls.listen import ListenError
from helppoint.calls.recorder import MEDIA_TYPE
from helppoint.domain.model import Operator, Permission
from helppoint.services import calls as call_service
from helppoint.services.playback_links import PlaybackLinks, playback_links
from helppoint.web.deps import Handler, HistoryReader, client_address, require, unit_of_work
from helppoint.web.file_answers import file_answer

router = APIRouter(prefix="/api", tags=["calls"])
Supervisor = Annotated[Operator, Depends(require(Permission.SUPERVISE))]


class OfferBody(BaseModel):
    type: Literal["offer"] = "offer"
    sdp: str = Field(min_length=1, max_length=32 * 1024)


class HoldBody(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class CallView(BaseModel):
    """A call between an operator's browser and a unit (services/calls.call_view)."""

    id: int
    incident_id: int
    unit_id: str
    operator: str
    started_at: str
    connected_at: str | None
    ended_at: str | None
    end_reason: str
    #: Whether the operator talks (their microphone reached the server) or only listens.
    talk: bool
    #: Whether video from the unit's camera reached the server.
    video: bool
    #: What works and what does not, in words for the operator (e.g. "no camera").
    detail: str
    active: bool
    #: "call", or "press": the unit's press-time audio the server listened to.
    kind: str


class RecordingView(BaseModel):
    """A call's recording, kept as evidence (services/calls.recording_view)."""

    id: int
    call_id: int
    incident_id: int
    started_at: str
    ended_at: str
    #: Seconds.
    duration: float
    size_bytes: int
    sha256: str
    media_type: str
    #: Retention deletes it after this, unless held.
    retain_until: str
    held: bool
    held_by: str | None
    held_at: str | None
    hold_reason: str
    #: False once retention deleted the file (at `purged_at`); the record stays.
    available: bool
    purged_at: str | None


class CallAnswer(BaseModel):
    """The SDP answer that connects the browser to the unit, and the call's record."""

    call: CallView
    type: Literal["answer"]
    sdp: str
    talk: bool
    video: bool
    detail: str


class CallNotRecorded(BaseModel):
    """Empty: the call ended, and whoever ended it first (the unit, a lost link) wrote its end."""

    model_config = ConfigDict(extra="forbid")


class ActiveCallView(BaseModel):
    """The incident's call in progress."""

    incident_id: int
    #: null for the moment between connecting and storing the call.
    call_id: int | None
    unit_id: str
    operator: str
    talk: bool
    video: bool
    detail: str
    state: Literal["connected"]


class CallState(BaseModel):
    """The call in progress (or null), past calls and recordings, and the ICE servers a
    browser's RTCPeerConnection takes (urls, and username/credential for TURN)."""

    active: ActiveCallView | None
    ice_servers: list[dict[str, str]]
    calls: list[CallView]
    recordings: list[RecordingView]


class PlaybackUrl(BaseModel):
    """A short-lived link the console's player streams the recording from."""

    url: str


#: The recordings' media type (helppoint/calls/recorder.py).
RECORDING = file_answer(MEDIA_TYPE, description="The recording")


def _hub(request: Request) -> CallHub:
    hub: CallHub = request.app.state.calls
    return hub


def _playback_links(request: Request) -> PlaybackLinks:
    """This installation's playback links (their signing key is made on first use)."""
    links: PlaybackLinks | None = getattr(request.app.state, "playback_links", None)
    if links is None:
        minutes = request.app.state.settings.playback_link_minutes
        links = playback_links(unit_of_work(request), minutes)
        request.app.state.playback_links = links
    return links


@router.post("/incidents/{incident_id}/call", response_model=CallAnswer)
async def answer_call(
    incident_id: int, body: OfferBody, request: Request, operator: Handler
) -> dict[str, Any]:
    """Answer: connect this browser (its SDP offer) to the unit; returns the SDP answer.

    409 when the unit is offline or the incident cannot take a call, 504 when the unit did not
    answer. Calling again while a call is up replaces it (how a dropped call is re-established).
    """
    try:
        return await _hub(request).answer(
            incident_id, operator.username, body.sdp, client_address(request)
        )
    except UnitUnavailable as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except CallSetupFailed as exc:
        raise HTTPException(status.HTTP_504_GATEWAY_TIMEOUT, str(exc)) from None


class ListenAnswer(BaseModel):
    """The SDP answer that connects the browser to the unit's live press-time audio."""

    type: Literal["answer"] = "answer"
    sdp: str
    unit_id: str
    #: Names this listen; the console feed's `listen_ended` message carries it when it ends.
    listen_id: str
    #: The judgement so far ("voice", "silent", "noisy"; null: not yet) and its level 0-1.
    voice: Literal["voice", "silent", "noisy"] | None
    voice_level: float | None


class ListenStopped(BaseModel):
    listening: Literal[False] = False
    #: Whether this operator was listening in.
    was_listening: bool


@router.post("/incidents/{incident_id}/listen", response_model=ListenAnswer)
async def listen_in(
    incident_id: int, body: OfferBody, request: Request, operator: Handler
) -> dict[str, Any]:
    """Listen in to the unit's live microphone without answering (docs/triage.md): the
    browser's offer (receive-only audio) gets the SDP answer. Audited. 409 when the unit cannot
    be listened to now (offline, on another server process, or its listen is about another
    incident), 400 for a closed incident or an unusable offer."""
    try:
        return await _hub(request).listens.listen_in(
            incident_id, operator.username, body.sdp, client_address(request)
        )
    except ListenError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None


@router.post("/incidents/{incident_id}/listen/stop", response_model=ListenStopped)
async def stop_listening(incident_id: int, request: Request, operator: Handler) -> dict[str, Any]:
    """Stop listening in (this operator's browser only; the server's listening goes on)."""
    was = await _hub(request).listens.stop_listening(incident_id, operator.username)
    return {"listening": False, "was_listening": was}


@router.post("/incidents/{incident_id}/call/hangup", response_model=CallView | CallNotRecorded)
async def hang_up(incident_id: int, request: Request, operator: Handler) -> dict[str, Any]:
    """End the incident's call; the call's record (times, end reason)."""
    return await _hub(request).hangup(incident_id, operator.username, client_address(request))


@router.get("/incidents/{incident_id}/call", response_model=CallState)
async def call_state(incident_id: int, request: Request, operator: HistoryReader) -> dict[str, Any]:
    """The call in progress (or null), past calls and recordings, and the ICE servers to use."""
    history = await run_in_threadpool(call_service.call_history, unit_of_work(request), incident_id)
    return {
        "active": _hub(request).active(incident_id),
        "ice_servers": browser_ice_servers(request.app.state.settings),
        **history,
    }


@router.post("/recordings/{recording_id}/play", response_model=PlaybackUrl)
def play(recording_id: int, request: Request, operator: HistoryReader) -> dict[str, str]:
    """Audit a playback and issue a short-lived link the console's player streams from."""
    call_service.open_recording(
        unit_of_work(request),
        recording_id,
        operator.username,
        "recording.played",
        client_address(request),
    )
    token = _playback_links(request).issue(recording_id, operator.username, time.time())
    return {"url": f"/api/recordings/{recording_id}/media?token={token}"}


@router.get("/recordings/{recording_id}/media", response_class=FileResponse, responses=RECORDING)
def media(recording_id: int, token: str, request: Request, operator: HistoryReader) -> FileResponse:
    """Stream a recording (range requests allowed) with a link issued by ``play``; every
    fetch is audited (``recording.streamed``, with the range asked for)."""
    links = _playback_links(request)
    if not links.valid(recording_id, operator.username, token, time.time()):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "this playback link is not valid (press Play again)"
        )
    call_service.open_recording(
        unit_of_work(request),
        recording_id,
        operator.username,
        "recording.streamed",
        client_address(request),
        {"range": request.headers.get("range", "whole file")[:100]},
    )
    return _file(request, recording_id, attachment=False)


@router.get("/recordings/{recording_id}/export", response_class=FileResponse, responses=RECORDING)
def export(recording_id: int, request: Request, operator: HistoryReader) -> FileResponse:
    """Download a recording as evidence (audited); the SHA-256 is in X-Content-SHA256."""
    recording = call_service.open_recording(
        unit_of_work(request),
        recording_id,
        operator.username,
        "recording.exported",
        client_address(request),
    )
    response = _file(request, recording_id, attachment=True)
    response.headers["X-Content-SHA256"] = recording.sha256
    return response


def _file(request: Request, recording_id: int, attachment: bool) -> FileResponse:
    with unit_of_work(request) as uow:
        recording = uow.calls.get_recording(recording_id)
        if recording is None or not recording.available:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"recording {recording_id} is not kept")
        path = _hub(request).recordings_dir / recording.path
        name = f"INC-{recording.incident_id:06d}-call-{recording.call_id}.webm"
        media_type = recording.media_type
    if not path.is_file():
        raise HTTPException(
            status.HTTP_410_GONE, f"the file of recording {recording_id} is missing from the store"
        )
    return FileResponse(
        path,
        media_type=media_type,
        filename=name if attachment else None,
        content_disposition_type="attachment" if attachment else "inline",
    )


@router.post("/recordings/{recording_id}/hold", response_model=RecordingView)
def hold(
    recording_id: int, body: HoldBody, request: Request, supervisor: Supervisor
) -> dict[str, Any]:
    """Place an evidence hold (supervisors): retention will not delete the recording."""
    return call_service.hold_recording(
        unit_of_work(request),
        recording_id,
        supervisor.username,
        body.reason,
        client_address(request),
    )


@router.post("/recordings/{recording_id}/release", response_model=RecordingView)
def release(recording_id: int, request: Request, supervisor: Supervisor) -> dict[str, Any]:
    """Release an evidence hold (supervisors)."""
    return call_service.release_recording(
        unit_of_work(request), recording_id, supervisor.username, client_address(request)
    )
