"""The device link: one authenticated WebSocket per unit (docs/device-protocol.md)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from starlette.concurrency import run_in_threadpool
from starlette.types import Message
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from helppoint.gateway.broker import Broker
from helppoint.gateway.frames import (
    CallAnswer,
    CallEnd,
    CommandResult,
    EventFrame,
    EventRefused,
    Frame,
    FrameError,
    HeartbeatFrame,
    Hello,
    parse_frame,
)
from helppoint.gateway.hellos import HelloBatcher
from helppoint.gateway.ingest_queue import IngestQueue, IngestUnavailable
from helppoint.gateway.link_cluster import ClusterLinks
from helppoint.gateway.link_events import LinkEvents, OtherUnits
from helppoint.protocol.device_link import ACK_REFUSED, COMMANDS, CloseCode
from helppoint.services.clock import utcnow
from helppoint.services.ingest import IngestResult, Outcome, record_refused_event
from helppoint.services.units import AuthenticationFailed
from helppoint.store.uow import UnitOfWork
from helppoint.topics import Topic

if TYPE_CHECKING:
    from helppoint.cluster import Cluster

log = logging.getLogger(__name__)


class UnitNotConnected(Exception):
    """A command was sent to a unit that has no live link."""


class UnknownCommand(ValueError):
    """A command name the device protocol does not define."""


@runtime_checkable
class Arrivals(Protocol):
    """An ASGI server's WebSocket protocol that can be read without a coroutine per message
    (helppoint.web.server_protocols.WebSocketProtocol)."""

    def arrival(self) -> asyncio.Future[None] | None: ...

    def take(self) -> Message: ...


@dataclass(eq=False, slots=True)
class UnitConnection:
    """A live link to one unit (one per unit for as long as it is up: kept small)."""

    unit_id: str
    websocket: WebSocket
    #: The ingest queue's number for this link (IngestQueue.open_link).
    link: int = 0
    #: Set once a newer link of the unit replaced this one (here or on another process).
    replaced: bool = False
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: Its events waiting for their commit, and frames being sent: cancelled when it ends.
    pending: set[asyncio.Future[Any]] = field(default_factory=set)

    async def send(self, frame: dict[str, Any]) -> None:
        async with self.send_lock:
            if self.websocket.application_state is WebSocketState.CONNECTED:
                await self.websocket.send_text(json.dumps(frame, separators=(",", ":")))

    async def close(self, code: int, reason: str) -> None:
        """Close the link; under the send lock, so no frame is sent after the close."""
        async with self.send_lock:
            if self.websocket.application_state is WebSocketState.CONNECTED:
                await self.websocket.close(code, reason)


class DeviceLinkHub:
    """Accepts unit connections, feeds their events to the ingest queue, sends commands."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        ingest: IngestQueue,
        broker: Broker,
        heartbeat_period: int,
        max_frame_bytes: int,
        hello_timeout: float,
        events: LinkEvents | None = None,
    ) -> None:
        self._uow_factory = uow_factory
        self._ingest = ingest
        self._broker = broker
        self._max_frame_bytes = max_frame_bytes
        self._hello_timeout = hello_timeout
        self._connections: dict[str, UnitConnection] = {}
        self._hellos = HelloBatcher(uow_factory, heartbeat_period)
        self._events = events or LinkEvents()
        #: Set when several server processes share the database (helppoint/cluster).
        self._cluster: ClusterLinks | None = None
        self._other: OtherUnits | None = None

    @property
    def connected_units(self) -> set[str]:
        """Units linked to this process."""
        return set(self._connections)

    @property
    def link_count(self) -> int:
        """How many units are linked to this process (without copying their ids)."""
        return len(self._connections)

    def has_link(self, unit_id: str) -> bool:
        """Whether the unit is linked to this process (without copying every unit's id, as
        `connected_units` does: per press, with thousands of links, that showed in profiles)."""
        return unit_id in self._connections

    def link_other_units(self, other: OtherUnits | None) -> None:
        """Reach `other`'s units too, as `linked_units` counts them and commands go (None: no
        more)."""
        self._other = other

    def linked_units(self) -> set[str]:
        """Units linked to any live process of the cluster (blocking: call from a thread)."""
        local = set(self._connections)
        if self._other is not None:
            local |= self._other.registered
        if self._cluster is None:
            return local
        return local | set(self._cluster.remote_units())

    def is_connected(self, unit_id: str) -> bool:
        """Whether the unit is linked to any live process (blocking: call from a thread)."""
        if self._other is not None and unit_id in self._other.registered:
            return True
        if unit_id in self._connections or self._cluster is None:
            return unit_id in self._connections
        return unit_id in self._cluster.remote_units()

    def attach_cluster(self, cluster: Cluster) -> None:
        """Take part in a cluster: forwarded commands, replaced links on other processes."""
        self._cluster = ClusterLinks(cluster, self, self._broker, self._events)

    async def disconnect(self, unit_id: str, reason: str) -> bool:
        """Close a unit's live link (its key changed or it was revoked); False if not linked.

        The unit must then reconnect with a key that is valid now (docs/security.md).
        """
        connection = self._connections.get(unit_id)
        if connection is None:
            return False
        log.warning("closing the link of unit %s: %s", unit_id, reason)
        with contextlib.suppress(Exception):
            await connection.close(CloseCode.AUTH_FAILED, reason[:120])
        return True

    def send_soon(self, unit_id: str, frame: dict[str, Any]) -> bool:
        """Send `frame` on the unit's link here in the background; False if not linked here."""
        connection = self._connections.get(unit_id)
        if connection is None:
            return False
        self._track(connection, connection.send(frame))
        return True

    def drop_replaced(self, unit_id: str) -> bool:
        """The unit linked to another process: end its link here (if any: True)."""
        connection = self._connections.pop(unit_id, None)
        if connection is None:
            return False
        log.info("unit %s reconnected to another process; closing its link here", unit_id)
        # From now on the other process writes the unit's events and incidents.
        self._replaced(connection)

        async def close() -> None:
            with contextlib.suppress(Exception):
                await connection.close(CloseCode.REPLACED, "replaced by a newer connection")

        asyncio.get_running_loop().create_task(close())
        return True

    async def send_command(
        self, unit_id: str, command: str, args: dict[str, Any], command_id: str | None = None
    ) -> str:
        """Send a command to a connected unit; returns the command id the unit will confirm."""
        if command not in COMMANDS:
            raise UnknownCommand(
                f"unknown command {command!r}; use one of {', '.join(sorted(COMMANDS))}"
            )
        connection = self._connections.get(unit_id)
        if connection is None and self._other is not None:
            command_id = command_id or uuid.uuid4().hex
            if await self._other.command(unit_id, command, args, command_id):
                return command_id
        if connection is None:
            # Forwarded to the process that holds the unit's link, if any does.
            if self._cluster is not None:
                forwarded = await self._cluster.send_command(unit_id, command, args, command_id)
                if forwarded is not None:
                    return forwarded
            raise UnitNotConnected(f"unit {unit_id} is not connected")
        command_id = command_id or uuid.uuid4().hex
        await connection.send(
            {"type": "command", "id": command_id, "command": command, "args": args}
        )
        return command_id

    async def command_result(self, unit_id: str, frame: CommandResult) -> None:
        """A unit's answer to a command: recorded, and told to the consoles."""
        if self._events.command_result is not None:
            await run_in_threadpool(self._events.command_result, unit_id, frame)
        self._broker.publish(
            Topic.COMMANDS,
            {"unit_id": unit_id, "id": frame.id, "ok": frame.ok, "detail": frame.detail},
        )

    async def send_call_frame(self, unit_id: str, frame: dict[str, Any]) -> None:
        """Send a call signalling frame (``call_offer``, ``call_end``) to a connected unit."""
        connection = self._connections.get(unit_id)
        if connection is not None:
            await connection.send(frame)
            return
        if self._cluster is not None and await self._cluster.send_frame(unit_id, frame):
            return
        raise UnitNotConnected(f"unit {unit_id} is not connected")

    async def close_all(self) -> None:
        """Tell every unit the server is going away (they reconnect with backoff)."""
        for connection in list(self._connections.values()):
            with contextlib.suppress(Exception):
                await connection.close(1001, "server shutting down")
        self._hellos.close()

    async def serve(self, websocket: WebSocket) -> None:
        """Run one unit's link from handshake to disconnect."""
        await websocket.accept()
        peer = f"{websocket.client.host}:{websocket.client.port}" if websocket.client else "?"
        try:
            async with asyncio.timeout(self._hello_timeout):
                text = await self._receive_text(websocket)
        except TimeoutError:
            await self._close(websocket, CloseCode.HELLO_TIMEOUT, "no hello received in time")
            return
        except _Closed:
            return
        try:
            hello = parse_frame(text)
        except FrameError as exc:
            log.info("device link %s: bad first frame: %s", peer, exc)
            await self._close(
                websocket, CloseCode.PROTOCOL_VIOLATION, f"first frame must be hello: {exc}"
            )
            return
        if not isinstance(hello, Hello):
            await self._close(websocket, CloseCode.PROTOCOL_VIOLATION, "first frame must be hello")
            return
        try:
            welcome = await self._hellos.authenticate(hello)
        except AuthenticationFailed:
            log.warning("device link %s: authentication failed for unit %r", peer, hello.unit)
            await self._close(websocket, CloseCode.AUTH_FAILED, "authentication failed")
            return
        connection = UnitConnection(
            unit_id=welcome.unit_id, websocket=websocket, link=self._ingest.open_link()
        )
        previous = self._connections.get(welcome.unit_id)
        self._connections[welcome.unit_id] = connection
        if previous is not None:
            log.info("unit %s reconnected; closing its older link", welcome.unit_id)
            self._replaced(previous)
            with contextlib.suppress(Exception):
                await previous.close(CloseCode.REPLACED, "replaced by a newer connection")
            if self._events.unit_gone is not None:
                # Whatever ran on the older link (a call) went with it.
                self._events.unit_gone(welcome.unit_id)
        self._ingest.touch(welcome.unit_id)
        if self._cluster is not None:
            self._cluster.linked(welcome.unit_id)
        self._broker.publish(Topic.UNITS, {"id": welcome.unit_id, "connected": True})
        log.info("unit %s connected from %s (firmware %s)", welcome.unit_id, peer, hello.firmware)
        # This frame waits here for as long as the unit is up: nothing of the handshake (the
        # hello with its key, its text) stays with it.
        del text, hello
        try:
            await connection.send(
                {
                    "type": "welcome",
                    "unit": welcome.unit_id,
                    "server_time": utcnow().isoformat(),
                    "last_seq": welcome.last_seq,
                    "heartbeat_period": welcome.heartbeat_period,
                    "max_frame_bytes": self._max_frame_bytes,
                }
            )
            await self._loop(connection)
        except (_Closed, WebSocketDisconnect):
            pass  # the unit hung up (perhaps before its welcome arrived): it will reconnect
        finally:
            for waiting in list(connection.pending):
                waiting.cancel()  # an event not yet with the writer is then not written
            self._ingest.close_link(connection.link)
            if self._connections.get(welcome.unit_id) is connection:
                del self._connections[welcome.unit_id]
                if self._cluster is not None:
                    self._cluster.unlinked(welcome.unit_id)
                self._broker.publish(Topic.UNITS, {"id": welcome.unit_id, "connected": False})
                log.info("unit %s disconnected", welcome.unit_id)

    def _replaced(self, connection: UnitConnection) -> None:
        """A newer link of the unit took over: this one's events still waiting are not
        written, so the newer link's resends are the only writer of the unit's events."""
        connection.replaced = True
        self._ingest.withdraw_link(connection.link)

    async def _loop(self, connection: UnitConnection) -> None:
        websocket = connection.websocket
        receive = websocket.receive
        # The server's own protocol (web/server_protocols.py) is read without a coroutine per
        # message; another ASGI server's through Starlette.
        fast = getattr(getattr(websocket, "_receive", None), "__self__", None)
        if not isinstance(fast, Arrivals):
            fast = None
        message: Message | None = None
        text: str | None = None
        frame: Frame | None = None
        future: asyncio.Future[IngestResult] | None = None
        while True:
            # Nothing of the last frame waits with the link for the next (~0.7 KB a link).
            message = text = frame = future = None
            if fast is not None:
                # What websocket.receive does, with a bare future waiting between messages
                # instead of three coroutines (issue 21: what a link leaves for the collector).
                arrival = fast.arrival()
                if arrival is not None:
                    await arrival
                    arrival = None
                message = fast.take()
                if message["type"] == "websocket.disconnect":
                    websocket.client_state = WebSocketState.DISCONNECTED
            else:
                # What _receive_text does, inline: one coroutine fewer waiting on every link.
                message = await receive()
            text = message.get("text")
            if text is None or not self._fits(text):
                await self._refuse_message(websocket, message)
                raise _Closed
            try:
                frame = parse_frame(text)
            except EventRefused as exc:
                # Awaited, not a task: a unit has one refusal being recorded at a time.
                await self._refuse(connection, exc)
                continue
            except FrameError as exc:
                await connection.send({"type": "error", "code": exc.code, "message": str(exc)})
                continue
            if isinstance(frame, EventFrame):
                if frame.repairs:
                    log.warning(
                        "unit %s seq %d: %s stored repaired: %s",
                        connection.unit_id,
                        frame.seq,
                        frame.event.value,
                        "; ".join(frame.repairs),
                    )
                # Queue now (keeps the unit's order), answer when the batch is committed: a
                # callback, not a task waiting, so that an event queued behind a flood holds
                # a future and a callback, not a task, its coroutine and its context.
                future = self._ingest.submit(
                    frame.reported(connection.unit_id), link=connection.link
                )
                connection.pending.add(future)
                future.add_done_callback(functools.partial(self._committed, connection))
            elif isinstance(frame, HeartbeatFrame):
                self._ingest.touch(connection.unit_id)
                if frame.battery is not None or frame.mains is not None:
                    self._ingest.report_power(connection.unit_id, frame.battery, frame.mains)
                await connection.send(
                    {"type": "heartbeat_ack", "server_time": utcnow().isoformat()}
                )
            elif isinstance(frame, CommandResult):
                if frame.applied is not None and self._events.config_applied is not None:
                    await run_in_threadpool(self._events.config_applied, connection.unit_id, frame)
                await self.command_result(connection.unit_id, frame)
            elif isinstance(frame, CallAnswer | CallEnd):
                if self._events.call_frame is not None:
                    self._events.call_frame(connection.unit_id, frame)
                if self._cluster is not None:
                    self._cluster.call_frame(connection.unit_id, json.loads(text))
            else:
                await self._close(websocket, CloseCode.PROTOCOL_VIOLATION, "hello sent twice")
                raise _Closed

    @staticmethod
    def _track(connection: UnitConnection, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        connection.pending.add(task)
        task.add_done_callback(connection.pending.discard)

    async def _refuse(self, connection: UnitConnection, refused: EventRefused) -> None:
        """Answer an event that can never be stored: once the unit fault is recorded (on the
        health board), an ack with status `refused`, so the unit drops it from its outbox."""
        unit_id = connection.unit_id
        log.error("unit %s seq %d refused: %s", unit_id, refused.seq, refused)
        try:
            await run_in_threadpool(
                record_refused_event,
                self._uow_factory(),
                unit_id,
                refused.seq,
                refused.code,
                str(refused),
                utcnow(),
            )
        except Exception as exc:
            # Not recorded: no answer. Closing makes the unit reconnect and send it again.
            log.error("could not record the refused event of unit %s: %s", unit_id, exc)
            await self._close(connection.websocket, CloseCode.SERVER_ERROR, "could not store event")
            return
        with contextlib.suppress(Exception):
            await connection.send(
                {
                    "type": "ack",
                    "seq": refused.seq,
                    "status": ACK_REFUSED,
                    "reason": refused.code,
                    "message": str(refused),
                }
            )

    def _committed(self, connection: UnitConnection, future: asyncio.Future[IngestResult]) -> None:
        """An event's batch was committed (or not): answer the unit."""
        connection.pending.discard(future)
        if future.cancelled():
            return  # the link ended first: the unit resends on its next one
        error = future.exception()
        if isinstance(error, IngestUnavailable):
            # Not stored: no ack. Closing makes the unit reconnect and resend (a replaced
            # link is being closed already).
            if not connection.replaced:
                closing = self._close(
                    connection.websocket, CloseCode.SERVER_ERROR, "could not store event"
                )
                self._track(connection, closing)
            return
        if error is not None:
            log.error("unit %s: no answer to an event", connection.unit_id, exc_info=error)
            return
        self._track(connection, self._answer(connection, future.result()))

    async def _answer(self, connection: UnitConnection, result: IngestResult) -> None:
        if result.outcome in (Outcome.STORED, Outcome.DUPLICATE):
            frame: dict[str, Any] = {
                "type": "ack",
                "seq": result.seq,
                "status": result.outcome.value,
            }
        elif result.outcome is Outcome.CONFLICT:
            frame = {
                "type": "error",
                "code": "seq_conflict",
                "seq": result.seq,
                "last_seq": result.last_seq,
                "message": (
                    f"a different event is already stored as seq {result.seq} of "
                    f"{result.unit_id}; renumber from {result.last_seq + 1}"
                ),
            }
        else:
            frame = {
                "type": "error",
                "code": "seq_regressed",
                "seq": result.seq,
                "last_seq": result.last_seq,
                "message": (
                    f"seq {result.seq} is below {result.unit_id}'s last stored seq "
                    f"{result.last_seq} and was never stored; renumber from {result.last_seq + 1}"
                ),
            }
        with contextlib.suppress(Exception):
            await connection.send(frame)

    async def _receive_text(self, websocket: WebSocket) -> str:
        message = await websocket.receive()
        text = message.get("text")
        if text is None or not self._fits(text):
            await self._refuse_message(websocket, message)
            raise _Closed
        assert isinstance(text, str)
        return text

    def _fits(self, text: str) -> bool:
        # A character is at most 4 bytes in UTF-8: most frames need no encoding to tell.
        limit = self._max_frame_bytes
        return len(text) <= limit // 4 or len(text.encode()) <= limit

    async def _refuse_message(self, websocket: WebSocket, message: Message) -> None:
        """A message that is not a text frame the link takes: close (unless it was the close)."""
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") is None:
            await self._close(websocket, CloseCode.BINARY_REFUSED, "binary frames are not accepted")
        else:
            await self._close(websocket, CloseCode.TOO_BIG, "frame too large")

    async def _close(self, websocket: WebSocket, code: int, reason: str) -> None:
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            if websocket.application_state is WebSocketState.CONNECTED:
                await websocket.close(code=code, reason=reason[:120])


class _Closed(Exception):
    """The connection is over (closed by either side)."""
