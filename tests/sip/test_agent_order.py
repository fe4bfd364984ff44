"""helppoint's SIP user agent on its own: a press is committed before the media relay is asked.

A UDP socket of the test stands in for the SIP server (it sends the INVITE as Kamailio relays
it, the device's SDP unchanged); the ingest queue and the media relay are stand-ins whose
answers the test releases, so the order of what the agent does is observed, not timed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from helppoint.services.ingest import IngestResult, Outcome, ReportedEvent
from helppoint.sip.agent import PRESS_OFFER, SipAgent, SipCallFailed
from helppoint.sip.servers import SipServerError

UNIT = "SIP-01"
DEVICE_SDP = (
    "v=0\r\no=- 1 1 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\n"
    "m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
)
WEBRTC_SDP = (
    "v=0\r\no=- 2 2 IN IP4 192.0.2.10\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 96\r\n"
)


class Ingest:
    """Stores every press at once, noting it in the shared order."""

    def __init__(self, order: list[str]) -> None:
        self.order = order
        self.events: list[ReportedEvent] = []

    def submit(self, event: ReportedEvent) -> asyncio.Future[IngestResult]:
        self.order.append("press committed")
        self.events.append(event)
        future = asyncio.get_running_loop().create_future()
        future.set_result(IngestResult(event.unit_id, event.seq, Outcome.STORED, event.seq, 7))
        return future


class Relay:
    """The media relay's control channel: each command waits until the test lets it answer."""

    def __init__(self, order: list[str]) -> None:
        self.order = order
        self.commands: list[tuple[str, dict[str, Any]]] = []
        self.replies: asyncio.Queue[dict[str, Any] | Exception] = asyncio.Queue()

    async def command(self, command: str, **arguments: Any) -> dict[str, Any]:
        self.order.append(f"relay {command}")
        self.commands.append((command, arguments))
        if command == "delete":
            return {"result": "ok"}
        reply = await self.replies.get()
        if isinstance(reply, Exception):
            raise reply
        return reply


class _Events:
    def last_seq(self, unit_id: str) -> int:
        return 0


class _Uow:
    events = _Events()

    def __enter__(self) -> _Uow:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class SipServerSocket(asyncio.DatagramProtocol):
    """The test's stand-in for Kamailio's loopback socket: sends requests, keeps responses."""

    def __init__(self) -> None:
        self.responses: asyncio.Queue[str] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (Python 3.11's datagram transport is not a DatagramTransport subclass, though it is one.)
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.responses.put_nowait(data.decode())

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    def invite(self, agent_port: int, n: int, sdp: str = DEVICE_SDP) -> str:
        call_id = f"press-{n}@test"
        self._send(self._request("INVITE", agent_port, n, call_id, sdp), agent_port)
        return call_id

    def cancel(self, agent_port: int, n: int, call_id: str) -> None:
        self._send(self._request("CANCEL", agent_port, n, call_id, ""), agent_port)

    def _request(self, method: str, agent_port: int, n: int, call_id: str, sdp: str) -> str:
        lines = [
            f"{method} sip:helppoint@127.0.0.1:{agent_port} SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch=z9hG4bK-test-{n}",
            "Max-Forwards: 70",
            f"From: <sip:{UNIT}@helppoint>;tag=device-{n}",
            "To: <sip:helppoint@helppoint>",
            f"Call-ID: {call_id}",
            f"CSeq: 1 {method}",
            f"Contact: <sip:{UNIT}@127.0.0.1:{self.port}>",
            f"X-Helppoint-Unit: {UNIT}",
            "X-Helppoint-Source: 192.0.2.7",
        ]
        if sdp:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(sdp.encode())}")
        return "\r\n".join(lines) + "\r\n\r\n" + sdp

    def _send(self, text: str, agent_port: int) -> None:
        assert self.transport is not None
        self.transport.sendto(text.encode(), ("127.0.0.1", agent_port))

    async def status(self, code: int) -> str:
        """The next response with this status (others, such as 100 Trying, are skipped)."""
        while True:
            response = await asyncio.wait_for(self.responses.get(), 10)
            if response.startswith(f"SIP/2.0 {code} "):
                return response


@pytest.fixture
async def world() -> AsyncIterator[tuple[SipAgent, Ingest, Relay, SipServerSocket, list[str]]]:
    order: list[str] = []
    ingest, relay = Ingest(order), Relay(order)
    agent = SipAgent(
        lambda: _Uow(),  # type: ignore[arg-type,return-value]
        ingest,  # type: ignore[arg-type]
        lambda username: UNIT if username == UNIT else None,
        relay=lambda: relay,
    )
    await agent.start()
    loop = asyncio.get_running_loop()
    _, server = await loop.create_datagram_endpoint(SipServerSocket, local_addr=("127.0.0.1", 0))
    try:
        yield agent, ingest, relay, server, order
    finally:
        with contextlib.suppress(Exception):
            await agent.stop()
        assert server.transport is not None
        server.transport.close()


async def _until(condition: Any) -> None:
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


async def test_the_press_is_committed_before_the_media_relay_is_asked_and_rings_meanwhile(
    world: Any,
) -> None:
    agent, ingest, relay, server, order = world
    call_id = server.invite(agent.port, 1)
    await server.status(180)  # ringback at once
    # The relay has not answered (it answers only when the test lets it): the press is stored
    # all the same, and the call already rings for an operator.
    await _until(lambda: relay.commands)
    assert order == ["press committed", "relay offer"]
    assert ingest.events[0].unit_id == UNIT
    ringing = agent.ringing[call_id]
    assert ringing.incident_id == 7 and ringing.offer_sdp is None
    # The device's SDP went to the relay as the device sent it, with the WebRTC flags.
    _, arguments = relay.commands[0]
    assert arguments["sdp"] == DEVICE_SDP and arguments["from_tag"] == "device-1"
    assert arguments["received_from"] == ["IP4", "192.0.2.7"]
    assert all(arguments[key] == value for key, value in PRESS_OFFER.items())
    # An operator answering now waits for the media rather than missing the call.
    waiting = asyncio.ensure_future(agent.media_of(ringing))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    relay.replies.put_nowait({"result": "ok", "sdp": WEBRTC_SDP})
    assert await waiting == WEBRTC_SDP

    # The operator answers: the hub's SDP goes through the relay, its answer to the device.
    relay.replies.put_nowait({"result": "ok", "sdp": DEVICE_SDP.replace("4000", "4100")})
    answered = await agent.answer(ringing, WEBRTC_SDP)
    assert answered is not None and answered.call_id == call_id
    assert relay.commands[1][0] == "answer"
    assert relay.commands[1][1]["sdp"] == WEBRTC_SDP
    assert relay.commands[1][1]["to_tag"] == ringing.call.dialog.local_tag
    ok = await server.status(200)
    assert "m=audio 4100 RTP/AVP" in ok
    assert not agent.ringing and call_id in agent.answered


async def test_a_relay_that_does_not_take_the_call_leaves_the_press_stored_and_declines(
    world: Any,
) -> None:
    agent, ingest, relay, server, order = world
    call_id = server.invite(agent.port, 2)
    relay.replies.put_nowait(SipServerError("rtpengine did not answer offer"))
    await server.status(503)
    assert order == ["press committed", "relay offer"]
    assert len(ingest.events) == 1 and agent.presses == 1
    assert call_id not in agent.ringing


async def test_a_caller_hanging_up_while_the_relay_makes_the_offer_drops_the_relays_session(
    world: Any,
) -> None:
    agent, ingest, relay, server, order = world
    call_id = server.invite(agent.port, 3)
    await _until(lambda: relay.commands)
    ringing = agent.ringing[call_id]
    server.cancel(agent.port, 3, call_id)
    await server.status(487)
    await _until(lambda: call_id not in agent.ringing)
    with pytest.raises(SipCallFailed, match="hung up"):
        await agent.media_of(ringing)
    relay.replies.put_nowait({"result": "ok", "sdp": WEBRTC_SDP})  # the offer comes late
    await _until(lambda: order[-1] == "relay delete")
    assert relay.commands[-1][1]["call_id"] == call_id
    assert len(ingest.events) == 1  # the press stays on the record


async def test_a_relay_that_fails_the_answer_declines_the_call(world: Any) -> None:
    agent, _, relay, server, _ = world
    call_id = server.invite(agent.port, 4)
    relay.replies.put_nowait({"result": "ok", "sdp": WEBRTC_SDP})
    ringing = await _ringing(agent, call_id)
    await agent.media_of(ringing)
    relay.replies.put_nowait(SipServerError("rtpengine answer: Unknown call-id"))
    with pytest.raises(SipCallFailed, match="media relay could not take the answer"):
        await agent.answer(ringing, WEBRTC_SDP)
    await server.status(503)
    assert not agent.ringing and not agent.answered


async def _ringing(agent: SipAgent, call_id: str) -> Any:
    await _until(lambda: call_id in agent.ringing)
    return agent.ringing[call_id]
