"""Voice activity in a unit's press-time audio: Opus packets in, a voice judgement out.

The unit's microphone arrives as Opus packets (48 kHz). :class:`PressAudioAnalyser` decodes
them (libopus through PyAV), cuts the audio into 20 ms mono frames, asks WebRTC's voice
activity detector (the ``webrtcvad`` package) whether each holds speech, measures its level,
and lets the domain's :class:`~helppoint.domain.triage.VoiceJudge` judge voice, silent or
noisy. It is plain CPU work: the press listener runs it on its own thread, never on the event
loop (helppoint/calls/listen.py).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import av
import numpy as np
import webrtcvad

from helppoint.calls.media import AUDIO_RATE, AUDIO_SAMPLES, load_pcm
from helppoint.domain.triage import Judgement, VoiceJudge

log = logging.getLogger(__name__)

#: The detector's aggressiveness, 0-3: 3 says "speech" least readily.
VAD_MODE = 3


def frame_level_db(samples: Any) -> float:
    """A frame's level in dBFS (RMS of 16-bit samples; -100 for digital silence)."""
    if not samples.size:
        return -100.0
    wide = samples.astype(np.int64)
    power = float(np.dot(wide, wide)) / (samples.size * 32768.0 * 32768.0)
    return 10.0 * math.log10(power) if power > 1e-10 else -100.0


def mono_opus_decoder() -> av.AudioCodecContext:
    """A libopus decoder giving 48 kHz mono 16-bit frames (what the detector takes, with no
    resampling)."""
    decoder = av.CodecContext.create("libopus", "r")
    decoder.format = "s16"
    decoder.layout = "mono"
    decoder.sample_rate = AUDIO_RATE
    return decoder


class FrameJudge:
    """Judges 20 ms frames of 48 kHz mono 16-bit audio as they come."""

    def __init__(self, mode: int = VAD_MODE) -> None:
        self._vad = webrtcvad.Vad(mode)
        self.judge = VoiceJudge()

    def add(self, samples: Any) -> None:
        """One frame of AUDIO_SAMPLES samples."""
        speech = bool(self._vad.is_speech(samples.tobytes(), AUDIO_RATE))
        self.judge.add(speech, frame_level_db(samples))

    def judgement(self) -> Judgement | None:
        return self.judge.judgement()


class PressAudioAnalyser:
    """Decodes the Opus packets of one press listen and judges them (not thread-safe: one
    thread feeds it)."""

    def __init__(self, mode: int = VAD_MODE) -> None:
        self._decoder = mono_opus_decoder()
        #: Samples decoded but not yet judged (packets need not be 20 ms long).
        self._rest: Any = np.zeros(0, dtype=np.int16)
        self.frames = FrameJudge(mode)
        self.packets = 0
        self.damaged = 0

    def feed(self, payloads: Iterable[bytes]) -> Judgement | None:
        """Decode and judge these packets (in order); the judgement so far."""
        for payload in payloads:
            self.packets += 1
            try:
                decoded = self._decoder.decode(av.Packet(payload))
            except av.FFmpegError:
                self.damaged += 1  # 20 ms missing; the decoder keeps its state for the next
                continue
            for frame in decoded:
                samples = frame.to_ndarray().reshape(-1)
                if samples.size == AUDIO_SAMPLES and not self._rest.size:
                    self.frames.add(samples)
                    continue
                pending = np.concatenate([self._rest, samples])
                whole = pending.size - pending.size % AUDIO_SAMPLES
                for start in range(0, whole, AUDIO_SAMPLES):
                    self.frames.add(pending[start : start + AUDIO_SAMPLES])
                self._rest = pending[whole:]
        return self.frames.judgement()


def judge_samples(samples: Any) -> Judgement | None:
    """The judgement of a whole recording's samples (48 kHz mono 16-bit), as a press listen
    would end it."""
    frames = FrameJudge()
    for start in range(0, len(samples) - AUDIO_SAMPLES + 1, AUDIO_SAMPLES):
        frames.add(samples[start : start + AUDIO_SAMPLES])
    return frames.judgement()


def judge_file(path: Path) -> Judgement | None:
    """The judgement of a sound file (any format FFmpeg reads)."""
    return judge_samples(load_pcm(path))
