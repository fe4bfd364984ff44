"""DC-09 over TCP and UDP: asyncio protocols that answer in order, without a task per message.

A message that needs nothing but checks (a NULL link test, a NAK, a DUH) is answered in the
same callback that received it. One whose events must be stored first is answered by a
`Pending` once they are committed, and later frames of that connection wait behind it, so
answers always go out in the order the messages came.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any, Protocol, cast

from helppoint.gateway.sia.codec import FrameError, FrameReader, is_ack

log = logging.getLogger("helppoint.gateway.sia.receiver")

#: Frames one connection may have waiting behind a store before it stops reading.
MAX_BACKLOG = 64


class Pending:
    """An answer still being worked out (the events are being committed).

    Settled by a plain callback rather than a future or a task: a flood of alarms is
    answered in the callback that learns of each commit, with no loop round trip per step.
    """

    __slots__ = ("_answer", "_deliver", "_settled")

    def __init__(self) -> None:
        self._deliver: Callable[[bytes | None], None] | None = None
        self._answer: bytes | None = None
        self._settled = False

    def then(self, deliver: Callable[[bytes | None], None]) -> None:
        """Call `deliver` with the answer once there is one (now, if there already is)."""
        if self._settled:
            deliver(self._answer)
        else:
            self._deliver = deliver

    def settle(self, answer: bytes | None) -> None:
        """The answer (b"" for none, None for "not stored: close"); only the first counts."""
        if self._settled:
            return
        self._settled, self._answer = True, answer
        deliver, self._deliver = self._deliver, None
        if deliver is not None:
            deliver(answer)


#: An answer now (b"" for none), None for "not stored: close", or one still being worked out.
Answer = bytes | None | Pending


class Receiver(Protocol):
    """What a connection asks of the receiver (receiver.SiaReceiver is the one there is).

    A protocol rather than an import of receiver.py, which imports this module.
    """

    connections: set[TcpConnection]

    def open_unproven(self, host: str, address: str) -> bool: ...

    def unproven_done(self, host: str) -> None: ...

    def answer_now(self, item: bytes | FrameError, address: str, host: str) -> Answer: ...


def answer_later(
    work: Coroutine[Any, Any, Answer],
    track: Callable[[asyncio.Task[None]], None],
    address: str,
) -> Pending:
    """Run `work` (which waits for the database) in a task, and answer with what it gives."""
    pending = Pending()

    async def run() -> None:
        try:
            answer = await work
        except Exception:
            log.exception("SIA %s: could not answer a message; closing", address)
            answer = None
        if isinstance(answer, Pending):
            answer.then(pending.settle)
        else:
            pending.settle(answer)

    track(asyncio.get_running_loop().create_task(run()))
    return pending


class TcpConnection(asyncio.Protocol):
    """One panel's TCP connection: frames in, answers out in the same order."""

    def __init__(self, receiver: Receiver, idle_timeout: float, unproven_timeout: float) -> None:
        self._receiver = receiver
        self._idle_timeout = idle_timeout
        # (never longer than a proven connection's)
        self._unproven_timeout = min(unproven_timeout, idle_timeout)
        #: Counted among its address's unproven connections until a message is ACKed.
        self._unproven = False
        self._frames = FrameReader()
        self._backlog: deque[bytes | FrameError] = deque()
        #: The answer this connection waits for before answering the frames behind it.
        self._pending: Pending | None = None
        self._transport: asyncio.Transport | None = None
        self._idle: asyncio.TimerHandle | None = None
        self._loop = asyncio.get_running_loop()
        self._heard = self._loop.time()
        self._closed = False
        self._eof = False
        self._reading_paused = False
        self._writing_paused = False
        self.address = self.host = "?"

    # ---- asyncio callbacks ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # (uvloop's is not a subclass)
        peer = self._transport.get_extra_info("peername")
        if peer:
            self.address, self.host = f"{peer[0]}:{peer[1]}", str(peer[0])
        self._receiver.connections.add(self)
        if not self._receiver.open_unproven(self.host, self.address):
            self.close()
            return
        self._unproven = True
        self._idle = self._loop.call_later(self._unproven_timeout, self._check_idle)

    def data_received(self, data: bytes) -> None:
        self._heard = self._loop.time()
        self._backlog.extend(self._frames.feed(data))
        if self._pending is None:
            self._answer_backlog()
        elif len(self._backlog) > MAX_BACKLOG:
            self._pause_reading()

    def eof_received(self) -> bool:
        # The panel has sent all it will: answer what it sent, then close.
        self._eof = True
        if self._pending is None:
            self.close()
        return True  # keep the connection open for the answers still to come

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            log.info("SIA %s: connection lost: %s", self.address, exc)
        self._closed = True
        self._backlog.clear()
        if self._idle is not None:
            self._idle.cancel()
        self._proven()
        self._receiver.connections.discard(self)
        # A store under way carries on: its events are committed, and the panel's
        # retransmission is answered from what was stored.

    def pause_writing(self) -> None:
        # The panel does not read its answers: stop reading its messages until it does.
        self._writing_paused = True
        self._pause_reading()

    def resume_writing(self) -> None:
        self._writing_paused = False
        if self._pending is None or len(self._backlog) <= MAX_BACKLOG:
            self._resume_reading()

    # ---- answering -----------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection (unanswered messages are retransmitted by the panel)."""
        self._closed = True
        if self._transport is not None:
            self._transport.close()

    def _answer_backlog(self) -> None:
        receiver, backlog = self._receiver, self._backlog
        while backlog and not self._closed:
            answer = receiver.answer_now(backlog.popleft(), self.address, self.host)
            if answer is None:
                self.close()  # not stored: say nothing, and the panel retransmits
                return
            if isinstance(answer, bytes):
                if answer:
                    self._write(answer)
                continue
            self._pending = answer
            answer.then(self._answered)
            return
        if self._eof:
            self.close()
        elif not self._writing_paused:
            self._resume_reading()

    def _answered(self, answer: bytes | None) -> None:
        self._pending = None
        if answer is None:
            self.close()
            return
        if answer:
            self._write(answer)
        self._answer_backlog()

    def _write(self, answer: bytes) -> None:
        if not self._closed and self._transport is not None:
            if self._unproven and is_ack(answer):
                self._proven()
            self._transport.write(answer)

    def _proven(self) -> None:
        # A message of a known account was ACKed (or the connection closed): the connection
        # no longer counts against its address, and gets the full idle timeout.
        if self._unproven:
            self._unproven = False
            self._receiver.unproven_done(self.host)

    def _check_idle(self) -> None:
        if self._closed:
            return
        idle = self._loop.time() - self._heard
        if self._unproven and self._pending is None:
            # Connected, but nothing it sent was ACKed: an idle or half-open connection.
            log.info(
                "SIA %s: no message ACKed in %.0f s; closing", self.address, self._unproven_timeout
            )
            self.close()
            return
        if idle >= self._idle_timeout and self._pending is None:
            log.info("SIA %s: idle for %.0f s; closing", self.address, self._idle_timeout)
            self.close()
            return
        self._idle = self._loop.call_later(max(self._idle_timeout - idle, 1.0), self._check_idle)

    def _pause_reading(self) -> None:
        if not self._reading_paused and not self._closed and self._transport is not None:
            self._reading_paused = True
            self._transport.pause_reading()

    def _resume_reading(self) -> None:
        if self._reading_paused and not self._closed and self._transport is not None:
            self._reading_paused = False
            self._transport.resume_reading()


class UdpEndpoint(asyncio.DatagramProtocol):
    """DC-09 over UDP: one datagram is one message, answered to where it came from."""

    def __init__(self, receiver: Receiver) -> None:
        self._receiver = receiver
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (asyncio's selector datagram transport is not a DatagramTransport subclass on 3.11)
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        # One datagram is one frame, but frame it the same way: never trust the read size.
        self._answer(deque(FrameReader().feed(data)), addr, f"{addr[0]}:{addr[1]}")

    def _answer(
        self, items: deque[bytes | FrameError], addr: tuple[str, int], address: str
    ) -> None:
        while items:
            answer = self._receiver.answer_now(items.popleft(), address, addr[0])
            if isinstance(answer, Pending):

                def answered(answer: bytes | None) -> None:
                    if answer:
                        self._send(answer, addr)
                    self._answer(items, addr, address)

                answer.then(answered)
                return
            if answer:
                self._send(answer, addr)

    def _send(self, answer: bytes, addr: tuple[str, int]) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(answer, addr)

    def error_received(self, exc: Exception) -> None:
        log.info("SIA UDP: %s", exc)
