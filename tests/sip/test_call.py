"""Answering a SIP help point: audio both ways through the media hub, recorded, hung up.

The help point is Debian's baresip playing a 440 Hz tone as its microphone and recording what
it hears, speaking G.711 or Opus, in plain RTP or SDES-SRTP; the operator is an aiortc peer (as
the console's browser) sending 330 Hz.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from helppoint.store.recording_files import recordings_path
from tests.calls.operator_peer import OperatorPeer, open_incident, signed_in

from .conftest import UNIT, within
from .device import dominant_hz
from .recording import stream_tones


@pytest.mark.parametrize(
    ("codecs", "mediaenc"),
    [("PCMU", ""), ("opus/48000/2", ""), ("PCMU", "srtp-mand"), ("opus/48000/2", "srtp-mand")],
    ids=["g711", "opus", "g711-srtp", "opus-srtp"],
)
def test_an_operator_answers_a_sip_help_point_hears_it_is_heard_and_the_call_is_recorded(
    sip_server: Any, devices: Any, codecs: str, mediaenc: str
) -> None:
    device = devices(sip_server, tone_hz=440.0, codecs=codecs, mediaenc=mediaenc)
    gateway = sip_server.app.state.sip
    within(lambda: UNIT in gateway.registered, 10, "the device registers")
    port = sip_server.app.state.settings.sip_port
    device.command("dial", f"sip:helppoint@127.0.0.1:{port}")

    async def answer_talk_hang_up() -> dict[str, Any]:
        http = await signed_in(sip_server, "olly")
        incident_id = await open_incident(http, UNIT)
        await asyncio.to_thread(
            within, lambda: gateway.agent.ringing_for(incident_id), 10, "the call rings"
        )
        operator = OperatorPeer()
        try:
            response = await http.post(
                f"/api/incidents/{incident_id}/call",
                json={"type": "offer", "sdp": await operator.offer()},
            )
            assert response.status_code == 200, response.text
            answer = response.json()
            assert answer["talk"] is True and answer["video"] is False
            assert "sound only" in answer["detail"]
            await operator.accept(answer)
            # The operator hears the help point (its 440 Hz, transcoded from G.711 to Opus).
            for _ in range(200):
                if operator.audio is not None:
                    break
                await asyncio.sleep(0.05)
            assert operator.audio is not None
            await operator.audio.wait_for(50, loud=True, timeout=20)
            await asyncio.sleep(2)  # some seconds of talk each way
            hangup = await http.post(f"/api/incidents/{incident_id}/call/hangup")
            assert hangup.status_code == 200, hangup.text
            return dict(hangup.json())
        finally:
            await operator.close()
            await http.aclose()

    ended = asyncio.run(answer_talk_hang_up())
    assert ended["end_reason"] == "hangup"
    # The device spoke the codec it was given, encrypted when it was told to.
    log = device.log()
    assert f"Set audio encoder: {codecs.split('/')[0]} " in log, log
    assert ("SRTP is Enabled" in log) == bool(mediaenc), log
    # The hang-up reached the device (BYE): its recordings are complete.
    within(lambda: "terminated" in device.log().lower(), 10, "the device's call ends")
    heard = within(lambda: list(device.recordings.glob("dump-*-dec.wav")), 10, "its recording")
    hz, level = dominant_hz(heard[0])
    assert abs(hz - 330) < 15 and level > 100, (hz, level)  # it heard the operator

    # The server's recording has each side's tone on its own stream.
    [path] = list(recordings_path(sip_server.app.state.settings).rglob("call-*.webm"))
    tones = stream_tones(path)
    assert abs(tones["unit audio"][0] - 440) < 15, tones
    assert abs(tones["operator audio"][0] - 330) < 15, tones


def test_the_help_point_hanging_up_ends_the_call(sip_server: Any, devices: Any) -> None:
    device = devices(sip_server)
    gateway = sip_server.app.state.sip
    within(lambda: UNIT in gateway.registered, 10, "the device registers")
    device.command("dial", f"sip:helppoint@127.0.0.1:{sip_server.app.state.settings.sip_port}")

    async def answer_then_the_device_hangs_up() -> dict[str, Any]:
        http = await signed_in(sip_server, "olly")
        incident_id = await open_incident(http, UNIT)
        await asyncio.to_thread(
            within, lambda: gateway.agent.ringing_for(incident_id), 10, "the call rings"
        )
        operator = OperatorPeer()
        try:
            response = await http.post(
                f"/api/incidents/{incident_id}/call",
                json={"type": "offer", "sdp": await operator.offer()},
            )
            assert response.status_code == 200, response.text
            await operator.accept(response.json())
            await asyncio.to_thread(device.command, "hangup")  # BYE from the help point
            for _ in range(400):
                info = (await http.get(f"/api/incidents/{incident_id}/call")).json()
                calls = [c for c in info["calls"] if c["kind"] == "call"]
                if calls and calls[0]["end_reason"]:
                    return dict(info)
                await asyncio.sleep(0.05)
            raise AssertionError("the call did not end")
        finally:
            await operator.close()
            await http.aclose()

    info = asyncio.run(answer_then_the_device_hangs_up())
    [call] = [c for c in info["calls"] if c["kind"] == "call"]
    assert call["end_reason"] == "unit_ended"
