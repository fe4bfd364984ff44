"""The unit's video forwarded as it was encoded (helppoint.calls.video): whole VP8 pictures
taken from an aiortc receiver's jitter buffer, never decoded by the hub, starting at a key
frame, key frames asked of the unit, and written to the recording as they are."""

from __future__ import annotations

import asyncio
import fractions
from pathlib import Path

import av
import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.codecs import depayload, get_encoder
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import RtpPacket

from helppoint.calls.opus import IncompatibleAiortc
from helppoint.calls.recorder import CallRecorder
from helppoint.calls.video import (
    MAX_BACKLOG,
    VideoPacketTap,
    VideoPacketTrack,
    is_vp8_keyframe,
    prefers_vp8,
    tap_video,
    vp8_size,
)

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)


def encoded_pictures(count: int, keyframes: set[int]) -> list[tuple[list[bytes], int]]:
    """`count` moving 320x240 pictures encoded by aiortc's own VP8 encoder (the agent's): the
    RTP payloads of each and its timestamp; key frames at the given indexes."""
    encoder = get_encoder(VP8)
    pictures = []
    for index in range(count):
        image = np.zeros((240, 320, 3), np.uint8)
        image[:, (index * 7) % 320] = 255
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = index * 3000
        frame.time_base = fractions.Fraction(1, 90000)
        pictures.append(encoder.encode(frame, force_keyframe=index in keyframes))
    return pictures


def rtp_packets(pictures: list[tuple[list[bytes], int]]) -> list[RtpPacket]:
    """The pictures as an aiortc receiver hands them to its jitter buffer (depayloaded)."""
    packets, seq = [], 1000
    for payloads, timestamp in pictures:
        for n, payload in enumerate(payloads):
            packet = RtpPacket(
                payload_type=96,
                sequence_number=seq & 0xFFFF,
                timestamp=timestamp,
                marker=int(n == len(payloads) - 1),
                ssrc=1234,
                payload=payload,
            )
            packet._data = depayload(VP8, payload)  # type: ignore[attr-defined]
            packets.append(packet)
            seq += 1
    return packets


def picture_bytes(payloads: list[bytes]) -> bytes:
    return b"".join(depayload(VP8, payload) for payload in payloads)


def test_vp8_key_frames_and_their_size_are_read_from_the_header() -> None:
    (key, _), (delta, _) = encoded_pictures(2, {0})
    assert is_vp8_keyframe(picture_bytes(key)) and vp8_size(picture_bytes(key)) == (320, 240)
    assert not is_vp8_keyframe(picture_bytes(delta)) and vp8_size(picture_bytes(delta)) is None
    assert not is_vp8_keyframe(b"") and not is_vp8_keyframe(b"\x00" * 10)


async def _take(track: VideoPacketTrack, count: int) -> list[av.Packet]:
    return [await track.recv() for _ in range(count)]


def test_the_tap_hands_whole_pictures_on_from_a_key_frame_and_decodes_nothing() -> None:
    async def scenario() -> tuple[list[av.Packet], list[int], int]:
        asked: list[int] = []
        tap = VideoPacketTap(JitterBuffer(capacity=512, is_video=True), asked.append)
        pictures = encoded_pictures(12, {0, 6})
        packets = rtp_packets(pictures)
        # Three pictures go by before anyone watches; then a viewer subscribes.
        watched_from = sum(len(payloads) for payloads, _ in pictures[:3])
        for packet in packets[:watched_from]:
            assert tap.add(packet) == (False, None)  # nothing for aiortc's decoder
        track = tap.subscribe()
        # (A picture leaves aiortc's jitter buffer when the next one begins: 5 of 6-11 do.)
        received = asyncio.ensure_future(_take(track, 5))
        await asyncio.sleep(0)  # the viewer's first recv() attaches it
        assert asked == [1234]  # it asked the unit for a key frame
        for packet in packets[watched_from:]:
            assert tap.add(packet)[1] is None
        got = await asyncio.wait_for(received, 5)
        tap.close()
        return got, asked, track.skipped

    got, _, skipped = asyncio.run(scenario())
    # Pictures 2-5 were dropped (no key frame yet); the viewer starts at picture 6's key frame.
    assert skipped == 4
    assert got[0].is_keyframe and vp8_size(bytes(got[0])) == (320, 240)
    assert [p.pts for p in got] == sorted(p.pts for p in got)
    # The forwarded bytes decode: they are the agent's own pictures.
    decoder = av.CodecContext.create("vp8", "r")
    frames = [f for p in got for f in decoder.decode(p)]  # type: ignore[attr-defined]
    assert len(frames) == len(got) and frames[0].width == 320


def test_a_viewer_that_falls_behind_skips_to_a_key_frame_and_asks_for_one() -> None:
    async def scenario() -> tuple[int, list[int], av.Packet]:
        asked: list[int] = []
        tap = VideoPacketTap(JitterBuffer(capacity=512, is_video=True), asked.append)
        track = tap.subscribe()
        pictures = encoded_pictures(MAX_BACKLOG + 5, {0, MAX_BACKLOG + 2})
        waiting = asyncio.ensure_future(track.recv())
        await asyncio.sleep(0)  # its first recv() attaches it
        packets = rtp_packets(pictures)
        first = sum(len(p) for p, _ in pictures[:2])  # picture 0 leaves when 1 begins
        for packet in packets[:first]:
            tap.add(packet)
        head = await asyncio.wait_for(waiting, 5)  # the key frame
        for packet in packets[first:]:
            tap.add(packet)  # nobody reads: the backlog grows past MAX_BACKLOG
        later = await asyncio.wait_for(track.recv(), 5)
        assert head.is_keyframe
        return track.backlog, asked, later

    backlog, asked, later = asyncio.run(scenario())
    assert backlog < MAX_BACKLOG
    # It asked the unit for a key frame when it fell behind (at the start the unit had sent
    # nothing yet: its first picture is a key frame anyway).
    assert asked == [1234]
    assert later.is_keyframe


def test_only_a_browser_that_takes_vp8_first_is_forwarded_to() -> None:
    def offer(*codecs: str) -> str:
        lines = [f"a=rtpmap:{96 + n} {c}/90000" for n, c in enumerate(codecs)]
        fmt = " ".join(str(96 + n) for n in range(len(codecs)))
        return "\r\n".join(
            [
                "v=0",
                "o=- 1 1 IN IP4 0.0.0.0",
                "s=-",
                "t=0 0",
                f"m=video 9 UDP/TLS/RTP/SAVPF {fmt}",
                "c=IN IP4 0.0.0.0",
                "a=recvonly",
                *lines,
                "",
            ]
        )

    assert prefers_vp8(offer("VP8", "rtx", "H264"))
    assert not prefers_vp8(offer("H264", "VP8"))
    assert not prefers_vp8("not sdp") and not prefers_vp8(offer())


def test_tapping_needs_a_video_transceiver_with_aiortcs_jitter_buffer() -> None:
    async def scenario() -> None:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        try:
            with pytest.raises(ValueError, match="only video"):
                tap_video(pc.addTransceiver("audio"))
            video = pc.addTransceiver("video", direction="recvonly")
            tap = tap_video(video)
            assert tap_video(video) is tap  # once per receiver
            other = pc.addTransceiver("video", direction="recvonly")
            other.receiver._RTCRtpReceiver__jitter_buffer = object()
            with pytest.raises(IncompatibleAiortc):
                tap_video(other)
        finally:
            await pc.close()

    asyncio.run(scenario())


def test_forwarded_video_is_recorded_as_it_was_encoded(tmp_path: Path) -> None:
    path = tmp_path / "call.webm"

    async def scenario() -> None:
        tap = VideoPacketTap(JitterBuffer(capacity=512, is_video=True), lambda ssrc: None)
        recorder = CallRecorder(path)
        recorder.add(tap.subscribe(), "unit video")
        await recorder.start()
        for packet in rtp_packets(encoded_pictures(30, {0})):
            tap.add(packet)
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.2)
        tap.close()
        assert await recorder.stop() is not None

    asyncio.run(scenario())
    with av.open(str(path)) as container:
        [video] = container.streams.video
        assert video.codec_context.name == "vp8" and video.metadata.get("title") == "unit video"
        assert (video.codec_context.width, video.codec_context.height) == (320, 240)
        # Every picture but the last, which aiortc's jitter buffer hands on when the next begins.
        assert sum(1 for _ in container.decode(video)) == 29
