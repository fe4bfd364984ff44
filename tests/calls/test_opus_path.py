"""The low-latency audio path (helppoint.calls.opus): Opus packets taken from aiortc receivers,
put in order without a hold, forwarded, decoded and recorded."""

from __future__ import annotations

import asyncio
import itertools
import re
from pathlib import Path

import av
import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.jitterbuffer import JitterBuffer
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import RtpPacket

from helppoint.calls.media import AUDIO_SAMPLES, AudioMeter, ToneTrack, rms_level
from helppoint.calls.opus import (
    IncompatibleAiortc,
    NoOpusAudio,
    OpusDecodeTrack,
    OpusPacketTap,
    SequenceOrder,
    opus_only,
    opus_payload_types,
    tap_audio,
    transceiver_of,
)
from helppoint.calls.recorder import CallRecorder


def rtp(seq: int, timestamp: int | None = None, payload: bytes = b"x", pt: int = 96) -> RtpPacket:
    packet = RtpPacket(
        payload_type=pt,
        sequence_number=seq & 0xFFFF,
        timestamp=(seq * AUDIO_SAMPLES if timestamp is None else timestamp) & 0xFFFFFFFF,
        payload=payload,
    )
    return packet


def seqs(packets: list[RtpPacket]) -> list[int]:
    return [p.sequence_number for p in packets]


# ---------- putting packets in order ----------


def test_packets_in_order_are_handed_on_at_once() -> None:
    order = SequenceOrder(window=3)
    assert [seqs(order.push(rtp(n))) for n in range(5)] == [[0], [1], [2], [3], [4]]
    assert order.held == 0 and order.stats.packets == 5 and order.stats.lost == 0


def test_a_packet_that_arrives_out_of_order_is_put_back_in_place() -> None:
    order = SequenceOrder(window=3)
    assert seqs(order.push(rtp(10))) == [10]
    assert seqs(order.push(rtp(12))) == []  # 11 is missing: wait for it
    assert seqs(order.push(rtp(11))) == [11, 12]
    assert order.stats.lost == 0


def test_a_lost_packet_is_given_up_after_the_window_and_costs_no_lasting_delay() -> None:
    order = SequenceOrder(window=3)
    order.push(rtp(1))
    assert seqs(order.push(rtp(3))) == []
    assert seqs(order.push(rtp(4))) == []
    assert seqs(order.push(rtp(5))) == [3, 4, 5]  # 2 is given up; nothing left waiting
    assert order.stats.lost == 1 and order.held == 0
    assert seqs(order.push(rtp(6))) == [6]
    assert seqs(order.push(rtp(2))) == []  # too late: dropped, not played out of place
    assert seqs(order.push(rtp(6))) == []  # a duplicate
    assert order.stats.dropped == 2


def test_sequence_numbers_wrap_and_a_restarted_stream_is_followed() -> None:
    order = SequenceOrder(window=2)
    assert [seqs(order.push(rtp(n))) for n in (65534, 65535, 65536, 65537)] == [
        [65534],
        [65535],
        [0],
        [1],
    ]
    assert seqs(order.push(rtp(30_000))) == [30_000]  # a jump this far is a new stream
    assert seqs(order.push(rtp(30_001))) == [30_001]
    assert order.stats.lost == 0
    with pytest.raises(ValueError, match="at least 1"):
        SequenceOrder(window=0)


def test_aiortc_own_audio_buffer_holds_80_ms_and_falls_behind_after_a_loss() -> None:
    """Why the tap exists (docs/calls.md). If aiortc changes this, revisit the tap."""

    def lag(lost: set[int]) -> list[int]:
        buffer = JitterBuffer(capacity=16, prefetch=4)  # as RTCRtpReceiver builds it for audio
        lags = []
        for seq in range(60):
            if seq in lost:
                continue
            packet = rtp(seq)
            packet._data = packet.payload  # type: ignore[attr-defined]  # set by the receiver
            _, frame = buffer.add(packet)
            if frame is not None:
                lags.append(seq - frame.timestamp // AUDIO_SAMPLES)
        return lags

    assert set(lag(set())) == {4}  # four packets: 80 ms
    assert lag({10})[-1] == 14  # one loss: 280 ms behind for the rest of the call

    order = SequenceOrder()
    lags = [seq - p.sequence_number for seq in range(60) if seq != 10 for p in order.push(rtp(seq))]
    assert lags[-20:] == [0] * 20  # the tap: back to no hold after the loss


# ---------- the tap and its tracks ----------


async def test_a_tap_hands_opus_packets_to_each_subscriber_in_order() -> None:
    tap = OpusPacketTap(payload_types={111})
    forward, record = tap.subscribe(), tap.subscribe()
    first = asyncio.ensure_future(forward.recv())
    second = asyncio.ensure_future(record.recv())
    await asyncio.sleep(0)  # both consumers have started (a track gets packets from then on)
    start = 0xFFFFFFFF - AUDIO_SAMPLES  # the RTP timestamp wraps between the two packets
    assert tap.add(rtp(7, start, b"one", pt=111)) == (False, None)  # nothing for aiortc
    tap.add(rtp(8, start + AUDIO_SAMPLES, b"pcmu", pt=0))  # not Opus: dropped
    tap.add(rtp(8, start + AUDIO_SAMPLES, b"two", pt=111))
    for track, task in ((forward, first), (record, second)):
        packet = await task
        assert (bytes(packet), packet.pts) == (b"one", 0)
        packet = await track.recv()
        assert (bytes(packet), packet.pts, packet.time_base.denominator) == (
            b"two",
            AUDIO_SAMPLES,
            48_000,
        )
    assert tap.stats.packets == 2 and tap.stats.dropped == 1

    late = tap.subscribe()  # never asked before: gets nothing of the past
    tap.add(rtp(9, start + 2 * AUDIO_SAMPLES, b"three", pt=111))
    assert late.backlog == 0 and forward.backlog == record.backlog == 1
    tap.close()
    assert bytes(await forward.recv()) == bytes(await record.recv()) == b"three"
    for track in (forward, record, late):
        with pytest.raises(MediaStreamError):
            await track.recv()


async def test_decoded_and_recorded_opus_keeps_the_sound(tmp_path: Path) -> None:
    """Packets from a tap decode to audible frames, and the recorder writes them to a file
    that decodes with their length."""
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate = 48_000
    encoder.layout = "mono"
    encoder.format = "s16"  # type: ignore[assignment]
    encoder.bit_rate = 32_000
    payloads: list[bytes] = []
    for n in range(50):  # one second of a 440 Hz tone
        t = (n * AUDIO_SAMPLES + np.arange(AUDIO_SAMPLES)) / 48_000
        samples = (0.3 * 32767 * np.sin(2 * np.pi * 440 * t)).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate, frame.pts = 48_000, n * AUDIO_SAMPLES
        payloads += [bytes(p) for p in encoder.encode(frame)]

    tap = OpusPacketTap()
    heard = OpusDecodeTrack(tap.subscribe())
    recorder = CallRecorder(tmp_path / "call.webm")
    recorder.add(tap.subscribe(), "unit audio")
    await recorder.start()
    first = asyncio.ensure_future(heard.recv())
    await asyncio.sleep(0)
    for seq, payload in enumerate(payloads):
        tap.add(rtp(seq, payload=payload))
    frames = [await first] + [await heard.recv() for _ in range(len(payloads) - 1)]
    assert sum(f.samples for f in frames) == len(payloads) * AUDIO_SAMPLES  # type: ignore[attr-defined]
    assert max(rms_level(f) for f in frames) > 0.05  # type: ignore[arg-type]
    tap.close()
    recorded = await recorder.stop()
    assert recorded is not None and recorded.size_bytes > 0
    with av.open(str(recorded.path)) as container:
        samples = [
            f.to_ndarray()
            for f in container.decode(audio=0)  # type: ignore[attr-defined]
        ]
    assert 0.9 <= sum(s.shape[-1] for s in samples) / 48_000 <= 1.1
    assert float(np.abs(np.concatenate(samples, axis=-1)).max()) > 0.05  # float samples


async def test_the_recording_keeps_the_opus_packets_as_they_came_and_a_lost_one_as_a_gap(
    tmp_path: Path,
) -> None:
    """The recorder writes the forwarded packets themselves (no decoding, no encoding again),
    timed by their RTP clock: a packet lost in the call leaves a 20 ms gap, not a shift."""
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate = 48_000
    encoder.layout = "stereo"  # as a browser's Opus is
    encoder.format = "s16"  # type: ignore[assignment]
    encoder.bit_rate = 24_000
    payloads: list[bytes] = []
    for n in range(25):
        t = (n * AUDIO_SAMPLES + np.arange(AUDIO_SAMPLES)) / 48_000
        tone = (0.3 * 32767 * np.sin(2 * np.pi * 330 * t)).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(np.repeat(tone, 2).reshape(1, -1), "s16", "stereo")
        frame.sample_rate, frame.pts = 48_000, n * AUDIO_SAMPLES
        payloads += [bytes(p) for p in encoder.encode(frame)]
    lost = 10
    tap = OpusPacketTap()
    recorder = CallRecorder(tmp_path / "call.webm")
    recorder.add(tap.subscribe(), "operator audio")
    await recorder.start()
    await asyncio.sleep(0)
    for seq, payload in enumerate(payloads):
        if seq != lost:
            tap.add(rtp(1000 + seq, timestamp=5_000_000 + seq * AUDIO_SAMPLES, payload=payload))
    tap.close()
    recorded = await recorder.stop()
    assert recorded is not None
    with av.open(str(recorded.path)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name == "opus"
        packets = [p for p in container.demux(stream) if p.size]
        written = [bytes(p) for p in packets]
        times = [float(p.pts * p.time_base) for p in packets]  # type: ignore[operator]
    kept = [payload for seq, payload in enumerate(payloads) if seq != lost]
    assert written == kept  # byte for byte
    steps = [round((b - a) * 1000) for a, b in itertools.pairwise(times)]
    assert steps == [20] * (lost - 1) + [40] + [20] * (len(kept) - lost - 1)


# ---------- negotiation and the aiortc seam ----------


async def test_only_opus_is_offered_and_an_offer_must_prefer_it() -> None:
    pc = RTCPeerConnection()
    try:
        opus_only(pc.addTransceiver("audio", direction="sendrecv"))
        await pc.setLocalDescription(await pc.createOffer())
        sdp = pc.localDescription.sdp
        assert "opus/48000" in sdp and "PCMU" not in sdp
        assert opus_payload_types(sdp) == {96}
        with pytest.raises(NoOpusAudio, match="first codec"):
            opus_payload_types(sdp.replace("opus/48000/2", "PCMU/8000"))
        with pytest.raises(NoOpusAudio):
            opus_payload_types("v=0\r\nnot sdp at all")
        # An m-line aiortc's parser asserts on is unusable SDP too, not a server error.
        with pytest.raises(NoOpusAudio, match="cannot be read"):
            opus_payload_types(re.sub(r"m=audio .*", "m=audio 9 X ", sdp))
    finally:
        await pc.close()


async def test_tapping_needs_the_receiver_internals_it_replaces() -> None:
    pc = RTCPeerConnection()
    try:
        audio = pc.addTransceiver("audio")
        tap = tap_audio(audio)
        assert tap_audio(audio) is tap  # tapping twice is harmless
        with pytest.raises(ValueError, match="only audio"):
            tap_audio(pc.addTransceiver("video"))
        other = pc.addTransceiver("audio")
        # As if aiortc renamed or removed its receiver's jitter buffer: fail loudly.
        delattr(other.receiver, "_RTCRtpReceiver__jitter_buffer")
        with pytest.raises(IncompatibleAiortc, match="must be updated"):
            tap_audio(other)
    finally:
        await pc.close()


async def test_two_aiortc_peers_talk_through_a_tap() -> None:
    """Real aiortc end to end: the tapped receiver's packets arrive through the tap (if aiortc
    stopped using the object the tap replaces, nothing would be heard)."""
    sender = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    receiver = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    voice = ToneTrack()
    sender.addTrack(voice)
    taps: list[OpusPacketTap] = []
    meters: list[AudioMeter] = []

    @receiver.on("track")
    def on_track(track: object) -> None:
        taps.append(tap_audio(transceiver_of(receiver, track)))  # type: ignore[arg-type]
        meters.append(AudioMeter(OpusDecodeTrack(taps[0].subscribe())))
        meters[0].start()

    try:
        await sender.setLocalDescription(await sender.createOffer())
        await receiver.setRemoteDescription(sender.localDescription)
        await receiver.setLocalDescription(await receiver.createAnswer())
        await sender.setRemoteDescription(receiver.localDescription)
        assert len(meters) == 1
        await meters[0].wait_for(25, loud=True, timeout=15)
        assert taps[0].stats.packets >= 25
        assert meters[0].stats.peak_level > 0.05
    finally:
        for meter in meters:
            await meter.stop()
        voice.stop()
        await sender.close()
        await receiver.close()
