"""What a unit's WebSocket leaves with the server once up (helppoint/web/server_protocols.py)."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
from contextlib import AsyncExitStack
from typing import Any

import pytest
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.asyncio.client import connect

from helppoint.protocol.device_link import DEVICE_PATH
from helppoint.web import server_protocols
from helppoint.web.server_protocols import Flag, Inbox, PingWheel, WebSocketProtocol
from tests.protocol.test_device_link import closed_with, counts, hello, recv
from tests.waiting import eventually

pytestmark = pytest.mark.asyncio

TIME = "2026-11-25T23:00:00.000Z"

UNITS = ("HP-01", "HP-02", "HP-03")


def _links() -> list[WebSocketsSansIOProtocol]:
    return [
        o
        for o in gc.get_objects()
        # type(), not isinstance(): a dead weak proxy among the objects raises on the latter.
        if issubclass(type(o), WebSocketsSansIOProtocol)
        and o.handshake_complete
        and not o.disconnected
    ]


async def test_linked_units_keep_no_handshake_and_leave_no_cycles(live_server) -> None:  # type: ignore[no-untyped-def]
    gc.collect()
    gc.disable()  # what the links' handshakes left must still be there to be found
    try:
        async with AsyncExitStack() as stack:
            for unit in UNITS:
                ws = await stack.enter_async_context(connect(live_server.device_url))
                assert (await hello(ws, unit, live_server.key(unit)))["type"] == "welcome"
            links = await eventually(lambda: len(_links()) >= len(UNITS) and _links())
            assert all(type(link) is WebSocketProtocol for link in links)
            # The handshake's request and response (and their headers) are let go once accepted.
            assert all(link.request is None and link.response is None for link in links)
            gc.set_debug(gc.DEBUG_SAVEALL)
            try:
                gc.collect()
                # uvicorn's HTTP protocol that read each upgrade, in a cycle with its parser:
                # garbage for the collector (or, frozen, for ever) unless it is let go.
                left = [o for o in gc.garbage if isinstance(o, HttpToolsProtocol)]
            finally:
                gc.garbage.clear()
                gc.set_debug(0)
            assert left == []
    finally:
        gc.enable()


async def test_a_link_keeps_small_state_and_no_handshake_headers(live_server) -> None:  # type: ignore[no-untyped-def]
    """What a unit's link keeps, as web/server_protocols.py says (issue 21: ≤ 16 KiB a link)."""
    async with AsyncExitStack() as stack:
        for unit in UNITS:
            ws = await stack.enter_async_context(connect(live_server.device_url))
            assert (await hello(ws, unit, live_server.key(unit)))["type"] == "welcome"
        links = await eventually(lambda: len(_links()) >= len(UNITS) and _links())
        for link in links:
            # No asyncio.Queue or Event (five deques, ~3.9 KB) but a list made when needed.
            assert type(link.queue) is Inbox and type(link.writable) is Flag
            # Every attribute uvicorn sets is in a slot: no dict of its own (~1.6 KB).
            assert vars(link) == {}, f"not in WebSocketProtocol.__slots__: {sorted(vars(link))}"
            assert link.writable.is_set()
            # websockets' parser keeps the handshake's request (a local of its generator):
            # emptied of its headers.
            request = link.conn.parser.gi_frame.f_locals.get("request")
            assert request is None or len(request.headers) == 0
            # The scope stays with the link, without the headers nothing reads any more.
            assert link.scope["path"] == DEVICE_PATH and list(link.scope["headers"]) == []
        # One tuple for the server's address, not one per link.
        assert len({id(link.server) for link in links}) == 1
        # No timer of its own for its next keepalive ping: it is in the loop's wheel.
        assert all(link.ping_timer is None and link.ping_due is not None for link in links)


async def test_keepalive_pings_go_out_from_the_wheel_and_are_answered(live_server) -> None:  # type: ignore[no-untyped-def]
    async with connect(live_server.device_url) as ws:
        assert (await hello(ws, "HP-01", live_server.key("HP-01")))["type"] == "welcome"
        port = ws.local_address[1]
        (link,) = await eventually(lambda: [o for o in _links() if o.client[1] == port])

        def ping_soon() -> None:  # on the server's loop (its thread)
            link.stop_keepalive()
            link.ping_interval = 0.2
            link.schedule_ping()

        link.loop.call_soon_threadsafe(ping_soon)
        # The client answers the wheel's ping: its round trip is measured, the next one due.
        await eventually(lambda: link.last_ping_rtt > 0 and link.ping_due is not None)
        assert link.ping_timer is None
        await ws.send(json.dumps({"type": "heartbeat", "time": TIME}))
        assert (await recv(ws))["type"] == "heartbeat_ack"
    # Gone with its link: nothing of it is left in a wheel.
    await eventually(lambda: link.disconnected)
    assert link.ping_due is None


class _Link:
    """What PingWheel uses of a link."""

    logger = logging.getLogger(__name__)

    def __init__(self, pings: list[str], name: str) -> None:
        self.pings, self.name, self.ping_due = pings, name, None

    def send_keepalive_ping(self) -> None:
        self.pings.append(self.name)


async def test_ping_wheel_sends_each_ping_when_due_from_one_timer() -> None:
    loop = asyncio.get_running_loop()
    wheel = PingWheel.for_loop(loop)
    assert PingWheel.for_loop(loop) is wheel
    pings: list[str] = []
    soon, also_soon, later, gone = (_Link(pings, n) for n in ("soon", "also", "later", "gone"))
    for link, delay in ((soon, 0.1), (also_soon, 0.2), (later, 1.5), (gone, 0.1)):
        link.ping_due = wheel.add(link, delay)  # type: ignore[arg-type]
    wheel.remove(gone, gone.ping_due)  # type: ignore[arg-type]
    assert len(wheel) == 3
    await eventually(lambda: len(pings) >= 2)
    assert sorted(pings) == ["also", "soon"] and soon.ping_due is None
    await eventually(lambda: len(pings) >= 3)
    assert pings[2] == "later"
    # Nothing left to ping: no timer, and the loop's wheel is let go.
    assert len(wheel) == 0 and wheel._handle is None
    assert PingWheel.for_loop(loop) is not wheel


async def test_ping_wheel_sends_a_seconds_pings_a_slice_a_turn_of_the_loop() -> None:
    """Hundreds of links due in one second are pinged SLICE a turn of the event loop, so what
    arrives meanwhile (a press) is read between slices, not after all of them."""
    loop = asyncio.get_running_loop()
    wheel = PingWheel.for_loop(loop)
    turns = [0]
    pinged_in_turn: list[int] = []

    class Counted(_Link):
        def send_keepalive_ping(self) -> None:
            pinged_in_turn.append(turns[0])

    def tick() -> None:  # runs once each turn of the loop
        turns[0] += 1
        if len(pinged_in_turn) < count:
            loop.call_soon(tick)

    count = 3 * PingWheel.SLICE + 1
    links = [Counted([], f"L{n}") for n in range(count)]
    for link in links:
        link.ping_due = wheel.add(link, 0.05)  # type: ignore[arg-type]
    loop.call_soon(tick)
    await eventually(lambda: len(pinged_in_turn) == count)
    per_turn = {turn: pinged_in_turn.count(turn) for turn in set(pinged_in_turn)}
    assert max(per_turn.values()) == PingWheel.SLICE
    assert len(per_turn) == 4  # 3 full slices and one of a single link, each in its own turn
    assert all(link.ping_due is None for link in links)
    assert len(wheel) == 0 and PingWheel.for_loop(loop) is not wheel


async def test_ping_wheel_needs_no_timer_handle_for_a_time_about_to_come() -> None:
    """uvloop's call_at gives a plain Handle (no `when()`) for a time less than half a
    millisecond away; the next link added then made the wheel ask it when it runs, and that
    link's accept failed (found at 50,000 units: 9 links). The wheel keeps the time itself."""

    class Loop:  # what the wheel uses of uvloop's loop, at a tick's boundary
        def __init__(self) -> None:
            self.now = 1000.0 - 0.0001
            self.scheduled: list[float] = []

        def time(self) -> float:
            return self.now

        def call_at(self, when: float, callback: Any) -> Soon:
            self.scheduled.append(when)
            return Soon()

    class Soon:  # uvloop's Handle for a time about to come: it can be cancelled, no more
        def cancel(self) -> None:
            pass

    loop = Loop()
    wheel = PingWheel(loop)  # type: ignore[arg-type]
    pings: list[str] = []
    first, second, later = (_Link(pings, n) for n in ("first", "second", "later"))
    first.ping_due = wheel.add(first, 0.0)  # type: ignore[arg-type]
    second.ping_due = wheel.add(second, 0.0)  # type: ignore[arg-type]
    later.ping_due = wheel.add(later, 5.0)  # type: ignore[arg-type]
    assert len(wheel) == 3 and loop.scheduled == [1000.0]  # the later one waits its turn


async def test_the_largest_frame_the_link_takes_is_max_frame_bytes(live_server) -> None:  # type: ignore[no-untyped-def]
    """Every frame up to `max_frame_bytes` (the welcome says 65,536) passes; one byte more
    is refused with 1009 and nothing stored (docs/device-protocol.md)."""
    limit = live_server.app.state.settings.max_frame_bytes

    def event_of(size: int, seq: int) -> str:
        frame = {"type": "event", "seq": seq, "event": "activation", "time": TIME}
        frame["payload"] = {"blob": ""}
        blank = len(json.dumps(frame))
        frame["payload"] = {"blob": "x" * (size - blank)}
        text = json.dumps(frame)
        assert len(text.encode()) == size
        return text

    async with connect(live_server.device_url, max_size=None) as ws:
        welcome = await hello(ws, "HP-01", live_server.key("HP-01"))
        assert welcome["max_frame_bytes"] == limit == 65_536
        await ws.send(event_of(limit, 1))
        assert await recv(ws) == {"type": "ack", "seq": 1, "status": "stored"}
        # Still up: a heartbeat after it is answered.
        await ws.send(json.dumps({"type": "heartbeat", "time": TIME}))
        assert (await recv(ws))["type"] == "heartbeat_ack"
        await ws.send(event_of(limit + 1, 2))
        code, _ = await closed_with(ws)
    assert code == 1009
    assert counts(live_server) == (1, 1)


async def test_inbox_hands_items_over_in_order_to_waiting_getters() -> None:
    inbox: Inbox[int] = Inbox()
    assert inbox.empty() and inbox.qsize() == 0
    inbox.put_nowait(1)
    inbox.put_nowait(2)
    assert not inbox.empty() and inbox.qsize() == 2
    assert await inbox.get() == 1 and await inbox.get() == 2
    assert inbox.empty()
    first = asyncio.create_task(inbox.get())
    second = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    inbox.put_nowait(3)
    inbox.put_nowait(4)
    assert await first == 3 and await second == 4
    # Nothing is kept while empty: no list of items, no list of getters.
    assert inbox._items is None and inbox._getters is None


async def test_inbox_passes_an_item_on_when_its_getter_is_cancelled() -> None:
    inbox: Inbox[str] = Inbox()
    first = asyncio.create_task(inbox.get())
    second = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    inbox.put_nowait("message")  # wakes the first getter...
    first.cancel()  # ...which is cancelled before it runs: the second gets the item
    assert await second == "message"
    with pytest.raises(asyncio.CancelledError):
        await first
    waiting = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert inbox._getters is None
    inbox.put_nowait("later")
    assert await inbox.get() == "later"


async def test_flag_wakes_every_waiter_when_set() -> None:
    flag = Flag(True)
    assert flag.is_set() and await flag.wait()
    flag.clear()
    assert not flag.is_set()
    waiters = [asyncio.create_task(flag.wait()) for _ in range(3)]
    cancelled = asyncio.create_task(flag.wait())
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiters)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    flag.set()
    assert await asyncio.gather(*waiters) == [True, True, True]
    assert flag._waiters is None


def _waiting_chain(link: WebSocketsSansIOProtocol) -> list[str]:
    """What the link's application task waits on between two messages: each coroutine's
    name, outermost first, then the type of what the innermost awaits."""
    names = []
    for task in link.tasks:
        awaited: object = task.get_coro()
        while hasattr(awaited, "cr_await"):
            names.append(awaited.cr_code.co_qualname)  # type: ignore[attr-defined]
            awaited = awaited.cr_await  # type: ignore[attr-defined]
        names.append(type(awaited).__name__)
    return names


async def test_between_two_messages_a_link_keeps_a_future_and_no_new_lists(live_server) -> None:  # type: ignore[no-untyped-def]
    """A unit's link between messages (issue 21: what each message leaves for the collector to
    walk, ~12 objects a heartbeat before): the hub waits on a bare future, not on Starlette's,
    uvicorn's and the inbox's receive coroutines; websockets' lists of events and of data to
    send are the same lists, emptied; uvicorn's frames are the shared empty list."""
    async with connect(live_server.device_url) as ws:
        assert (await hello(ws, "HP-01", live_server.key("HP-01")))["type"] == "welcome"
        port = ws.local_address[1]
        (link,) = await eventually(lambda: [o for o in _links() if o.client[1] == port])
        lists = (link.conn.events, link.conn.writes)
        for _ in range(3):
            await ws.send(json.dumps({"type": "heartbeat", "time": TIME}))
            assert (await recv(ws))["type"] == "heartbeat_ack"
            chain = await eventually(
                lambda: (c := _waiting_chain(link))[-2:-1] == ["DeviceLinkHub._loop"] and c
            )
            assert "receive" not in " ".join(chain), chain
            assert chain[-1] in ("Future", "_asyncio.Future", "FutureIter"), chain
            assert (link.conn.events, link.conn.writes) == ([], [])
            assert link.conn.events is lists[0] and link.conn.writes is lists[1]
            assert link.frames is server_protocols._NO_FRAMES


async def test_inbox_arrival_is_a_future_until_an_item_is_put() -> None:
    inbox: Inbox[str] = Inbox()
    arrival = inbox.arrival()
    assert arrival is not None and not arrival.done()
    assert inbox.arrival() is arrival  # one reader, one future
    with pytest.raises(IndexError):
        inbox.take()
    inbox.put_nowait("a")
    inbox.put_nowait("b")
    assert arrival.done()
    assert inbox.arrival() is None  # something is there: take it
    assert [inbox.take(), inbox.take()] == ["a", "b"]
    # A cancelled arrival (the link's task ended) does not swallow the next item.
    cancelled = inbox.arrival()
    assert cancelled is not None
    cancelled.cancel()
    getter = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    inbox.put_nowait("c")
    assert await getter == "c"
