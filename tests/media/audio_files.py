"""Real audio files for the prompt tests, made with the standard library and PyAV."""

from __future__ import annotations

import io
import math
import wave
from fractions import Fraction

import av
import numpy as np


def wav(seconds: float = 1.0, rate: int = 8000, frequency: float = 440.0) -> bytes:
    """A mono 16-bit PCM WAV file of a sine tone."""
    count = int(seconds * rate)
    samples = bytearray()
    for n in range(count):
        value = int(12000 * math.sin(2 * math.pi * frequency * n / rate))
        samples += value.to_bytes(2, "little", signed=True)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(samples))
    return buffer.getvalue()


def encoded(fmt: str, codec: str, seconds: float = 1.0, rate: int = 48000) -> bytes:
    """A mono sine tone encoded with PyAV (e.g. ogg/libopus, flac/flac, mp3/libmp3lame)."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=fmt) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.layout = "mono"  # type: ignore[union-attr]
        frame_size = 960
        total = int(seconds * rate)
        for start in range(0, total, frame_size):
            n = np.arange(start, min(start + frame_size, total))
            tone = (0.3 * np.sin(2 * np.pi * 440 * n / rate)).astype(np.float32)
            frame = av.AudioFrame.from_ndarray(tone.reshape(1, -1), format="flt", layout="mono")
            frame.sample_rate = rate
            frame.pts = start
            frame.time_base = Fraction(1, rate)
            for packet in stream.encode(frame):  # type: ignore[union-attr]
                container.mux(packet)
        for packet in stream.encode(None):  # type: ignore[union-attr]
            container.mux(packet)
    return buffer.getvalue()
