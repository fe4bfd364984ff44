"""One RTSP session to a camera, shared by everything in this process that shows or records it.

A reader thread opens the camera's stream with FFmpeg (PyAV), over TCP, and demultiplexes it
without decoding: each access unit (all the bytes of one picture) goes, as the camera encoded
it, to every subscriber on the event loop — browsers' peers forward H.264 as it is
(:mod:`helppoint.cameras.viewer`), clips write it to a file (:mod:`helppoint.cameras.clips`).
Only when a subscriber needs pictures (a browser that must get another codec) does the thread
also decode. The stream keeps the current group of pictures, so a new viewer starts at once
from its key frame, and, when asked, the last seconds (the pre-roll of a clip).

A camera that cannot be reached, refuses the account, is not an RTSP camera or stops sending
is reported in the stream's ``state`` and ``detail`` (for the console), and tried again with a
growing pause while anything still uses the stream. Timestamps stay monotonic across
reconnections, so a viewer's picture simply resumes.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import fractions
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import av
import av.error

from helppoint.domain.cameras import CameraAccess
from helppoint.services.clock import utcnow
from helppoint.tasks import cancel_and_wait

log = logging.getLogger(__name__)

#: Every frame is timed in RTP's video clock.
CLOCK = 90_000
TIME_BASE = fractions.Fraction(1, CLOCK)
#: Longest pause between attempts to reach a camera (seconds).
MAX_BACKOFF = 10.0
#: Frames a subscriber may fall behind before it skips to the next key frame.
MAX_BACKLOG = 90
#: Longest group of pictures kept for new viewers (frames); a camera with a longer one makes
#: a new viewer wait for its next key frame.
MAX_GOP = 300


class StreamState(enum.StrEnum):
    """What the server sees of a camera's stream."""

    IDLE = "idle"
    CONNECTING = "connecting"
    LIVE = "live"
    UNREACHABLE = "unreachable"
    UNAUTHORIZED = "unauthorized"
    NOT_FOUND = "not_found"
    NOT_RTSP = "not_rtsp"
    UNSUPPORTED = "unsupported"
    LOST = "lost"


#: States in which the stream is trying again (or about to).
FAILED = frozenset(
    {
        StreamState.UNREACHABLE,
        StreamState.UNAUTHORIZED,
        StreamState.NOT_FOUND,
        StreamState.NOT_RTSP,
        StreamState.UNSUPPORTED,
        StreamState.LOST,
    }
)


@dataclass(frozen=True, eq=False)
class EncodedFrame:
    """One picture as the camera encoded it (an H.264 access unit in Annex B, a JPEG …)."""

    data: bytes
    #: In CLOCK units, monotonic for the life of the stream object.
    pts: int
    keyframe: bool
    #: When it arrived (UTC), for clips.
    at: datetime
    codec: str


class FrameQueue:
    """A subscriber's frames: from a key frame on, skipping to the next key frame if it falls
    behind by more than ``backlog`` frames (a stalled browser never makes the server hoard)."""

    def __init__(self, backlog: int = MAX_BACKLOG) -> None:
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._backlog = backlog
        self._want_key = True
        self.skipped = 0

    def put(self, item: Any, keyframe: bool) -> None:
        if self._want_key and not keyframe:
            self.skipped += 1
            return
        self._want_key = False
        if self._queue.qsize() >= self._backlog:
            self.skipped += self._queue.qsize()
            while not self._queue.empty():
                self._queue.get_nowait()
            self._want_key = not keyframe
            if not keyframe:
                self.skipped += 1
                return
        self._queue.put_nowait(item)

    async def get(self) -> Any:
        return await self._queue.get()

    def get_nowait(self) -> Any:
        return self._queue.get_nowait()

    def qsize(self) -> int:
        return self._queue.qsize()


def nal_types(data: bytes) -> list[int]:
    """The NAL unit types of an Annex B H.264 access unit."""
    types = []
    start = data.find(b"\x00\x00\x01")
    while start >= 0 and start + 3 < len(data):
        types.append(data[start + 3] & 0x1F)
        start = data.find(b"\x00\x00\x01", start + 3)
    return types


class CameraStream:
    """The RTSP session of one camera in this process (see the module's docstring)."""

    def __init__(
        self,
        access: CameraAccess,
        *,
        timeout: float = 5.0,
        keep_seconds: float = 0.0,
        on_change: Callable[[CameraStream], None] | None = None,
    ) -> None:
        self.access = access
        self.timeout = timeout
        #: Seconds of frames held for clips' pre-roll (0: none).
        self.keep_seconds = keep_seconds
        self.state = StreamState.IDLE
        self.detail = ""
        self.codec = ""
        self.width = 0
        self.height = 0
        #: The codec's set-up bytes as the camera described them (SDP), for clip files.
        self.extradata = b""
        #: Frames received since the stream was created.
        self.frames = 0
        self.started = 0.0
        self._on_change = on_change
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._changed = asyncio.Event()
        self._subscribers: set[FrameQueue] = set()
        self._picture_subscribers: set[FrameQueue] = set()
        #: Frames since the last key frame (a new viewer starts with them).
        self._gop: list[EncodedFrame] = []
        #: The last keep_seconds of frames, from a key frame.
        self._kept: collections.deque[EncodedFrame] = collections.deque()
        self._kept_times: collections.deque[float] = collections.deque()
        #: Whether the reader thread should decode (someone wants pictures).
        self._decode = False
        #: Whether a session delivered frames (a later failure is then a lost stream).
        self._was_live = False

    # ---------- lifecycle (event loop) ----------

    def start(self) -> None:
        """Start the reader thread (the stream then keeps trying until stopped)."""
        if self._thread is not None:
            return
        self._loop = asyncio.get_running_loop()
        self.started = time.monotonic()
        self._set_state(StreamState.CONNECTING, "")
        self._thread = threading.Thread(
            target=self._run, name=f"camera-{self.access.camera_id}", daemon=True
        )
        self._thread.start()

    async def stop(self) -> None:
        """Stop reading; subscribers get nothing more."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            # The thread notices within one frame, or the read timeout on a silent camera.
            await asyncio.get_running_loop().run_in_executor(None, thread.join, self.timeout + 2)
        self._subscribers.clear()
        self._picture_subscribers.clear()
        self.state = StreamState.IDLE

    @property
    def running(self) -> bool:
        return self._thread is not None

    async def settled(self, within: float) -> StreamState:
        """Wait until the stream is live or has failed (or ``within`` seconds pass); its state."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                while self.state in (StreamState.CONNECTING, StreamState.IDLE):
                    self._changed.clear()
                    await self._changed.wait()
        return self.state

    async def wait_for(self, state: StreamState, within: float) -> None:
        """Wait until the stream is in ``state``; TimeoutError after ``within`` seconds."""
        async with asyncio.timeout(within):
            while self.state is not state:
                self._changed.clear()
                await self._changed.wait()

    def wait_from_thread(self, state: StreamState, within: float) -> None:
        """wait_for() from another thread (a test's), blocking it."""
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(self.wait_for(state, within), self._loop).result()

    # ---------- subscribers (event loop) ----------

    def subscribe(self) -> FrameQueue:
        """Encoded frames from now on, starting with the current group of pictures."""
        queue = FrameQueue()
        for frame in self._gop:
            queue.put(frame, frame.keyframe)
        self._subscribers.add(queue)
        return queue

    def subscribe_pictures(self) -> FrameQueue:
        """Decoded pictures (av.VideoFrame) from now on: the reader thread decodes for them."""
        queue = FrameQueue()
        self._picture_subscribers.add(queue)
        self._decode = True
        return queue

    def unsubscribe(self, queue: FrameQueue) -> None:
        self._subscribers.discard(queue)
        self._picture_subscribers.discard(queue)
        self._decode = bool(self._picture_subscribers)

    def kept(self) -> list[EncodedFrame]:
        """The last keep_seconds of frames, starting with a key frame (the pre-roll)."""
        return list(self._kept)

    def _deliver(self, frame: EncodedFrame) -> None:
        self.frames += 1
        if self.state is not StreamState.LIVE:
            self._set_state(StreamState.LIVE, "")
        if frame.keyframe:
            self._gop = []
        if len(self._gop) < MAX_GOP:
            self._gop.append(frame)
        if self.keep_seconds > 0:
            self._keep(frame)
        for queue in tuple(self._subscribers):
            queue.put(frame, frame.keyframe)

    def _keep(self, frame: EncodedFrame) -> None:
        now = time.monotonic()
        if not self._kept and not frame.keyframe:
            return
        self._kept.append(frame)
        self._kept_times.append(now)
        # Drop whole groups of pictures while the next group still starts before the window.
        horizon = now - self.keep_seconds
        while True:
            nxt = next((i for i, f in enumerate(self._kept) if i > 0 and f.keyframe), None)
            if nxt is None or self._kept_times[nxt] > horizon:
                break
            for _ in range(nxt):
                self._kept.popleft()
                self._kept_times.popleft()

    def _deliver_picture(self, picture: av.VideoFrame) -> None:
        for queue in tuple(self._picture_subscribers):
            queue.put(picture, picture.key_frame)

    def _set_state(self, state: StreamState, detail: str) -> None:
        changed = (state, detail) != (self.state, self.detail)
        self.state, self.detail = state, detail
        self._changed.set()
        if changed:
            if state in FAILED:
                log.warning("camera %s: %s (%s)", self.access.camera_id, state.value, detail)
            if self._on_change is not None:
                self._on_change(self)

    def _from_thread(self, callback: Callable[..., None], *args: Any) -> bool:
        loop = self._loop
        if loop is None or loop.is_closed():
            return False
        try:
            loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # the loop closed meanwhile
            return False
        return True

    # ---------- the reader thread ----------

    def _run(self) -> None:
        backoff = 1.0
        offset = 0  # pts offset that keeps timestamps monotonic across sessions
        self._was_live = False
        while not self._stop.is_set():
            # A camera that failed keeps showing why while it is tried again.
            opened_at = time.monotonic()
            try:
                container = av.open(
                    self.access.stream_url(),
                    options={
                        "rtsp_transport": "tcp",
                        "timeout": str(int(self.timeout * 1_000_000)),
                    },
                    timeout=(self.timeout, self.timeout),
                )
            except av.error.FFmpegError as exc:
                state, detail = _failure(exc)
                if self._was_live:
                    # Died mid-stream and not back yet: say so, with why it is not back.
                    state, detail = StreamState.LOST, f"the stream stopped; {detail}; trying again"
                self._from_thread(self._set_state, state, detail)
            except (OSError, EOFError, ValueError) as exc:
                state = StreamState.LOST if self._was_live else StreamState.UNREACHABLE
                detail = f"cannot open the stream ({_reason(exc)})"
                self._from_thread(self._set_state, state, detail)
            else:
                try:
                    offset = self._read(container, offset)
                finally:
                    with contextlib.suppress(Exception):
                        container.close()
                if time.monotonic() - opened_at > 30:
                    backoff = 1.0  # it worked for a while: try again soon
            if self._stop.wait(backoff):
                return
            backoff = min(MAX_BACKOFF, backoff * 2)

    def _read(self, container: Any, offset: int) -> int:
        """Demultiplex until the stream ends or the stream object stops; the next pts offset."""
        if not container.streams.video:
            self._from_thread(
                self._set_state,
                StreamState.UNSUPPORTED,
                "the camera's stream has no video",
            )
            return offset
        stream = container.streams.video[0]
        context = stream.codec_context
        codec = context.name
        self.codec = codec
        self.width, self.height = context.width, context.height
        extradata = bytes(context.extradata or b"")
        self.extradata = extradata
        decoder: Any = None
        time_base = stream.time_base or fractions.Fraction(1, CLOCK)
        first: int | None = None
        last = offset
        pending: tuple[bytearray, int | None, bool] | None = None
        try:
            for packet in container.demux(stream):
                if self._stop.is_set():
                    return last
                if packet.size == 0:
                    continue
                pts = packet.pts if packet.pts is not None else packet.dts
                # One picture may come in several packets with the same time (slices, a
                # second parameter set): forward whole pictures only.
                if pending is not None and (pending[1] is None or pending[1] == pts):
                    pending[0].extend(bytes(packet))
                    pending = (pending[0], pts, pending[2] or packet.is_keyframe)
                    continue
                if pending is not None and pending[1] is not None:
                    self._was_live = True
                    first = pending[1] if first is None else first
                    last = self._emit(pending, codec, extradata, time_base, first, offset)
                    decoder = self._decode_into(decoder, context, pending[0], codec, last)
                pending = (bytearray(bytes(packet)), pts, packet.is_keyframe)
        except (av.error.FFmpegError, OSError, EOFError) as exc:
            if not self._stop.is_set():
                self._from_thread(
                    self._set_state,
                    StreamState.LOST,
                    f"the stream stopped ({_reason(exc)}); trying again",
                )
            return last + CLOCK // 10
        if not self._stop.is_set():
            self._from_thread(
                self._set_state, StreamState.LOST, "the camera ended the stream; trying again"
            )
        return last + CLOCK // 10

    def _emit(
        self,
        pending: tuple[bytearray, int | None, bool],
        codec: str,
        extradata: bytes,
        time_base: fractions.Fraction,
        first: int,
        offset: int,
    ) -> int:
        data, pts, keyframe = bytes(pending[0]), pending[1], pending[2]
        assert pts is not None
        if codec == "h264":
            types = nal_types(data)
            keyframe = 5 in types
            if keyframe and 7 not in types and extradata.startswith(b"\x00\x00"):
                # Parameter sets only in the SDP: a browser joining here needs them in-band.
                data = extradata + data
        out = offset + int((pts - first) * time_base * CLOCK)
        self._from_thread(self._deliver, EncodedFrame(data, out, keyframe, utcnow(), codec))
        return out

    def _decode_into(
        self, decoder: Any, context: Any, data: bytearray, codec: str, pts: int
    ) -> Any:
        """Decode one picture for picture subscribers (only while there are some)."""
        if not self._decode:
            return None
        if decoder is None:
            decoder = av.CodecContext.create(codec, "r")
            if context.extradata:
                decoder.extradata = context.extradata
        packet = av.Packet(bytes(data))
        packet.pts = pts
        packet.time_base = TIME_BASE
        try:
            pictures = decoder.decode(packet)
        except av.error.FFmpegError as exc:
            log.debug("camera %s: cannot decode a picture: %s", self.access.camera_id, exc)
            return decoder
        for picture in pictures:
            picture.pts = pts
            picture.time_base = TIME_BASE
            self._from_thread(self._deliver_picture, picture)
        return decoder


def _reason(exc: BaseException) -> str:
    """An error's reason without the URL (FFmpeg's messages name it, account included)."""
    strerror = getattr(exc, "strerror", None)
    return str(strerror or type(exc).__name__)


def _failure(exc: av.error.FFmpegError) -> tuple[StreamState, str]:
    """What a failure to open the stream means for the operator."""
    reason = _reason(exc)
    if isinstance(exc, av.error.HTTPUnauthorizedError | av.error.HTTPForbiddenError):
        return (
            StreamState.UNAUTHORIZED,
            f"the camera refused the user name or password ({reason})",
        )
    if isinstance(exc, av.error.HTTPNotFoundError):
        return StreamState.NOT_FOUND, f"the camera has no stream at this address ({reason})"
    if isinstance(exc, av.error.HTTPServerError):
        return StreamState.UNREACHABLE, f"the camera answered with an error ({reason})"
    if isinstance(exc, av.error.InvalidDataError):
        return (
            StreamState.NOT_RTSP,
            f"the address answers, but not as an RTSP camera ({reason})",
        )
    return StreamState.UNREACHABLE, f"the camera cannot be reached ({reason})"


class StreamPool:
    """The camera streams of this process: one per camera, opened for its first user and
    closed once nothing has used it for ``linger`` seconds (switching incidents back and forth
    does not reconnect)."""

    def __init__(self, timeout: float = 5.0, keep_seconds: float = 0.0, linger: float = 15.0):
        self.timeout = timeout
        self.keep_seconds = keep_seconds
        self.linger = linger
        self._streams: dict[str, CameraStream] = {}
        self._users: dict[str, int] = {}
        self._idle_since: dict[str, float] = {}
        self._sweeper: asyncio.Task[None] | None = None
        #: Called (on the event loop) whenever a stream's state changes.
        self.on_change: Callable[[CameraStream], None] | None = None

    def get(self, camera_id: str) -> CameraStream | None:
        return self._streams.get(camera_id)

    def streams(self) -> list[CameraStream]:
        return list(self._streams.values())

    async def acquire(self, access: CameraAccess) -> CameraStream:
        """The camera's stream, started if need be (restarted if its address or account
        changed); pair with release()."""
        stream = self._streams.get(access.camera_id)
        if stream is not None and stream.access != access:
            await stream.stop()
            stream = None
        if stream is None:
            stream = CameraStream(
                access,
                timeout=self.timeout,
                keep_seconds=self.keep_seconds,
                on_change=self._changed,
            )
            self._streams[access.camera_id] = stream
            stream.start()
        self._users[access.camera_id] = self._users.get(access.camera_id, 0) + 1
        self._idle_since.pop(access.camera_id, None)
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep(), name="camera-streams")
        return stream

    def release(self, camera_id: str) -> None:
        users = self._users.get(camera_id, 0) - 1
        if users > 0:
            self._users[camera_id] = users
            return
        self._users.pop(camera_id, None)
        if camera_id in self._streams:
            self._idle_since[camera_id] = time.monotonic()

    async def close(self) -> None:
        if self._sweeper is not None:
            await cancel_and_wait(self._sweeper)
            self._sweeper = None
        streams, self._streams = self._streams, {}
        self._users.clear()
        self._idle_since.clear()
        await asyncio.gather(*(s.stop() for s in streams.values()))

    def _changed(self, stream: CameraStream) -> None:
        if self.on_change is not None:
            self.on_change(stream)

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(max(0.5, self.linger / 3))
            now = time.monotonic()
            for camera_id, since in list(self._idle_since.items()):
                if now - since >= self.linger and camera_id not in self._users:
                    del self._idle_since[camera_id]
                    stream = self._streams.pop(camera_id, None)
                    if stream is not None:
                        await stream.stop()
