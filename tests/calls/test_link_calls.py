"""Call frames on the unit's device link, against the agent tests' protocol server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection

from helppoint.agent.call import CallMedia, UnitCalls
from helppoint.agent.link import DeviceLink
from helppoint.agent.outbox import Outbox
from tests.agent.protocol_server import Changes, ProtocolServer

KEYS = {"HP-01": "key-1"}


@pytest.fixture
async def server() -> AsyncIterator[ProtocolServer]:
    srv = ProtocolServer(KEYS, Changes())
    await srv.start()
    yield srv
    await srv.stop()


async def offer_sdp() -> tuple[RTCPeerConnection, str]:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("audio", direction="sendrecv")
    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    return pc, pc.localDescription.sdp


async def test_a_unit_without_call_support_refuses_and_one_with_it_answers(
    server: ProtocolServer,
) -> None:
    outbox = Outbox()
    link = DeviceLink(
        server.url, "HP-01", KEYS["HP-01"], outbox, on_state=lambda *_: server.changes.notify()
    )
    task = asyncio.create_task(link.run())
    offerer, sdp = await offer_sdp()
    calls = UnitCalls("HP-01", CallMedia(video_source="none"))
    try:
        await server.changes.until(lambda: link.connected)
        await server.send("HP-01", {"type": "call_offer", "call": "c1", "sdp": sdp})
        await server.changes.until(lambda: bool(server.received("HP-01", "call_answer")))
        [refused] = server.received("HP-01", "call_answer")
        assert refused == {
            "type": "call_answer",
            "call": "c1",
            "ok": False,
            "detail": "this unit takes no calls",
        }

        link.calls = calls
        await server.send("HP-01", {"type": "call_offer", "call": "c2", "sdp": sdp})
        await server.changes.until(lambda: len(server.received("HP-01", "call_answer")) == 2)
        answer = server.received("HP-01", "call_answer")[1]
        assert answer["ok"] is True and answer["sdp"].startswith("v=0")
        assert answer["media"]["video_detail"] == "this unit has no camera"
        assert calls.current is not None and calls.current.token == "c2"

        # The link drops: the unit ends its call (the server has ended it too).
        call = calls.current
        server.crash()
        await calls.wait_idle()
        assert call.end_reason == "link lost"
    finally:
        link.stop()
        await task
        await offerer.close()
        await calls.close()
        outbox.close()
