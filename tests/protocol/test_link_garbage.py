"""A unit's link and its presses leave no reference cycles in the server (docs/performance.md).

A serving process freezes its long-lived objects (helppoint/gcpauses.py): a link's objects
that end in a cycle after they were frozen are never freed, and the objects of a press that
end in a cycle are what makes the collector run (and walk everything in flight) during a flood.
Everything a link and a press make must be freed by reference counting alone: here the
automatic collector is off, and a collection afterwards must find no cycle that the server's
link code (the device link, the web app, uvicorn, Starlette: their objects, functions, frames
and coroutines) is part of. (What the test's client and the server's periodic jobs make, which
may be cyclic, is not counted: the jobs run in between and are not the link's.)
"""

from __future__ import annotations

import gc
import json
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import starlette
import uvicorn
from websockets.asyncio.client import connect

import helppoint
from tests.protocol.test_device_link import event, hello, recv
from tests.waiting import eventually

pytestmark = pytest.mark.asyncio

#: The code a link and its presses run through in the server. What the test's own client
#: (websockets) makes is not counted, nor the server's periodic jobs (services, workers).
SERVER_CODE = (
    str(Path(helppoint.__file__).parent / "gateway"),
    str(Path(helppoint.__file__).parent / "web"),
    str(Path(uvicorn.__file__).parent),
    str(Path(starlette.__file__).parent),
)


def _code_of(obj: object) -> types.CodeType | None:
    if isinstance(obj, types.FrameType):
        return obj.f_code
    if isinstance(obj, types.FunctionType):
        return obj.__code__
    if isinstance(obj, types.CoroutineType):
        return obj.cr_code
    if isinstance(obj, types.MethodType):
        return _code_of(obj.__func__)
    return None


def _server_side(obj: object) -> bool:
    module = sys.modules.get(type(obj).__module__)
    path = getattr(module, "__file__", None) or ""
    code = _code_of(obj)
    if code is not None:
        path = code.co_filename
    return path.startswith(SERVER_CODE) and "/tests/" not in path


@contextmanager
def cyclic_garbage() -> Iterator[list[str]]:
    """With the automatic collector off: what a collection at the end finds that the server's
    link code is part of."""
    found: list[str] = []
    gc.collect()
    gc.disable()
    try:
        yield found
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            gc.collect()
            found += [repr(o)[:120] for o in gc.garbage if _server_side(o)]
        finally:
            gc.garbage.clear()
            gc.set_debug(0)
    finally:
        gc.enable()


async def test_presses_leave_no_cycles(server_factory) -> None:  # type: ignore[no-untyped-def]
    # Without the press-time listen (a WebRTC session: not the link's own objects).
    server = server_factory(press_listen=False)
    async with connect(server.device_url) as ws:
        await hello(ws, "HP-01", server.key("HP-01"))
        await ws.send(event(1))  # the first press opens the incident (and warms caches)
        assert (await recv(ws))["status"] == "stored"
        with cyclic_garbage() as found:
            for seq in range(2, 22):
                await ws.send(event(seq))
                assert await recv(ws) == {"type": "ack", "seq": seq, "status": "stored"}
            await ws.send(json.dumps({"type": "heartbeat", "time": "2026-11-25T23:00:01Z"}))
            assert (await recv(ws))["type"] == "heartbeat_ack"
        assert found == []


async def test_a_closed_link_leaves_no_cycles(server_factory) -> None:  # type: ignore[no-untyped-def]
    server = server_factory(press_listen=False)
    hub = server.app.state.device_link
    async with connect(server.device_url) as ws:  # a first link warms what is made once
        await hello(ws, "HP-02", server.key("HP-02"))
    with cyclic_garbage() as found:
        for _ in range(3):
            async with connect(server.device_url) as ws:
                assert (await hello(ws, "HP-02", server.key("HP-02")))["type"] == "welcome"
                await ws.send(event(1))
                assert (await recv(ws))["type"] == "ack"
        await eventually(lambda: hub.link_count == 0, what="the links closed on the server")
    assert found == []
