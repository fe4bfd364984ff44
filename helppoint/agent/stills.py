"""Camera stills: on activation the unit takes one picture and sends it to the server.

:class:`TestPatternStills` renders a test pattern with the unit id and the time (simulation);
:class:`AvStills` grabs one frame from the camera through PyAV (a V4L2 device such as
``/dev/video0`` or the ONVIF camera's RTSP URL). :class:`StillSender` takes the still on a
background thread and uploads it over HTTPS with the unit key, retrying until the activation
it belongs to is stored; nothing here ever delays or blocks the press itself.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import httpx

log = logging.getLogger(__name__)

#: Longest side of a still the unit sends; larger frames are scaled down.
MAX_SIDE = 1280
JPEG_QUALITY = 80
#: The server's size limit (services/stills.MAX_STILL_BYTES).
MAX_BYTES = 1024 * 1024


class StillError(Exception):
    """No still could be taken (no camera, camera unreachable, no frame)."""


class StillSource(Protocol):
    """Anything that can take one JPEG picture now."""

    def capture(self) -> bytes:
        """One JPEG picture, or StillError."""
        ...


def _jpeg(image: Any) -> bytes:
    """Encode a Pillow image as a JPEG no larger than MAX_SIDE and MAX_BYTES."""
    image = image.convert("RGB")
    if max(image.size) > MAX_SIDE:
        image.thumbnail((MAX_SIDE, MAX_SIDE))
    quality = JPEG_QUALITY
    while True:
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=quality)
        data = buffer.getvalue()
        if len(data) <= MAX_BYTES or quality <= 30:
            return data
        quality -= 15


class TestPatternStills:
    """A rendered test pattern with the unit id and the UTC time: the still of a simulated unit."""

    __test__ = False  # not a pytest test class, whatever its name says

    def __init__(self, unit_id: str, size: tuple[int, int] = (640, 360)) -> None:
        self.unit_id = unit_id
        self.size = size

    def capture(self) -> bytes:
        """Draw colour bars, the unit id and the time, as a JPEG."""
        from PIL import Image, ImageDraw

        width, height = self.size
        image = Image.new("RGB", self.size)
        draw = ImageDraw.Draw(image)
        bars = [
            (192, 192, 192),
            (192, 192, 0),
            (0, 192, 192),
            (0, 192, 0),
            (192, 0, 192),
            (192, 0, 0),
            (0, 0, 192),
        ]
        step = width / len(bars)
        for index, colour in enumerate(bars):
            draw.rectangle(
                [int(index * step), 0, int((index + 1) * step), height * 2 // 3], fill=colour
            )
        draw.rectangle([0, height * 2 // 3, width, height], fill=(16, 16, 16))
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        draw.text((16, height * 2 // 3 + 12), f"help point {self.unit_id}", fill=(255, 255, 255))
        draw.text((16, height * 2 // 3 + 36), now, fill=(255, 255, 255))
        draw.text((16, height * 2 // 3 + 60), "SIMULATED CAMERA", fill=(255, 216, 77))
        return _jpeg(image)


class AvStills:
    """One frame from a camera through PyAV: a device (``/dev/video0``) or an RTSP URL."""

    def __init__(self, source: str, *, timeout: float = 10.0, input_format: str | None = None):
        self.source = source
        self.timeout = timeout
        # A /dev/videoN path is a V4L2 device, which FFmpeg must be told.
        self.input_format = input_format or ("v4l2" if source.startswith("/dev/video") else None)

    def capture(self) -> bytes:
        """Open the source, decode the first video frame, close; StillError on any failure."""
        import av

        options = {"rtsp_transport": "tcp"} if self.source.startswith("rtsp") else {}
        try:
            with av.open(
                self.source,
                format=self.input_format,
                options=options,
                timeout=self.timeout,
            ) as container:
                if not container.streams.video:
                    raise StillError(f"{self._name()} has no video stream")
                for frame in container.decode(video=0):
                    return _jpeg(frame.to_image())  # type: ignore[no-untyped-call]
        except (av.FFmpegError, OSError) as exc:
            # FFmpeg's message names the URL, password included: keep only the reason.
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise StillError(f"cannot take a still from {self._name()}: {reason}") from None
        raise StillError(f"{self._name()} gave no video frame")

    def _name(self) -> str:
        # Never log the password of an rtsp://user:password@host URL.
        parts = urlsplit(self.source)
        if parts.password:
            host = parts.hostname or ""
            netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
            return urlunsplit(parts._replace(netloc=netloc))
        return self.source


def http_base(server_url: str) -> str:
    """The server's HTTP address for a device-link URL: ``ws://h:p/device/v1`` → ``http://h:p``."""
    parts = urlsplit(server_url.strip())
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    if scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"server URL {server_url!r} must look like http(s):// or ws(s)://HOST")
    return urlunsplit((scheme, parts.netloc, "", "", ""))


def upload_still(
    client: httpx.Client,
    base_url: str,
    unit_id: str,
    key: str,
    seq: int,
    taken_at: datetime,
    jpeg: bytes,
) -> httpx.Response:
    """POST one still to the server (no retries)."""
    return client.post(
        f"{base_url}/api/units/{unit_id}/stills",
        params={"seq": seq, "taken_at": taken_at.isoformat()},
        content=jpeg,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "image/jpeg"},
    )


class StillSender:
    """Takes a still and uploads it for an activation, in the background."""

    def __init__(
        self,
        server_url: str,
        unit_id: str,
        key: str,
        source: StillSource,
        *,
        attempts: int = 8,
        first_delay: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 15.0,
    ) -> None:
        self.base_url = http_base(server_url)
        self.unit_id = unit_id
        self._key = key
        self.source = source
        self.attempts = attempts
        self.first_delay = first_delay
        self._sleep = sleep
        self._timeout = timeout
        self.sent: list[int] = []  # seqs whose still the server stored
        self.failures = 0
        self._done = threading.Condition()
        self._busy = 0

    def send_for(self, seq: int) -> threading.Thread:
        """Start taking and sending the still for activation ``seq``; returns the thread."""
        with self._done:
            self._busy += 1
        thread = threading.Thread(
            target=self._run, args=(seq,), name=f"still-{self.unit_id}-{seq}", daemon=True
        )
        thread.start()
        return thread

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no still is being sent (tests and shutdown)."""
        with self._done:
            return self._done.wait_for(lambda: self._busy == 0, timeout)

    def _run(self, seq: int) -> None:
        try:
            self.send(seq)
        finally:
            with self._done:
                self._busy -= 1
                self._done.notify_all()

    def send(self, seq: int) -> bool:
        """Take and upload the still for ``seq`` now; True once the server stored it."""
        taken_at = datetime.now(UTC)
        try:
            jpeg = self.source.capture()
        except StillError as exc:
            self.failures += 1
            log.warning("%s: no still for activation %d: %s", self.unit_id, seq, exc)
            return False
        delay = self.first_delay
        with httpx.Client(timeout=self._timeout) as client:
            for attempt in range(1, self.attempts + 1):
                try:
                    response = upload_still(
                        client, self.base_url, self.unit_id, self._key, seq, taken_at, jpeg
                    )
                except httpx.HTTPError as exc:
                    log.info("%s: still upload attempt %d failed: %s", self.unit_id, attempt, exc)
                else:
                    if response.status_code == 201:
                        self.sent.append(seq)
                        return True
                    if response.status_code not in (409, 429, 502, 503, 504):
                        # Retrying the same bytes will not change the server's mind.
                        self.failures += 1
                        log.error(
                            "%s: server refused the still for %d: %s %s",
                            self.unit_id,
                            seq,
                            response.status_code,
                            response.text[:300],
                        )
                        return False
                if attempt < self.attempts:
                    self._sleep(delay)
                    delay = min(delay * 2, 30.0)
        self.failures += 1
        log.error("%s: still for activation %d not delivered", self.unit_id, seq)
        return False


def still_sender(server_url: str, unit_id: str, key: str, source: str) -> StillSender | None:
    """The sender for the ``still_source`` setting ("" none, "test-pattern", device or URL)."""
    if not source.strip():
        return None
    camera: StillSource
    if source.strip() == "test-pattern":
        camera = TestPatternStills(unit_id)
    else:
        camera = AvStills(source.strip())
    return StillSender(server_url, unit_id, key, camera)
