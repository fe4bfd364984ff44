"""Camera fixtures: the council camera stand-in (GStreamer's RTSP server) and a viewer peer."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from helppoint.calls.media import AudioMeter
from helppoint.cameras.rtsp_source import RtspTestSource, TestSourceUnavailable

CAMERA_USER = "council"
CAMERA_PASSWORD = "cctv-pä55"


@pytest.fixture
def rtsp_sources() -> Iterator[Callable[..., RtspTestSource]]:
    """Start RTSP test sources (the council cameras); all are stopped at the end."""
    started: list[RtspTestSource] = []

    def start(**options: Any) -> RtspTestSource:
        source = RtspTestSource(**options)
        try:
            source.start()
        except TestSourceUnavailable as exc:
            pytest.fail(f"the RTSP test source cannot run: {exc}", pytrace=False)
        started.append(source)
        return source

    yield start
    for source in started:
        source.stop()


@pytest.fixture
def council_camera(rtsp_sources: Callable[..., RtspTestSource]) -> RtspTestSource:
    """One camera with an account, as councils' cameras have."""
    return rtsp_sources(user=CAMERA_USER, password=CAMERA_PASSWORD)


class VideoViewer:
    """A WebRTC peer that receives one camera's video as the console does, and counts the
    pictures it decodes."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.addTransceiver("video", direction="recvonly")
        self.meter: AudioMeter | None = None
        self.pc.on("track", self._track)
        self.answer: dict[str, Any] = {}

    def _track(self, track: MediaStreamTrack) -> None:
        self.meter = AudioMeter(track)
        self.meter.start()

    async def watch(
        self, http: httpx.AsyncClient, incident_id: int, camera_id: str
    ) -> httpx.Response:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        response = await http.post(
            f"/api/incidents/{incident_id}/cameras/{camera_id}/view",
            json={"type": "offer", "sdp": self.pc.localDescription.sdp},
        )
        if response.status_code == 200:
            self.answer = response.json()
            await self.pc.setRemoteDescription(RTCSessionDescription(self.answer["sdp"], "answer"))
        return response

    async def frames(self, count: int, within: float = 20.0) -> None:
        assert self.meter is not None or count == 0
        if self.meter is not None:
            await self.meter.wait_for(count, timeout=within)

    async def close(self) -> None:
        if self.meter is not None:
            await self.meter.stop()
        await self.pc.close()
