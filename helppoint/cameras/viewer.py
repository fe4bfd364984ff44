"""Live camera pictures in the operator's browser over WebRTC, forwarded without re-encoding.

The browser offers to receive video (``POST /api/incidents/{id}/cameras/{camera}/view``); the
server answers with one peer per view whose video track takes the camera's access units from
its :class:`~helppoint.cameras.stream.CameraStream`. When the camera sends H.264 and the browser
can take it, the answer picks H.264 and each access unit is packetized as it is (aiortc sends
an ``av.Packet`` without encoding it): the server never decodes the picture. Otherwise (a
camera sending Motion JPEG or H.265, a browser without H.264) the stream's reader decodes and
aiortc re-encodes for each viewer, which costs far more (docs/cameras.md has the figures).
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import av
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.exceptions import OperationError
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcrtpsender import RTCRtpSender
from aiortc.sdp import SessionDescription
from starlette.concurrency import run_in_threadpool

from helppoint.calls.hub import ice_servers
from helppoint.cameras.ptz import PtzControl
from helppoint.cameras.stream import (
    TIME_BASE,
    CameraStream,
    FrameQueue,
    StreamPool,
    StreamState,
)
from helppoint.config import Settings
from helppoint.domain.cameras import CameraAccess
from helppoint.domain.errors import InvalidInput, NotFound
from helppoint.services import incident_cameras as incident_camera_service
from helppoint.services.camera_views import IncidentCameras
from helppoint.store.sealed import Sealer, sealer_for
from helppoint.store.uow import UnitOfWork

log = logging.getLogger(__name__)

MAX_OFFER = 32 * 1024


class CameraUnavailable(Exception):
    """The camera's stream is not live; ``state`` and the message say why."""

    def __init__(self, state: StreamState, detail: str) -> None:
        super().__init__(detail)
        self.state = state


class ForwardedVideo(MediaStreamTrack):
    """The camera's encoded pictures as ``av.Packet``: aiortc packetizes them unchanged."""

    kind = "video"

    def __init__(self, stream: CameraStream) -> None:
        super().__init__()
        self.stream = stream
        self.queue: FrameQueue | None = stream.subscribe()
        self.sent = 0

    async def recv(self) -> av.Packet[Any]:
        if self.readyState != "live" or self.queue is None:
            raise MediaStreamError
        frame = await self.queue.get()
        packet = av.Packet(frame.data)
        packet.pts = frame.pts
        packet.time_base = TIME_BASE
        self.sent += 1
        return packet

    def stop(self) -> None:
        super().stop()
        if self.queue is not None:
            self.stream.unsubscribe(self.queue)
            self.queue = None


class ReencodedVideo(MediaStreamTrack):
    """The camera's pictures decoded by its stream's reader; aiortc encodes them per viewer."""

    kind = "video"

    def __init__(self, stream: CameraStream) -> None:
        super().__init__()
        self.stream = stream
        self.queue: FrameQueue | None = stream.subscribe_pictures()
        self.sent = 0

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live" or self.queue is None:
            raise MediaStreamError
        picture: av.VideoFrame = await self.queue.get()
        self.sent += 1
        return picture

    def stop(self) -> None:
        super().stop()
        if self.queue is not None:
            self.stream.unsubscribe(self.queue)
            self.queue = None


@dataclass(eq=False)
class CameraView:
    """One browser watching one camera."""

    token: str
    camera_id: str
    incident_id: int
    viewer: str
    pc: RTCPeerConnection
    track: ForwardedVideo | ReencodedVideo
    forwarded: bool
    started: float
    closed: bool = False


@dataclass(frozen=True)
class OfferedVideo:
    """What a browser's offer says about the video it can receive."""

    h264: bool


def offered_video(offer: str) -> OfferedVideo | None:
    """The offer's video (None if it has none or cannot be read); whether it takes H.264 in
    packetization mode 1, which is what aiortc sends."""
    try:
        description = SessionDescription.parse(offer)
    except (ValueError, IndexError, KeyError, TypeError):
        return None
    for media in description.media:
        if media.kind != "video":
            continue
        h264 = any(
            codec.mimeType.lower() == "video/h264"
            and str(codec.parameters.get("packetization-mode", "0")) == "1"
            for codec in media.rtp.codecs
        )
        return OfferedVideo(h264)
    return None


def h264_only() -> list[Any]:
    """aiortc's H.264 capabilities, to prefer in an answer that forwards H.264."""
    return [
        codec
        for codec in RTCRtpSender.getCapabilities("video").codecs
        if codec.mimeType.lower() == "video/h264"
    ]


class CameraViews:
    """Every camera view of this process: set up, watched, ended."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        sealer: Callable[[], Sealer],
        settings: Settings,
        pool: StreamPool,
    ) -> None:
        self._uow_factory = uow_factory
        #: The installation's sealer (camera accounts).
        self.sealer = sealer
        self.settings = settings
        self.pool = pool
        #: ONVIF sessions for moving cameras.
        self.ptz = PtzControl(settings.camera_timeout)
        #: The elected cameras job, when this process runs it (helppoint/cameras/activation.py).
        self.activations: Any = None
        #: Its clip recorder (helppoint/cameras/clips.py).
        self.clips: Any = None
        self._views: dict[str, CameraView] = {}

    @property
    def views(self) -> list[CameraView]:
        return list(self._views.values())

    async def view(
        self,
        incident_id: int,
        camera_id: str,
        viewer: str,
        offer_sdp: str,
        address: str | None = None,
        *,
        forward: bool = True,
    ) -> dict[str, Any]:
        """Answer a browser's offer with the camera's live picture; CameraUnavailable if the
        camera's stream is not live (the state says why)."""
        if not offer_sdp.strip() or len(offer_sdp) > MAX_OFFER:
            raise InvalidInput(f"the offer must be an SDP text of at most {MAX_OFFER} characters")
        access: CameraAccess = await run_in_threadpool(
            incident_camera_service.open_view,
            self._uow_factory(),
            self.sealer(),
            incident_id,
            camera_id,
            viewer,
            address,
        )
        return await self.answer(access, incident_id, viewer, offer_sdp, forward=forward)

    async def answer(
        self,
        access: CameraAccess,
        incident_id: int,
        viewer: str,
        offer_sdp: str,
        *,
        forward: bool = True,
    ) -> dict[str, Any]:
        """The peer of one view (the access is already checked and audited)."""
        stream = await self.pool.acquire(access)
        try:
            state = await stream.settled(self.settings.camera_timeout + 1)
            if state is not StreamState.LIVE:
                raise CameraUnavailable(
                    state, stream.detail or "the camera's stream has not started yet"
                )
            video = offered_video(offer_sdp)
            if video is None:
                raise InvalidInput("the browser's offer must be SDP that receives video")
            forwarded = forward and stream.codec == "h264" and video.h264
            track: ForwardedVideo | ReencodedVideo = (
                ForwardedVideo(stream) if forwarded else ReencodedVideo(stream)
            )
            pc = RTCPeerConnection(RTCConfiguration(iceServers=ice_servers(self.settings)))
            # Made before the offer is applied, so that it takes the offer's video and the
            # codec preference decides the answer.
            transceiver = pc.addTransceiver(track, direction="sendonly")
            if forwarded:
                transceiver.setCodecPreferences(h264_only())
            try:
                await pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
            except (ValueError, OperationError) as exc:
                track.stop()
                await pc.close()
                raise InvalidInput(f"the browser's offer is not usable: {exc}") from None
            await pc.setLocalDescription(await pc.createAnswer())
        except BaseException:
            self.pool.release(access.camera_id)
            raise
        token = uuid.uuid4().hex
        view = CameraView(
            token, access.camera_id, incident_id, viewer, pc, track, forwarded, time.monotonic()
        )
        self._views[token] = view

        @pc.on("connectionstatechange")
        async def changed() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self._end(view)

        log.info(
            "camera %s shown to %s (%s)",
            access.camera_id,
            viewer,
            "forwarded H.264" if forwarded else f"re-encoded from {stream.codec}",
        )
        return {
            "view": token,
            "type": "answer",
            "sdp": pc.localDescription.sdp,
            "codec": stream.codec,
            "forwarded": forwarded,
        }

    async def close(self, token: str, viewer: str) -> None:
        """End a view (the browser closed it)."""
        view = self._views.get(token)
        if view is None or view.viewer != viewer:
            raise NotFound("no such camera view")
        await self._end(view)

    async def stop(self) -> None:
        """End every view and close every stream (the server stops)."""
        for view in list(self._views.values()):
            await self._end(view)
        await self.pool.close()
        await self.ptz.close()

    async def _end(self, view: CameraView) -> None:
        if view.closed:
            return
        view.closed = True
        self._views.pop(view.token, None)
        view.track.stop()
        with contextlib.suppress(Exception):
            await view.pc.close()
        self.pool.release(view.camera_id)

    def with_live_states(self, shown: IncidentCameras) -> IncidentCameras:
        """An incident's cameras with what this process sees of each stream."""
        cameras = []
        for camera in shown.cameras:
            stream = self.pool.get(camera.camera_id)
            if stream is not None:
                camera = camera.model_copy(
                    update={
                        "state": stream.state.value,
                        "detail": stream.detail,
                        "codec": stream.codec,
                        "forwarded": stream.codec == "h264" if stream.codec else None,
                    }
                )
            cameras.append(camera)
        return shown.model_copy(update={"cameras": cameras})


def camera_views(settings: Settings, uow_factory: Callable[[], UnitOfWork]) -> CameraViews:
    """The camera views of a server process, with its stream pool and its sealer."""
    sealers: list[Sealer] = []

    def sealer() -> Sealer:
        if not sealers:
            sealers.append(sealer_for(settings))
        return sealers[0]

    keep = settings.camera_preroll_seconds if settings.camera_clips else 0
    pool = StreamPool(timeout=settings.camera_timeout, keep_seconds=keep)
    return CameraViews(uow_factory, sealer, settings, pool)
