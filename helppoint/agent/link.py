"""The unit side of the device link (docs/device-protocol.md), over the `websockets` client.

One :class:`DeviceLink` keeps one WebSocket open to the server: hello/welcome, then it sends
every unacknowledged outbox event in seq order with a small in-flight window, marks events
acked as acks come back, renumbers after ``seq_conflict``/``seq_regressed``, sends heartbeats,
carries out commands, and reconnects with jittered exponential backoff whenever the link
breaks. Events stay in the outbox until acked, so nothing is lost across reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeGuard
from urllib.parse import urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from helppoint import __version__
from helppoint.agent.backoff import Backoff
from helppoint.agent.outbox import Outbox, OutboxEvent, utc_timestamp

log = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
FIRMWARE = f"helppoint-agent {__version__}"
DEVICE_PATH = "/device/v1"


class CloseCode(enum.IntEnum):
    """Close codes of the device link that the unit acts on."""

    GOING_AWAY = 1001
    BINARY_REFUSED = 1003
    TOO_BIG = 1009
    SERVER_ERROR = 1011
    PROTOCOL_VIOLATION = 4400
    AUTH_FAILED = 4401
    HELLO_TIMEOUT = 4408
    REPLACED = 4409


#: Close codes that mean this agent broke the protocol: retrying will not help, a fix will.
FIRMWARE_BUGS = {CloseCode.BINARY_REFUSED, CloseCode.TOO_BIG, CloseCode.PROTOCOL_VIOLATION}


class LinkState(enum.StrEnum):
    """Where the link is."""

    IDLE = "idle"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RETRYING = "retrying"  # waiting out a backoff delay before the next attempt
    AUTH_FAILED = "auth_failed"
    REPLACED = "replaced"
    STOPPED = "stopped"


class LinkExit(enum.StrEnum):
    """Why :meth:`DeviceLink.run` returned."""

    STOPPED = "stopped"  # stop() was called
    REPLACED = "replaced"  # the server closed us with 4409: another connection is this unit


@dataclass(frozen=True)
class CommandResult:
    """The outcome of a server command, sent back as ``command_result``."""

    ok: bool
    detail: str


CommandHandler = Callable[[str, dict[str, Any]], CommandResult]
AckHook = Callable[[str, int, str], None]
RenumberHook = Callable[[str, dict[int, int]], None]
StateHook = Callable[[str, LinkState], None]


@dataclass
class LinkStats:
    """Counters for tests, benchmarks and the simulator's status."""

    connects: int = 0  # sessions that got a welcome
    failures: int = 0  # attempts that could not connect, or links found dead
    sent: int = 0  # event frames sent, resends included
    resends: int = 0  # event frames sent for an event that had been sent before
    acked: int = 0  # events acknowledged (each event counts once)
    duplicates: int = 0  # of which the server already had (a resend after a lost ack)
    renumbers: int = 0
    heartbeats: int = 0
    commands: int = 0
    auth_failures: int = 0
    max_in_flight: int = 0
    last_close_code: int | None = None
    last_error: str = ""


class LinkBroken(Exception):
    """The session must end and the unit reconnect (dead link, bad welcome)."""


def device_url(server_url: str) -> str:
    """The device-link URL for a server address: ``http://h:p`` becomes ``ws://h:p/device/v1``."""
    parts = urlsplit(server_url.strip())
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    if scheme not in ("ws", "wss") or not parts.netloc:
        raise ValueError(
            f"server URL {server_url!r} must look like ws://HOST:PORT or http://HOST:PORT"
        )
    path = parts.path if parts.path not in ("", "/") else DEVICE_PATH
    return urlunsplit((scheme, parts.netloc, path, parts.query, ""))


@dataclass
class _InFlight:
    event: OutboxEvent
    sent_at: float


@dataclass
class _Session:
    """What one connection knows; thrown away when it ends."""

    period: float
    server_last: int
    in_flight: dict[int, _InFlight] = field(default_factory=dict)
    sent_upto: int = 0
    resync: bool = False  # a seq was refused: stop sending until every answer is in
    server_answered: bool = False


class DeviceLink:
    """Keeps one unit's link to the server up and its outbox drained."""

    def __init__(
        self,
        server_url: str,
        unit_id: str,
        key: str,
        outbox: Outbox,
        *,
        commands: CommandHandler | None = None,
        capabilities: list[str] | None = None,
        firmware: str = FIRMWARE,
        window: int = 32,
        heartbeat_period: float | None = None,
        hello_timeout: float = 10.0,
        backoff: Backoff | None = None,
        auth_retry: float = 60.0,
        max_frame_bytes: int = 64 * 1024,
        status: Callable[[], dict[str, Any]] | None = None,
        on_ack: AckHook | None = None,
        on_renumber: RenumberHook | None = None,
        on_state: StateHook | None = None,
    ) -> None:
        if window < 1:
            raise ValueError("window must be at least 1")
        self.url = device_url(server_url)
        self.unit_id = unit_id
        self._key = key
        self.outbox = outbox
        self.commands = commands
        self.capabilities = capabilities or ["button", "light", "camera", "speaker"]
        self.firmware = firmware
        self.window = window
        self.heartbeat_override = heartbeat_period
        self.hello_timeout = hello_timeout
        self.backoff = backoff or Backoff()
        self.auth_retry = auth_retry
        self.max_frame_bytes = max_frame_bytes
        self.status = status
        self.on_ack = on_ack
        self.on_renumber = on_renumber
        self.on_state = on_state
        self.stats = LinkStats()
        self.state = LinkState.IDLE
        self.server_last_seq: int | None = None
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._session: _Session | None = None
        # Bumped by every renumbering, so a sender mid-batch drops its stale seqs.
        self._numbering = 0
        self._sent_ids: set[int] = set()

    @property
    def connected(self) -> bool:
        """Whether the server has welcomed the current connection."""
        return self.state is LinkState.CONNECTED

    def wake(self) -> None:
        """Tell the sender there is something new in the outbox; safe from any thread."""
        loop = self._loop
        if loop is None:
            return  # not running yet: run() sends whatever the outbox holds when it starts
        if threading.get_ident() == self._loop_thread:
            self._wake.set()
            return
        # If the loop has closed, the event simply waits in the outbox for the next start.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._wake.set)

    def stop(self) -> None:
        """Close the link and make :meth:`run` return (call from the loop's thread)."""
        self._stop.set()

    async def run(self) -> LinkExit:
        """Connect, keep connected and deliver events until stopped or replaced."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        try:
            while not self._stop.is_set():
                self._set_state(LinkState.CONNECTING)
                delay = await self._attempt()
                if delay is None:
                    self._set_state(LinkState.REPLACED)
                    return LinkExit.REPLACED
                if self.state is not LinkState.AUTH_FAILED:
                    self._set_state(LinkState.RETRYING)
                if self._stop.is_set() or await self._stopped_within(delay):
                    break
            self._set_state(LinkState.STOPPED)
            return LinkExit.STOPPED
        finally:
            self._loop = None

    async def _attempt(self) -> float | None:
        """One connection, start to end; the delay before the next, or None to give up."""
        try:
            await self._connect_and_serve()
            if not self._stop.is_set():
                self.stats.last_error = "server closed the link"
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else None
            reason = exc.rcvd.reason if exc.rcvd is not None else ""
            self.stats.last_close_code = code
            self.stats.last_error = f"closed by server: {code} {reason}".strip()
            if code == CloseCode.REPLACED:
                log.error(
                    "%s: replaced by a newer connection of the same unit (4409); stopping. "
                    "Is a second agent running with this unit id?",
                    self.unit_id,
                )
                return None
            if code == CloseCode.AUTH_FAILED:
                self.stats.auth_failures += 1
                self._set_state(LinkState.AUTH_FAILED)
                delay = self.backoff.jittered(self.auth_retry)
                log.error(
                    "%s: AUTHENTICATION FAILED (4401): the server does not know this unit, it "
                    "is out of service, or the key is wrong. Ask the engineer to check the "
                    "unit id and key. Retrying in %.0f s.",
                    self.unit_id,
                    delay,
                )
                return delay
            if code is not None and code in FIRMWARE_BUGS:
                log.error(
                    "%s: the server closed the link with %s (%s): this agent broke the "
                    "protocol, please report it",
                    self.unit_id,
                    code,
                    reason,
                )
            else:
                log.warning("%s: link closed (%s %s)", self.unit_id, code, reason)
        except (OSError, TimeoutError, InvalidHandshake, LinkBroken) as exc:
            self.stats.failures += 1
            self.stats.last_error = str(exc) or type(exc).__name__
            log.warning("%s: link down: %s", self.unit_id, self.stats.last_error)
        except InvalidURI as exc:  # device_url() checked the URL; this is a safety net
            raise ValueError(f"bad server URL {self.url!r}: {exc}") from exc
        return self.backoff.next_delay()

    async def _stopped_within(self, delay: float) -> bool:
        try:
            await asyncio.wait_for(self._stop.wait(), delay)
        except TimeoutError:
            return False
        return True

    async def _connect_and_serve(self) -> None:
        async with connect(
            self.url,
            open_timeout=self.hello_timeout,
            ping_interval=None,  # the protocol's heartbeats do this job
            close_timeout=1.0,
            max_size=self.max_frame_bytes,
            proxy=None,  # units talk to the server directly
        ) as ws:
            await self._send(
                ws,
                {
                    "type": "hello",
                    "protocol": PROTOCOL_VERSION,
                    "unit": self.unit_id,
                    "key": self._key,
                    "firmware": self.firmware,
                    "capabilities": self.capabilities,
                },
            )
            session = await self._welcome(ws)
            self._session = session
            self.stats.connects += 1
            self._set_state(LinkState.CONNECTED)
            self._wake.set()
            tasks = [
                asyncio.create_task(self._reader(ws, session)),
                asyncio.create_task(self._sender(ws, session)),
                asyncio.create_task(self._heartbeats(ws, session)),
                asyncio.create_task(self._stop.wait()),
            ]
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                self._session = None
                if self.state is LinkState.CONNECTED:
                    self._set_state(LinkState.CONNECTING)
            for task in done:
                error = task.exception()
                if isinstance(error, LinkBroken):
                    # A dead link will not answer a closing handshake; do not wait for one.
                    ws.transport.abort()
                if error is not None:
                    raise error

    async def _welcome(self, ws: ClientConnection) -> _Session:
        async with asyncio.timeout(self.hello_timeout):
            raw = await ws.recv()
        frame = _decode(raw)
        if frame is None or frame.get("type") != "welcome":
            raise LinkBroken(f"expected a welcome, got {str(raw)[:200]!r}")
        last_seq = frame.get("last_seq")
        period = frame.get("heartbeat_period")
        if not _is_int(last_seq) or last_seq < 0:
            raise LinkBroken(f"welcome has no usable last_seq: {last_seq!r}")
        if not isinstance(period, int | float) or isinstance(period, bool) or period <= 0:
            raise LinkBroken(f"welcome has no usable heartbeat_period: {period!r}")
        self.server_last_seq = last_seq
        self.outbox.adopt_server_last_seq(self.unit_id, last_seq)
        self.outbox.prune_acked(self.unit_id)
        log.info("%s: connected to %s (server last_seq %d)", self.unit_id, self.url, last_seq)
        return _Session(period=float(self.heartbeat_override or period), server_last=last_seq)

    async def _reader(self, ws: ClientConnection, session: _Session) -> None:
        silence = 2 * session.period
        while True:
            try:
                async with asyncio.timeout(silence):
                    raw = await ws.recv()
            except TimeoutError:
                raise LinkBroken(f"nothing heard from the server for {silence:g} s") from None
            frame = _decode(raw)
            if frame is None:
                log.warning("%s: ignored a frame that is not a JSON object", self.unit_id)
                continue
            await self._dispatch(ws, session, frame)

    async def _dispatch(
        self, ws: ClientConnection, session: _Session, frame: dict[str, Any]
    ) -> None:
        kind = frame.get("type")
        if kind in ("ack", "heartbeat_ack") and not session.server_answered:
            # The server works, not merely accepts connections: start backing off afresh.
            session.server_answered = True
            self.backoff.reset()
        if kind == "ack":
            self._acked(session, frame)
        elif kind == "error":
            self._error(session, frame)
        elif kind == "command":
            await self._command(ws, frame)
        elif kind != "heartbeat_ack":
            log.warning("%s: ignored a %r frame", self.unit_id, kind)

    def _acked(self, session: _Session, frame: dict[str, Any]) -> None:
        seq, status = frame.get("seq"), frame.get("status")
        flight = session.in_flight.pop(seq, None) if _is_int(seq) else None
        if flight is None:
            log.warning("%s: ack for seq %r, which is not in flight; ignored", self.unit_id, seq)
            return
        assert _is_int(seq)  # narrowed for the type checker; the pop above already required it
        session.server_last = max(session.server_last, seq)
        self._sent_ids.discard(flight.event.id)
        if self.outbox.mark_acked(self.unit_id, seq):
            self.stats.acked += 1
            if status == "duplicate":
                self.stats.duplicates += 1
            if self.on_ack is not None:
                self.on_ack(self.unit_id, seq, str(status))
        self._answered(session)

    def _error(self, session: _Session, frame: dict[str, Any]) -> None:
        code, seq, message = frame.get("code"), frame.get("seq"), frame.get("message", "")
        if code in ("seq_conflict", "seq_regressed") and _is_int(seq):
            if session.in_flight.pop(seq, None) is None:
                log.warning("%s: %s for seq %d, not in flight; ignored", self.unit_id, code, seq)
                return
            last_seq = frame.get("last_seq")
            if _is_int(last_seq):
                session.server_last = max(session.server_last, last_seq)
            log.warning("%s: server refused seq %d (%s): %s", self.unit_id, seq, code, message)
            session.resync = True
            self._answered(session)
        else:
            log.error("%s: server error %s: %s", self.unit_id, code, message)

    def _answered(self, session: _Session) -> None:
        """One in-flight event was answered; renumber once a refused batch is fully answered."""
        if session.resync and not session.in_flight:
            # Only now is it known which events the server stored: every other unacked one
            # gets a fresh number above the server's, in the original order.
            mapping = self.outbox.renumber_from(self.unit_id, session.server_last + 1)
            self._numbering += 1
            self.stats.renumbers += 1
            session.resync = False
            session.sent_upto = 0
            changed = {old: new for old, new in mapping.items() if old != new}
            log.warning(
                "%s: renumbered %d unacknowledged event(s) from seq %d",
                self.unit_id,
                len(mapping),
                session.server_last + 1,
            )
            if changed and self.on_renumber is not None:
                self.on_renumber(self.unit_id, changed)
        self._wake.set()

    async def _sender(self, ws: ClientConnection, session: _Session) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while not session.resync and len(session.in_flight) < self.window:
                numbering = self._numbering
                batch = self.outbox.unacked(
                    self.unit_id,
                    after_seq=session.sent_upto,
                    limit=self.window - len(session.in_flight),
                )
                if not batch:
                    break
                for event in batch:
                    if session.resync or numbering != self._numbering:
                        break
                    session.in_flight[event.seq] = _InFlight(event, time.monotonic())
                    session.sent_upto = event.seq
                    self.stats.max_in_flight = max(self.stats.max_in_flight, len(session.in_flight))
                    self.stats.sent += 1
                    if event.id in self._sent_ids:
                        self.stats.resends += 1
                    self._sent_ids.add(event.id)
                    await self._send(ws, event.frame())

    async def _heartbeats(self, ws: ClientConnection, session: _Session) -> None:
        while True:
            await asyncio.sleep(session.period)
            if session.in_flight:
                oldest = min(flight.sent_at for flight in session.in_flight.values())
                waited = time.monotonic() - oldest
                if waited > 2 * session.period:
                    raise LinkBroken(f"no answer to an event for {waited:.1f} s")
            frame: dict[str, Any] = {"type": "heartbeat", "time": utc_timestamp()}
            if self.status is not None:
                frame["status"] = self.status()
            await self._send(ws, frame)
            self.stats.heartbeats += 1

    async def _command(self, ws: ClientConnection, frame: dict[str, Any]) -> None:
        command_id, command, args = frame.get("id"), frame.get("command"), frame.get("args", {})
        if not isinstance(command_id, str):
            log.error("%s: command without an id: %s", self.unit_id, frame)
            return
        self.stats.commands += 1
        if not isinstance(command, str) or not isinstance(args, dict):
            result = CommandResult(False, "command must be a string and args an object")
        elif self.commands is None:
            result = CommandResult(False, "this unit takes no commands")
        else:
            try:
                result = self.commands(command, args)
            except Exception as exc:  # a hardware fault must not take the link down
                log.exception("%s: command %s failed", self.unit_id, command)
                result = CommandResult(False, f"{command} failed: {exc}")
        await self._send(
            ws,
            {
                "type": "command_result",
                "id": command_id,
                "ok": result.ok,
                "detail": result.detail,
            },
        )

    async def _send(self, ws: ClientConnection, frame: dict[str, Any]) -> None:
        await ws.send(json.dumps(frame, separators=(",", ":")))

    def _set_state(self, state: LinkState) -> None:
        if state is self.state:
            return
        self.state = state
        if self.on_state is not None:
            self.on_state(self.unit_id, state)


def _decode(raw: str | bytes) -> dict[str, Any] | None:
    if isinstance(raw, bytes):
        return None
    try:
        frame = json.loads(raw)
    except json.JSONDecodeError:
        return None
    return frame if isinstance(frame, dict) else None


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)
