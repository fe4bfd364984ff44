"""An aiortc peer standing in for the operator's browser, and helpers shared by call tests."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from helppoint.calls.media import AudioMeter, ToneTrack
from helppoint.domain.model import Role
from tests.conftest import async_http_client

PASSWORD = "correct horse battery"


class OperatorPeer:
    """Offers like the console does: audio send/receive (or receive only), video receive only."""

    def __init__(self, talk: bool = True) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.voice = ToneTrack(frequency=330.0) if talk else None
        if self.voice is not None:
            self.pc.addTrack(self.voice)
        else:
            self.pc.addTransceiver("audio", direction="recvonly")
        self.pc.addTransceiver("video", direction="recvonly")
        self.audio: AudioMeter | None = None
        self.video: AudioMeter | None = None
        self.pc.on("track", self._track)

    def _track(self, track: MediaStreamTrack) -> None:
        meter = AudioMeter(track)
        meter.start()
        if track.kind == "audio":
            self.audio = meter
        else:
            self.video = meter

    async def offer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return str(self.pc.localDescription.sdp)

    async def accept(self, answer: dict[str, Any]) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))

    async def close(self) -> None:
        for meter in (self.audio, self.video):
            if meter is not None:
                await meter.stop()
        await self.pc.close()


async def signed_in(server: Any, username: str, role: Role = Role.OPERATOR) -> httpx.AsyncClient:
    """An HTTP client signed in as a new user of the given role."""
    await asyncio.to_thread(server.add_operator, username, PASSWORD, role)
    http = async_http_client(server.base_url, timeout=None)
    response = await http.post("/api/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return http


async def open_incident(http: httpx.AsyncClient, unit_id: str) -> int:
    """The id of the unit's open incident, acknowledged by this client."""
    for _ in range(200):
        queue = (await http.get("/api/incidents/queue")).json()
        mine = [i for i in queue if i["unit_id"] == unit_id]
        if mine:
            incident_id = int(mine[0]["id"])
            response = await http.post(f"/api/incidents/{incident_id}/acknowledge")
            assert response.status_code == 200, response.text
            return incident_id
        await asyncio.sleep(0.05)
    raise AssertionError(f"no incident opened for {unit_id}")
