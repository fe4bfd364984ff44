"""Reading a call's recording: the dominant frequency of each audio stream."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np


def stream_tones(path: Path, skip: float = 1.0) -> dict[str, tuple[float, float]]:
    """{stream title: (dominant Hz, RMS)} of every audio stream of a recording."""
    found: dict[str, tuple[float, float]] = {}
    with av.open(str(path)) as container:
        titles = {s.index: s.metadata.get("title", "") for s in container.streams.audio}
    for index, title in titles.items():
        with av.open(str(path)) as container:
            stream = container.streams[index]
            chunks = []
            rate = 48000
            for frame in container.decode(stream):
                rate = frame.sample_rate
                samples = frame.to_ndarray()
                if samples.ndim == 2 and samples.shape[0] > 1 and not frame.format.is_planar:
                    samples = samples.reshape(-1, frame.layout.nb_channels).T
                chunks.append(samples[0].astype(float).ravel())
        data = np.concatenate(chunks) if chunks else np.zeros(1)
        data = data[int(skip * rate) :]
        if data.size < rate // 10:
            found[title] = (0.0, 0.0)
            continue
        spectrum = np.abs(np.fft.rfft(data * np.hanning(data.size)))
        found[title] = (
            float(np.argmax(spectrum) * rate / data.size),
            float(np.sqrt(np.mean(data**2))),
        )
    return found
