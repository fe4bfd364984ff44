"""A SIP help point in tests: Debian's baresip, headless, as a third-party SIP intercom
(helppoint/sim/sip_intercom.py, which the demo runs too), and what the tests check with it."""

from __future__ import annotations

import os
import wave
from pathlib import Path

import numpy as np
import pytest

from helppoint.sim.ports import free_port
from helppoint.sim.sip_intercom import BARESIP, BaresipIntercom, write_tone

__all__ = ["BaresipDevice", "dominant_hz", "free_port", "require_sip_software", "write_tone"]

IN_CI = bool(os.environ.get("CI"))
BaresipDevice = BaresipIntercom


def require_sip_software() -> None:
    """Skip loudly where the Debian packages are missing; fail in CI, which installs them."""
    missing = [
        path
        for path in (BARESIP, "/usr/sbin/kamailio", "/usr/bin/rtpengine")
        if not Path(path).exists()
    ]
    if missing:
        message = f"SIP tests need {', '.join(missing)} (Debian: baresip kamailio rtpengine-daemon)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip("SKIPPED LOUDLY: " + message)


def dominant_hz(path: Path, skip: float = 0.5) -> tuple[float, float]:
    """The strongest frequency of a WAV file (after `skip` seconds; its first channel) and its
    RMS level."""
    with wave.open(str(path)) as recorded:
        rate = recorded.getframerate()
        channels = recorded.getnchannels()
        samples = np.frombuffer(recorded.readframes(recorded.getnframes()), "<i2")[::channels]
    samples = samples[int(skip * rate) :].astype(float)
    if len(samples) < rate // 10:
        return 0.0, 0.0
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * rate / len(samples)), float(np.sqrt(np.mean(samples**2)))
