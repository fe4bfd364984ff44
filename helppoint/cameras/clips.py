"""Clips around a press: what each linked camera saw before it and for a while after.

The elected cameras job (helppoint/cameras/activation.py) keeps an RTSP session open to every
linked camera while ``camera_preroll_seconds`` > 0, and each session holds that many seconds of
the camera's encoded stream in memory (from a key frame). On a press, a clip starts with those
frames and goes on with the live ones until ``camera_clip_seconds`` after the incident's last
press: a repeat press makes the clip longer, never a second clip. The frames are written as
the camera encoded them, not decoded or re-encoded: H.264 into fragmented MP4 (playable in a
browser, and readable up to the last fragment if the server stops mid-clip), other codecs into
Matroska. Files are written on a thread of their own, one per clip; the checksum is taken once
the file is complete. docs/cameras.md explains the choice.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import av
from starlette.concurrency import run_in_threadpool

from helppoint.cameras.stream import (
    TIME_BASE,
    CameraStream,
    EncodedFrame,
    FrameQueue,
    StreamState,
)
from helppoint.cameras.viewer import CameraViews
from helppoint.domain.cameras import CameraAccess, ClipState
from helppoint.gateway.broker import Broker
from helppoint.services import camera_clips as clip_service
from helppoint.services import incident_cameras as camera_service
from helppoint.services.clock import utcnow
from helppoint.store.recording_files import recordings_path, sha256_of
from helppoint.store.uow import UnitOfWork
from helppoint.tasks import cancel_and_wait
from helppoint.topics import Topic

log = logging.getLogger(__name__)

#: Seconds between re-reading which cameras are linked (to hold their sessions open).
RESYNC_PERIOD = 60.0
#: Seconds between retention sweeps of clips.
PURGE_PERIOD = 3600.0
#: Seconds a clip waits past its end for the frame that covers the end (the first stamped at or
#: after it), so that the clip reaches the end rather than stopping a frame short of it.
END_FRAME_WAIT = 1.0
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def parameter_sets(access_unit: bytes) -> bytes:
    """The SPS and PPS of an Annex B H.264 access unit, with their start codes."""
    found = []
    starts = [m.end() for m in re.finditer(b"\x00\x00\x01", access_unit)]
    for i, start in enumerate(starts):
        end = starts[i + 1] - 3 if i + 1 < len(starts) else len(access_unit)
        nal = access_unit[start:end].rstrip(b"\x00")
        if nal and nal[0] & 0x1F in (7, 8):
            found.append(b"\x00\x00\x00\x01" + nal)
    return b"".join(found)


class ClipFileWriter:
    """Writes encoded frames into one file (call only from one thread)."""

    def __init__(self, path: Path, codec: str, width: int, height: int, extradata: bytes) -> None:
        self.path = path
        self.codec = codec
        self.width = width
        self.height = height
        self.extradata = extradata
        self._container: Any = None
        self._stream: Any = None
        self._first: int | None = None
        self._last = -1
        self.frames = 0

    @staticmethod
    def media_type(codec: str) -> str:
        return "video/mp4" if codec == "h264" else "video/x-matroska"

    @staticmethod
    def suffix(codec: str) -> str:
        return ".mp4" if codec == "h264" else ".mkv"

    def write(self, frame: EncodedFrame) -> None:
        if self._container is None:
            if not frame.keyframe:
                return
            self._open(frame)
        assert self._first is not None
        pts = frame.pts - self._first
        if pts <= self._last:
            return  # already written (the pre-roll and the live frames overlap)
        packet = av.Packet(frame.data)
        packet.pts = packet.dts = pts
        packet.time_base = TIME_BASE
        packet.stream = self._stream
        packet.is_keyframe = frame.keyframe
        self._container.mux(packet)
        self._last = pts
        self.frames += 1

    def close(self) -> None:
        container, self._container = self._container, None
        if container is not None:
            container.close()

    def _open(self, frame: EncodedFrame) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.codec == "h264":
            container = av.open(
                str(self.path),
                "w",
                format="mp4",
                options={"movflags": "frag_keyframe+empty_moov+default_base_moof"},
            )
            extradata = parameter_sets(frame.data) or self.extradata
        else:
            container = av.open(str(self.path), "w", format="matroska")
            extradata = self.extradata
        stream: Any = container.add_stream(self.codec)
        stream.width = self.width or 320
        stream.height = self.height or 240
        stream.time_base = TIME_BASE
        if extradata:
            stream.codec_context.extradata = extradata
        self._container, self._stream = container, stream
        self._first = frame.pts


@dataclass(eq=False)
class RecordingClip:
    """A clip being recorded by this process."""

    clip_id: int
    incident_id: int
    camera_id: str
    pressed_at: datetime
    until: datetime
    task: asyncio.Task[None] | None = None
    extended: asyncio.Event = field(default_factory=asyncio.Event)


class ClipRecorder:
    """Records the clips of presses; holds the linked cameras' sessions for their pre-roll."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        cameras: CameraViews,
        broker: Broker | None = None,
        server_id: str = "",
    ) -> None:
        self._uow_factory = uow_factory
        self.cameras = cameras
        self._broker = broker
        self._wake = asyncio.Event()
        settings = cameras.settings
        self.server_id = server_id or uuid.uuid4().hex[:16]
        self.directory = recordings_path(settings)
        self.retention = timedelta(days=settings.recording_retention_days)
        self.after = timedelta(seconds=settings.camera_clip_seconds)
        self.preroll = settings.camera_preroll_seconds
        self._clips: dict[tuple[int, str], RecordingClip] = {}
        #: Cameras whose clip failed, until when that clip would have ended: presses before
        #: then do not try again (an alarm flood would otherwise put one failure per press on
        #: the record); a later press does.
        self._failed_until: dict[tuple[int, str], datetime] = {}
        self._held: dict[str, CameraAccess] = {}
        self._task: asyncio.Task[None] | None = None
        self._follower: asyncio.Task[None] | None = None

    @property
    def recording(self) -> list[RecordingClip]:
        return list(self._clips.values())

    async def start(self) -> None:
        """Close what a stopped server left recording, then hold the linked cameras open."""
        stale = await run_in_threadpool(
            clip_service.end_stale_clips, self._uow_factory(), self.directory, self.retention
        )
        if stale:
            log.warning("closed %d clip(s) left unfinished by a server that stopped", stale)
        self._task = asyncio.create_task(self._housekeeping(), name="camera-clips")
        if self._broker is not None:
            following = asyncio.Event()
            self._follower = asyncio.create_task(self._follow_changes(following))
            await following.wait()

    async def stop(self) -> None:
        """Finish every clip now (interrupted) and let go of the cameras."""
        await cancel_and_wait(self._task, self._follower)
        self._task = self._follower = None
        for clip in list(self._clips.values()):
            if clip.task is not None:
                clip.task.cancel()
        await asyncio.gather(
            *(c.task for c in self._clips.values() if c.task is not None), return_exceptions=True
        )
        for camera_id in list(self._held):
            self.cameras.pool.release(camera_id)
        self._held.clear()

    async def pressed(self, incident_id: int, unit_id: str, first: bool, at: datetime) -> None:
        """A press: start a clip from each of the unit's cameras, or make theirs longer."""
        pressed = await run_in_threadpool(
            camera_service.press_cameras, self._uow_factory(), self.cameras.sealer(), unit_id
        )
        until = at + self.after
        for camera in pressed:
            key = (incident_id, camera.linked.camera_id)
            current = self._clips.get(key)
            if current is not None:
                current.until = max(current.until, until)
                current.extended.set()
                continue
            if key in self._failed_until and at < self._failed_until[key]:
                continue
            self._failed_until.pop(key, None)
            if camera.access is None:
                await self._failed(
                    incident_id, unit_id, camera.linked.camera_id, at, camera.problem
                )
                continue
            await self._start(incident_id, unit_id, camera.access, at, until)

    async def _start(
        self,
        incident_id: int,
        unit_id: str,
        access: CameraAccess,
        at: datetime,
        until: datetime,
    ) -> None:
        stream = await self.cameras.pool.acquire(access)
        queue: FrameQueue | None = None
        try:
            # The pre-roll and the live frames are taken together (no await between), so no
            # frame falls between them.
            kept = stream.kept() if stream.state is StreamState.LIVE else []
            queue = stream.subscribe()
            started_at = kept[0].at if kept else at
            codec = stream.codec or "h264"
            name = f"clip-{_SAFE.sub('_', access.camera_id)}-{uuid.uuid4().hex[:12]}"
            relative = Path(f"incident-{incident_id:06d}") / (name + ClipFileWriter.suffix(codec))
            clip_id = await run_in_threadpool(
                clip_service.clip_started,
                self._uow_factory(),
                incident_id=incident_id,
                camera_id=access.camera_id,
                unit_id=unit_id,
                path=str(relative),
                media_type=ClipFileWriter.media_type(codec),
                pressed_at=at,
                started_at=started_at,
                server=self.server_id,
            )
        except BaseException:
            if queue is not None:
                stream.unsubscribe(queue)
            self.cameras.pool.release(access.camera_id)
            raise
        clip = RecordingClip(clip_id, incident_id, access.camera_id, at, until)
        self._clips[(incident_id, access.camera_id)] = clip
        clip.task = asyncio.create_task(self._record(clip, stream, kept, queue, relative))

    async def _record(
        self,
        clip: RecordingClip,
        stream: CameraStream,
        kept: list[EncodedFrame],
        queue: FrameQueue,
        relative: Path,
    ) -> None:
        path = self.directory / relative
        executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="clip")
        loop = asyncio.get_running_loop()
        writer: ClipFileWriter | None = None
        first_at: datetime | None = kept[0].at if kept else None
        last_at = clip.pressed_at
        state, detail = ClipState.RECORDED, ""
        lost = False
        try:
            settle = self.cameras.settings.camera_timeout + 1
            if await stream.settled(settle) is not StreamState.LIVE and not kept:
                state, detail = ClipState.FAILED, stream.detail or "the camera sent nothing"
                return
            writer = ClipFileWriter(
                path, stream.codec, stream.width, stream.height, stream.extradata
            )
            for frame in kept:
                await loop.run_in_executor(executor, writer.write, frame)
            # Every frame stamped before the end is written, however late this loop gets to
            # it (a busy server), and so is the first stamped at or after the end, so that the
            # clip covers the whole time; it is waited for END_FRAME_WAIT past the end.
            while True:
                if queue.qsize():
                    frame = queue.get_nowait()
                else:
                    remaining = (clip.until - utcnow()).total_seconds() + END_FRAME_WAIT
                    if remaining <= 0:
                        break
                    clip.extended.clear()
                    getter = asyncio.ensure_future(queue.get())
                    extended = asyncio.ensure_future(clip.extended.wait())
                    done, _ = await asyncio.wait(
                        {getter, extended}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                    )
                    extended.cancel()
                    if getter not in done:
                        getter.cancel()
                        continue
                    frame = getter.result()
                if frame.at > clip.until + timedelta(seconds=END_FRAME_WAIT):
                    break  # the camera came back only after the clip's end
                lost = lost or stream.state is StreamState.LOST
                await loop.run_in_executor(executor, writer.write, frame)
                first_at = first_at or frame.at
                last_at = frame.at
                if frame.at >= clip.until:
                    break
        except asyncio.CancelledError:
            state, detail = ClipState.INTERRUPTED, "the server stopped while recording"
        except Exception as exc:  # a file that cannot be written: say so, keep what was
            log.exception("clip %d: recording failed", clip.clip_id)
            state, detail = ClipState.INTERRUPTED, f"the recording failed ({exc})"
        finally:
            stream.unsubscribe(queue)
            self.cameras.pool.release(clip.camera_id)
            self._clips.pop((clip.incident_id, clip.camera_id), None)
            await self._finish(clip, writer, executor, state, detail, lost, first_at, last_at)

    async def _finish(
        self,
        clip: RecordingClip,
        writer: ClipFileWriter | None,
        executor: concurrent.futures.ThreadPoolExecutor,
        state: ClipState,
        detail: str,
        lost: bool,
        first_at: datetime | None,
        last_at: datetime,
    ) -> None:
        loop = asyncio.get_running_loop()
        size, digest, empty = 0, "", True
        try:
            if writer is not None:
                await loop.run_in_executor(executor, writer.close)
                if writer.frames and writer.path.exists():
                    empty = False
                    size = writer.path.stat().st_size
                    digest = await loop.run_in_executor(executor, sha256_of, writer.path)
                else:
                    writer.path.unlink(missing_ok=True)
        finally:
            executor.shutdown(wait=False)
        if empty and state is not ClipState.FAILED:
            state, detail = ClipState.FAILED, detail or "no picture arrived from the camera"
        if state is ClipState.FAILED:
            self._failed_until[(clip.incident_id, clip.camera_id)] = clip.until
        elif lost and not detail:
            detail = "the camera's stream was lost for a while during the clip"
        finished = clip_service.ClipFile(
            state=state,
            started_at=first_at or clip.pressed_at,
            ended_at=max(last_at, first_at or last_at),
            size_bytes=size,
            sha256=digest,
            detail=detail,
            empty=empty,
        )
        try:
            await run_in_threadpool(
                clip_service.clip_finished,
                self._uow_factory(),
                clip.clip_id,
                finished,
                self.retention,
            )
        except Exception:
            log.exception("clip %d: could not record its end", clip.clip_id)

    async def _failed(
        self, incident_id: int, unit_id: str, camera_id: str, at: datetime, problem: str
    ) -> None:
        self._failed_until[(incident_id, camera_id)] = at + self.after
        clip_id = await run_in_threadpool(
            clip_service.clip_started,
            self._uow_factory(),
            incident_id=incident_id,
            camera_id=camera_id,
            unit_id=unit_id,
            path="",
            media_type="",
            pressed_at=at,
            started_at=at,
            server=self.server_id,
        )
        failed = clip_service.ClipFile(ClipState.FAILED, at, at, detail=problem, empty=True)
        await run_in_threadpool(
            clip_service.clip_finished, self._uow_factory(), clip_id, failed, self.retention
        )

    async def _housekeeping(self) -> None:
        """Until cancelled: hold every linked camera's session open (for the pre-roll) and
        delete clips past retention every hour."""
        loop = asyncio.get_running_loop()
        last_purge = -PURGE_PERIOD
        while True:
            if self.preroll > 0:
                try:
                    await self._hold_linked()
                except Exception:
                    log.exception("cameras: could not read the linked cameras; trying again")
            if loop.time() - last_purge >= PURGE_PERIOD:
                last_purge = loop.time()
                try:
                    purged = await run_in_threadpool(
                        clip_service.purge_clips, self._uow_factory, self.directory
                    )
                    if purged:
                        log.info("retention: deleted %d clip(s) past retention", purged)
                except Exception:
                    log.exception("clip retention sweep failed; it runs again in an hour")
            # A change to the registry (this cluster's) wakes it at once; one made from the
            # command line is seen within RESYNC_PERIOD.
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(RESYNC_PERIOD):
                    await self._wake.wait()

    async def _follow_changes(self, following: asyncio.Event) -> None:
        assert self._broker is not None
        async with self._broker.subscribe([Topic.CAMERAS]) as subscription:
            following.set()
            while True:
                await subscription.get()
                self._wake.set()

    async def _hold_linked(self) -> None:
        linked = await run_in_threadpool(
            camera_service.linked_camera_accesses, self._uow_factory(), self.cameras.sealer()
        )
        wanted = {access.camera_id: access for access in linked}
        for camera_id, access in list(self._held.items()):
            if wanted.get(camera_id) != access:
                self.cameras.pool.release(camera_id)
                del self._held[camera_id]
        for camera_id, access in wanted.items():
            if camera_id not in self._held:
                await self.cameras.pool.acquire(access)
                self._held[camera_id] = access
