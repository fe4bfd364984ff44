"""What judging press-time audio costs (docs/triage.md): decoding a unit's Opus packets and
running WebRTC's voice activity detector on them, per 20 ms packet and per listen.

    .venv/bin/python bench/press_vad.py [--rounds 5] [--seconds 20]

Each round encodes SECONDS of the spoken sample, of steady noise and of silence as the 20 ms
Opus packets a unit sends, then times PressAudioAnalyser.feed over them in steps of 10 packets
(as helppoint/calls/listen.py does, on its own thread). Prints, per packet, the CPU time this
process used (which another program on a shared machine barely changes) and the wall time,
median and spread over the rounds, and what share of one core a listen costs (a listen is 50
packets a second).
"""

from __future__ import annotations

import argparse
import statistics
import time

import av
import numpy as np

from helppoint.calls.listen import PACKETS_PER_STEP
from helppoint.calls.media import VOICE_SAMPLE, load_pcm, noise_samples
from helppoint.calls.opus import OPUS_TIME_BASE
from helppoint.calls.vad import PressAudioAnalyser


def opus_packets(samples: np.ndarray) -> list[bytes]:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    voice = load_pcm(VOICE_SAMPLE)
    repeats = int(args.seconds * 48_000 / len(voice)) + 1
    sounds = {
        "voice": np.tile(voice, repeats)[: int(args.seconds * 48_000)],
        "noise": noise_samples(-25.0, seconds=args.seconds),
        "silence": noise_samples(-70.0, seconds=args.seconds),
    }
    encoded = {name: opus_packets(samples) for name, samples in sounds.items()}
    for name, packets in encoded.items():
        cpu: list[float] = []
        wall: list[float] = []
        verdict = ""
        for _ in range(args.rounds):
            analyser = PressAudioAnalyser()
            started, used = time.perf_counter(), time.process_time()
            for start in range(0, len(packets), PACKETS_PER_STEP):
                judgement = analyser.feed(packets[start : start + PACKETS_PER_STEP])
            cpu.append((time.process_time() - used) / len(packets) * 1e6)
            wall.append((time.perf_counter() - started) / len(packets) * 1e6)
            verdict = judgement.voice.value if judgement is not None else "none"
        median = statistics.median(cpu)
        print(
            f"{name:8s} judged {verdict:7s} {len(packets)} packets: CPU {median:5.1f} us/packet "
            f"(min {min(cpu):.1f}, max {max(cpu):.1f}), wall {statistics.median(wall):5.1f} "
            f"(min {min(wall):.1f}, max {max(wall):.1f}); {median * 50 / 1e4:.2f}% of a core "
            "per listen"
        )


if __name__ == "__main__":
    main()
