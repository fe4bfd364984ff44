"""uvicorn's HTTP and WebSocket protocols, minus what a WebSocket keeps after its handshake.

A server holds one WebSocket per unit for as long as the unit is up: tens of thousands per
process. uvicorn's protocols keep things per connection that are never used again once the
handshake is done, or that are far larger than one link needs (docs/performance.md, "Objects
per link"):

- the HTTP protocol that read the upgrade request stays alive in a reference cycle with its
  parser (uvicorn breaks it in `connection_lost`, which an upgraded connection never calls on
  it): garbage that only a collection frees, and that freezing (helppoint/gcpauses.py) turns
  into a leak if it is frozen before it is collected;
- the WebSocket protocol keeps the handshake's request and response with their headers, and
  websockets' parser keeps the request (a local of its suspended generator): its headers are
  emptied once the handshake is answered;
- its receive queue is an `asyncio.Queue` (three deques and an `Event` with a fourth) and its
  `writable` flag an `asyncio.Event` (a fifth): each deque takes ~770 bytes however empty,
  ~3.9 KB a link. `Inbox` and `Flag` do the same for a link in a few dozen bytes;
- the server's own address, the same for every link of a listening socket, as a tuple each;
- a timer (uvloop's handle and libuv timer, ~540 bytes) per link for its next keepalive ping:
  `PingWheel` sends every link's pings from one timer, a twentieth of a second's at a
  time and a slice each turn of the loop.

`helppoint serve`, the demo and the tests' servers use these (`HTTP_PROTOCOL`, `WS_PROTOCOL`).
"""

from __future__ import annotations

import asyncio
import collections
import math
from asyncio.transports import BaseTransport
from typing import Any, Generic, TypeVar

from starlette.types import Message
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.frames import Frame
from websockets.protocol import Event
from websockets.server import ServerProtocol

T = TypeVar("T")


class Inbox(Generic[T]):
    """What uvicorn's WebSocket protocol uses of `asyncio.Queue` (unbounded: `put_nowait`,
    `get`, `empty`), with its items and waiters in lists made only while there are any.

    uvicorn reads no further from the socket until the application has taken what was
    queued, so a link's inbox holds a message or two at most: a list is the right size.
    """

    __slots__ = ("_arrival", "_getters", "_items")

    def __init__(self) -> None:
        self._items: list[T] | None = None
        self._getters: list[asyncio.Future[None]] | None = None
        #: The one reader that waits on a bare future (`arrival`), not a coroutine.
        self._arrival: asyncio.Future[None] | None = None

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items) if self._items else 0

    def put_nowait(self, item: T) -> None:
        if self._items is None:
            self._items = [item]
        else:
            self._items.append(item)
        self._wake_getter()

    async def get(self) -> T:
        while not self._items:
            getter = asyncio.get_running_loop().create_future()
            if self._getters is None:
                self._getters = [getter]
            else:
                self._getters.append(getter)
            try:
                await getter
            except BaseException:
                getter.cancel()  # in case it was not done
                if self._getters is not None and getter in self._getters:
                    self._getters.remove(getter)
                    if not self._getters:
                        self._getters = None
                if self._items and not getter.cancelled():
                    # Woken for an item, then cancelled before taking it: the next may.
                    self._wake_getter()
                raise
        return self._items_pop()

    def arrival(self) -> asyncio.Future[None] | None:
        """None if an item is waiting (`take` it), else a future done when one is put.

        `get` as a bare future: a reader awaiting it leaves the future and its wake-up
        callback waiting, not a coroutine of its own (nor, through uvicorn's and Starlette's
        receive, two more): what a link keeps between two messages is that much smaller.
        """
        if self._items:
            return None
        arrival = self._arrival
        if arrival is None or arrival.done():
            arrival = self._arrival = asyncio.get_running_loop().create_future()
        return arrival

    def take(self) -> T:
        """The first item (IndexError if there is none: wait for `arrival` first)."""
        if not self._items:
            raise IndexError("nothing has arrived")
        return self._items_pop()

    def _items_pop(self) -> T:
        assert self._items is not None
        item = self._items.pop(0)
        if not self._items:
            self._items = None
        return item

    def _wake_getter(self) -> None:
        arrival = self._arrival
        if arrival is not None:
            self._arrival = None
            if not arrival.done():
                arrival.set_result(None)
                return
        while self._getters:
            getter = self._getters.pop(0)
            if not getter.done():
                getter.set_result(None)
                break
        if not self._getters:
            self._getters = None


class Flag:
    """What uvicorn's WebSocket protocol uses of `asyncio.Event` (`set`, `clear`, `wait`,
    `is_set`), with its waiters in a list made only while there are any."""

    __slots__ = ("_value", "_waiters")

    def __init__(self, value: bool = False) -> None:
        self._value = value
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._value

    def set(self) -> None:
        if self._value:
            return
        self._value = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._value = False

    async def wait(self) -> bool:
        if self._value:
            return True
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = [waiter]
        else:
            self._waiters.append(waiter)
        try:
            await waiter
            return True
        finally:
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)
                if not self._waiters:
                    self._waiters = None


#: The server's own address of every link, one tuple per listening address (not per link).
_SERVER_ADDRESSES: dict[Any, Any] = {}


class PingWheel:
    """When each link's next keepalive ping is due, to the `TICK`, and one timer that sends
    those due (uvicorn schedules a timer per link). One per event loop (`for_loop`).

    Pings due in one tick go `SLICE` links a turn of the event loop, not all at once. At
    10,000 links pinged every 20 s, ~500 fall due each second: when the wheel turned once a
    second and sent them in one callback (a frame, a write and a pong timer each), it held
    the loop up for several milliseconds, and the pongs came back together, each second; a
    press that arrived meanwhile waited behind them. Now a tick holds a twentieth of them,
    and between two slices the loop reads what came in (docs/performance.md, "The serving
    loop's stalls").
    """

    __slots__ = ("_at", "_due", "_handle", "_loop", "_sending", "_slicing")

    #: Seconds between the wheel's turns: links due within one are pinged together.
    TICK = 0.05
    #: The most links pinged in one turn of the event loop.
    SLICE = 32

    #: The wheel of each event loop that has links waiting for a ping.
    _wheels: dict[asyncio.AbstractEventLoop, PingWheel] = {}

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        #: Links by the tick (the loop time in ticks, rounded up) their next ping is due.
        self._due: dict[int, set[WebSocketProtocol]] = {}
        self._handle: asyncio.Handle | None = None
        #: The loop time `_handle` runs at. (uvloop gives a plain Handle, without `when()`,
        #: for a time less than half a millisecond away: a link's accept failed on it.)
        self._at = 0.0
        #: Links whose ping is due and not sent yet (a slice goes each turn of the loop).
        self._sending: collections.deque[WebSocketProtocol] = collections.deque()
        self._slicing: asyncio.Handle | None = None

    @classmethod
    def for_loop(cls, loop: asyncio.AbstractEventLoop) -> PingWheel:
        wheel = cls._wheels.get(loop)
        if wheel is None:
            wheel = cls._wheels[loop] = cls(loop)
        return wheel

    def __len__(self) -> int:
        return sum(len(links) for links in self._due.values()) + len(self._sending)

    def add(self, link: WebSocketProtocol, delay: float) -> int:
        """Ping `link` in `delay` seconds (up to a tick later); the key to `remove` it."""
        key = math.ceil((self._loop.time() + delay) / self.TICK)
        links = self._due.get(key)
        if links is None:
            self._due[key] = {link}
            if self._handle is None or key * self.TICK < self._at:
                self._schedule()
        else:
            links.add(link)
        return key

    def remove(self, link: WebSocketProtocol, key: int) -> None:
        links = self._due.get(key)
        if links is not None:
            links.discard(link)
            if not links:
                del self._due[key]
                if not self._due and not self._sending:
                    self._stop()

    def _schedule(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._at = min(self._due) * self.TICK
        self._handle = self._loop.call_at(self._at, self._run)

    def _stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self._wheels.get(self._loop) is self:
            del self._wheels[self._loop]

    def _run(self) -> None:
        self._handle = None
        # (Half a tick's leeway: a timer may fire a little before its time.)
        now = self._loop.time() / self.TICK + 0.5
        for key in sorted(key for key in self._due if key <= now):
            for link in self._due.pop(key):
                # Due: no longer in the wheel (a link that closes meanwhile is skipped by
                # uvicorn's own check when its turn comes).
                link.ping_due = None
                self._sending.append(link)
        if self._due:
            self._schedule()
        if self._slicing is None:
            self._send_slice()

    def _send_slice(self) -> None:
        self._slicing = None
        sending = self._sending
        for _ in range(min(self.SLICE, len(sending))):
            link = sending.popleft()
            try:
                link.send_keepalive_ping()
            except Exception:  # one link's failure is not every other link's
                link.logger.exception("keepalive ping failed")
        if sending:
            self._slicing = self._loop.call_soon(self._send_slice)
        elif not self._due:
            self._stop()


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol that leaves no reference cycle behind an upgrade."""

    def handle_websocket_upgrade(self) -> None:
        super().handle_websocket_upgrade()
        # The WebSocket protocol has the transport now; this object is done. Its parser holds
        # it (a cycle), as until `connection_lost`, which now goes to the WebSocket protocol.
        self.parser = None  # type: ignore[assignment]
        self.scope = None  # type: ignore[assignment]
        self.headers = None  # type: ignore[assignment]


class _Connection(ServerProtocol):
    """websockets' Sans-I/O server connection, whose lists of events received and of data to
    send are emptied in place instead of replaced: otherwise each message leaves two new empty
    lists with the link until its next message, for the collector to walk (issue 21)."""

    def events_received(self) -> list[Event]:
        return _take_all(self.events)

    def data_to_send(self) -> list[bytes]:
        return _take_all(self.writes)


def _take_all(items: list[T]) -> list[T]:
    """What `items` holds, in a new list, leaving `items` empty (the same list)."""
    if not items:
        return _NOTHING
    taken = items.copy()
    items.clear()
    return taken


#: What `_Connection` returns when there is nothing (never changed: callers only read it).
_NOTHING: list[Any] = []
#: A link's frames between two messages (never changed: a continuation frame has a list of its
#: own first, `WebSocketProtocol.handle_cont`).
_NO_FRAMES: list[bytes] = []


class WebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol (websockets' Sans-I/O core) that forgets its handshake,
    keeps its queue and flag small, and leaves as little as it can between two messages."""

    # Its attributes in slots, not a dict: with more than 30 attributes (37) an instance's
    # dict shares no keys with the others' and takes ~1.6 KB a link; slots take 8 bytes each.
    # An attribute a later uvicorn adds still works (in a dict of its own): the tests see it.
    __slots__ = (
        "app",
        "app_state",
        "asgi_version",
        "client",
        "close_sent",
        "close_timeout",
        "close_timer",
        "config",
        "conn",
        "connections",
        "curr_msg_data_type",
        "default_headers",
        "disconnected",
        "frames",
        "handshake_complete",
        "handshake_initiated",
        "initial_response",
        "last_ping_rtt",
        "logger",
        "loop",
        "pending_ping_payload",
        "ping_due",  # ours: when its next keepalive ping is due in the loop's PingWheel
        "ping_interval",
        "ping_sent_at",
        "ping_timeout",
        "ping_timer",
        "pong_timer",
        "queue",
        "read_paused",
        "request",
        "response",
        "root_path",
        "scheme",
        "scope",
        "server",
        "tasks",
        "transport",
        "writable",
    )

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.queue = Inbox()  # type: ignore[assignment]
        self.writable = Flag(True)  # type: ignore[assignment]
        self.ping_due: int | None = None
        if type(self.conn) is ServerProtocol:  # the same object, with lists kept (above)
            self.conn.__class__ = _Connection
        self.frames = _NO_FRAMES

    def arrival(self) -> asyncio.Future[None] | None:
        """None if a message has arrived (`take` it), else a future done when one does: the
        ASGI receive without its coroutines (`Inbox.arrival`), for the device link."""
        return self.queue.arrival()  # type: ignore[attr-defined, no-any-return]

    def take(self) -> Message:
        """The message that arrived, as the ASGI receive returns it (`arrival` first)."""
        message: Message = self.queue.take()  # type: ignore[attr-defined]
        if self.read_paused and self.queue.empty():
            self.read_paused = False
            self.transport.resume_reading()
        return message

    def handle_cont(self, event: Frame) -> None:
        if self.frames is _NO_FRAMES:
            self.frames = []  # a fragment not after a first frame: as uvicorn's, not shared
        super().handle_cont(event)

    def send_receive_event_to_app(self) -> None:
        super().send_receive_event_to_app()
        self.frames = _NO_FRAMES  # not a new empty list each message

    def connection_made(self, transport: BaseTransport) -> None:
        super().connection_made(transport)
        if self.server is not None:
            self.server = _SERVER_ADDRESSES.setdefault(self.server, self.server)

    def schedule_ping(self) -> None:
        # As uvicorn's, in the loop's wheel rather than with a timer of its own.
        assert self.ping_interval is not None
        if self.ping_due is not None:
            PingWheel.for_loop(self.loop).remove(self, self.ping_due)
        delay = max(0.0, self.ping_interval - self.last_ping_rtt)
        self.ping_due = PingWheel.for_loop(self.loop).add(self, delay)

    def stop_keepalive(self) -> None:
        super().stop_keepalive()
        if self.ping_due is not None:
            PingWheel.for_loop(self.loop).remove(self, self.ping_due)
            self.ping_due = None

    def start_keepalive(self) -> None:
        # Called once, right after the accepted handshake's response is sent: the request
        # and response (with their headers) were read only to get there. websockets' parser
        # still holds the request (a local of its generator, for the connection's life).
        super().start_keepalive()
        if self.request is not None:
            self.request.headers.clear()
        self.request = None  # type: ignore[assignment]
        self.response = None  # type: ignore[assignment]


#: uvicorn.Config's `http` and `ws` for a helppoint server.
HTTP_PROTOCOL = "helppoint.web.server_protocols:HttpProtocol"
WS_PROTOCOL = "helppoint.web.server_protocols:WebSocketProtocol"
