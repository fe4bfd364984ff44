"""A press on a SIP help point is its INVITE: stored through the ingest path, on the console.

The device is Debian's baresip calling helppoint's SIP server, as an intercom does on a press.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from websockets.asyncio.client import connect

from helppoint.domain.model import Role
from tests.conftest import http_client
from tests.waiting import first_message

from .conftest import UNIT, within

OPERATOR_PASSWORD = "correct horse battery"


def console_token(server: Any) -> str:
    server.add_operator("olly", OPERATOR_PASSWORD, Role.OPERATOR)
    http = http_client(server.base_url, timeout=None)
    login = http.post("/api/login", json={"username": "olly", "password": OPERATOR_PASSWORD})
    assert login.is_success
    token = http.cookies.get("helppoint_session")
    assert token
    return token


def test_a_press_is_a_stored_incident_on_the_console_while_the_caller_hears_ringback(
    sip_server: Any, devices: Any
) -> None:
    device = devices(sip_server)
    gateway = sip_server.app.state.sip
    within(lambda: gateway.unit_of(UNIT) == UNIT, 10, "the account is loaded")
    token = console_token(sip_server)
    port = sip_server.app.state.settings.sip_port

    async def press_and_watch() -> dict[str, Any]:
        url = sip_server.base_url.replace("http", "ws") + "/console/ws"
        async with connect(
            url, additional_headers={"Cookie": f"helppoint_session={token}"}
        ) as feed:
            await feed.recv()  # the snapshot
            await asyncio.to_thread(device.command, "dial", f"sip:helppoint@127.0.0.1:{port}")
            message = await first_message(
                feed,
                lambda m: m["type"] == "incident" and m["incident"]["unit_id"] == UNIT,
                30,
                "the SIP unit's incident",
            )
            return dict(message["incident"])

    incident = asyncio.run(press_and_watch())
    assert incident["kind"] == "activation" and incident["state"] == "new"
    # The press went through the ingest path: a device event of the unit, audited.
    with sip_server.database.uow() as uow:
        events = (
            uow.events.for_incident(UNIT, incident["id"])
            if hasattr(uow.events, "for_incident")
            else None
        )
        assert uow.events.last_seq(UNIT) == 1
    del events
    # The call waits for an operator, and the caller hears ringback.
    ringing = within(lambda: gateway.agent.ringing_for(incident["id"]), 5, "the call rings")
    # Its media follows: the media relay turns the device's offer into WebRTC with Opus.
    within(lambda: ringing.media_settled.is_set(), 5, "the relay makes the offer")
    assert ringing.unit_id == UNIT and ringing.media_error is None, ringing.media_error
    assert ringing.offer_sdp and "opus/48000" in ringing.offer_sdp
    assert "UDP/TLS/RTP/SAVPF" in ringing.offer_sdp and "PCMU" not in ringing.offer_sdp
    within(lambda: "180 Ringing" in device.log(), 5, "the device hears ringback")

    # The caller gives up before anyone answers: the press stays on the record.
    device.command("hangup")
    within(lambda: gateway.agent.ringing_for(incident["id"]) is None, 10, "the call is gone")
    with sip_server.database.uow() as uow:
        stored = uow.incidents.get(incident["id"])
        assert stored is not None and stored.state.value == "new"

    # Pressed again: a second press, joining the open incident (as a native unit's would).
    device.command("dial", f"sip:helppoint@127.0.0.1:{port}")
    again = within(lambda: gateway.agent.ringing_for(incident["id"]), 10, "the second press")
    assert again.call.call_id != ringing.call.call_id
    with sip_server.database.uow() as uow:
        assert uow.events.last_seq(UNIT) == 2


def test_a_press_the_media_relay_cannot_take_is_stored_and_declined_then_the_next_rings(
    sip_server: Any, devices: Any
) -> None:
    device = devices(sip_server)
    gateway = sip_server.app.state.sip
    within(lambda: UNIT in gateway.registered, 10, "the device registers")
    port = sip_server.app.state.settings.sip_port
    rtpengine = gateway.servers.rtpengine.process
    rtpengine.send_signal(signal.SIGSTOP)  # the media relay answers nothing
    try:
        device.command("dial", f"sip:helppoint@127.0.0.1:{port}")
        # The press is stored all the same (an incident), and the call is declined: helppoint
        # answers 503, which the SIP server passes on as 500 (a proxy does not forward 503).
        within(lambda: gateway.agent.presses == 1, 30, "the press is stored")
        within(
            lambda: any(
                e.get("type") == "CALL_CLOSED" and "500" in str(e.get("param"))
                for e in device.events
            ),
            30,
            "the device's call is declined",
        )
        assert not gateway.agent.ringing
    finally:
        rtpengine.send_signal(signal.SIGCONT)
    with sip_server.database.uow() as uow:
        assert uow.events.last_seq(UNIT) == 1
    # The relay is back: the device's next call rings (it is not left out of service), with
    # its media.
    device.command("dial", f"sip:helppoint@127.0.0.1:{port}")
    [ringing] = within(lambda: list(gateway.agent.ringing.values()), 15, "the next call rings")
    within(lambda: ringing.offer_sdp, 5, "the relay makes the offer")
