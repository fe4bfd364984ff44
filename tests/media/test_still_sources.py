"""Where a unit's still comes from: one frame of a camera stream through PyAV, or a rendered
test pattern; both give a JPEG the server accepts."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from helppoint.agent.stills import (
    AvStills,
    StillError,
    TestPatternStills,
    still_sender,
)
from helppoint.services.stills import check_jpeg


def video_file(path: Path, width: int = 1920, height: int = 1080, frames: int = 3) -> Path:
    """A short H.264 video of a gradient, standing in for a camera's stream."""
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"  # type: ignore[union-attr]
        ramp = np.tile(np.linspace(0, 255, width, dtype=np.uint8), (height, 1))
        picture = np.dstack([ramp, ramp[::-1], np.full_like(ramp, 90)])
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, 25)
            for packet in stream.encode(frame):  # type: ignore[union-attr]
                container.mux(packet)
        for packet in stream.encode(None):  # type: ignore[union-attr]
            container.mux(packet)
    return path


def test_one_frame_from_a_stream_becomes_a_bounded_jpeg(tmp_path: Path) -> None:
    source = video_file(tmp_path / "camera.mp4")
    jpeg = AvStills(str(source)).capture()
    still = check_jpeg(jpeg)
    assert (still.width, still.height) == (1280, 720)  # scaled down to MAX_SIDE


def test_a_missing_camera_is_a_still_error_that_hides_passwords(tmp_path: Path) -> None:
    with pytest.raises(StillError, match="cannot take a still"):
        AvStills(str(tmp_path / "no-camera.mp4")).capture()
    camera = AvStills("rtsp://admin:s3cret@127.0.0.1:1/stream1", timeout=2)
    with pytest.raises(StillError) as raised:
        camera.capture()
    assert "s3cret" not in str(raised.value) and "admin:***@127.0.0.1:1" in str(raised.value)


def test_the_test_pattern_is_a_jpeg_with_its_own_size() -> None:
    still = check_jpeg(TestPatternStills("HP-01", size=(320, 200)).capture())
    assert (still.width, still.height) == (320, 200)


def test_the_setting_chooses_the_source() -> None:
    assert still_sender("ws://h:1", "HP-01", "k", "") is None
    pattern = still_sender("ws://h:1", "HP-01", "k", "test-pattern")
    assert pattern is not None and isinstance(pattern.source, TestPatternStills)
    device = still_sender("ws://h:1", "HP-01", "k", "/dev/video0")
    assert device is not None and isinstance(device.source, AvStills)
    assert device.source.input_format == "v4l2" and device.base_url == "http://h:1"
