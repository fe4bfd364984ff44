"""Press-time audio: the server listens to a unit the moment it is pressed (docs/triage.md).

When an alarm incident opens for a unit whose device link this process holds, the server
offers the unit a listen-only call (``call_offer`` with ``"listen": true``): the unit sends its
microphone, the server sends nothing and the unit plays nothing. The server

- judges the audio (voice / silent / noisy and a level, helppoint/calls/vad.py) on its own
  thread, and stores and shows each judgement that says something new (services/triage.py);
- records it, as a call of kind "press" with the retention, evidence hold and audited access
  of call recordings;
- lets operators listen in from the console without answering (``listen_in``): the Opus
  packets are forwarded to their browser as they arrive, as a call's are.

Listening starts only after the press is committed and published, so it never delays either.
It ends after ``press_listen_seconds`` (or when the last operator listening in stops, at most
``MAX_LISTEN`` seconds), when an operator answers the call, when the incident closes or the
unit goes offline, and when the server stops. At most ``press_listen_max`` listens run in one
process at once; an alarm beyond that gets no judgement (its voice stays null) and says so in
the log.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from starlette.concurrency import run_in_threadpool

from helppoint.calls.opus import OpusPacketTap, opus_only, opus_payload_types, tap_audio
from helppoint.calls.recorder import MEDIA_TYPE, CallRecorder
from helppoint.calls.vad import PressAudioAnalyser
from helppoint.config import Settings
from helppoint.domain.calls import EndReason
from helppoint.domain.errors import InvalidInput
from helppoint.domain.triage import Judgement, worth_telling
from helppoint.gateway.broker import Broker
from helppoint.gateway.device_link import DeviceLinkHub, UnitNotConnected
from helppoint.gateway.frames import CallAnswer, CallEnd
from helppoint.services import calls as call_service
from helppoint.services import triage as triage_service
from helppoint.services.clock import utcnow
from helppoint.store.uow import UnitOfWork
from helppoint.tasks import cancel_and_wait
from helppoint.topics import IncidentMessage, Topic

log = logging.getLogger(__name__)

#: At most one warning in this many seconds that alarms go unheard (press_listen_max reached).
FULL_WARNING_EVERY = 10.0

#: Packets (20 ms each) handed to the judging thread at once: a judgement every 0.2 s at most.
PACKETS_PER_STEP = 10
#: Seconds between two stored judgements that differ only in level.
LEVEL_INTERVAL = 1.0
#: Longest a press listen runs while operators listen in (seconds).
MAX_LISTEN = 600.0


class ListenError(Exception):
    """Listening to the unit is not possible now; the message says why."""


@dataclass
class ListenTimes:
    """When each step of one press listen happened, on the event loop's clock
    (``time.monotonic()``, which every process of the machine shares): where the time from
    a press to its first judgement goes (docs/performance.md, "Triage at storm scale")."""

    #: The published alarm reached the listener (the press is committed by then).
    seen: float
    #: The offer was made (this side's ICE candidates gathered) and sent to the unit.
    offered: float | None = None
    #: The unit's answer arrived.
    answered: float | None = None
    #: ICE found a working path to the unit.
    ice: float | None = None
    #: DTLS finished: media can flow.
    dtls: float | None = None
    #: The unit's first audio packet arrived.
    first_packet: float | None = None
    #: The first judgement was made.
    judged: float | None = None
    #: The first judgement was stored and published to the consoles.
    stored: float | None = None

    def summary(self) -> str:
        """``step=+seconds`` after ``seen`` for every step that happened, in order."""
        steps = ("offered", "answered", "ice", "dtls", "first_packet", "judged", "stored")
        return " ".join(
            f"{step}=+{value - self.seen:.3f}"
            for step in steps
            if (value := getattr(self, step)) is not None
        )


@dataclass(eq=False)
class PressListen:
    """The server listening to one unit about one incident."""

    token: str
    incident_id: int
    unit_id: str
    pc: RTCPeerConnection
    tap: OpusPacketTap
    started: float  # the loop's clock
    started_at: datetime
    deadline: float
    times: ListenTimes
    recorder: CallRecorder | None = None
    judgement: Judgement | None = None
    #: Operators listening in: username -> their browser's peer connection.
    listeners: dict[str, RTCPeerConnection] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    ending: bool = False
    end_reason: EndReason = EndReason.LISTENED
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    #: Names this listen to the browsers listening in (not the unit's call token).
    listen_id: str = field(default_factory=lambda: uuid.uuid4().hex)


class PressListens:
    """Starts, judges, relays, records and ends press-time listens of this process's units."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        device_link: DeviceLinkHub,
        broker: Broker,
        settings: Settings,
        recordings_dir: Path,
        configuration: Callable[[], RTCConfiguration],
        ice_servers: Callable[[], list[dict[str, Any]]],
        server_id: str = "",
    ) -> None:
        self._uow_factory = uow_factory
        self._link = device_link
        self._broker = broker
        self.settings = settings
        self.recordings_dir = recordings_dir
        self._configuration = configuration
        self._ice_servers = ice_servers
        self.server_id = server_id
        self.retention = timedelta(days=settings.recording_retention_days)
        #: Listens in progress by unit id (a unit has at most one).
        self._listens: dict[str, PressListen] = {}
        #: Offers waiting for the unit's answer: token -> (unit id, future).
        self._answers: dict[str, tuple[str, asyncio.Future[CallAnswer]]] = {}
        #: Incidents already listened to (a repeat press does not start another listen).
        self._heard: dict[int, None] = {}
        self._watcher: asyncio.Task[None] | None = None
        self._starting: set[asyncio.Task[Any]] = set()
        self._ending: set[asyncio.Future[Any]] = set()
        #: Alarms not listened to (press_listen_max reached) since the last warning, and when
        #: that was (time.monotonic()).
        self._unheard = 0
        self._full_warned_at = -math.inf
        # Decoding and judging is CPU work: one thread for every listen of the process.
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="triage")

    # ---------- lifecycle ----------

    async def start(self) -> None:
        """Listen to units as their alarms open."""
        if self.settings.press_listen:
            self._watcher = asyncio.create_task(self._watch_incidents())

    async def stop(self) -> None:
        """End every listen (the server is stopping)."""
        if self._watcher is not None:
            await cancel_and_wait(self._watcher)
        for task in list(self._starting):
            task.cancel()
        if self._starting:
            await asyncio.gather(*self._starting, return_exceptions=True)
        for listen in list(self._listens.values()):
            await self._end(listen, EndReason.SERVER_STOPPED)
        if self._ending:
            await asyncio.gather(*self._ending, return_exceptions=True)
        self._executor.shutdown(wait=False)

    def listening(self, incident_id: int) -> PressListen | None:
        """The listen in progress about this incident, if this process runs one."""
        for listen in self._listens.values():
            if listen.incident_id == incident_id:
                return listen
        return None

    # ---------- device-link frames (routed here by the call hub) ----------

    def takes(self, token: str) -> bool:
        """Whether a call frame's token is one of this process's listens."""
        return token in self._answers or any(lt.token == token for lt in self._listens.values())

    def on_call_frame(self, unit_id: str, frame: CallAnswer | CallEnd) -> None:
        if isinstance(frame, CallAnswer):
            waiting = self._answers.get(frame.call)
            if waiting is not None and waiting[0] == unit_id and not waiting[1].done():
                waiting[1].set_result(frame)
            return
        listen = self._listens.get(unit_id)
        if listen is not None and listen.token == frame.call:
            self._end_soon(listen, EndReason.UNIT_ENDED)

    def on_unit_gone(self, unit_id: str) -> None:
        for token, (called, future) in list(self._answers.items()):
            if called == unit_id and not future.done():
                future.set_result(CallAnswer(token, False, "", "the unit went offline", {}))
        listen = self._listens.get(unit_id)
        if listen is not None:
            self._end_soon(listen, EndReason.UNIT_LOST)

    async def stop_unit(self, unit_id: str, reason: EndReason = EndReason.ANSWERED) -> None:
        """End the unit's listen now (an operator answers its call: the call records on)."""
        listen = self._listens.get(unit_id)
        if listen is not None:
            await self._end(listen, reason)

    # ---------- starting ----------

    async def _watch_incidents(self) -> None:
        async with self._broker.subscribe([Topic.INCIDENTS]) as subscription:
            while True:
                _, message = await subscription.get()
                try:
                    self._on_incident(cast(IncidentMessage, message))
                except Exception:  # one odd message must not end press listening
                    log.exception("press listening: cannot handle %s", str(message)[:200])

    def _on_incident(self, message: IncidentMessage) -> None:
        incident_id = int(message.get("id") or 0)
        unit_id = str(message.get("unit_id") or "")
        listen = self._listens.get(unit_id)
        if message.get("state") == "closed":
            if listen is not None and listen.incident_id == incident_id:
                self._end_soon(listen, EndReason.INCIDENT_CLOSED)
            return
        if (
            message.get("kind") != "activation"
            or message.get("state") != "new"
            or incident_id in self._heard
            or listen is not None
            or not self._link.has_link(unit_id)
        ):
            return
        if len(self._listens) + len(self._starting) >= self.settings.press_listen_max:
            self._not_listened(unit_id, incident_id)
            return
        self._remember(incident_id)
        times = ListenTimes(seen=asyncio.get_running_loop().time())
        task = asyncio.create_task(
            self._start_quietly(incident_id, unit_id, str(message.get("ref") or ""), times)
        )
        self._starting.add(task)
        task.add_done_callback(self._starting.discard)

    def _not_listened(self, unit_id: str, incident_id: int) -> None:
        """Say that alarms go unheard, at most once every FULL_WARNING_EVERY seconds: in a
        flood a line per alarm was a tenth of the serving process's time (docs/performance.md)."""
        self._unheard += 1
        now = time.monotonic()
        if now - self._full_warned_at < FULL_WARNING_EVERY:
            return
        log.warning(
            "press listening: %d listens already run; %d alarm(s) not listened to since the "
            "last warning, the latest %s (incident %d)",
            self.settings.press_listen_max,
            self._unheard,
            unit_id,
            incident_id,
        )
        self._unheard = 0
        self._full_warned_at = now

    def _remember(self, incident_id: int) -> None:
        self._heard[incident_id] = None
        while len(self._heard) > 10_000:
            del self._heard[next(iter(self._heard))]

    async def _start_quietly(
        self, incident_id: int, unit_id: str, ref: str, times: ListenTimes
    ) -> None:
        try:
            await self._start(incident_id, unit_id, ref, times)
        except ListenError as exc:
            log.info("press listening to %s (incident %d): %s", unit_id, incident_id, exc)

    async def _start(
        self, incident_id: int, unit_id: str, ref: str, times: ListenTimes | None = None
    ) -> PressListen:
        loop = asyncio.get_running_loop()
        times = times or ListenTimes(seen=loop.time())
        pc = RTCPeerConnection(self._configuration())

        @pc.on("iceconnectionstatechange")
        def ice_changed() -> None:
            if pc.iceConnectionState == "completed" and times.ice is None:
                times.ice = loop.time()

        @pc.on("connectionstatechange")
        def secured() -> None:
            if pc.connectionState == "connected" and times.dtls is None:
                times.dtls = loop.time()

        line = pc.addTransceiver("audio", direction="recvonly")
        opus_only(line)
        tap = tap_audio(line)
        token = uuid.uuid4().hex
        future: asyncio.Future[CallAnswer] = loop.create_future()
        self._answers[token] = (unit_id, future)
        try:
            await pc.setLocalDescription(await pc.createOffer())
            await self._link.send_call_frame(
                unit_id,
                {
                    "type": "call_offer",
                    "call": token,
                    "incident": ref,
                    "listen": True,
                    "sdp": pc.localDescription.sdp,
                    "ice_servers": self._ice_servers(),
                },
            )
            times.offered = loop.time()
            try:
                async with asyncio.timeout(self.settings.call_answer_timeout):
                    answer = await future
            except TimeoutError:
                raise ListenError("the unit did not answer the listen offer in time") from None
            times.answered = loop.time()
            if not answer.ok:
                raise ListenError(f"the unit cannot be listened to: {answer.detail}")
            try:
                await pc.setRemoteDescription(RTCSessionDescription(answer.sdp, "answer"))
            except ValueError as exc:
                raise ListenError(f"the unit answered with unusable SDP: {exc}") from None
        except BaseException as exc:
            tap.close()
            await pc.close()
            if isinstance(exc, UnitNotConnected):
                raise ListenError(str(exc)) from None
            raise
        finally:
            self._answers.pop(token, None)
        now = loop.time()
        listen = PressListen(
            token=token,
            incident_id=incident_id,
            unit_id=unit_id,
            pc=pc,
            tap=tap,
            started=now,
            started_at=utcnow(),
            deadline=now + self.settings.press_listen_seconds,
            times=times,
        )
        if self.settings.call_recording:
            path = self.recordings_dir / f"incident-{incident_id:06d}" / f"press-{token}.webm"
            listen.recorder = CallRecorder(path)
            listen.recorder.add(tap.subscribe(), "unit audio")
            await listen.recorder.start()
        self._listens[unit_id] = listen

        @pc.on("connectionstatechange")
        def changed() -> None:
            if pc.connectionState in ("failed", "closed") and not listen.ending:
                self._end_soon(listen, EndReason.UNIT_LOST)

        listen.tasks.append(asyncio.create_task(self._judge(listen)))
        listen.tasks.append(asyncio.create_task(self._time_out(listen)))
        log.info("listening to %s about incident %d", unit_id, incident_id)
        return listen

    # ---------- while listening ----------

    async def _judge(self, listen: PressListen) -> None:
        """Hand the packets to the judging thread; store each judgement worth telling."""
        loop = asyncio.get_running_loop()
        track = listen.tap.subscribe()
        analyser = PressAudioAnalyser()
        told: Judgement | None = None
        told_at = 0.0
        batch: list[bytes] = []
        try:
            while True:
                try:
                    packet = await track.recv()
                except MediaStreamError:
                    return
                if listen.times.first_packet is None:
                    listen.times.first_packet = loop.time()
                batch.append(bytes(packet))
                if len(batch) < PACKETS_PER_STEP:
                    continue
                judgement = await loop.run_in_executor(self._executor, analyser.feed, batch)
                batch = []
                if judgement is not None and listen.times.judged is None:
                    listen.times.judged = loop.time()
                if judgement is None or not worth_telling(told, judgement):
                    continue
                voice_changed = told is None or judgement.voice is not told.voice
                if not voice_changed and loop.time() - told_at < LEVEL_INTERVAL:
                    continue
                told, told_at = judgement, loop.time()
                listen.judgement = judgement
                try:
                    await run_in_threadpool(
                        triage_service.record_voice,
                        self._uow_factory(),
                        listen.incident_id,
                        judgement,
                    )
                except Exception:
                    log.exception("cannot store the voice judgement of %d", listen.incident_id)
                    continue
                if listen.times.stored is None:
                    listen.times.stored = loop.time()
                    log.info(
                        "press listen timings: unit=%s incident=%d seen=%.3f %s listens=%d",
                        listen.unit_id,
                        listen.incident_id,
                        listen.times.seen,
                        listen.times.summary(),
                        len(self._listens),
                    )
        finally:
            track.stop()

    async def _time_out(self, listen: PressListen) -> None:
        """End the listen once its time is up and nobody listens in (at most MAX_LISTEN)."""
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            limit = listen.started + MAX_LISTEN
            if now >= limit or (now >= listen.deadline and not listen.listeners):
                break
            wait = (limit if listen.listeners else listen.deadline) - now
            listen.changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await listen.changed.wait()
        self._end_soon(listen, EndReason.LISTENED)

    # ---------- listening in ----------

    async def listen_in(
        self, incident_id: int, operator: str, offer_sdp: str, address: str | None = None
    ) -> dict[str, Any]:
        """Connect an operator's browser (its SDP offer, receive-only audio) to the unit's
        live press-time audio, starting a listen if none runs; returns the SDP answer."""
        try:
            opus_payload_types(offer_sdp)
        except ValueError as exc:
            raise InvalidInput(f"the browser's offer is not usable SDP: {exc}") from None
        target = await run_in_threadpool(
            triage_service.listen_target, self._uow_factory(), incident_id
        )
        listen = self._listens.get(target.unit_id)
        if listen is not None and listen.incident_id != incident_id:
            raise ListenError(f"{target.unit_id} is being listened to about another incident")
        if listen is None:
            if not self._link.has_link(target.unit_id):
                raise ListenError(
                    f"{target.unit_id} is not connected to this server process, so it cannot "
                    "be listened to from here now; answer the call instead"
                )
            self._remember(incident_id)
            listen = await self._start(incident_id, target.unit_id, target.ref)
        browser = RTCPeerConnection(self._configuration())
        try:
            await browser.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
            browser.addTrack(listen.tap.subscribe())
            await browser.setLocalDescription(await browser.createAnswer())
        except Exception:
            await browser.close()
            raise
        previous = listen.listeners.pop(operator, None)
        if previous is not None:
            await previous.close()
        listen.listeners[operator] = browser
        listen.changed.set()

        @browser.on("connectionstatechange")
        async def changed() -> None:
            if browser.connectionState in ("failed", "closed"):
                await self._drop_listener(listen, operator, browser)

        await run_in_threadpool(
            triage_service.listened_in, self._uow_factory(), incident_id, operator, address
        )
        judgement = listen.judgement
        return {
            "type": "answer",
            "sdp": browser.localDescription.sdp,
            "unit_id": listen.unit_id,
            "listen_id": listen.listen_id,
            "voice": judgement.voice.value if judgement is not None else None,
            "voice_level": judgement.level if judgement is not None else None,
        }

    async def stop_listening(self, incident_id: int, operator: str) -> bool:
        """Disconnect this operator's browser from the incident's audio; False if not listening."""
        listen = self.listening(incident_id)
        if listen is None or operator not in listen.listeners:
            return False
        await self._drop_listener(listen, operator, listen.listeners[operator])
        return True

    async def _drop_listener(
        self, listen: PressListen, operator: str, browser: RTCPeerConnection
    ) -> None:
        if listen.listeners.get(operator) is browser:
            del listen.listeners[operator]
            listen.changed.set()
        await browser.close()

    # ---------- ending ----------

    def _end_soon(self, listen: PressListen, reason: EndReason) -> None:
        if listen.ending:
            return
        task = asyncio.ensure_future(self._end(listen, reason))
        self._ending.add(task)
        task.add_done_callback(self._ending.discard)

    async def _end(self, listen: PressListen, reason: EndReason) -> None:
        if listen.ending:
            return
        listen.ending = True
        listen.end_reason = reason
        if self._listens.get(listen.unit_id) is listen:
            del self._listens[listen.unit_id]
        recorded = None
        if listen.recorder is not None:
            try:
                recorded = await listen.recorder.stop()
            except Exception:
                log.exception("press audio of incident %d: recording failed", listen.incident_id)
        listen.tap.close()
        current = asyncio.current_task()
        for task in listen.tasks:
            if task is not current:
                task.cancel()
        listening_in = sorted(listen.listeners)
        for browser in list(listen.listeners.values()):
            await browser.close()
        listen.listeners.clear()
        if listening_in:
            # A closed peer connection is not seen by the browser for many seconds (ICE
            # consent), so the consoles are told.
            self._broker.publish(
                Topic.LISTEN_ENDED,
                {
                    "incident_id": listen.incident_id,
                    "unit_id": listen.unit_id,
                    "listen_id": listen.listen_id,
                    "reason": reason.value,
                    "operators": listening_in,
                },
            )
        await listen.pc.close()
        with contextlib.suppress(UnitNotConnected):
            await self._link.send_call_frame(
                listen.unit_id, {"type": "call_end", "call": listen.token, "reason": reason.value}
            )
        recording = None
        if recorded is not None:
            recording = call_service.RecordingFile(
                path=str(recorded.path.relative_to(self.recordings_dir)),
                started_at=recorded.started_at,
                ended_at=recorded.ended_at,
                duration=recorded.duration,
                size_bytes=recorded.size_bytes,
                sha256=recorded.sha256,
                media_type=MEDIA_TYPE,
            )
        try:
            await run_in_threadpool(
                triage_service.record_press_audio,
                self._uow_factory(),
                listen.incident_id,
                listen.unit_id,
                listen.started_at,
                reason,
                recording,
                self.retention,
                listen.judgement,
                self.server_id,
            )
        except Exception:
            log.exception("cannot put the press audio of incident %d on record", listen.incident_id)
        log.info(
            "stopped listening to %s about incident %d (%s): %s",
            listen.unit_id,
            listen.incident_id,
            reason.value,
            listen.judgement.voice.value if listen.judgement is not None else "not judged",
        )
