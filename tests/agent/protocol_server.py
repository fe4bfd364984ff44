"""A small, faithful server side of docs/device-protocol.md, with knobs to misbehave.

It keeps what a real server keeps (events by unit and seq, deduplicated by content) and answers
as the protocol says, so the agent's tests can make it lose acks, refuse seqs, crash mid-flood,
go silent or throw the unit out, and then check that every press arrived exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed


@dataclass(frozen=True)
class StoredEvent:
    seq: int
    type: str
    time: str
    payload: dict[str, Any]

    def same_content(self, other: StoredEvent) -> bool:
        return (self.type, _instant(self.time), self.payload) == (
            other.type,
            _instant(other.time),
            other.payload,
        )


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Changes:
    """Wakes waiters whenever anything happened, so they re-check their condition."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()

    async def until(self, predicate: Callable[[], bool], within: float = 10.0) -> None:
        """Wait until ``predicate()`` holds; TimeoutError after ``within`` seconds."""
        async with asyncio.timeout(within):
            while True:
                self._event.clear()
                if predicate():
                    return
                await self._event.wait()


class ProtocolServer:
    """The server side of the device link, in the test's own event loop."""

    def __init__(
        self, keys: dict[str, str], changes: Changes | None = None, heartbeat_period: float = 30
    ) -> None:
        self.keys = dict(keys)
        self.changes = changes or Changes()
        self.heartbeat_period = heartbeat_period
        self.stored: dict[str, dict[int, StoredEvent]] = {}
        self.store_order: dict[str, list[int]] = {}
        self.frames: dict[str, list[dict[str, Any]]] = {}
        self.hellos: dict[str, int] = {}
        self.closes: list[tuple[str, int | None]] = []
        self.connections: dict[str, ServerConnection] = {}
        self.command_results: dict[str, dict[str, Any]] = {}
        # Knobs.
        self.drop_after_store: set[tuple[str, int]] = set()  # store, then vanish without an ack
        self.fail_store: set[tuple[str, int]] = set()  # cannot store: close 1011, no ack
        self.crash_after: int | None = None  # stored events in total, then vanish (all links)
        self.hold_acks = False  # store events but keep their acks until release_acks()
        self.silent = False  # answer nothing at all after the welcome
        self.crashed = asyncio.Event()
        self._held_acks: list[tuple[ServerConnection, dict[str, Any]]] = []
        self._server: Server | None = None
        self._crashed_servers: list[Server] = []
        self.port = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/device/v1"

    async def start(self, port: int = 0, sock: socket.socket | None = None) -> None:
        """Serve on `port` (0: the last one, or one the OS picks), or on a socket bound before."""
        if sock is not None:
            self._server = await serve(self._handle, sock=sock)
        else:
            self._server = await serve(self._handle, "127.0.0.1", port or self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self.crashed.clear()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for old in self._crashed_servers:
            await old.wait_closed()
        self._crashed_servers.clear()

    def crash(self) -> None:
        """Vanish like a killed process: no close frames, no more connections.

        Not awaiting the server's shutdown: a connection handler may be the one crashing it.
        """
        for ws in list(self.connections.values()):
            ws.transport.abort()
        if self._server is not None:
            self._server.server.close()  # stop listening now, so the port can be reused
            self._server.close(close_connections=False)
            self._crashed_servers.append(self._server)
            self._server = None
        self.crashed.set()
        self.changes.notify()

    def preload(self, unit: str, seqs: range | list[int]) -> None:
        """Pretend events were stored long ago (a unit whose outbox was since lost)."""
        for seq in seqs:
            event = StoredEvent(seq, "activation", "2020-01-01T00:00:00.000Z", {"old": seq})
            self.stored.setdefault(unit, {})[seq] = event
            self.store_order.setdefault(unit, []).append(seq)

    def events(self, unit: str) -> list[StoredEvent]:
        """Stored events of a unit in seq order."""
        return [self.stored.get(unit, {})[seq] for seq in sorted(self.stored.get(unit, {}))]

    def last_seq(self, unit: str) -> int:
        return max(self.stored.get(unit, {}), default=0)

    def received(self, unit: str, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.frames.get(unit, []) if f.get("type") == kind]

    async def send(self, unit: str, frame: dict[str, Any]) -> None:
        await self.connections[unit].send(json.dumps(frame))

    async def command(
        self, unit: str, command: str, args: dict[str, Any], within: float = 10.0
    ) -> dict[str, Any]:
        """Send a command and wait for the unit's command_result."""
        command_id = uuid.uuid4().hex
        await self.send(
            unit, {"type": "command", "id": command_id, "command": command, "args": args}
        )
        await self.changes.until(lambda: command_id in self.command_results, within)
        return self.command_results[command_id]

    async def _handle(self, ws: ServerConnection) -> None:
        unit = "?"
        try:
            hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if not isinstance(hello, dict) or hello.get("type") != "hello":
                await ws.close(4400, "first frame must be hello")
                return
            unit = str(hello.get("unit"))
            self.hellos[unit] = self.hellos.get(unit, 0) + 1
            self.changes.notify()
            if self.keys.get(unit) is None or self.keys[unit] != hello.get("key"):
                await ws.close(4401, "authentication failed")
                return
            previous = self.connections.get(unit)
            self.connections[unit] = ws
            if previous is not None:
                await previous.close(4409, "replaced by a newer connection")
            await ws.send(
                json.dumps(
                    {
                        "type": "welcome",
                        "unit": unit,
                        "server_time": "2026-01-01T00:00:00+00:00",
                        "last_seq": self.last_seq(unit),
                        "heartbeat_period": self.heartbeat_period,
                        "max_frame_bytes": 65536,
                    }
                )
            )
            self.changes.notify()
            async for raw in ws:
                frame = json.loads(raw)
                self.frames.setdefault(unit, []).append(frame)
                await self._frame(ws, unit, frame)
                self.changes.notify()
        except ConnectionClosed:
            pass
        finally:
            if self.connections.get(unit) is ws:
                del self.connections[unit]
            code = ws.close_code
            self.closes.append((unit, code))
            self.changes.notify()

    async def _frame(self, ws: ServerConnection, unit: str, frame: dict[str, Any]) -> None:
        if self.silent:
            return
        kind = frame.get("type")
        if kind == "heartbeat":
            await ws.send(json.dumps({"type": "heartbeat_ack", "server_time": "x"}))
        elif kind == "command_result":
            self.command_results[str(frame.get("id"))] = frame
        elif kind == "event":
            await self._event(ws, unit, frame)
        else:
            await ws.send(
                json.dumps(
                    {"type": "error", "code": "unknown_type", "message": f"unknown type {kind!r}"}
                )
            )

    async def _event(self, ws: ServerConnection, unit: str, frame: dict[str, Any]) -> None:
        seq = frame["seq"]
        event = StoredEvent(seq, frame["event"], frame["time"], frame.get("payload") or {})
        # The real server refuses a time without an offset; the agent must always send one.
        assert _instant(event.time).tzinfo is not None, event.time
        if (unit, seq) in self.fail_store:
            self.fail_store.discard((unit, seq))
            await ws.close(1011, "could not store event")
            return
        stored = self.stored.setdefault(unit, {})
        last = self.last_seq(unit)
        if seq <= last:
            existing = stored.get(seq)
            if existing is None or not existing.same_content(event):
                code = "seq_regressed" if existing is None else "seq_conflict"
                await ws.send(
                    json.dumps(
                        {
                            "type": "error",
                            "code": code,
                            "seq": seq,
                            "last_seq": last,
                            "message": f"renumber from {last + 1}",
                        }
                    )
                )
                return
            await self._ack(ws, {"type": "ack", "seq": seq, "status": "duplicate"})
            return
        stored[seq] = event
        self.store_order.setdefault(unit, []).append(seq)
        if (unit, seq) in self.drop_after_store:
            self.drop_after_store.discard((unit, seq))
            ws.transport.abort()  # committed, but the ack never leaves
            return
        total = sum(len(events) for events in self.stored.values())
        if self.crash_after is not None and total >= self.crash_after:
            self.crash_after = None
            self.crash()
            return
        await self._ack(ws, {"type": "ack", "seq": seq, "status": "stored"})

    async def _ack(self, ws: ServerConnection, frame: dict[str, Any]) -> None:
        if self.hold_acks:
            self._held_acks.append((ws, frame))
        else:
            await ws.send(json.dumps(frame))

    async def release_acks(self) -> None:
        held, self._held_acks = self._held_acks, []
        for conn, ack in held:
            with contextlib.suppress(ConnectionClosed):
                await conn.send(json.dumps(ack))
