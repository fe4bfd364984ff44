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
import inspect
import json
import logging
import random
import threading
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from helppoint.agent.backoff import Backoff
from helppoint.agent.delivery import Delivery
from helppoint.agent.outbox import Outbox, OutboxError, utc_timestamp
from helppoint.agent.protocol import (
    FIRMWARE,
    AckHook,
    CommandHandler,
    CommandResult,
    LinkBroken,
    LinkExit,
    LinkState,
    LinkStats,
    RenumberHook,
    StateHook,
    decode_frame,
    device_url,
    is_int,
)
from helppoint.protocol.device_link import FIRMWARE_BUGS, PROTOCOL_VERSION, CloseCode

__all__ = [
    "AckHook",
    "CommandHandler",
    "CommandResult",
    "DeviceLink",
    "LinkBroken",
    "LinkExit",
    "LinkState",
    "LinkStats",
    "RenumberHook",
    "StateHook",
    "device_url",
]

log = logging.getLogger(__name__)
#: Where the first heartbeat of each link falls within its period (`_heartbeats`).
_spread = random.Random()
_T = TypeVar("_T")


class CallHandler(Protocol):
    """Takes the call frames of the link (helppoint/agent/call.py's UnitCalls)."""

    async def handle(self, frame: dict[str, Any]) -> dict[str, Any] | None:
        """Act on ``call_offer``/``call_end``; the frame to send back, if any."""

    async def link_lost(self) -> None:
        """The link dropped: end any call."""


class _Stopped(Exception):
    """stop() was called while connecting."""


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
        ack_timeout: float | None = None,
        backoff: Backoff | None = None,
        auth_retry: float = 60.0,
        max_frame_bytes: int = 64 * 1024,
        source_address: str | None = None,
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
        #: Runs a server command; it may answer later (an awaitable, e.g. an ONVIF camera move).
        self.commands: (
            Callable[[str, dict[str, Any]], CommandResult | Awaitable[CommandResult]] | None
        ) = commands
        self.capabilities = capabilities or ["button", "light", "camera", "speaker"]
        self.firmware = firmware
        self.window = window
        self.heartbeat_override = heartbeat_period
        self.hello_timeout = hello_timeout
        #: Seconds an event may wait for its answer before the link counts as broken
        #: (None: two heartbeat periods, like silence).
        self.ack_timeout = ack_timeout
        self.backoff = backoff or Backoff()
        self.auth_retry = auth_retry
        self.max_frame_bytes = max_frame_bytes
        #: The local address to connect from (None: the system's choice). A unit with two
        #: networks can pick one; a simulated fleet uses it to go past the ~28,000 ports
        #: one address has towards one server address.
        self.source_address = source_address
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
        # Row ids of events sent at least once, across connections (for the resend count).
        self._sent_ids: set[int] = set()
        #: Takes calls offered by the server (docs/calls.md); None: the unit refuses them.
        self.calls: CallHandler | None = None
        self._call_tasks: set[asyncio.Task[None]] = set()

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
        previous_error = self.stats.last_error
        report = True
        try:
            await self._connect_and_serve()
            if not self._stop.is_set():
                self.stats.last_error = "server closed the link"
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else None
            reason = exc.rcvd.reason if exc.rcvd is not None else ""
            self.stats.last_close_code = code
            self.stats.last_error = (
                f"closed by the server: {code} {reason}".strip()
                if code is not None
                else "connection lost without a closing handshake"
            )
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
                report = False
                log.error(
                    "%s: the server closed the link with %s (%s): this agent broke the "
                    "protocol, please report it",
                    self.unit_id,
                    code,
                    reason,
                )
        except OutboxError as exc:
            # The disk is in trouble; events already stored stay where they are. Retry later.
            report = False
            self.stats.failures += 1
            self.stats.last_error = str(exc)
            log.error("%s: %s", self.unit_id, exc)
        except (OSError, TimeoutError, InvalidHandshake, LinkBroken) as exc:
            self.stats.failures += 1
            self.stats.last_error = str(exc) or type(exc).__name__
        except _Stopped:
            return 0.0
        except InvalidURI as exc:  # device_url() checked the URL; this is a safety net
            raise ValueError(f"bad server URL {self.url!r}: {exc}") from exc
        delay = self.backoff.next_delay()
        if report and not self._stop.is_set():
            # Loud when something changes; the same failure again while retrying is routine.
            same = self.stats.last_error == previous_error
            log.log(
                logging.INFO if same else logging.WARNING,
                "%s: link down: %s; retrying in %.1f s",
                self.unit_id,
                self.stats.last_error,
                delay,
            )
        return delay

    async def _stopped_within(self, delay: float) -> bool:
        try:
            async with asyncio.timeout(delay):
                await self._stop.wait()
        except TimeoutError:
            return False
        return True

    async def _connect_and_serve(self) -> None:
        ws = await self._unless_stopped(
            connect(
                self.url,
                open_timeout=self.hello_timeout,
                ping_interval=None,  # the protocol's heartbeats do this job
                # Frames are small JSON: per-message deflate would cost a zlib context per
                # link on both ends (tens of KiB each) and CPU on every heartbeat.
                compression=None,
                close_timeout=1.0,
                max_size=self.max_frame_bytes,
                proxy=None,  # units talk to the server directly
                local_addr=(self.source_address, 0) if self.source_address else None,
            )
        )
        try:
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
            period, last_seq = await self._unless_stopped(self._welcome(ws))
            delivery = Delivery(
                self.unit_id,
                self.outbox,
                window=self.window,
                server_last=last_seq,
                stats=self.stats,
                sent_ids=self._sent_ids,
                on_ack=self.on_ack,
                on_renumber=self.on_renumber,
            )
            self.stats.connects += 1
            self._set_state(LinkState.CONNECTED)
            self._wake.set()
            tasks = [
                asyncio.create_task(self._reader(ws, delivery, period)),
                asyncio.create_task(self._sender(ws, delivery)),
                asyncio.create_task(self._heartbeats(ws, delivery, period)),
                asyncio.create_task(self._stop.wait()),
            ]
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                if self.state is LinkState.CONNECTED:
                    self._set_state(LinkState.CONNECTING)
                for call_task in list(self._call_tasks):
                    call_task.cancel()
                if self.calls is not None:
                    with contextlib.suppress(Exception):
                        await self.calls.link_lost()
            for task in done:
                error = task.exception()
                if isinstance(error, LinkBroken):
                    # A dead link will not answer a closing handshake; do not wait for one.
                    ws.transport.abort()
                if error is not None:
                    raise error
        finally:
            await ws.close()

    async def _unless_stopped(self, step: Awaitable[_T]) -> _T:
        """Await one step of connecting, but give up at once if stop() is called meanwhile.

        Connecting to a host that does not answer can take the whole hello_timeout; a unit
        being shut down should not wait for that.
        """
        task: asyncio.Future[_T] = asyncio.ensure_future(step)
        stopper = asyncio.create_task(self._stop.wait())
        try:
            waiting: set[asyncio.Future[Any]] = {task, stopper}
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            task.cancel()
            raise
        finally:
            stopper.cancel()
        if not task.done():
            task.cancel()
            try:
                return await task  # it may have finished just as it was cancelled
            except asyncio.CancelledError:
                raise _Stopped from None
        return task.result()

    async def _welcome(self, ws: ClientConnection) -> tuple[float, int]:
        """Read the welcome; the heartbeat period to use and the server's last_seq."""
        async with asyncio.timeout(self.hello_timeout):
            raw = await ws.recv()
        frame = decode_frame(raw)
        if frame is None or frame.get("type") != "welcome":
            raise LinkBroken(f"expected a welcome, got {str(raw)[:200]!r}")
        last_seq = frame.get("last_seq")
        period = frame.get("heartbeat_period")
        if not is_int(last_seq) or last_seq < 0:
            raise LinkBroken(f"welcome has no usable last_seq: {last_seq!r}")
        if not isinstance(period, int | float) or isinstance(period, bool) or period <= 0:
            raise LinkBroken(f"welcome has no usable heartbeat_period: {period!r}")
        self.server_last_seq = last_seq
        self.outbox.adopt_server_last_seq(self.unit_id, last_seq)
        self.outbox.prune_acked(self.unit_id)
        log.info("%s: connected to %s (server last_seq %d)", self.unit_id, self.url, last_seq)
        return float(self.heartbeat_override or period), last_seq

    async def _reader(self, ws: ClientConnection, delivery: Delivery, period: float) -> None:
        answered = False
        while True:
            # A `configure` command may change the period while connected.
            silence = 2 * (self.heartbeat_override or period)
            try:
                async with asyncio.timeout(silence):
                    raw = await ws.recv()
            except TimeoutError:
                raise LinkBroken(f"nothing heard from the server for {silence:g} s") from None
            frame = decode_frame(raw)
            if frame is None:
                log.warning("%s: ignored a frame that is not a JSON object", self.unit_id)
                continue
            kind = frame.get("type")
            if kind in ("ack", "heartbeat_ack") and not answered:
                # The server works, not merely accepts connections: start backing off afresh.
                answered = True
                self.backoff.reset()
            if kind == "ack":
                reason = frame.get("message") or frame.get("reason") or ""
                delivery.acked(frame.get("seq"), frame.get("status"), reason)
                self._wake.set()
            elif kind == "error":
                self._error(delivery, frame)
            elif kind == "command":
                await self._command(ws, frame)
            elif kind in ("call_offer", "call_end"):
                # Answering takes a moment (ICE gathering): keep reading meanwhile.
                task = asyncio.create_task(self._call(ws, frame))
                self._call_tasks.add(task)
                task.add_done_callback(self._call_tasks.discard)
            elif kind != "heartbeat_ack":
                log.warning("%s: ignored a %r frame", self.unit_id, kind)

    def _error(self, delivery: Delivery, frame: dict[str, Any]) -> None:
        code, seq, message = frame.get("code"), frame.get("seq"), frame.get("message", "")
        if code in ("seq_conflict", "seq_regressed") and is_int(seq):
            delivery.refused(seq, str(code), frame.get("last_seq"), str(message))
            self._wake.set()
        else:
            log.error("%s: server error %s: %s", self.unit_id, code, message)

    async def _sender(self, ws: ClientConnection, delivery: Delivery) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while delivery.can_send:
                numbering = delivery.numbering
                batch = delivery.next_batch()
                if not batch:
                    break
                for event in batch:
                    # A refusal or renumbering while we awaited a send makes the batch stale.
                    if not delivery.can_send or numbering != delivery.numbering:
                        break
                    delivery.sending(event)
                    await self._send(ws, event.frame())

    async def _heartbeats(self, ws: ClientConnection, delivery: Delivery, period: float) -> None:
        # The first heartbeat comes after a random share of the period, the later ones a
        # period apart: a fleet that reconnected together (the server restarted, and every
        # unit's first retry falls within half a second) then heartbeats spread over the
        # period, not all in the same second of every period.
        first = True
        while True:
            wait = self.heartbeat_override or period
            await asyncio.sleep(_spread.uniform(0.0, wait) if first else wait)
            first = False
            waited = delivery.oldest_wait()
            if waited > (self.ack_timeout or 2 * (self.heartbeat_override or period)):
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
                answer = self.commands(command, args)
                result = await answer if inspect.isawaitable(answer) else answer
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
                **({"applied": result.applied} if result.applied is not None else {}),
            },
        )

    async def _call(self, ws: ClientConnection, frame: dict[str, Any]) -> None:
        if self.calls is None:
            if frame.get("type") == "call_offer":
                await self._send(
                    ws,
                    {
                        "type": "call_answer",
                        "call": str(frame.get("call", "")),
                        "ok": False,
                        "detail": "this unit takes no calls",
                    },
                )
            return
        try:
            reply = await self.calls.handle(frame)
        except Exception:  # a media fault must not take the link down
            log.exception("%s: call frame %s failed", self.unit_id, frame.get("type"))
            return
        if reply is not None:
            with contextlib.suppress(ConnectionClosed):
                await self._send(ws, reply)

    async def _send(self, ws: ClientConnection, frame: dict[str, Any]) -> None:
        await ws.send(json.dumps(frame, separators=(",", ":")))

    def _set_state(self, state: LinkState) -> None:
        if state is self.state:
            return
        self.state = state
        if self.on_state is not None:
            self.on_state(self.unit_id, state)
