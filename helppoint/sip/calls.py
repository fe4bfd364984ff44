"""A SIP help point's side of a call, for the media hub (calls/hub.py's ExternalUnitLegs).

The device's INVITE waits, ringing, with its offer already made WebRTC with Opus by the media
relay (rtpengine transcodes G.711 where the device has no Opus). When an operator answers, the
hub's unit peer answers that offer exactly as it would take a native unit's audio: the Opus
packets are tapped before aiortc's jitter buffer, forwarded to the browser unchanged and
recorded. The SDP answer goes back in the 200 OK; the hub's hang-up is a BYE, and the
device's BYE ends the hub's call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription

from helppoint.calls.hub import CallSetupFailed
from helppoint.calls.opus import NoOpusAudio, OpusPacketTap, opus_payload_types, tap_audio
from helppoint.sip.agent import RingingCall, SipAgent

#: What the console is told about video in a SIP unit's call.
NO_VIDEO = "a SIP help point's call carries sound only"


class SipCallLegs:
    """SIP help points' calls as the media hub sees them."""

    def __init__(self, agent: SipAgent, is_sip_unit: Callable[[str], bool]) -> None:
        self._agent = agent
        self._is_sip_unit = is_sip_unit

    def waiting_call(self, incident_id: int) -> object | None:
        return self._agent.ringing_for(incident_id)

    def reachable(self, unit_id: str) -> bool:
        return self._is_sip_unit(unit_id)

    async def open_leg(
        self, waiting: object, unit: RTCPeerConnection, operator_audio: MediaStreamTrack | None
    ) -> tuple[OpusPacketTap, dict[str, Any], Callable[[], Awaitable[None]]]:
        assert isinstance(waiting, RingingCall)
        offer = waiting.offer_sdp
        if not offer:
            raise CallSetupFailed(f"{waiting.unit_id}'s call carries no media offer")
        try:
            opus = opus_payload_types(offer)
            await unit.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        except (ValueError, NoOpusAudio) as exc:
            raise CallSetupFailed(f"{waiting.unit_id}'s call offer is not usable: {exc}") from None
        audio = next((t for t in unit.getTransceivers() if t.kind == "audio"), None)
        if audio is None:
            raise CallSetupFailed(f"{waiting.unit_id}'s call offers no audio")
        if operator_audio is not None:
            audio.sender.replaceTrack(operator_audio)
            audio.direction = "sendrecv"
        else:
            audio.direction = "recvonly"
        tap = tap_audio(audio, payload_types=opus)
        for other in unit.getTransceivers():
            if other is not audio:
                other.direction = "inactive"
        await unit.setLocalDescription(await unit.createAnswer())
        if not self._agent.answer(waiting, unit.localDescription.sdp):
            tap.close()
            raise CallSetupFailed(
                f"{waiting.unit_id} hung up before the call was answered; the incident is "
                "unaffected"
            )

        async def hang_up() -> None:
            self._agent.hang_up(waiting)

        return tap, {"audio": True, "video": False, "video_detail": NO_VIDEO}, hang_up
