"""The unit's side of a call: an aiortc peer answering the server's offers (docs/calls.md).

The server offers a call over the device link (``call_offer``); the unit answers
(``call_answer``) with its microphone and camera, plays what the operator says on its speaker,
and ends the call on ``call_end`` or when the link drops. On real hardware the microphone and
speaker are ALSA devices (through PyAV) and the camera a local device or an RTSP stream; in
simulation a speech-like tone and a moving test pattern stand in, and what arrives from the
operator is measured. A peer exists only while the unit is in a call. The operator's audio is
decoded from its Opus packets as they arrive, without aiortc's 80 ms receive hold
(:mod:`helppoint.calls.opus`).

A fixed built-in camera cannot move to a preset; with ``digital_zoom`` above 1 the unit crops
the centre of its picture instead while the camera is at its zoom preset.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import av
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.contrib.media import MediaPlayer
from av import AudioFrame

from helppoint.calls.media import (
    AUDIO_RATE,
    SIMULATED_SOUNDS,
    AudioMeter,
    DigitalZoom,
    FrameSink,
    MediaStats,
    TestPatternTrack,
    ToneTrack,
    simulated_microphone,
)
from helppoint.calls.opus import (
    NoOpusAudio,
    OpusDecodeTrack,
    OpusPacketTap,
    opus_payload_types,
    tap_audio,
    transceiver_of,
)

log = logging.getLogger(__name__)

#: Seconds a camera or microphone gets to open before the call goes ahead without it.
OPEN_TIMEOUT = 5.0


def _microphone_ok(source: str) -> bool:
    return source == "none" or source in SIMULATED_SOUNDS or source.startswith("alsa:")


class MediaUnavailable(Exception):
    """A microphone, camera or speaker that cannot be opened."""


@dataclass(frozen=True)
class CallMedia:
    """Where a unit's call media comes from and goes to (agent settings ``call_*``)."""

    #: "alsa:DEVICE" (e.g. "alsa:hw:1,0"), "none", or in simulation what the microphone
    #: hears: "tone" (a speech-like tone), "voice", "silence" or "noise" (calls/media.py).
    audio_input: str = "tone"
    #: "meter" (measure only), "none", or "alsa:DEVICE" (e.g. "alsa:default").
    audio_output: str = "meter"
    #: "test" (test pattern), "none", a camera device ("/dev/video0") or an RTSP URL.
    video_source: str = "test"
    #: Above 1: the camera is fixed and built in; crop by this factor at the zoom preset.
    digital_zoom: float = 1.0

    def __post_init__(self) -> None:
        if not _microphone_ok(self.audio_input):
            raise ValueError(
                "call audio input must be alsa:DEVICE, none, or (simulated) "
                + ", ".join(SIMULATED_SOUNDS)
            )
        if not (self.audio_output in ("meter", "none") or self.audio_output.startswith("alsa:")):
            raise ValueError("call audio output must be meter, none or alsa:DEVICE")
        if not 1.0 <= self.digital_zoom <= 8.0:
            raise ValueError("digital_zoom must be 1 (off) to 8")


class AlsaSpeaker(FrameSink):
    """Plays received audio on an ALSA device through PyAV."""

    def __init__(self, device: str) -> None:
        try:
            self._container: Any = av.open(device, mode="w", format="alsa")
        except (av.FFmpegError, OSError) as exc:
            raise MediaUnavailable(f"speaker {device}: {exc}") from exc
        self._stream = self._container.add_stream("pcm_s16le", rate=AUDIO_RATE)
        self._stream.layout = "mono"

    def write(self, frame: AudioFrame) -> None:
        frame.pts = None
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._container.close()


@dataclass(eq=False)
class UnitCall:
    """One call in progress on the unit."""

    token: str
    incident: str
    pc: RTCPeerConnection
    started_at: float
    sources: list[MediaStreamTrack] = field(default_factory=list)
    players: list[MediaPlayer] = field(default_factory=list)
    meter: AudioMeter | None = None
    zoom: DigitalZoom | None = None
    voice: ToneTrack | None = None
    #: Where the operator's audio packets come in (its stats say what was lost).
    tap: OpusPacketTap | None = None
    ended_at: float | None = None
    end_reason: str = ""

    @property
    def received(self) -> MediaStats:
        """What arrived from the operator."""
        return self.meter.stats if self.meter is not None else MediaStats()


class UnitCalls:
    """Answers call offers for one unit and keeps its (at most one) call."""

    def __init__(self, unit_id: str, media: CallMedia | None = None, zoom_preset: str = "zoom"):
        self.unit_id = unit_id
        self.media = media or CallMedia()
        self.zoom_preset = zoom_preset
        self.preset: str | None = None
        self.current: UnitCall | None = None
        #: The server listening to the microphone after a press (docs/triage.md): listen-only,
        #: nothing is played here. A call with an operator takes the microphone over.
        self.listening: UnitCall | None = None
        #: What a simulated microphone hears now, instead of ``media.audio_input`` (the
        #: simulator sets it: "voice", "silence", "noise" or "tone").
        self.microphone: str | None = None
        #: Every call this unit took, the current one last (tests and the benchmark read it).
        self.history: list[UnitCall] = []
        #: Every press-time listen, the current one last.
        self.listens: list[UnitCall] = []
        self._changed = asyncio.Event()

    # ---------- called by the device link ----------

    async def handle(self, frame: dict[str, Any]) -> dict[str, Any] | None:
        """Act on a call frame from the server; the frame to send back, if any."""
        kind = frame.get("type")
        token = frame.get("call")
        if not isinstance(token, str) or not token:
            log.error("%s: call frame without a call id: %s", self.unit_id, str(frame)[:200])
            return None
        if kind == "call_offer" and frame.get("listen") is True:
            return await self._listen(token, frame)
        if kind == "call_offer":
            if self.listening is not None:
                await self._end_listen("an operator answered")
            return await self._offer(token, frame)
        reason = str(frame.get("reason") or "ended by the server")
        if kind == "call_end" and self.current is not None and self.current.token == token:
            await self._end(reason)
        if kind == "call_end" and self.listening is not None and self.listening.token == token:
            await self._end_listen(reason)
        return None

    async def link_lost(self) -> None:
        """The device link dropped: the server has ended the call, so end it here too."""
        if self.listening is not None:
            await self._end_listen("link lost")
        if self.current is not None:
            await self._end("link lost")

    def camera_preset(self, preset: str) -> None:
        """The camera moved to ``preset``; a fixed camera zooms digitally at the zoom preset."""
        self.preset = preset
        if self.current is not None and self.current.zoom is not None:
            self.current.zoom.factor = self._zoom_factor()

    async def wait_for_call(self, timeout: float = 10.0) -> UnitCall:  # noqa: ASYNC109
        """The call in progress, waiting for one to start."""

        async def started() -> UnitCall:
            while self.current is None:
                self._changed.clear()
                await self._changed.wait()
            return self.current

        async with asyncio.timeout(timeout):
            return await started()

    async def wait_idle(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until the unit is not in a call."""

        async def idle() -> None:
            while self.current is not None:
                self._changed.clear()
                await self._changed.wait()

        async with asyncio.timeout(timeout):
            await idle()

    async def close(self) -> None:
        """End any call (the agent is stopping)."""
        if self.listening is not None:
            await self._end_listen("unit stopping")
        if self.current is not None:
            await self._end("unit stopping")

    # ---------- press-time listening ----------

    async def _listen(self, token: str, frame: dict[str, Any]) -> dict[str, Any]:
        """Send the microphone to the server, nothing back (the speaker stays with the
        unit's own prompts)."""
        sdp = frame.get("sdp")
        if not isinstance(sdp, str) or "\nm=audio " not in sdp:
            return _refused(token, "a listen offer needs SDP with audio")
        if self.current is not None:
            return _refused(token, "the unit is in a call; the call has its microphone")
        if self.listening is not None:
            await self._end_listen("replaced by a new listen")
        servers = [
            RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
            for s in frame.get("ice_servers") or []
            if isinstance(s, dict) and isinstance(s.get("urls"), str)
        ]
        pc = RTCPeerConnection(RTCConfiguration(iceServers=servers))
        listen = UnitCall(token, str(frame.get("incident") or ""), pc, time.monotonic())
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
            audio = await self._audio_source(listen)
            if audio is None:
                await self._release(listen)
                return _refused(token, "this unit has no microphone")
            pc.addTrack(audio)
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as exc:
            log.exception("%s: could not answer listen %s", self.unit_id, token)
            await self._release(listen)
            return _refused(token, f"the unit could not answer: {exc}")
        self.listening = listen
        self.listens.append(listen)
        self._changed.set()

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState == "failed" and self.listening is listen:
                await self._end_listen("media path failed")

        return {
            "type": "call_answer",
            "call": token,
            "ok": True,
            "sdp": pc.localDescription.sdp,
            "media": {"audio": True, "video": False, "video_detail": "listen only"},
        }

    async def wait_for_listen(self, timeout: float = 10.0) -> UnitCall:  # noqa: ASYNC109
        """The press-time listen in progress, waiting for one to start."""

        async def started() -> UnitCall:
            while self.listening is None:
                self._changed.clear()
                await self._changed.wait()
            return self.listening

        async with asyncio.timeout(timeout):
            return await started()

    async def _end_listen(self, reason: str) -> None:
        listen = self.listening
        if listen is None:
            return
        self.listening = None
        listen.ended_at = time.monotonic()
        listen.end_reason = reason
        log.info("%s: press-time listen %s ended: %s", self.unit_id, listen.token[:8], reason)
        await self._release(listen)
        self._changed.set()

    # ---------- inside ----------

    def _zoom_factor(self) -> float:
        return self.media.digital_zoom if self.preset == self.zoom_preset else 1.0

    async def _offer(self, token: str, frame: dict[str, Any]) -> dict[str, Any]:
        sdp = frame.get("sdp")
        if not isinstance(sdp, str) or not sdp:
            return _refused(token, "call_offer without sdp")
        if "\nm=audio " not in sdp:
            return _refused(token, "the offer has no audio: a call needs at least sound")
        try:
            opus = opus_payload_types(sdp)
        except NoOpusAudio as exc:
            return _refused(token, f"the offer's audio is unusable: {exc}")
        if self.current is not None:
            await self._end("replaced by a new call")
        servers = [
            RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
            for s in frame.get("ice_servers") or []
            if isinstance(s, dict) and isinstance(s.get("urls"), str)
        ]
        pc = RTCPeerConnection(RTCConfiguration(iceServers=servers))
        call = UnitCall(token, str(frame.get("incident") or ""), pc, time.monotonic())

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            # Fired while the offer is set, before any media flows: the tap is in time.
            if track.kind == "audio" and call.meter is None:
                call.tap = tap_audio(transceiver_of(pc, track), payload_types=opus)
                decoded = OpusDecodeTrack(call.tap.subscribe())
                call.meter = AudioMeter(decoded, self._speaker())
                call.meter.start()

        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
            audio = await self._audio_source(call)
            video, video_detail = await self._video_source(call)
            if audio is not None:
                pc.addTrack(audio)
            if video is not None:
                pc.addTrack(video)
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as exc:
            log.exception("%s: could not answer call %s", self.unit_id, token)
            await self._release(call)
            return _refused(token, f"the unit could not answer: {exc}")
        self.current = call
        self.history.append(call)
        self._changed.set()

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState == "failed" and self.current is call:
                await self._end("media path failed")

        log.info(
            "%s: in a call for %s (audio %s, video %s)",
            self.unit_id,
            call.incident or "an incident",
            "yes" if audio is not None else "no",
            "yes" if video is not None else f"no: {video_detail}",
        )
        return {
            "type": "call_answer",
            "call": token,
            "ok": True,
            "sdp": pc.localDescription.sdp,
            "media": {
                "audio": audio is not None,
                "video": video is not None,
                "video_detail": video_detail,
            },
        }

    def _speaker(self) -> FrameSink | None:
        output = self.media.audio_output
        if output.startswith("alsa:"):
            try:
                return AlsaSpeaker(output.removeprefix("alsa:"))
            except MediaUnavailable as exc:
                log.error("%s: %s; the caller will not hear the operator", self.unit_id, exc)
        return None

    async def _audio_source(self, call: UnitCall) -> MediaStreamTrack | None:
        source = self.microphone or self.media.audio_input
        if source == "none":
            return None
        if source == "tone":
            call.voice = ToneTrack()
            call.sources.append(call.voice)
            return call.voice
        if source in SIMULATED_SOUNDS:
            track = simulated_microphone(source)
            call.sources.append(track)
            return track
        try:
            player = await _open_player(source.removeprefix("alsa:"), "alsa", {})
        except MediaUnavailable as exc:
            log.error("%s: microphone unavailable: %s", self.unit_id, exc)
            return None
        call.players.append(player)
        return player.audio

    async def _video_source(self, call: UnitCall) -> tuple[MediaStreamTrack | None, str]:
        source = self.media.video_source
        track: MediaStreamTrack
        if source == "none":
            return None, "this unit has no camera"
        if source == "test":
            track = TestPatternTrack()
            call.sources.append(track)
        else:
            if source.startswith("rtsp://") or source.startswith("rtsps://"):
                fmt, options = None, {"rtsp_transport": "tcp"}
            else:
                fmt, options = "v4l2", {"video_size": "640x480", "framerate": "15"}
            try:
                player = await _open_player(source, fmt, options)
            except MediaUnavailable as exc:
                log.error("%s: camera unreachable: %s", self.unit_id, exc)
                return None, f"camera unreachable ({exc})"
            call.players.append(player)
            if player.video is None:
                return None, "the camera stream has no video"
            track = player.video
        if self.media.digital_zoom > 1.0:
            call.zoom = DigitalZoom(track, self._zoom_factor())
            return call.zoom, ""
        return track, ""

    async def _end(self, reason: str) -> None:
        call = self.current
        if call is None:
            return
        self.current = None
        call.ended_at = time.monotonic()
        call.end_reason = reason
        log.info("%s: call %s ended: %s", self.unit_id, call.token[:8], reason)
        await self._release(call)
        self._changed.set()

    async def _release(self, call: UnitCall) -> None:
        if call.tap is not None:
            call.tap.close()
        if call.meter is not None:
            await call.meter.stop()
        for track in call.sources:
            track.stop()
        if call.zoom is not None:
            call.zoom.stop()
        for player in call.players:
            for played in (player.audio, player.video):
                if played is not None:
                    played.stop()
        await call.pc.close()


async def _open_player(source: str, fmt: str | None, options: dict[str, str]) -> MediaPlayer:
    """Open a device or stream without blocking the loop (an RTSP camera may not answer)."""
    try:
        async with asyncio.timeout(OPEN_TIMEOUT):
            return await asyncio.to_thread(
                MediaPlayer, source, format=fmt, options=options, timeout=5
            )
    except TimeoutError:
        raise MediaUnavailable(f"{source} did not open within {OPEN_TIMEOUT:g} s") from None
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise MediaUnavailable(f"{source}: {exc}") from exc


def _refused(token: str, detail: str) -> dict[str, Any]:
    return {"type": "call_answer", "call": token, "ok": False, "detail": detail[:900]}
