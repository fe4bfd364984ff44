"""Recording a call's media to one WebM file: the unit's audio and video, the operator's audio.

Frames are timed by when they arrive (one clock for every stream keeps them in step) and are
written on one worker thread, so the event loop that carries the call never waits for the
file; they go to that thread in batches of 100 ms of a stream, so that a call's 100 packets a
second do not each cost a hand-over between threads (and the event loop a wake-up). Audio
arrives as the Opus packets the hub forwards and is written as it is, neither decoded nor
encoded again (WebM carries Opus): timed from its first packet's arrival by its own RTP clock,
so a packet lost in the call is a gap of its length in the file. The unit's video arrives as
the VP8 pictures the hub forwards (calls/video.py) and is written as it is; decoded audio and
video (a relayed track) are encoded here. The file's SHA-256 is computed once it is complete.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import fractions
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import av
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame, VideoFrame

from helppoint.calls.opus import OpusPacketTrack
from helppoint.calls.video import vp8_size
from helppoint.services.clock import utcnow
from helppoint.store.recording_files import sha256_of
from helppoint.tasks import cancel_and_wait

log = logging.getLogger(__name__)

MEDIA_TYPE = "video/webm"
_MS = fractions.Fraction(1, 1000)
_AUDIO = fractions.Fraction(1, 48_000)
#: Samples (48 kHz) an Opus stream's own clock may stray from the arrival clock before it is
#: set by arrival again (a unit whose stream started over with new RTP timestamps).
_AUDIO_STRAY = 48_000
#: Seconds of a stream's frames handed to the writing thread at once.
WRITE_EVERY = 0.1


@dataclass(frozen=True)
class RecordedFile:
    """A finished recording."""

    path: Path
    started_at: datetime
    ended_at: datetime
    duration: float
    size_bytes: int
    sha256: str


class CallRecorder:
    """Writes the tracks given to :meth:`add` into one file until :meth:`stop`."""

    #: Seconds to wait for the first video frame (which sets the picture size) before the file
    #: is opened anyway at the default size.
    SIZE_WAIT = 2.0
    #: Longest time stop() spends writing frames that had already arrived.
    DRAIN = 5.0

    def __init__(
        self, path: Path, width: int | None = None, height: int | None = None, fps: int = 15
    ) -> None:
        self.path = path
        #: The recorded picture size; None: the size of the camera's first frame (no rescaling).
        self.width = width
        self.height = height
        self.fps = fps
        self._tracks: list[tuple[MediaStreamTrack, str]] = []
        self._streams: list[Any] = []
        self._last_pts: list[int] = []
        self._next_sample: list[int] = []
        self._resamplers: list[Any] = []
        #: Per stream: (arrival, the packet's own time) of the Opus packet audio is timed from,
        #: both in 48 kHz samples.
        self._audio_anchor: list[tuple[int, int] | None] = []
        self._tasks: list[asyncio.Task[None]] = []
        #: Per stream: frames received (with their times) and not yet handed to the thread.
        self._batches: list[list[tuple[Any, int]]] = []
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="recorder")
        self._container: Any = None
        self._t0 = 0.0
        self._started_at: datetime | None = None
        self._failed: str | None = None
        self._closed = False
        self._stopping = False

    def add(self, track: MediaStreamTrack, title: str) -> None:
        """Record ``track`` as a stream named ``title`` (call before start)."""
        if self._container is not None:
            raise RuntimeError("add every track before starting the recorder")
        self._tracks.append((track, title))

    async def start(self) -> None:
        """Open the file and start consuming the tracks."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        loop = asyncio.get_running_loop()
        if self.width is not None or not any(t.kind == "video" for t, _ in self._tracks):
            await loop.run_in_executor(self._executor, self._open)
        else:
            # Open when the first video frame tells the picture size, or at the latest now.
            loop.call_later(self.SIZE_WAIT, self._executor.submit, self._open)
        self._t0 = time.monotonic()
        self._started_at = utcnow()
        self._batches = [[] for _ in self._tracks]
        for index, (track, _) in enumerate(self._tracks):
            self._tasks.append(asyncio.ensure_future(self._consume(index, track)))

    def _open(self) -> None:
        if self._container is not None or self._closed:
            return
        self.width = self.width or 640
        self.height = self.height or 480
        container = av.open(str(self.path), mode="w", format="webm")
        for track, title in self._tracks:
            stream: Any
            if track.kind == "audio":
                stream = container.add_stream("libopus", rate=48_000)
                stream.layout = "mono"
                stream.bit_rate = 32_000
                stream.codec_context.time_base = _AUDIO
            else:
                stream = container.add_stream("libvpx", rate=self.fps)
                stream.width = self.width
                stream.height = self.height
                stream.pix_fmt = "yuv420p"
                stream.bit_rate = 500_000
                stream.codec_context.time_base = _MS
                stream.codec_context.options = {"deadline": "realtime", "cpu-used": "8"}
            stream.metadata["title"] = title
            self._streams.append(stream)
            self._last_pts.append(-1)
            self._next_sample.append(0)
            self._resamplers.append(
                av.AudioResampler(format="s16", layout="mono", rate=48_000, frame_size=960)
            )
            self._audio_anchor.append(None)
        self._container = container

    async def _consume(self, index: int, track: MediaStreamTrack) -> None:
        loop = asyncio.get_running_loop()
        first: tuple[int, float] | None = None  # (arrival ms, the frame's own time in s)
        batch_since: float | None = None
        while True:
            if self._stopping and _backlog(track) == 0:
                return  # everything that arrived before the stop is written
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            pts = int((time.monotonic() - self._t0) * 1000)
            forwarded = isinstance(frame, av.Packet) and track.kind == "video"
            own_time = _time_of(frame) if isinstance(frame, VideoFrame) or forwarded else None
            if own_time is not None:
                # Time video by the camera's own clock from its first frame, so frames that
                # waited in a queue (a busy machine) keep their true spacing.
                if first is None:
                    first = (pts, own_time)
                pts = first[0] + int((own_time - first[1]) * 1000)
            if isinstance(frame, VideoFrame) and self.width is None:
                self.width, self.height = (
                    frame.width - frame.width % 2,
                    frame.height - frame.height % 2,
                )
                await loop.run_in_executor(self._executor, self._open)
            if forwarded and self.width is None:
                # Forwarded VP8 (calls/video.py) starts at a key frame, which says its size.
                size = vp8_size(bytes(frame))  # type: ignore[arg-type]
                if size is not None:
                    self.width, self.height = size
                    await loop.run_in_executor(self._executor, self._open)
            self._batches[index].append((frame, pts))
            now = time.monotonic()
            if batch_since is None:
                batch_since = now
            if now - batch_since < WRITE_EVERY and not self._stopping:
                continue
            batch, self._batches[index], batch_since = self._batches[index], [], None
            if not await self._hand_over(index, batch):
                return

    async def _hand_over(self, index: int, batch: list[tuple[Any, int]]) -> bool:
        """Write a batch of a stream's frames on the writing thread; False if it failed (the
        recording of that stream stops there; a broken encoder must not end the call)."""
        try:
            await asyncio.get_running_loop().run_in_executor(
                self._executor, self._write_batch, index, batch
            )
        except Exception as exc:
            if self._failed is None:
                self._failed = str(exc)
                log.exception("recording %s: cannot write a frame", self.path.name)
            return False
        return True

    def _write_batch(self, index: int, batch: list[tuple[Any, int]]) -> None:
        for frame, pts in batch:
            self._write(index, frame, pts)

    def _write(self, index: int, frame: Any, pts: int) -> None:
        if self._container is None:
            return
        stream = self._streams[index]
        # The relay hands the same frame to every consumer: never change it, copy it.
        if isinstance(frame, VideoFrame):
            picture = frame.reformat(width=self.width, height=self.height, format="yuv420p")
            if picture is frame:
                picture = VideoFrame.from_ndarray(frame.to_ndarray(), format="yuv420p")
            pts = max(pts, self._last_pts[index] + 1)
            picture.pts = pts
            picture.time_base = _MS
            self._last_pts[index] = pts
            for packet in stream.encode(picture):
                self._container.mux(packet)
        elif isinstance(frame, AudioFrame):
            copy = AudioFrame.from_ndarray(
                frame.to_ndarray(), format=frame.format.name, layout=frame.layout.name
            )
            copy.sample_rate = frame.sample_rate
            self._write_audio(index, copy, pts)
        elif isinstance(frame, av.Packet) and stream.type == "video":
            # The unit's VP8 as it encoded it: written as it is, neither decoded nor encoded.
            pts = max(pts, self._last_pts[index] + 1)
            self._last_pts[index] = pts
            frame.pts = frame.dts = pts
            frame.time_base = _MS
            frame.stream = stream
            self._container.mux(frame)
        elif isinstance(frame, av.Packet):
            # Opus as the far end encoded it, forwarded by the hub: written as it is.
            self._mux_opus(index, stream, frame, pts)

    def _mux_opus(self, index: int, stream: Any, packet: av.Packet[Any], arrived_ms: int) -> None:
        arrived = arrived_ms * 48
        own = packet.pts
        anchor = self._audio_anchor[index]
        at = arrived if anchor is None or own is None else anchor[0] + own - anchor[1]
        if anchor is None or own is None or abs(at - arrived) > _AUDIO_STRAY:
            at = arrived
            self._audio_anchor[index] = (arrived, own) if own is not None else None
        at = max(at, self._last_pts[index] + 1)
        self._last_pts[index] = at
        packet.pts = packet.dts = at
        packet.time_base = _AUDIO
        packet.stream = stream
        self._container.mux(packet)

    def _write_audio(self, index: int, frame: AudioFrame, pts: int) -> None:
        stream = self._streams[index]
        if self._last_pts[index] < 0:
            # Decoded audio starts where its first frame arrived, then counts samples: it
            # stays in step with the video however late the media began.
            self._next_sample[index] = pts * 48
        self._last_pts[index] = pts
        for out in self._resamplers[index].resample(frame):
            out.pts = self._next_sample[index]
            out.time_base = _AUDIO
            self._next_sample[index] += out.samples
            for packet in stream.encode(out):
                self._container.mux(packet)

    async def stop(self) -> RecordedFile | None:
        """Stop consuming, finish the file and checksum it; None if nothing could be written.

        Frames already received but not yet written (the recorder fell behind on a busy
        machine) are written first, for at most DRAIN seconds.
        """
        self._stopping = True
        deadline = time.monotonic() + self.DRAIN
        # Polled: a relay's queue has no event to await for "empty".
        while time.monotonic() < deadline and any(  # noqa: ASYNC110
            not task.done() and _backlog(track) > 0
            for task, (track, _) in zip(self._tasks, self._tracks, strict=False)
        ):
            await asyncio.sleep(0.02)
        await cancel_and_wait(*self._tasks, ignoring=(MediaStreamError,))
        self._tasks = []
        # The frames received since each stream's last hand-over (after any still being
        # written: the thread takes its work in order).
        for index, batch in enumerate(self._batches):
            self._batches[index] = []
            if batch:
                await self._hand_over(index, batch)
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self._close)
        finally:
            self._executor.shutdown(wait=False)
        if self._started_at is None or not self.path.exists():
            return None
        ended_at = utcnow()
        digest = await loop.run_in_executor(None, sha256_of, self.path)
        return RecordedFile(
            path=self.path,
            started_at=self._started_at,
            ended_at=ended_at,
            duration=max(0.0, (ended_at - self._started_at).total_seconds()),
            size_bytes=self.path.stat().st_size,
            sha256=digest,
        )

    def _close(self) -> None:
        self._closed = True
        container, self._container = self._container, None
        if container is None:
            return
        for stream in self._streams:
            try:
                for packet in stream.encode(None):
                    container.mux(packet)
            except Exception:  # flushing a stream that never got a frame
                log.debug("recording %s: nothing to flush in %s", self.path.name, stream)
        container.close()


def _time_of(frame: Any) -> float | None:
    """A video frame's or packet's own time in seconds (None if it has none)."""
    if isinstance(frame, VideoFrame):
        return frame.time
    if frame.pts is None or frame.time_base is None:
        return None
    return float(frame.pts * frame.time_base)


def _backlog(track: MediaStreamTrack) -> int:
    """Frames waiting in a relayed track's queue (0 for a track that has none)."""
    if isinstance(track, OpusPacketTrack):
        return track.backlog
    queue = getattr(track, "_queue", None)
    return queue.qsize() if isinstance(queue, asyncio.Queue) else 0
