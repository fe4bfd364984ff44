"""The server as media hub of calls: one WebRTC peer towards the unit, one towards the operator.

The operator's browser posts an offer (``POST /api/incidents/{id}/call``). The hub then offers
a call to the unit over its device link (``call_offer`` → ``call_answer``, docs/calls.md),
forwards the encoded Opus audio each way as it arrives (no jitter buffer, no decoding:
:mod:`helppoint.calls.opus`), forwards the unit's VP8 video to the browser as it was encoded
(:mod:`helppoint.calls.video`),
records all three, and answers the browser. A call ends when the operator
hangs up, the incident closes, the unit's link or either media path drops, or the server stops;
the end and the recording (with its SHA-256) are put on the record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol, cast

from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.contrib.media import MediaRelay
from starlette.concurrency import run_in_threadpool

from helppoint.calls.listen import PressListens
from helppoint.calls.opus import (
    OpusPacketTap,
    opus_only,
    opus_payload_types,
    tap_audio,
    transceiver_of,
)
from helppoint.calls.recorder import MEDIA_TYPE, CallRecorder
from helppoint.calls.video import (
    VideoPacketTap,
    forward_keyframe_requests,
    prefers_vp8,
    tap_video,
    vp8_only,
)
from helppoint.config import Settings
from helppoint.domain.calls import EndReason
from helppoint.domain.errors import DomainError, InvalidInput, InvalidTransition
from helppoint.gateway.broker import Broker
from helppoint.gateway.device_link import DeviceLinkHub, UnitNotConnected
from helppoint.gateway.frames import CallAnswer, CallEnd
from helppoint.services import calls as call_service
from helppoint.services import stills as still_service
from helppoint.store.recording_files import recordings_path
from helppoint.store.uow import UnitOfWork
from helppoint.tasks import cancel_and_wait
from helppoint.topics import CallMessage, IncidentMessage, Topic

log = logging.getLogger(__name__)

MAX_OFFER = 32 * 1024
#: Seconds between retention sweeps of recordings.
RETENTION_SWEEP_PERIOD = 3600.0
#: How often calls relayed by a process that has gone are ended (seconds).
STALE_CALL_PERIOD = 60.0


class CallError(Exception):
    """A call could not be set up; the message says why and what still works."""


class UnitUnavailable(CallError):
    """The unit has no live link, so it cannot be called now."""


class CallSetupFailed(CallError):
    """The unit did not answer the offer in time, refused it, or the media could not start."""


def ice_servers(settings: Settings) -> list[RTCIceServer]:
    """The configured STUN/TURN servers; none by default (host candidates only)."""
    servers = []
    for url in filter(None, (u.strip() for u in settings.ice_servers.split(","))):
        if url.startswith(("turn:", "turns:")):
            servers.append(
                RTCIceServer(
                    urls=url,
                    username=settings.turn_username or None,
                    credential=settings.turn_password or None,
                )
            )
        else:
            servers.append(RTCIceServer(urls=url))
    return servers


def browser_ice_servers(settings: Settings) -> list[dict[str, Any]]:
    """The same servers in the shape a browser's RTCPeerConnection takes."""
    return [
        {
            k: v
            for k, v in (("urls", s.urls), ("username", s.username), ("credential", s.credential))
            if v
        }
        for s in ice_servers(settings)
    ]


@dataclass(eq=False)
class ActiveCall:
    """A call in progress and its two peers."""

    token: str
    incident_id: int
    unit_id: str
    operator: str
    browser: RTCPeerConnection
    unit: RTCPeerConnection
    recorder: CallRecorder | None
    talk: bool
    video: bool
    detail: str
    call_id: int | None = None
    ending: bool = False
    tracks: list[MediaStreamTrack] = field(default_factory=list)
    #: The taps (operator's and unit's audio, unit's video): forwarded packets come from these.
    taps: list[OpusPacketTap | VideoPacketTap] = field(default_factory=list)
    #: Ends the unit's side when it is not reached over the device link (a SIP unit's BYE).
    unit_hangup: Callable[[], Awaitable[None]] | None = None


class ExternalUnitLegs(Protocol):
    """Units whose side of a call is not the device link: SIP help points (helppoint/sip/).

    A call of theirs waits for an operator with its unit's WebRTC offer; `open_leg` answers
    it on the hub's unit peer (tapping its Opus audio as the hub's own offer would) and tells
    the unit, and returns the tap, what media the unit sends and how to hang up. With no call
    waiting, `call_unit` calls the unit with the hub's offer and returns the same.
    """

    def waiting_call(self, incident_id: int) -> object | None: ...

    def reachable(self, unit_id: str) -> bool: ...

    async def open_leg(
        self, waiting: object, unit: RTCPeerConnection, operator_audio: MediaStreamTrack | None
    ) -> tuple[OpusPacketTap, dict[str, Any], Callable[[], Awaitable[None]]]: ...

    async def call_unit(
        self,
        unit_id: str,
        incident_id: int,
        unit: RTCPeerConnection,
        operator_audio: MediaStreamTrack | None,
        answer_within: float,
    ) -> tuple[OpusPacketTap, dict[str, Any], Callable[[], Awaitable[None]]]: ...


class CallHub:
    """Sets up, relays, records and ends calls (one per incident at a time)."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        device_link: DeviceLinkHub,
        broker: Broker,
        settings: Settings,
        server_id: str = "",
        alive: Callable[[], set[str]] | None = None,
    ) -> None:
        #: This server process (calls record it: a call dies with the process relaying it).
        self.server_id = server_id or uuid.uuid4().hex[:16]
        #: The live server processes of a cluster (None: this one is the only one).
        self._alive = alive
        self._uow_factory = uow_factory
        self._link = device_link
        self._broker = broker
        self.settings = settings
        self.recordings_dir = recordings_path(settings)
        self.retention = timedelta(days=settings.recording_retention_days)
        self._calls: dict[int, ActiveCall] = {}
        #: Offers waiting for the unit's answer: token -> (unit id, future).
        self._answers: dict[str, tuple[str, asyncio.Future[CallAnswer]]] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._watcher: asyncio.Task[None] | None = None
        self._ending: set[asyncio.Future[Any]] = set()
        #: Press-time audio: listening to units as they are pressed (docs/triage.md).
        self.listens = PressListens(
            uow_factory,
            device_link,
            broker,
            settings,
            self.recordings_dir,
            lambda: RTCConfiguration(iceServers=ice_servers(settings)),
            lambda: browser_ice_servers(settings),
            self.server_id,
        )
        #: SIP help points' calls, when the SIP gateway runs in this process.
        self.external: ExternalUnitLegs | None = None

    # ---------- lifecycle ----------

    async def start(self) -> None:
        """Watch for incidents closing mid-call (housekeeping runs as an elected job)."""
        self._watcher = asyncio.create_task(self._watch_incidents())
        await self.listens.start()

    async def end_stale_calls(self) -> int:
        """End calls whose relaying process is gone (stopped, crashed) and say so."""
        alive: set[str] = set()
        if self._alive is not None:
            alive = await run_in_threadpool(self._alive)
        alive.add(self.server_id)
        stale = await run_in_threadpool(call_service.end_stale_calls, self._uow_factory(), alive)
        if stale:
            log.warning("ended %d call(s) whose server process had stopped", stale)
        return stale

    async def housekeeping(self) -> None:
        """Until cancelled: end calls of dead processes every minute, delete recordings past
        retention (not on hold) every hour. One process of a cluster runs it."""
        last_purge = -RETENTION_SWEEP_PERIOD
        loop = asyncio.get_running_loop()
        while True:
            try:
                await self.end_stale_calls()
            except Exception:
                log.exception("ending stale calls failed; trying again in a minute")
            if loop.time() - last_purge >= RETENTION_SWEEP_PERIOD:
                last_purge = loop.time()
                await self._purge_once()
            await asyncio.sleep(STALE_CALL_PERIOD)

    async def stop(self) -> None:
        """End every call (the record says the server stopped)."""
        await cancel_and_wait(self._watcher)
        await self.listens.stop()
        for active in list(self._calls.values()):
            await self._end(active, EndReason.SERVER_STOPPED, "system")
        if self._ending:
            await asyncio.gather(*self._ending, return_exceptions=True)

    # ---------- operator actions ----------

    def active(self, incident_id: int) -> dict[str, Any] | None:
        """The incident's call in progress, or None."""
        active = self._calls.get(incident_id)
        if active is None:
            return None
        return {
            "incident_id": incident_id,
            "call_id": active.call_id,
            "unit_id": active.unit_id,
            "operator": active.operator,
            "talk": active.talk,
            "video": active.video,
            "detail": active.detail,
            "state": "connected",
        }

    async def answer(
        self, incident_id: int, operator: str, offer_sdp: str, address: str | None = None
    ) -> dict[str, Any]:
        """Connect the operator's browser (its SDP offer) to the incident's unit; the SDP answer.

        An existing call of the incident is replaced (this is how a dropped call is
        re-established).
        """
        if not offer_sdp.strip() or len(offer_sdp) > MAX_OFFER:
            raise InvalidInput(f"the offer must be an SDP text of at most {MAX_OFFER} characters")
        target = await run_in_threadpool(call_service.call_target, self._uow_factory(), incident_id)
        lock = self._locks.setdefault(incident_id, asyncio.Lock())
        async with lock:
            existing = self._calls.get(incident_id)
            if existing is not None:
                await self._end(existing, EndReason.REPLACED, operator, address)
            waiting = self.external.waiting_call(incident_id) if self.external else None
            external = self.external is not None and self.external.reachable(target.unit_id)
            if not external:
                if not await run_in_threadpool(self._link.is_connected, target.unit_id):
                    raise UnitUnavailable(
                        f"{target.unit_id} is offline, so it cannot be called now; its light "
                        "and the incident are unaffected. Try again when the unit is back "
                        "online."
                    )
                # The unit's microphone goes to the call now (whose recording carries on).
                await self.listens.stop_unit(target.unit_id)
            active = await self._connect(target, operator, offer_sdp, waiting)
            try:
                view = await run_in_threadpool(
                    call_service.call_started,
                    self._uow_factory(),
                    incident_id,
                    operator,
                    talk=active.talk,
                    server=self.server_id,
                    video=active.video,
                    detail=active.detail,
                    address=address,
                )
            except BaseException:
                await self._teardown(active, discard_recording=True)
                raise
            active.call_id = view["id"]
            self._calls[incident_id] = active
            self._watch_peers(active)
            self._publish(active, "connected")
            return {
                "call": view,
                "type": "answer",
                "sdp": self_local(active.browser),
                "talk": active.talk,
                "video": active.video,
                "detail": active.detail,
            }

    async def hangup(
        self, incident_id: int, operator: str, address: str | None = None
    ) -> dict[str, Any]:
        """End the incident's call; the record of the call (and its recording)."""
        active = self._calls.get(incident_id)
        if active is None:
            raise InvalidTransition(f"incident {incident_id} has no call in progress")
        view = await self._end(active, EndReason.HANGUP, operator, address)
        return view or {}

    # ---------- setting up ----------

    async def _connect(
        self,
        target: call_service.CallTarget,
        operator: str,
        offer: str,
        waiting: object | None = None,
    ) -> ActiveCall:
        config = RTCConfiguration(iceServers=ice_servers(self.settings))
        browser = RTCPeerConnection(config)
        unit = RTCPeerConnection(config)
        token = uuid.uuid4().hex
        operator_tracks: dict[str, MediaStreamTrack] = {}
        unit_tracks: dict[str, MediaStreamTrack] = {}
        browser.on("track", lambda track: operator_tracks.setdefault(track.kind, track))
        unit.on("track", lambda track: unit_tracks.setdefault(track.kind, track))
        relay = MediaRelay()
        taps: list[OpusPacketTap | VideoPacketTap] = []
        video_tap: VideoPacketTap | None = None
        recorder: CallRecorder | None = None
        unit_hangup: Callable[[], Awaitable[None]] | None = None
        future: asyncio.Future[CallAnswer] = asyncio.get_running_loop().create_future()
        self._answers[token] = (target.unit_id, future)
        try:
            try:
                opus = opus_payload_types(offer)
                await browser.setRemoteDescription(RTCSessionDescription(offer, "offer"))
            except ValueError as exc:  # NoOpusAudio is one
                raise InvalidInput(f"the browser's offer is not usable SDP: {exc}") from None
            # Audio is forwarded as the Opus packets arrive (taps go in before media flows).
            operator_audio: MediaStreamTrack | None = None
            operator_tap: OpusPacketTap | None = None
            if "audio" in operator_tracks:
                operator_tap = tap_audio(
                    transceiver_of(browser, operator_tracks["audio"]), payload_types=opus
                )
                taps.append(operator_tap)
                operator_audio = operator_tap.subscribe()
            if waiting is not None:
                assert self.external is not None
                unit_tap, media, unit_hangup = await self.external.open_leg(
                    waiting, unit, operator_audio
                )
                taps.append(unit_tap)
            elif self.external is not None and self.external.reachable(target.unit_id):
                unit_tap, media, unit_hangup = await self.external.call_unit(
                    target.unit_id,
                    target.incident_id,
                    unit,
                    operator_audio,
                    self.settings.call_answer_timeout,
                )
                taps.append(unit_tap)
            else:
                # The unit's VP8 is forwarded as it is when the browser takes VP8 first (every
                # current browser does); otherwise it is decoded and re-encoded (the relay).
                unit_tap, media, video_tap = await self._offer_unit(
                    target, token, unit, operator_audio, future, taps, prefers_vp8(offer)
                )
            sends_audio = "audio" in unit_tracks and media.get("audio", True)
            unit_audio = unit_tap.subscribe() if sends_audio else None
            unit_video = unit_tracks.get("video") if media.get("video", True) else None
            if unit_audio is not None:
                browser.addTrack(unit_audio)
            if unit_video is not None and video_tap is not None:
                sender = browser.addTrack(video_tap.subscribe())
                forward_keyframe_requests(sender, video_tap)
            elif unit_video is not None:
                # Stale video frames are dropped rather than queued.
                browser.addTrack(relay.subscribe(unit_video, buffered=False))
            await browser.setLocalDescription(await browser.createAnswer())
            if self.settings.call_recording:
                path = (
                    self.recordings_dir
                    / f"incident-{target.incident_id:06d}"
                    / f"call-{token}.webm"
                )
                recorder = CallRecorder(path)
                # The recorder gets its own copy of the forwarded packets and decodes them on
                # its thread, off the call's path.
                if unit_audio is not None:
                    recorder.add(unit_tap.subscribe(), "unit audio")
                if unit_video is not None:
                    recorder.add(
                        video_tap.subscribe()
                        if video_tap is not None
                        else relay.subscribe(unit_video, buffered=True),
                        "unit video",
                    )
                if operator_tap is not None:
                    recorder.add(operator_tap.subscribe(), "operator audio")
                await recorder.start()
        except BaseException:
            if unit_hangup is not None:
                with contextlib.suppress(Exception):
                    await unit_hangup()
            with contextlib.suppress(UnitNotConnected):
                await self._link.send_call_frame(
                    target.unit_id, {"type": "call_end", "call": token, "reason": "failed"}
                )
            if recorder is not None:
                await recorder.stop()
                recorder.path.unlink(missing_ok=True)
            for tap in taps:
                tap.close()
            await browser.close()
            await unit.close()
            raise
        finally:
            self._answers.pop(token, None)
        problems = []
        if unit_audio is None:
            problems.append("no sound from the unit")
        if unit_video is None:
            problems.append(f"no video: {media.get('video_detail') or 'the unit sends none'}")
        if operator_audio is None:
            problems.append("listen only: your microphone is not available")
        return ActiveCall(
            token=token,
            incident_id=target.incident_id,
            unit_id=target.unit_id,
            operator=operator,
            browser=browser,
            unit=unit,
            recorder=recorder,
            talk=operator_audio is not None,
            video=unit_video is not None,
            detail="; ".join(problems),
            taps=taps,
            unit_hangup=unit_hangup,
        )

    async def _offer_unit(
        self,
        target: call_service.CallTarget,
        token: str,
        unit: RTCPeerConnection,
        operator_audio: MediaStreamTrack | None,
        future: asyncio.Future[CallAnswer],
        taps: list[OpusPacketTap | VideoPacketTap],
        forward_video: bool = True,
    ) -> tuple[OpusPacketTap, dict[str, Any], VideoPacketTap | None]:
        """Offer the call to a unit over its device link; its audio tap, media and video tap
        (None: its video is decoded and re-encoded)."""
        if operator_audio is not None:
            unit_audio_line = unit.addTransceiver(operator_audio, direction="sendrecv")
        else:
            unit_audio_line = unit.addTransceiver("audio", direction="recvonly")
        opus_only(unit_audio_line)
        # The unit is offered Opus only, so its receiver takes nothing else.
        unit_tap = tap_audio(unit_audio_line)
        taps.append(unit_tap)
        video_line = unit.addTransceiver("video", direction="recvonly")
        video_tap = None
        if forward_video:
            vp8_only(video_line)
            video_tap = tap_video(video_line)
            taps.append(video_tap)
        await unit.setLocalDescription(await unit.createOffer())
        await self._link.send_call_frame(
            target.unit_id,
            {
                "type": "call_offer",
                "call": token,
                "incident": target.ref,
                "sdp": unit.localDescription.sdp,
                "ice_servers": browser_ice_servers(self.settings),
            },
        )
        try:
            async with asyncio.timeout(self.settings.call_answer_timeout):
                answer = await future
        except TimeoutError:
            raise CallSetupFailed(
                f"{target.unit_id} did not answer the call within "
                f"{self.settings.call_answer_timeout:g} s; the incident is unaffected, "
                "try again"
            ) from None
        if not answer.ok:
            raise CallSetupFailed(f"{target.unit_id} could not take the call: {answer.detail}")
        try:
            await unit.setRemoteDescription(RTCSessionDescription(answer.sdp, "answer"))
        except ValueError as exc:
            raise CallSetupFailed(f"{target.unit_id} answered with unusable SDP: {exc}") from None
        return unit_tap, answer.media, video_tap

    def _watch_peers(self, active: ActiveCall) -> None:
        def watch(pc: RTCPeerConnection, reason: EndReason) -> None:
            @pc.on("connectionstatechange")
            def changed() -> None:
                if pc.connectionState in ("failed", "closed") and not active.ending:
                    why = reason
                    if active.unit_hangup is None and not self._link.has_link(active.unit_id):
                        # The browser gave up because the unit went offline: that is the cause.
                        why = EndReason.UNIT_LOST
                    log.warning(
                        "call of incident %d: %s media %s",
                        active.incident_id,
                        "unit" if reason is EndReason.UNIT_LOST else "operator",
                        pc.connectionState,
                    )
                    self._end_soon(active, why, "system")

        watch(active.browser, EndReason.OPERATOR_LOST)
        watch(active.unit, EndReason.UNIT_LOST)

    # ---------- ending ----------

    def _end_soon(self, active: ActiveCall, reason: EndReason, actor: str) -> None:
        task: asyncio.Future[Any] = asyncio.ensure_future(self._end(active, reason, actor))
        self._ending.add(task)
        task.add_done_callback(self._ending.discard)

    async def _end(
        self, active: ActiveCall, reason: EndReason, actor: str, address: str | None = None
    ) -> dict[str, Any] | None:
        if active.ending:
            return None
        active.ending = True
        if self._calls.get(active.incident_id) is active:
            del self._calls[active.incident_id]
        # Finish the recording while the media still flows, then tell the unit.
        recording = await self._teardown(active)
        if active.unit_hangup is not None:
            try:
                await active.unit_hangup()
            except Exception:
                log.exception("call of incident %d: could not hang up the unit", active.incident_id)
        with contextlib.suppress(UnitNotConnected):
            await self._link.send_call_frame(
                active.unit_id, {"type": "call_end", "call": active.token, "reason": reason.value}
            )
        self._publish(active, "ended", reason=reason.value)
        if active.call_id is None:
            return None
        try:
            return await run_in_threadpool(
                call_service.call_ended,
                self._uow_factory(),
                active.call_id,
                reason,
                actor,
                recording,
                self.retention,
                address,
            )
        except DomainError:
            log.exception("call %s: could not record its end", active.call_id)
            return None

    async def _teardown(
        self, active: ActiveCall, discard_recording: bool = False
    ) -> call_service.RecordingFile | None:
        recorded = None
        if active.recorder is not None:
            try:
                recorded = await active.recorder.stop()
            except Exception:
                log.exception("call of incident %d: recording failed", active.incident_id)
            if discard_recording:
                active.recorder.path.unlink(missing_ok=True)
                recorded = None
        for tap in active.taps:
            tap.close()
        await active.browser.close()
        await active.unit.close()
        if recorded is None:
            return None
        return call_service.RecordingFile(
            path=str(recorded.path.relative_to(self.recordings_dir)),
            started_at=recorded.started_at,
            ended_at=recorded.ended_at,
            duration=recorded.duration,
            size_bytes=recorded.size_bytes,
            sha256=recorded.sha256,
            media_type=MEDIA_TYPE,
        )

    # ---------- events from units and incidents ----------

    def on_call_frame(self, unit_id: str, frame: CallAnswer | CallEnd) -> None:
        """A unit answered or ended a call (its device link's `LinkEvents`)."""
        if self.listens.takes(frame.call):
            self.listens.on_call_frame(unit_id, frame)
            return
        if isinstance(frame, CallAnswer):
            waiting = self._answers.get(frame.call)
            if waiting is not None and waiting[0] == unit_id and not waiting[1].done():
                waiting[1].set_result(frame)
            return
        for active in list(self._calls.values()):
            if active.token == frame.call and active.unit_id == unit_id:
                log.info("unit %s ended its call: %s", unit_id, frame.reason)
                self._end_soon(active, EndReason.UNIT_ENDED, unit_id)

    def unit_ended(self, incident_id: int, unit_id: str) -> None:
        """The unit hung up a call it is not linked for (a SIP unit's BYE)."""
        active = self._calls.get(incident_id)
        if active is not None and active.unit_id == unit_id:
            log.info("unit %s ended its call", unit_id)
            self._end_soon(active, EndReason.UNIT_ENDED, unit_id)

    def on_unit_gone(self, unit_id: str) -> None:
        """A unit's link ended: its calls and call set-ups with it (`LinkEvents`)."""
        self.listens.on_unit_gone(unit_id)
        for token, (called, future) in list(self._answers.items()):
            if called == unit_id and not future.done():
                # The unit went away while being called: fail the setup at once.
                future.set_result(CallAnswer(token, False, "", "the unit went offline", {}))
        for active in list(self._calls.values()):
            if active.unit_id == unit_id:
                self._end_soon(active, EndReason.UNIT_LOST, "system")

    async def _watch_incidents(self) -> None:
        async with self._broker.subscribe([Topic.INCIDENTS]) as subscription:
            while True:
                topic, message = await subscription.get()
                incident = cast(IncidentMessage, message)
                if topic != Topic.INCIDENTS or incident.get("state") != "closed":
                    continue
                active = self._calls.get(int(incident.get("id") or 0))
                if active is not None:
                    self._end_soon(active, EndReason.INCIDENT_CLOSED, "system")

    async def _purge_once(self) -> None:
        """Delete recordings and camera stills past retention (not on hold)."""
        try:
            stills = await run_in_threadpool(
                still_service.purge_stills, self._uow_factory, self.retention
            )
            if stills:
                log.info("retention: deleted %d camera still(s) past retention", stills)
        except Exception:
            log.exception("retention sweep of stills failed; it runs again in an hour")
        try:
            purged = await run_in_threadpool(
                call_service.purge_recordings, self._uow_factory, self.recordings_dir
            )
            if purged:
                log.info("retention: deleted %d recording(s) past retention", purged)
        except Exception:
            log.exception("retention sweep failed; it runs again in an hour")

    def _publish(self, active: ActiveCall, state: str, reason: str | None = None) -> None:
        message: CallMessage = {
            "incident_id": active.incident_id,
            "unit_id": active.unit_id,
            "call_id": active.call_id,
            "state": state,
            "talk": active.talk,
            "video": active.video,
            "detail": active.detail,
        }
        if reason is not None:
            message["reason"] = reason
        self._broker.publish(Topic.CALLS, message)


def self_local(pc: RTCPeerConnection) -> str | None:
    """The local SDP of a peer connection, once set."""
    description = pc.localDescription
    return description.sdp if description is not None else None
