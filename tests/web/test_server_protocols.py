"""What a unit's WebSocket leaves with the server once up (helppoint/web/server_protocols.py)."""

from __future__ import annotations

import gc
from contextlib import AsyncExitStack

import pytest
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.asyncio.client import connect

from helppoint.web.server_protocols import WebSocketProtocol
from tests.protocol.test_device_link import hello
from tests.waiting import eventually

pytestmark = pytest.mark.asyncio

UNITS = ("HP-01", "HP-02", "HP-03")


def _links() -> list[WebSocketsSansIOProtocol]:
    return [
        o
        for o in gc.get_objects()
        if isinstance(o, WebSocketsSansIOProtocol) and o.handshake_complete and not o.disconnected
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
