"""What the cameras do on an activation: PTZ cameras turn to the unit's preset, every linked
camera records a clip around the press.

One process of a cluster runs this (an elected job, like the outbox): it follows the committed
incidents (the broker's incidents topic, which carries every process's changes) and takes a
press to be an activation incident whose last event is new. The first press of an incident
turns the cameras; later presses of the same incident only make its clips longer, so a camera
the operator has moved meanwhile stays where the operator put it. Nothing here can delay or
lose a press: it runs after the commit, and a camera that fails is put on the incident's
record with the reason.

Most units have no camera, and an alarm flood is mostly theirs: the job keeps which units and
zones have cameras linked (`LinkedPlaces`) and acts only on presses of those, with no look-up
per alarm. It re-reads the links whenever the registry changes (the cameras topic: at once
within the cluster), after a resync, and every minute (a change made with the command line);
after a change, until its re-read is done, every press is looked up as before. After a resync
or lost messages it keeps what it knew while it re-reads: only a camera linked in that same
moment, with its message lost, waits for the re-read (milliseconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, cast

from starlette.concurrency import run_in_threadpool

from helppoint.cameras.ptz import PtzError
from helppoint.cameras.viewer import CameraViews
from helppoint.domain.cameras import LinkedPlaces
from helppoint.gateway.broker import Broker
from helppoint.services import incident_cameras as service
from helppoint.services.clock import utcnow
from helppoint.store.uow import UnitOfWork
from helppoint.tasks import cancel_and_wait
from helppoint.topics import IncidentMessage, Topic

log = logging.getLogger(__name__)

#: A press older than this when its message arrives is not acted on (a message replayed after
#: the job moved to this process, say): turning cameras for an old press would be wrong.
FRESH = timedelta(seconds=60)
#: Seconds between re-reads of which units and zones have cameras (a change made with the
#: command line is not published: it is seen within this).
PLACES_PERIOD = 60.0


class CameraActivations:
    """Follows presses and acts on the cameras of the pressed unit."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        broker: Broker,
        cameras: CameraViews,
    ) -> None:
        self._uow_factory = uow_factory
        self._broker = broker
        self.cameras = cameras
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        #: The last event time seen of each open activation incident.
        self._seen: dict[int, str] = {}
        self._pending: set[asyncio.Task[Any]] = set()
        #: Which units and zones have cameras; None while not known (after a change, before
        #: its re-read): then every press is looked up.
        self.places: LinkedPlaces | None = None
        self._places_changed = asyncio.Event()
        self._places_task: asyncio.Task[None] | None = None
        #: Coroutines run with (incident id, unit id, first press?, press time) on each press,
        #: beside the turn to presets (clips hook in here).
        self.on_press: list[Callable[[int, str, bool, datetime], Awaitable[Any]]] = []

    async def start(self) -> None:
        """Subscribe, then return: no press committed after this is missed."""
        self._task = asyncio.create_task(self._run(), name="camera-activations")
        await self._ready.wait()

    async def stop(self) -> None:
        await cancel_and_wait(self._task, self._places_task)
        self._task = self._places_task = None
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    async def _run(self) -> None:
        async with self._broker.subscribe([Topic.INCIDENTS, Topic.CAMERAS]) as subscription:
            # Subscribed first, so that no change of the links is missed by the first read.
            self._places_task = asyncio.create_task(self._follow_places(), name="camera-places")
            self._ready.set()
            while True:
                topic, message = await subscription.get()
                if topic == Topic.CAMERAS:
                    # A change of the links: look every press up until re-read.
                    self.places = None
                    self._places_changed.set()
                elif subscription.overflowed or topic == Topic.RESYNC:
                    # Messages lost (this job fell behind a flood of alarms): re-read, but keep
                    # what was known meanwhile. Forgetting it made every press of the flood a
                    # look-up on the thread pool, which made the job fall further behind and
                    # forget again: half of the serving process's time in a flood of 30,000.
                    subscription.overflowed = False
                    self._places_changed.set()
                if topic == Topic.INCIDENTS:
                    self._on_incident(cast(IncidentMessage, message))

    async def _follow_places(self) -> None:
        """Until cancelled: read which units and zones have cameras, again on each change."""
        while True:
            self._places_changed.clear()
            try:
                places = await run_in_threadpool(service.linked_places, self._uow_factory())
            except Exception:
                log.exception("cameras: could not read the linked cameras; trying again")
                places = None
            # A change while reading: what was read may be older than it.
            if not self._places_changed.is_set():
                self.places = places
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(PLACES_PERIOD):
                    await self._places_changed.wait()

    def _on_incident(self, message: IncidentMessage) -> None:
        incident_id = int(message.get("id") or 0)
        if not incident_id or message.get("kind") != "activation":
            return
        if message.get("state") == "closed":
            self._seen.pop(incident_id, None)
            return
        last = str(message.get("last_event_at") or "")
        previous = self._seen.get(incident_id)
        if not last or last == previous:
            return
        self._seen[incident_id] = last
        try:
            at = datetime.fromisoformat(last)
        except ValueError:
            return
        if utcnow() - at > FRESH:
            return
        first = int(message.get("event_count") or 1) <= 1 and previous is None
        unit_id = str(message["unit_id"])
        places = self.places
        if places is not None and not places.has_cameras(unit_id, message.get("zone_id")):
            return
        task = asyncio.create_task(self.pressed(incident_id, unit_id, first, at))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def pressed(self, incident_id: int, unit_id: str, first: bool, at: datetime) -> None:
        """Act on one press (never raises: a failure is logged and put on the record)."""
        # Together: a clip must take its pre-roll at once, not after a slow camera's turn.
        actions: list[Any] = [self.turn_to_presets(incident_id, unit_id)] if first else []
        actions += [hook(incident_id, unit_id, first, at) for hook in self.on_press]
        for outcome in await asyncio.gather(*actions, return_exceptions=True):
            if isinstance(outcome, Exception):
                log.error(
                    "cameras of incident %d: acting on the press failed",
                    incident_id,
                    exc_info=outcome,
                )

    async def turn_to_presets(self, incident_id: int, unit_id: str) -> list[tuple[str, str, str]]:
        """Turn every linked PTZ camera with a preset for the unit; the outcomes, recorded."""
        cameras = await run_in_threadpool(
            service.press_cameras, self._uow_factory(), self.cameras.sealer(), unit_id
        )
        turns = [c for c in cameras if c.linked.preset]

        async def turn(camera: service.PressedCamera) -> tuple[str, str, str]:
            linked = camera.linked
            if camera.access is None:
                return linked.camera_id, linked.preset, camera.problem
            try:
                await self.cameras.ptz.goto_preset(camera.access, linked.preset)
            except PtzError as exc:
                return linked.camera_id, linked.preset, str(exc)
            return linked.camera_id, linked.preset, ""

        outcomes = list(await asyncio.gather(*(turn(c) for c in turns)))
        if outcomes:
            await run_in_threadpool(
                service.record_presets, self._uow_factory(), incident_id, outcomes
            )
        return outcomes


async def start_camera_job(
    uow_factory: Callable[[], UnitOfWork], broker: Broker, cameras: CameraViews
) -> Callable[[], Awaitable[None]]:
    """Start the elected cameras job in this process (turns, clips); returns its stop."""
    from helppoint.cameras.clips import ClipRecorder

    job = CameraActivations(uow_factory, broker, cameras)
    recorder: ClipRecorder | None = None
    if cameras.settings.camera_clips:
        recorder = ClipRecorder(uow_factory, cameras, broker)
        await recorder.start()
        job.on_press.append(recorder.pressed)
    await job.start()
    cameras.activations = job
    cameras.clips = recorder

    async def stop() -> None:
        await job.stop()
        if recorder is not None:
            await recorder.stop()
        cameras.activations = cameras.clips = None

    return stop
