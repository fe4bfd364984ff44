"""What a unit knows about its own health: its power supply, and its self-test.

The self-test checks the light (set a pattern, read it back), the camera (move to a test
preset and back) and the speaker and microphone together with an acoustic loop-back: a tone
played into the speaker is recorded by the microphone, and the energy at the tone's frequency
must stand clear of the noise. On a simulated unit the microphone path is simulated (the tone,
attenuated by the housing, plus noise); a part can be made to fail on purpose with `inject`.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: Parts a self-test checks, and the faults that can be injected into a simulated unit.
PARTS = ("light", "camera", "speaker", "microphone")

#: A loop-back passes when the tone is this far above the noise (dB).
MIN_SNR_DB = 20.0
#: Bands the noise floor is averaged over (away from the tone, below half the sample rate).
NOISE_BANDS = 16


class PowerSupply:
    """A simulated mains supply with a backup battery that drains without mains.

    Charges at `charge_per_hour` on mains and drains at `drain_per_hour` without it; the
    simulation's `set_battery` and `set_mains` change it by hand.
    """

    def __init__(
        self,
        battery: float = 1.0,
        mains: bool = True,
        drain_per_hour: float = 0.08,
        charge_per_hour: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._battery = battery
        self.mains = mains
        self.drain_per_hour = drain_per_hour
        self.charge_per_hour = charge_per_hour
        self._clock = clock
        self._at = clock()

    @property
    def battery(self) -> float:
        """The battery's charge now, 0.0-1.0."""
        now = self._clock()
        hours = (now - self._at) / 3600
        self._at = now
        change = self.charge_per_hour if self.mains else -self.drain_per_hour
        self._battery = min(1.0, max(0.0, self._battery + change * hours))
        return self._battery

    def set_battery(self, share: float) -> None:
        """Set the charge (0.0-1.0)."""
        if not 0.0 <= share <= 1.0:
            raise ValueError("battery charge must be from 0.0 to 1.0")
        self.battery  # bring the clock forward first  # noqa: B018
        self._battery = share

    def set_mains(self, present: bool) -> None:
        """Mains power connected or lost."""
        self.battery  # noqa: B018
        self.mains = present

    def reading(self) -> dict[str, Any]:
        """What heartbeats report: `battery` (0.0-1.0) and `mains`."""
        return {"battery": round(self.battery, 3), "mains": self.mains}


@dataclass
class LoopbackResult:
    """One acoustic loop-back measurement."""

    tone_hz: float
    tone_db: float
    noise_db: float

    @property
    def snr_db(self) -> float:
        return self.tone_db - self.noise_db

    @property
    def passed(self) -> bool:
        return self.snr_db >= MIN_SNR_DB

    def as_dict(self) -> dict[str, float]:
        return {
            "tone_hz": self.tone_hz,
            "tone_db": round(self.tone_db, 1),
            "noise_db": round(self.noise_db, 1),
            "snr_db": round(self.snr_db, 1),
        }


def band_energy(samples: list[float], sample_rate: int, frequency: float) -> float:
    """The power of `samples` at `frequency` (Goertzel), normalised per sample."""
    n = len(samples)
    k = round(n * frequency / sample_rate)
    coeff = 2 * math.cos(2 * math.pi * k / n)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - coeff * s1 * s2
    return max(power / (n * n), 1e-20)


def _db(power: float) -> float:
    return 10 * math.log10(power)


@dataclass
class SimulatedAcousticPath:
    """The speaker → housing → microphone path of a simulated unit."""

    sample_rate: int = 8000
    attenuation: float = 0.3  # how much of the speaker's tone reaches the microphone
    noise: float = 0.02  # street noise, RMS
    rng: random.Random = field(default_factory=random.Random)

    def record(self, tone: list[float], speaker_ok: bool, microphone_ok: bool) -> list[float]:
        """What the microphone hears while `tone` plays (silence if a part is dead)."""
        gain = self.attenuation if speaker_ok else 0.0
        if not microphone_ok:
            return [0.0 for _ in tone]
        return [gain * x + self.rng.gauss(0.0, self.noise) for x in tone]


def acoustic_loopback(
    path: SimulatedAcousticPath,
    speaker_ok: bool = True,
    microphone_ok: bool = True,
    frequency: float = 1000.0,
    seconds: float = 0.25,
) -> LoopbackResult:
    """Play a tone, record it, and compare its energy with the noise a band away."""
    count = int(path.sample_rate * seconds)
    tone = [0.5 * math.sin(2 * math.pi * frequency * i / path.sample_rate) for i in range(count)]
    heard = path.record(tone, speaker_ok, microphone_ok)
    tone_power = band_energy(heard, path.sample_rate, frequency)
    # The noise floor: the same measurement at frequencies the tone does not contain,
    # averaged. One such band alone is as random as the noise: a silent path then stood
    # 20 dB "clear" of it in about one loop-back in a hundred, and a dead speaker passed.
    bands = [
        frequency * (1.25 + 0.15 * i)
        for i in range(NOISE_BANDS)
        if frequency * (1.25 + 0.15 * i) < path.sample_rate / 2
    ]
    noise_power = sum(band_energy(heard, path.sample_rate, f) for f in bands) / len(bands)
    return LoopbackResult(frequency, _db(tone_power), _db(noise_power))
