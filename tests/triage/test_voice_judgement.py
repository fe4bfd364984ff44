"""Judging press-time audio: the domain's rules, and WebRTC's VAD on real sound."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from helppoint.calls.media import (
    VOICE_SAMPLE,
    encoded_sound,
    load_pcm,
    noise_samples,
    simulated_microphone,
    unit_opus_packets,
)
from helppoint.calls.opus import OPUS_TIME_BASE
from helppoint.calls.vad import PressAudioAnalyser, judge_file, judge_samples
from helppoint.domain.triage import (
    MIN_FRAMES,
    Judgement,
    Voice,
    VoiceJudge,
    worth_telling,
)


def mix(speech: np.ndarray, noise_db: float) -> np.ndarray:
    noise = noise_samples(noise_db, seconds=len(speech) / 48_000 + 0.1)[: len(speech)]
    return np.clip(speech.astype(np.int32) + noise, -32768, 32767).astype(np.int16)


def test_nothing_is_judged_before_half_a_second() -> None:
    judge = VoiceJudge()
    for _ in range(MIN_FRAMES - 1):
        judge.add(False, -80.0)
    assert judge.judgement() is None
    judge.add(False, -80.0)
    assert judge.judgement() == Judgement(Voice.SILENT, 0.0)


def test_steady_sound_the_detector_calls_speech_is_noise_not_voice() -> None:
    # WebRTC's VAD says "speech" for steady noise in the voice band: the level must swing too.
    judge = VoiceJudge()
    for _ in range(75):
        judge.add(True, -20.0)
    assert judge.judgement() == Judgement(Voice.NOISY, round(40 / 60, 2))


def test_speech_in_syllables_is_voice_and_stays_voice_after_it_stops() -> None:
    judge = VoiceJudge()
    for n in range(75):
        syllable = n % 10 < 6
        judge.add(syllable, -15.0 if syllable else -45.0)
    assert judge.judgement() is not None and judge.judgement().voice is Voice.VOICE  # type: ignore[union-attr]
    for _ in range(200):
        judge.add(False, -80.0)
    assert judge.judgement() == Judgement(Voice.VOICE, 0.0)


def test_a_judgement_is_told_when_the_voice_changes_or_the_level_moves() -> None:
    first = Judgement(Voice.SILENT, 0.1)
    assert worth_telling(None, first)
    assert not worth_telling(first, Judgement(Voice.SILENT, 0.15))
    assert worth_telling(first, Judgement(Voice.SILENT, 0.2))
    assert worth_telling(first, Judgement(Voice.NOISY, 0.1))


def test_speech_is_voice_on_real_audio() -> None:
    judgement = judge_file(VOICE_SAMPLE)
    assert judgement is not None and judgement.voice is Voice.VOICE
    assert 0.5 < judgement.level < 1.0


def test_a_quiet_street_is_silent_and_steady_noise_is_noisy() -> None:
    assert judge_samples(noise_samples(-70.0)) == Judgement(Voice.SILENT, 0.0)
    assert judge_samples(np.zeros(96_000, dtype=np.int16)) == Judgement(Voice.SILENT, 0.0)
    noisy = judge_samples(noise_samples(-25.0))
    assert noisy is not None and noisy.voice is Voice.NOISY and noisy.level > 0.5


@pytest.mark.parametrize("noise_db", [-45.0, -35.0, -30.0])
def test_speech_over_steady_noise_is_still_voice(noise_db: float) -> None:
    judgement = judge_samples(mix(load_pcm(VOICE_SAMPLE), noise_db))
    assert judgement is not None and judgement.voice is Voice.VOICE


def test_speech_from_a_wav_file_as_a_recorder_writes_it(tmp_path: Path) -> None:
    path = tmp_path / "caller.wav"
    samples = load_pcm(VOICE_SAMPLE)
    with av.open(str(path), "w", format="wav") as container:
        stream = container.add_stream("pcm_s16le", rate=48_000)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = 48_000
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    judged = judge_file(path)
    assert judged is not None and judged.voice is Voice.VOICE


def opus_packets(samples: np.ndarray) -> list[bytes]:
    """Encode 48 kHz mono samples as the 20 ms Opus packets a unit sends."""
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate = 48_000  # type: ignore[attr-defined]
    encoder.layout = "mono"  # type: ignore[attr-defined]
    encoder.format = "s16"  # type: ignore[attr-defined]
    encoder.time_base = OPUS_TIME_BASE
    packets: list[bytes] = []
    for start in range(0, len(samples) - 960 + 1, 960):
        frame = av.AudioFrame.from_ndarray(
            samples[start : start + 960].reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = 48_000
        frame.pts = start
        packets += [bytes(p) for p in encoder.encode(frame)]  # type: ignore[attr-defined]
    return packets


@pytest.mark.parametrize(
    ("sound", "expected"),
    [("voice", Voice.VOICE), ("silence", Voice.SILENT), ("noise", Voice.NOISY)],
)
def test_the_analyser_judges_the_opus_packets_a_unit_sends(sound: str, expected: Voice) -> None:
    samples = {
        "voice": load_pcm(VOICE_SAMPLE),
        "silence": noise_samples(-70.0, seconds=4),
        "noise": noise_samples(-25.0, seconds=4),
    }[sound]
    analyser = PressAudioAnalyser()
    packets = opus_packets(samples)
    judgement = None
    for start in range(0, len(packets), 10):
        judgement = analyser.feed(packets[start : start + 10])
    assert judgement is not None and judgement.voice is expected
    assert analyser.damaged == 0


def test_a_damaged_packet_costs_its_20_ms_not_the_judgement() -> None:
    analyser = PressAudioAnalyser()
    packets = opus_packets(load_pcm(VOICE_SAMPLE))
    packets.insert(5, b"\xff\xff\xff not opus")
    judgement = analyser.feed(packets)
    assert judgement is not None and judgement.voice is Voice.VOICE


@pytest.mark.parametrize(
    ("sound", "expected"),
    [("voice", Voice.VOICE), ("silence", Voice.SILENT), ("noise", Voice.NOISY)],
)
async def test_a_simulated_microphone_sends_its_sound_encoded_once(
    sound: str, expected: Voice
) -> None:
    track = simulated_microphone(sound)
    sent = [await track.recv() for _ in range(3)]
    track.stop()
    # Packets, not frames: aiortc's sender sends them as they are, with no encoder per unit.
    assert all(isinstance(packet, av.Packet) for packet in sent)
    assert [packet.pts for packet in sent] == [0, 960, 1920]
    assert all(packet.time_base == OPUS_TIME_BASE for packet in sent)
    # The whole loop is the sound as a unit's sender encodes it (stereo, 96 kbit/s): judged
    # as that sound, every packet decodable.
    packets = list(encoded_sound(sound))
    assert [bytes(packet) for packet in sent if isinstance(packet, av.Packet)] == packets[:3]
    analyser = PressAudioAnalyser()
    judgement = None
    for start in range(0, len(packets), 10):
        judgement = analyser.feed(packets[start : start + 10])
    assert judgement is not None and judgement.voice is expected
    assert analyser.damaged == 0


def test_the_packets_of_a_sound_cover_it_in_20_ms_steps() -> None:
    samples = noise_samples(-25.0, seconds=1.0)
    packets = unit_opus_packets(samples)
    decoder = av.CodecContext.create("libopus", "r")
    decoded = sum(frame.samples for p in packets for frame in decoder.decode(av.Packet(p)))
    # Every 20 ms of the second is there (the encoder's look-ahead adds a packet at the end).
    assert len(packets) >= 50
    assert decoded >= len(samples)
