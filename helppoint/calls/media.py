"""Media tracks shared by the unit's agent, the server hub, tests and the benchmark.

Synthetic sources stand in for a microphone and a camera in simulation: a speech-like tone
(so the far end can measure non-silent audio) and a moving test pattern. :class:`AudioMeter`
consumes a track and measures what arrived; :class:`DigitalZoom` crops a fixed camera's picture
to a zoomed-in view.
"""

from __future__ import annotations

import asyncio
import fractions
import functools
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame, VideoFrame
from av.frame import Frame

from helppoint.tasks import cancel_and_wait

AUDIO_RATE = 48_000
AUDIO_PTIME = 0.020
AUDIO_SAMPLES = int(AUDIO_RATE * AUDIO_PTIME)
VIDEO_CLOCK = 90_000


class PacedTrack(MediaStreamTrack):
    """A source that produces frames in real time at a fixed period."""

    def __init__(self, period: float) -> None:
        super().__init__()
        self._period = period
        self._start: float | None = None
        self._count = 0

    async def _next_slot(self) -> int:
        """Wait for the next frame's time; returns the frame number."""
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        else:
            self._count += 1
            due = self._start + self._count * self._period
            if due > now:
                await asyncio.sleep(due - now)
            elif now - due > 1.0:
                # Fell far behind (a stalled loop): skip ahead rather than burst to catch up.
                self._count = int((now - self._start) / self._period)
        return self._count


class ToneTrack(PacedTrack):
    """Speech-like synthetic audio: a voiced tone with harmonics, in syllable-sized bursts.

    ``marker()`` replaces the next frames by a loud click, so a far end that hears it can time
    the path (the benchmark's one-way latency estimate).
    """

    kind = "audio"

    def __init__(self, frequency: float = 220.0, level: float = 0.3, silent: bool = False) -> None:
        super().__init__(AUDIO_PTIME)
        self.frequency = frequency
        self.level = level
        #: Send silence (until unset), e.g. to let a marker stand out.
        self.silent = silent
        self._marker_frames = 0
        self.marker_sent_at: float | None = None

    def marker(self, frames: int = 5) -> None:
        """Send a loud burst in the next ``frames`` frames (20 ms each)."""
        self._marker_frames = frames
        self.marker_sent_at = None

    async def recv(self) -> Frame:
        n = await self._next_slot()
        t = (n * AUDIO_SAMPLES + np.arange(AUDIO_SAMPLES)) / AUDIO_RATE
        if self._marker_frames > 0:
            if self.marker_sent_at is None:
                self.marker_sent_at = time.monotonic()
            self._marker_frames -= 1
            wave = 0.9 * np.sign(np.sin(2 * math.pi * 1000.0 * t))
        elif self.silent:
            wave = np.zeros(AUDIO_SAMPLES)
        else:
            # Four "syllables" a second, each a voiced tone with two harmonics.
            envelope = 0.55 + 0.45 * np.sin(2 * math.pi * 4.0 * t)
            f = self.frequency
            wave = (
                self.level
                * envelope
                * (
                    np.sin(2 * math.pi * f * t)
                    + 0.5 * np.sin(2 * math.pi * 2 * f * t)
                    + 0.25 * np.sin(2 * math.pi * 3 * f * t)
                )
                / 1.75
            )
        samples = (np.clip(wave, -1.0, 1.0) * 32767).astype(np.int16).reshape(1, -1)
        frame = AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = AUDIO_RATE
        frame.pts = n * AUDIO_SAMPLES
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        return frame


class TestPatternTrack(PacedTrack):
    """Synthetic camera: colour bars that scroll, with a block that moves once a second."""

    kind = "video"
    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, width: int = 320, height: int = 240, fps: int = 15) -> None:
        super().__init__(1.0 / fps)
        self.width = width - width % 2
        self.height = height - height % 2
        self.fps = fps
        colours = np.array(
            [
                [235, 235, 235],
                [235, 235, 16],
                [16, 235, 235],
                [16, 235, 16],
                [235, 16, 235],
                [235, 16, 16],
                [16, 16, 235],
                [16, 16, 16],
            ],
            dtype=np.uint8,
        )
        bar = max(1, self.width // len(colours))
        columns = np.repeat(colours, bar, axis=0)[: self.width]
        if len(columns) < self.width:
            columns = np.concatenate(
                [columns, np.repeat(colours[-1:], self.width - len(columns), 0)]
            )
        self._bars = np.broadcast_to(columns, (self.height, self.width, 3))

    async def recv(self) -> Frame:
        n = await self._next_slot()
        image = np.roll(self._bars, (n * 4) % self.width, axis=1).copy()
        # A white block that steps across the bottom once a second: the picture is live.
        second = int(n / self.fps)
        size = max(8, self.height // 8)
        x = (second * size) % max(size, self.width - size)
        image[self.height - size :, x : x + size] = 255
        frame = VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = int(n * VIDEO_CLOCK / self.fps)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        return frame


class DigitalZoom(MediaStreamTrack):
    """Crops the centre of a fixed camera's picture and scales it back up: a digital zoom.

    ``factor`` 1 passes frames through; 2 shows the middle half of the width and height.
    """

    kind = "video"

    def __init__(self, source: MediaStreamTrack, factor: float = 1.0) -> None:
        super().__init__()
        self.source = source
        self.factor = factor

    @property
    def factor(self) -> float:
        return self._factor

    @factor.setter
    def factor(self, value: float) -> None:
        if not 1.0 <= value <= 8.0:
            raise ValueError(f"digital zoom must be 1-8x, not {value}")
        self._factor = value

    async def recv(self) -> Frame:
        frame = await self.source.recv()
        if not isinstance(frame, VideoFrame):
            raise MediaStreamError("digital zoom takes decoded video frames")
        if self._factor == 1.0:
            return frame
        return crop_zoom(frame, self._factor)

    def stop(self) -> None:
        super().stop()
        self.source.stop()


def crop_zoom(frame: VideoFrame, factor: float) -> VideoFrame:
    """The centre 1/factor of ``frame``, scaled back to the frame's size."""
    width, height = frame.width, frame.height
    crop_w = max(2, int(width / factor) // 2 * 2)
    crop_h = max(2, int(height / factor) // 2 * 2)
    x = (width - crop_w) // 2
    y = (height - crop_h) // 2
    image: Any = frame.to_ndarray(format="rgb24")[y : y + crop_h, x : x + crop_w]
    cropped = VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
    zoomed = cropped.reformat(width=width, height=height, format="yuv420p")
    zoomed.pts = frame.pts
    if frame.time_base is not None:
        zoomed.time_base = frame.time_base
    return zoomed


def rms_level(frame: AudioFrame) -> float:
    """Root-mean-square level of an audio frame, 0 (silence) to 1 (full scale)."""
    samples: Any = frame.to_ndarray()
    if samples.size == 0:
        return 0.0
    if samples.dtype.kind == "f":
        data = samples.astype(np.float64)
    else:
        data = samples.astype(np.float64) / float(np.iinfo(samples.dtype).max)
    return float(np.sqrt(np.mean(np.square(data))))


@dataclass
class MediaStats:
    """What one end received on a track."""

    frames: int = 0
    #: Frames whose level was above the silence threshold.
    loud_frames: int = 0
    peak_level: float = 0.0
    first_frame_at: float | None = None  # time.monotonic()
    first_loud_at: float | None = None
    last_frame_at: float | None = None
    #: Monotonic times at which a level jump (a benchmark marker) was heard.
    markers: list[float] = field(default_factory=list)
    width: int = 0
    height: int = 0


class AudioMeter:
    """Consumes a track and measures it (frames, level, markers); optionally passes it on.

    ``sink`` (e.g. a speaker) gets every frame after it is measured.
    """

    SILENCE = 0.003  # about -50 dBFS
    MARKER = 0.5  # a benchmark click is far louder than the synthetic voice

    def __init__(self, track: MediaStreamTrack, sink: FrameSink | None = None) -> None:
        self.track = track
        self.sink = sink
        self.stats = MediaStats()
        self._task: asyncio.Task[None] | None = None
        self._loud_marker = False
        self._changed = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task, ignoring=(MediaStreamError,))
            self._task = None
        if self.sink is not None:
            self.sink.close()

    async def wait_for(self, frames: int = 1, loud: bool = False, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until ``frames`` (loud ones, if ``loud``) have arrived."""

        async def reached() -> None:
            while (self.stats.loud_frames if loud else self.stats.frames) < frames:
                self._changed.clear()
                await self._changed.wait()

        async with asyncio.timeout(timeout):
            await reached()

    async def _run(self) -> None:
        while True:
            try:
                frame = await self.track.recv()
            except MediaStreamError:
                return
            now = time.monotonic()
            stats = self.stats
            stats.frames += 1
            stats.last_frame_at = now
            if stats.first_frame_at is None:
                stats.first_frame_at = now
            if isinstance(frame, AudioFrame):
                level = rms_level(frame)
                stats.peak_level = max(stats.peak_level, level)
                if level > self.SILENCE:
                    stats.loud_frames += 1
                    if stats.first_loud_at is None:
                        stats.first_loud_at = now
                loud_marker = level > self.MARKER
                if loud_marker and not self._loud_marker:
                    stats.markers.append(now)
                self._loud_marker = loud_marker
                if self.sink is not None:
                    self.sink.write(frame)
            elif isinstance(frame, VideoFrame):
                stats.width, stats.height = frame.width, frame.height
                stats.loud_frames += 1
            self._changed.set()


class FrameSink:
    """Where received audio goes on a unit: a speaker (see agent/call.py)."""

    def write(self, frame: AudioFrame) -> None:
        """Play one frame."""

    def close(self) -> None:
        """Release the device."""


# ---------- what a simulated unit's microphone hears ----------

#: Speech a simulated caller says (espeak-ng, scripts/make_voice_sample.sh).
VOICE_SAMPLE = Path(__file__).parent / "audio" / "help-voice.ogg"
#: What a simulated microphone can hear (agent settings call_audio_input).
SIMULATED_SOUNDS = ("tone", "voice", "silence", "noise")


def load_pcm(path: Path) -> Any:
    """A sound file's audio as 48 kHz mono 16-bit samples (a numpy array)."""
    chunks = []
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=AUDIO_RATE)
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    if not chunks:
        raise ValueError(f"{path} has no audio")
    return np.concatenate(chunks).astype(np.int16)


def noise_samples(level_db: float, seconds: float = 3.0, seed: int = 0) -> Any:
    """Steady white noise at ``level_db`` dBFS (RMS): wind, traffic, a hum."""
    rng = np.random.default_rng(seed)
    wave = rng.standard_normal(int(AUDIO_RATE * seconds)) * 10 ** (level_db / 20)
    return (np.clip(wave, -1.0, 1.0) * 32767).astype(np.int16)


#: aiortc's own Opus encoder settings (aiortc/codecs/opus.py): what a unit's sender makes of
#: its microphone's frames.
_UNIT_OPUS_LAYOUT = "stereo"
_UNIT_OPUS_BIT_RATE = 96_000
_UNIT_OPUS_APPLICATION = "voip"


def unit_opus_packets(samples: Any) -> list[bytes]:
    """48 kHz mono 16-bit samples as the 20 ms Opus packets a unit's aiortc sender makes of
    them (stereo, 96 kbit/s, VoIP), one per whole 20 ms of the samples."""
    encoder: Any = av.CodecContext.create("libopus", "w")
    encoder.sample_rate = AUDIO_RATE
    encoder.layout = _UNIT_OPUS_LAYOUT
    encoder.format = "s16"
    encoder.bit_rate = _UNIT_OPUS_BIT_RATE
    encoder.options = {"application": _UNIT_OPUS_APPLICATION}
    encoder.time_base = fractions.Fraction(1, AUDIO_RATE)
    resampler = av.AudioResampler(
        format="s16", layout=_UNIT_OPUS_LAYOUT, rate=AUDIO_RATE, frame_size=AUDIO_SAMPLES
    )
    packets: list[bytes] = []
    for start in range(0, len(samples) - AUDIO_SAMPLES + 1, AUDIO_SAMPLES):
        frame = AudioFrame.from_ndarray(
            samples[start : start + AUDIO_SAMPLES].reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = AUDIO_RATE
        frame.pts = start
        for out in resampler.resample(frame):
            packets += [bytes(packet) for packet in encoder.encode(out)]
    for out in resampler.resample(None):
        packets += [bytes(packet) for packet in encoder.encode(out)]
    packets += [bytes(packet) for packet in encoder.encode(None)]
    return packets


class EncodedSoundTrack(PacedTrack):
    """Plays a sound's Opus packets (20 ms each), over and over: a simulated microphone.

    The sound is encoded once, as a unit's sender would encode it, and the packets are sent as
    they are (aiortc's sender packetizes an ``av.Packet`` without encoding): a simulated fleet
    of many units then costs the machine that runs it no encoder per unit, as real units,
    each encoding on its own hardware, cost the server none (docs/performance.md).
    """

    kind = "audio"

    def __init__(self, packets: tuple[bytes, ...]) -> None:
        super().__init__(AUDIO_PTIME)
        if not packets:
            raise ValueError("an encoded sound needs at least one packet")
        self._packets = packets

    async def recv(self) -> av.Packet[Any]:
        n = await self._next_slot()
        packet = av.Packet(self._packets[n % len(self._packets)])
        packet.pts = n * AUDIO_SAMPLES
        packet.time_base = fractions.Fraction(1, AUDIO_RATE)
        return packet


def simulated_microphone(sound: str) -> MediaStreamTrack:
    """A simulated microphone: ``tone`` (a speech-like tone), ``voice`` (a person asking for
    help), ``silence`` (a quiet street, -70 dBFS) or ``noise`` (steady noise, -25 dBFS).
    Voice, silence and noise send Opus packets encoded once (:class:`EncodedSoundTrack`)."""
    if sound == "tone":
        return ToneTrack()
    if sound in ("voice", "silence", "noise"):
        return EncodedSoundTrack(encoded_sound(sound))
    raise ValueError(f"a simulated microphone hears one of {', '.join(SIMULATED_SOUNDS)}")


@functools.cache
def encoded_sound(sound: str) -> tuple[bytes, ...]:
    """The Opus packets of a simulated sound, encoded once per process."""
    if sound == "voice":
        samples = _voice_sample()
    else:
        samples = noise_samples(-70.0 if sound == "silence" else -25.0)
    return tuple(unit_opus_packets(samples))


@functools.cache
def _voice_sample() -> Any:
    return load_pcm(VOICE_SAMPLE)
