"""The pure parts of calls: rules of calls and recordings, frames, settings, synthetic media."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from av import AudioFrame, VideoFrame

from helppoint.agent.call import CallMedia, UnitCalls
from helppoint.agent.settings import AgentConfigError, AgentSettings
from helppoint.calls.hub import browser_ice_servers, ice_servers
from helppoint.calls.media import (
    AudioMeter,
    DigitalZoom,
    TestPatternTrack,
    ToneTrack,
    crop_zoom,
    rms_level,
)
from helppoint.config import ConfigError, Settings
from helppoint.domain.calls import Call, EndReason, Recording, retain_until
from helppoint.domain.errors import InvalidInput, InvalidTransition
from helppoint.gateway.frames import CallAnswer, CallEnd, FrameError, parse_frame

T0 = datetime(2026, 11, 25, 23, 0, tzinfo=UTC)


def recording(**changes: object) -> Recording:
    values: dict[str, object] = dict(
        call_id=1,
        incident_id=1,
        path="x.webm",
        started_at=T0,
        ended_at=T0 + timedelta(seconds=30),
        size_bytes=10,
        sha256="0" * 64,
        retain_until=T0 + timedelta(days=31),
        id=7,
    )
    values.update(changes)
    return Recording(**values)  # type: ignore[arg-type]


def test_a_call_ends_once_and_knows_its_duration() -> None:
    call = Call(1, "HP-01", "olive", T0)
    assert call.active and call.duration is None
    call.end(EndReason.HANGUP, T0 + timedelta(seconds=42))
    assert not call.active and call.duration == 42 and call.end_reason == "hangup"
    with pytest.raises(InvalidTransition, match="already ended"):
        call.end(EndReason.UNIT_LOST, T0)


def test_recordings_are_purgeable_only_after_retention_and_without_hold() -> None:
    r = recording()
    assert not r.purgeable(T0 + timedelta(days=30))
    assert r.purgeable(T0 + timedelta(days=31))
    r.hold("sue", "  police request  ", T0)
    assert r.hold_reason == "police request" and not r.purgeable(T0 + timedelta(days=400))
    with pytest.raises(InvalidTransition):
        r.purged(T0)
    r.release()
    assert r.purgeable(T0 + timedelta(days=31)) and r.held_by is None
    r.purged(T0 + timedelta(days=32))
    assert not r.available and not r.purgeable(T0 + timedelta(days=99))
    with pytest.raises(InvalidTransition, match="already deleted"):
        r.hold("sue", "too late", T0)
    with pytest.raises(InvalidInput):
        retain_until(T0, timedelta(0))
    with pytest.raises(InvalidInput, match="500"):
        recording().hold("sue", "x" * 501, T0)


def test_call_frames_from_units_are_checked() -> None:
    answer = parse_frame(
        '{"type":"call_answer","call":"c1","ok":true,"sdp":"v=0","media":{"video":false}}'
    )
    assert answer == CallAnswer("c1", True, "v=0", "", {"video": False})
    refused = parse_frame('{"type":"call_answer","call":"c1","ok":false,"detail":"busy"}')
    assert isinstance(refused, CallAnswer) and not refused.ok and refused.detail == "busy"
    assert parse_frame('{"type":"call_end","call":"c1","reason":"stopping"}') == CallEnd(
        "c1", "stopping"
    )
    for bad, message in (
        ('{"type":"call_answer","call":"c1","ok":true}', "'sdp'"),
        ('{"type":"call_answer","ok":true,"sdp":"v=0"}', "'call'"),
        ('{"type":"call_answer","call":"c1","ok":"yes","sdp":"v=0"}', "'ok'"),
        ('{"type":"call_end"}', "'call'"),
    ):
        with pytest.raises(FrameError, match=message):
            parse_frame(bad)


def test_ice_server_settings() -> None:
    settings = Settings().with_values(
        {
            "ice_servers": "stun:stun.example.org:3478, turn:turn.example.org:3478",
            "turn_username": "unit",
            "turn_password": "secret",
        }
    )
    servers = ice_servers(settings)
    assert [s.urls for s in servers] == ["stun:stun.example.org:3478", "turn:turn.example.org:3478"]
    assert servers[0].username is None and servers[1].credential == "secret"
    assert browser_ice_servers(settings)[1] == {
        "urls": "turn:turn.example.org:3478",
        "username": "unit",
        "credential": "secret",
    }
    assert ice_servers(Settings()) == []  # no STUN unless configured: nothing leaves the LAN
    with pytest.raises(ConfigError, match="must start with stun:"):
        Settings().with_values({"ice_servers": "http://example.org"})
    with pytest.raises(ConfigError, match="recording_retention_days"):
        Settings().with_values({"recording_retention_days": 0})


def test_agent_call_settings_are_checked() -> None:
    settings = AgentSettings.from_values(
        {"call_video_source": "rtsp://camera/stream", "digital_zoom": "2.5"}
    )
    assert settings.digital_zoom == 2.5
    with pytest.raises(AgentConfigError, match="digital_zoom"):
        AgentSettings.from_values({"digital_zoom": "0.5"})
    with pytest.raises(AgentConfigError, match="call_audio_input"):
        AgentSettings.from_values({"call_audio_input": "pulse"})
    with pytest.raises(ValueError, match="audio output"):
        CallMedia(audio_output="speaker")


async def test_synthetic_sources_are_live_and_audible() -> None:
    tone, pattern = ToneTrack(), TestPatternTrack(320, 240, fps=15)
    frames = [await tone.recv() for _ in range(3)]
    assert all(isinstance(f, AudioFrame) and f.samples == 960 for f in frames)
    assert [f.pts for f in frames] == [0, 960, 1920]
    assert all(rms_level(f) > 0.01 for f in frames)  # type: ignore[arg-type]
    first, second = await pattern.recv(), await pattern.recv()
    assert isinstance(first, VideoFrame) and (first.width, first.height) == (320, 240)
    assert not np.array_equal(first.to_ndarray(format="rgb24"), second.to_ndarray(format="rgb24"))
    silent = ToneTrack(silent=True)
    assert rms_level(await silent.recv()) == 0.0  # type: ignore[arg-type]
    silent.marker(frames=1)
    assert rms_level(await silent.recv()) > AudioMeter.MARKER  # type: ignore[arg-type]
    assert rms_level(await silent.recv()) == 0.0  # type: ignore[arg-type]
    for track in (tone, pattern, silent):
        track.stop()


def test_digital_zoom_shows_the_centre_of_the_picture() -> None:
    image = np.zeros((240, 320, 3), dtype=np.uint8)
    image[60:180, 80:240] = 255  # a white centre half, black border
    frame = VideoFrame.from_ndarray(image, format="rgb24")
    zoomed = crop_zoom(frame, 2.0).to_ndarray(format="rgb24")
    assert zoomed.shape == (240, 320, 3)
    assert zoomed.mean() > 240  # the crop is all centre: white edge to edge
    assert image.mean() < 100
    with pytest.raises(ValueError):
        DigitalZoom(TestPatternTrack(), 0.5)


async def test_a_fixed_camera_zooms_digitally_at_the_zoom_preset() -> None:
    calls = UnitCalls("HP-01", CallMedia(digital_zoom=2.0))
    offerer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    offerer.addTransceiver("audio", direction="sendrecv")
    offerer.addTransceiver("video", direction="recvonly")
    await offerer.setLocalDescription(await offerer.createOffer())
    try:
        calls.camera_preset("zoom")
        reply = await calls.handle(
            {"type": "call_offer", "call": "c1", "sdp": offerer.localDescription.sdp}
        )
        assert reply is not None and reply["ok"] and reply["media"]["video"]
        call = calls.current
        assert call is not None and call.zoom is not None and call.zoom.factor == 2.0
        calls.camera_preset("home")
        assert call.zoom.factor == 1.0
        await calls.handle({"type": "call_end", "call": "c1", "reason": "hangup"})
        assert calls.current is None and call.end_reason == "hangup"
    finally:
        await offerer.close()
        await calls.close()


async def test_a_unit_refuses_a_bad_offer_and_one_without_a_camera_says_so() -> None:
    calls = UnitCalls("HP-01", CallMedia(video_source="none", audio_input="none"))
    reply = await calls.handle({"type": "call_offer", "call": "c1", "sdp": "nonsense"})
    assert reply is not None and reply["ok"] is False and "no audio" in reply["detail"]
    assert await calls.handle({"type": "call_offer", "sdp": "x"}) is None  # no call id
    offerer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    offerer.addTransceiver("audio", direction="sendrecv")
    offerer.addTransceiver("video", direction="recvonly")
    await offerer.setLocalDescription(await offerer.createOffer())
    try:
        reply = await calls.handle(
            {"type": "call_offer", "call": "c2", "sdp": offerer.localDescription.sdp}
        )
        assert reply is not None and reply["ok"]
        assert reply["media"] == {
            "audio": False,
            "video": False,
            "video_detail": "this unit has no camera",
        }
    finally:
        await offerer.close()
        await calls.close()
    await asyncio.sleep(0)


async def test_an_unreachable_camera_leaves_video_out_and_says_why() -> None:
    # Nothing listens on port 9: the camera's RTSP stream cannot be opened.
    calls = UnitCalls("HP-01", CallMedia(video_source="rtsp://127.0.0.1:9/stream"))
    offerer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    offerer.addTransceiver("audio", direction="sendrecv")
    offerer.addTransceiver("video", direction="recvonly")
    await offerer.setLocalDescription(await offerer.createOffer())
    try:
        reply = await calls.handle(
            {"type": "call_offer", "call": "c3", "sdp": offerer.localDescription.sdp}
        )
        assert reply is not None and reply["ok"]
        assert reply["media"]["audio"] is True and reply["media"]["video"] is False
        assert reply["media"]["video_detail"].startswith("camera unreachable")
    finally:
        await offerer.close()
        await calls.close()
