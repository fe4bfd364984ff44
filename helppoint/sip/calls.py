"""A SIP help point's side of a call, for the media hub (calls/hub.py's ExternalUnitLegs).

A press: the device's INVITE waits, ringing, with its offer made WebRTC with Opus by the media
relay once the press was committed (rtpengine transcodes G.711 where the device has no Opus).
When an operator answers, the hub's unit peer answers that offer exactly as it would take a
native unit's audio: the Opus packets are tapped before aiortc's jitter buffer, forwarded to
the browser unchanged and recorded. The SDP answer goes back, made plain by the relay, in the
200 OK.

A call to the unit (no press waiting): the hub's unit peer offers Opus as it would to a native
unit, and the offer goes to the registered device in an INVITE; the media relay turns it into
plain RTP with G.711 and Opus for the device and the device's answer back into WebRTC.

Either way, the hub's hang-up is a BYE, and the device's BYE ends the hub's call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription

from helppoint.calls.hub import CallSetupFailed, UnitUnavailable
from helppoint.calls.opus import (
    NoOpusAudio,
    OpusPacketTap,
    opus_only,
    opus_payload_types,
    tap_audio,
)
from helppoint.sip.agent import RingingCall, SipAgent, SipCall, SipCallFailed

#: What the console is told about video in a SIP unit's call.
NO_VIDEO = "a SIP help point's call carries sound only"
#: What a SIP unit sends in a call.
SOUND_ONLY: dict[str, Any] = {"audio": True, "video": False, "video_detail": NO_VIDEO}

Leg = tuple[OpusPacketTap, dict[str, Any], Callable[[], Awaitable[None]]]


class SipUnits(Protocol):
    """What the call legs ask of the SIP gateway (gateway.SipGateway, which imports this module)."""

    agent: SipAgent
    registered: set[str]

    def is_sip_unit(self, unit_id: str) -> bool: ...

    def username_of(self, unit_id: str) -> str | None: ...

    def calls_back_with_srtp(self, unit_id: str) -> bool: ...


class SipCallLegs:
    """SIP help points' calls as the media hub sees them."""

    def __init__(self, gateway: SipUnits) -> None:
        self._gateway = gateway
        self._agent = gateway.agent

    def waiting_call(self, incident_id: int) -> object | None:
        return self._agent.ringing_for(incident_id)

    def reachable(self, unit_id: str) -> bool:
        return self._gateway.is_sip_unit(unit_id)

    def _hang_up(self, call: SipCall) -> Callable[[], Awaitable[None]]:
        async def hang_up() -> None:
            self._agent.hang_up(call)

        return hang_up

    async def open_leg(
        self, waiting: object, unit: RTCPeerConnection, operator_audio: MediaStreamTrack | None
    ) -> Leg:
        assert isinstance(waiting, RingingCall)
        try:
            # (Made by the media relay just after the press was committed: normally long done.)
            offer = await self._agent.media_of(waiting)
        except SipCallFailed as exc:
            raise CallSetupFailed(f"{exc}; the incident is unaffected") from None
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
        try:
            answered = await self._agent.answer(waiting, unit.localDescription.sdp)
        except SipCallFailed as exc:
            tap.close()
            raise CallSetupFailed(f"{exc}; the incident is unaffected") from None
        if answered is None:
            tap.close()
            raise CallSetupFailed(
                f"{waiting.unit_id} hung up before the call was answered; the incident is "
                "unaffected"
            )
        return tap, SOUND_ONLY, self._hang_up(answered)

    async def call_unit(
        self,
        unit_id: str,
        incident_id: int,
        unit: RTCPeerConnection,
        operator_audio: MediaStreamTrack | None,
        answer_within: float,
    ) -> Leg:
        """Call the registered unit (no press of its is waiting): an INVITE with the hub's offer."""
        username = self._gateway.username_of(unit_id)
        if username is None or unit_id not in self._gateway.registered:
            raise UnitUnavailable(
                f"{unit_id} is a SIP help point that is not registered now, so it cannot be "
                "called; the incident is unaffected. It can be called again once it registers."
            )
        if operator_audio is not None:
            audio = unit.addTransceiver(operator_audio, direction="sendrecv")
        else:
            audio = unit.addTransceiver("audio", direction="recvonly")
        opus_only(audio)
        tap = tap_audio(audio)
        try:
            await unit.setLocalDescription(await unit.createOffer())
            try:
                call, answer = await self._agent.call_unit(
                    unit_id,
                    username,
                    incident_id,
                    unit.localDescription.sdp,
                    answer_within,
                    srtp=self._gateway.calls_back_with_srtp(unit_id),
                )
            except SipCallFailed as exc:
                raise CallSetupFailed(f"{exc}; the incident is unaffected, try again") from None
            try:
                await unit.setRemoteDescription(RTCSessionDescription(answer, "answer"))
            except ValueError as exc:
                self._agent.hang_up(call)
                raise CallSetupFailed(f"{unit_id} answered with unusable SDP: {exc}") from None
        except BaseException:
            tap.close()
            raise
        return tap, SOUND_ONLY, self._hang_up(call)
