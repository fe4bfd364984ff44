"""The device link: one authenticated WebSocket per unit (docs/device-protocol.md)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from helppoint.gateway.broker import Broker
from helppoint.gateway.frames import (
    CommandResult,
    EventFrame,
    FrameError,
    HeartbeatFrame,
    Hello,
    parse_frame,
)
from helppoint.gateway.ingest_queue import IngestQueue, IngestUnavailable
from helppoint.services.clock import utcnow
from helppoint.services.ingest import IngestResult, Outcome, ReportedEvent
from helppoint.services.units import AuthenticationFailed, authenticate_unit
from helppoint.store.uow import UnitOfWork

log = logging.getLogger(__name__)

UNITS_TOPIC = "units"
COMMANDS_TOPIC = "commands"

CLOSE_PROTOCOL = 4400
CLOSE_AUTH = 4401
CLOSE_HELLO_TIMEOUT = 4408
CLOSE_REPLACED = 4409
CLOSE_TOO_BIG = 1009
CLOSE_BINARY = 1003
CLOSE_SERVER_ERROR = 1011

KNOWN_COMMANDS = {"flash_light", "camera_preset", "play_message", "configure"}


class UnitNotConnected(Exception):
    """A command was sent to a unit that has no live link."""


class UnknownCommand(ValueError):
    """A command name the device protocol does not define."""


@dataclass(frozen=True)
class Welcome:
    unit_id: str
    last_seq: int
    heartbeat_period: int


@dataclass(eq=False)
class UnitConnection:
    """A live link to one unit."""

    unit_id: str
    websocket: WebSocket
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    pending: set[asyncio.Task[None]] = field(default_factory=set)

    async def send(self, frame: dict[str, Any]) -> None:
        async with self.send_lock:
            if self.websocket.application_state is WebSocketState.CONNECTED:
                await self.websocket.send_text(json.dumps(frame, separators=(",", ":")))


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
    ) -> None:
        self._uow_factory = uow_factory
        self._ingest = ingest
        self._broker = broker
        self._heartbeat_period = heartbeat_period
        self._max_frame_bytes = max_frame_bytes
        self._hello_timeout = hello_timeout
        self._connections: dict[str, UnitConnection] = {}
        #: Called (in a worker thread) with the unit id and its answer to `configure`.
        self.on_config_applied: Callable[[str, CommandResult], None] | None = None

    @property
    def connected_units(self) -> set[str]:
        return set(self._connections)

    async def send_command(
        self, unit_id: str, command: str, args: dict[str, Any], command_id: str | None = None
    ) -> str:
        """Send a command to a connected unit; returns the command id the unit will confirm."""
        if command not in KNOWN_COMMANDS:
            raise UnknownCommand(
                f"unknown command {command!r}; use one of {', '.join(sorted(KNOWN_COMMANDS))}"
            )
        connection = self._connections.get(unit_id)
        if connection is None:
            raise UnitNotConnected(f"unit {unit_id} is not connected")
        command_id = command_id or uuid.uuid4().hex
        await connection.send(
            {"type": "command", "id": command_id, "command": command, "args": args}
        )
        return command_id

    async def close_all(self) -> None:
        """Tell every unit the server is going away (they reconnect with backoff)."""
        for connection in list(self._connections.values()):
            with contextlib.suppress(Exception):
                await connection.websocket.close(code=1001, reason="server shutting down")

    async def serve(self, websocket: WebSocket) -> None:
        """Run one unit's link from handshake to disconnect."""
        await websocket.accept()
        peer = f"{websocket.client.host}:{websocket.client.port}" if websocket.client else "?"
        try:
            text = await asyncio.wait_for(self._receive_text(websocket), self._hello_timeout)
        except TimeoutError:
            await self._close(websocket, CLOSE_HELLO_TIMEOUT, "no hello received in time")
            return
        except _Closed:
            return
        try:
            hello = parse_frame(text)
        except FrameError as exc:
            log.info("device link %s: bad first frame: %s", peer, exc)
            await self._close(websocket, CLOSE_PROTOCOL, f"first frame must be hello: {exc}")
            return
        if not isinstance(hello, Hello):
            await self._close(websocket, CLOSE_PROTOCOL, "first frame must be hello")
            return
        try:
            welcome = await run_in_threadpool(self._authenticate, hello)
        except AuthenticationFailed:
            log.warning("device link %s: authentication failed for unit %r", peer, hello.unit)
            await self._close(websocket, CLOSE_AUTH, "authentication failed")
            return
        connection = UnitConnection(unit_id=welcome.unit_id, websocket=websocket)
        previous = self._connections.get(welcome.unit_id)
        self._connections[welcome.unit_id] = connection
        if previous is not None:
            log.info("unit %s reconnected; closing its older link", welcome.unit_id)
            with contextlib.suppress(Exception):
                await previous.websocket.close(CLOSE_REPLACED, "replaced by a newer connection")
        self._ingest.touch(welcome.unit_id)
        self._broker.publish(UNITS_TOPIC, {"id": welcome.unit_id, "connected": True})
        log.info("unit %s connected from %s (firmware %s)", welcome.unit_id, peer, hello.firmware)
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
        except _Closed:
            pass
        finally:
            for task in list(connection.pending):
                task.cancel()
            if self._connections.get(welcome.unit_id) is connection:
                del self._connections[welcome.unit_id]
                self._broker.publish(UNITS_TOPIC, {"id": welcome.unit_id, "connected": False})
                log.info("unit %s disconnected", welcome.unit_id)

    def _authenticate(self, hello: Hello) -> Welcome:
        uow = self._uow_factory()
        with uow:
            unit = authenticate_unit(uow, hello.unit, hello.key)
            last_seq = uow.events.last_seq(unit.id)
            period = unit.heartbeat_period or self._heartbeat_period
            # Write only when something changed: a fleet reconnecting after a restart should
            # not queue thousands of commits.
            if unit.firmware != hello.firmware or unit.capabilities != list(hello.capabilities):
                unit.firmware = hello.firmware
                unit.capabilities = list(hello.capabilities)
                uow.commit()
            return Welcome(unit_id=unit.id, last_seq=last_seq, heartbeat_period=period)

    async def _loop(self, connection: UnitConnection) -> None:
        websocket = connection.websocket
        while True:
            text = await self._receive_text(websocket)
            try:
                frame = parse_frame(text)
            except FrameError as exc:
                await connection.send({"type": "error", "code": exc.code, "message": str(exc)})
                continue
            if isinstance(frame, EventFrame):
                reported = ReportedEvent(
                    unit_id=connection.unit_id,
                    seq=frame.seq,
                    type=frame.event,
                    unit_time=frame.time,
                    payload=frame.payload,
                )
                # Queue now (keeps the unit's order), answer when the batch is committed.
                future = self._ingest.submit(reported)
                task = asyncio.create_task(self._answer(connection, future))
                connection.pending.add(task)
                task.add_done_callback(connection.pending.discard)
            elif isinstance(frame, HeartbeatFrame):
                self._ingest.touch(connection.unit_id)
                await connection.send(
                    {"type": "heartbeat_ack", "server_time": utcnow().isoformat()}
                )
            elif isinstance(frame, CommandResult):
                if frame.applied is not None and self.on_config_applied is not None:
                    await run_in_threadpool(self.on_config_applied, connection.unit_id, frame)
                self._broker.publish(
                    COMMANDS_TOPIC,
                    {
                        "unit_id": connection.unit_id,
                        "id": frame.id,
                        "ok": frame.ok,
                        "detail": frame.detail,
                    },
                )
            else:
                await self._close(websocket, CLOSE_PROTOCOL, "hello sent twice")
                raise _Closed

    async def _answer(
        self, connection: UnitConnection, future: asyncio.Future[IngestResult]
    ) -> None:
        try:
            result = await future
        except IngestUnavailable:
            # Not stored: no ack. Closing makes the unit reconnect and resend.
            await self._close(connection.websocket, CLOSE_SERVER_ERROR, "could not store event")
            return
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
        if message["type"] == "websocket.disconnect":
            raise _Closed
        text = message.get("text")
        if text is None:
            await self._close(websocket, CLOSE_BINARY, "binary frames are not accepted")
            raise _Closed
        if len(text.encode()) > self._max_frame_bytes:
            await self._close(websocket, CLOSE_TOO_BIG, "frame too large")
            raise _Closed
        assert isinstance(text, str)
        return text

    async def _close(self, websocket: WebSocket, code: int, reason: str) -> None:
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            if websocket.application_state is WebSocketState.CONNECTED:
                await websocket.close(code=code, reason=reason[:120])


class _Closed(Exception):
    """The connection is over (closed by either side)."""
