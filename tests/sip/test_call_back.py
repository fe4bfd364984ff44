"""Calling a SIP help point back: the operator calls a registered unit when no call is waiting.

The help point (Debian's baresip, answering calls to it at once as an intercom does) pressed
and gave up before anyone answered; the operator calls it from the incident: an INVITE from
helppoint through the SIP server to the device's registered contact, audio both ways through
the media relay and the hub, recorded like any call, the light driven in the call.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from helppoint.services.seed import seed_demo
from helppoint.store.recording_files import recordings_path
from tests.calls.operator_peer import OperatorPeer, open_incident, signed_in

from .conftest import UNIT, add_unit, within
from .device import dominant_hz, free_port
from .recording import stream_tones


def press_and_give_up(server: Any, device: Any) -> None:
    """The device presses, then hangs up before an operator answers."""
    gateway = server.app.state.sip
    within(lambda: UNIT in gateway.registered, 10, "the device registers")
    device.command("dial", f"sip:helppoint@127.0.0.1:{server.app.state.settings.sip_port}")
    within(lambda: gateway.agent.ringing, 10, "its call rings")
    device.command("hangup")
    within(lambda: not gateway.agent.ringing, 10, "its call is gone")


def events(device: Any) -> list[tuple[str, str]]:
    """What the device told of its calls: (event, direction of the call)."""
    return [(str(e.get("type")), str(e.get("direction"))) for e in device.events]


async def call(http: Any, incident_id: int, operator: OperatorPeer) -> Any:
    return await http.post(
        f"/api/incidents/{incident_id}/call", json={"type": "offer", "sdp": await operator.offer()}
    )


@pytest.mark.parametrize(
    ("codecs", "light_on", "srtp"),
    # The Opus device takes its light by SIP INFO: docs/sip.md says why not by RFC 4733.
    # The SRTP device takes encrypted media only; its unit is called back with SRTP offered.
    [("PCMU", "dtmf:*1", False), ("opus/48000/2", "info:*1", False), ("PCMU", "dtmf:*1", True)],
    ids=["g711", "opus", "g711-srtp"],
)
def test_the_operator_calls_a_sip_help_point_back_talks_both_ways_lights_it_and_records(
    sqlite_database: Any,
    server_factory: Any,
    devices: Any,
    codecs: str,
    light_on: str,
    srtp: bool,
) -> None:
    seed_demo(sqlite_database.uow())
    add_unit(sqlite_database, light_on=light_on, srtp=srtp)
    server = server_factory(sip_port=free_port(), sip_keepalive=5)
    device = devices(server, tone_hz=440.0, codecs=codecs, mediaenc="srtp-mand" if srtp else "")
    press_and_give_up(server, device)
    gateway = server.app.state.sip

    async def call_back_talk_light_hang_up() -> tuple[dict[str, Any], Any]:
        http = await signed_in(server, "olly")
        incident_id = await open_incident(http, UNIT)
        operator = OperatorPeer()
        try:
            response = await call(http, incident_id, operator)
            assert response.status_code == 200, response.text
            answer = response.json()
            assert answer["talk"] is True and answer["video"] is False
            await operator.accept(answer)
            # The operator hears the help point (its 440 Hz, G.711 transcoded to Opus).
            for _ in range(200):
                if operator.audio is not None:
                    break
                await asyncio.sleep(0.05)
            assert operator.audio is not None
            await operator.audio.wait_for(50, loud=True, timeout=20)
            light = await http.post(
                f"/api/incidents/{incident_id}/unit-commands",
                json={"command": "flash_light", "args": {"on": True, "pattern": "alarm"}},
            )
            await asyncio.to_thread(
                within, lambda: device.dtmf_received() == "*1", 15, "the device receives *1"
            )
            await asyncio.sleep(1)  # more talk each way
            hangup = await http.post(f"/api/incidents/{incident_id}/call/hangup")
            assert hangup.status_code == 200, hangup.text
            return dict(hangup.json()), light
        finally:
            await operator.close()
            await http.aclose()

    ended, light = asyncio.run(call_back_talk_light_hang_up())
    assert light.status_code == 200, light.text
    assert ended["end_reason"] == "hangup"
    assert not gateway.agent.answered
    # The device took a call from helppoint (an incoming call, answered at once) and it ended.
    assert ("CALL_ESTABLISHED", "incoming") in events(device), events(device)
    assert f"Set audio encoder: {codecs.split('/')[0]} " in device.log()  # the codec it speaks
    assert ("SRTP is Enabled" in device.log()) == srtp  # encrypted when its account says so
    within(lambda: ("CALL_CLOSED", "incoming") in events(device), 10, "the device's call ends")
    heard = within(lambda: list(device.recordings.glob("dump-*-dec.wav")), 10, "its recording")
    within(lambda: heard[0].stat().st_size > 20_000, 10, "its recording is written")
    hz, level = dominant_hz(heard[0])
    assert abs(hz - 330) < 15 and level > 100, (hz, level)  # it heard the operator
    [path] = list(recordings_path(server.app.state.settings).rglob("call-*.webm"))
    tones = stream_tones(path)
    assert abs(tones["unit audio"][0] - 440) < 15, tones
    assert abs(tones["operator audio"][0] - 330) < 15, tones


def test_the_help_point_hanging_up_a_call_back_ends_it(sip_server: Any, devices: Any) -> None:
    device = devices(sip_server)
    press_and_give_up(sip_server, device)

    async def call_back_then_the_device_hangs_up() -> dict[str, Any]:
        http = await signed_in(sip_server, "olly")
        incident_id = await open_incident(http, UNIT)
        operator = OperatorPeer()
        try:
            response = await call(http, incident_id, operator)
            assert response.status_code == 200, response.text
            await operator.accept(response.json())
            await asyncio.to_thread(device.command, "hangup")  # BYE from the help point
            for _ in range(400):
                info = (await http.get(f"/api/incidents/{incident_id}/call")).json()
                calls = [c for c in info["calls"] if c["kind"] == "call"]
                if calls and calls[0]["end_reason"]:
                    return dict(calls[0])
                await asyncio.sleep(0.05)
            raise AssertionError("the call did not end")
        finally:
            await operator.close()
            await http.aclose()

    ended = asyncio.run(call_back_then_the_device_hangs_up())
    assert ended["end_reason"] == "unit_ended"
    assert not sip_server.app.state.sip.agent.answered


def test_a_call_back_not_answered_in_time_is_cancelled_and_says_so(
    sqlite_database: Any, server_factory: Any, devices: Any
) -> None:
    seed_demo(sqlite_database.uow())
    add_unit(sqlite_database)
    server = server_factory(sip_port=free_port(), sip_keepalive=5, call_answer_timeout=2)
    device = devices(server, answer="manual")  # nobody takes the call at the device
    press_and_give_up(server, device)

    async def call_back() -> Any:
        http = await signed_in(server, "olly")
        incident_id = await open_incident(http, UNIT)
        operator = OperatorPeer()
        try:
            return await call(http, incident_id, operator)
        finally:
            await operator.close()
            await http.aclose()

    response = asyncio.run(call_back())
    assert response.status_code == 504, response.text
    assert "did not answer within 2 s" in response.json()["detail"]
    # The device rang and was cancelled (CANCEL through the SIP server); nothing is recorded.
    assert ("CALL_INCOMING", "incoming") in events(device), events(device)
    within(lambda: ("CALL_CLOSED", "incoming") in events(device), 10, "its ringing ends")
    assert not server.app.state.sip.agent.answered
    assert not list(recordings_path(server.app.state.settings).rglob("call-*.webm"))


def test_a_sip_help_point_that_is_not_registered_cannot_be_called(
    sip_server: Any, devices: Any
) -> None:
    device = devices(sip_server)
    press_and_give_up(sip_server, device)
    gateway = sip_server.app.state.sip
    device.stop()  # its registration is dropped as it stops (REGISTER, Expires: 0)
    within(lambda: UNIT not in gateway.registered, 10, "the device is unregistered")

    async def call_back() -> Any:
        http = await signed_in(sip_server, "olly")
        incident_id = await open_incident(http, UNIT)
        operator = OperatorPeer()
        try:
            return await call(http, incident_id, operator)
        finally:
            await operator.close()
            await http.aclose()

    response = asyncio.run(call_back())
    assert response.status_code == 409, response.text
    assert "not registered now" in response.json()["detail"]


def test_a_device_that_takes_srtp_only_refuses_a_plain_rtp_call_back_and_the_console_says_so(
    sqlite_database: Any, server_factory: Any, devices: Any
) -> None:
    seed_demo(sqlite_database.uow())
    add_unit(sqlite_database)  # its account does not say SRTP: called back in plain RTP
    server = server_factory(sip_port=free_port(), sip_keepalive=5)
    device = devices(server, mediaenc="srtp-mand")
    press_and_give_up(server, device)

    async def call_back() -> Any:
        http = await signed_in(server, "olly")
        incident_id = await open_incident(http, UNIT)
        operator = OperatorPeer()
        try:
            return await call(http, incident_id, operator)
        finally:
            await operator.close()
            await http.aclose()

    response = asyncio.run(call_back())
    assert response.status_code >= 400, response.text
    assert "refused the call" in response.json()["detail"], response.text
    assert not server.app.state.sip.agent.answered
