"""Press-time audio end to end: simulated units (the real agent) are pressed; the server
listens, judges voice / silent / noisy, shows it on the console feed, records it as evidence,
and lets an operator listen in without answering."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import av
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from websockets.asyncio.client import connect

from helppoint.calls.listen import ListenTimes
from helppoint.calls.media import AudioMeter
from helppoint.sim.fleet import Fleet
from helppoint.store.recording_files import recordings_path
from tests.calls.operator_peer import OperatorPeer, signed_in
from tests.waiting import eventually

pytestmark = pytest.mark.slow

SOUNDS = {"HP-01": "voice", "HP-02": "silence", "HP-03": "noise"}


async def console_feed(server: Any, http: Any) -> Any:
    url = server.base_url.replace("http", "ws") + "/console/ws"
    token = http.cookies.get("helppoint_session")
    return connect(url, additional_headers={"Cookie": f"helppoint_session={token}"})


async def voices_from_feed(ws: Any, units: set[str]) -> dict[str, dict[str, Any]]:
    """Read the feed until each unit's incident shows a voice judgement."""
    judged: dict[str, dict[str, Any]] = {}
    while set(judged) != units:
        message = json.loads(await asyncio.wait_for(ws.recv(), 30))
        if message["type"] == "incident" and message["incident"]["voice"] is not None:
            incident = message["incident"]
            judged[incident["unit_id"]] = incident
    return judged


@pytest.fixture
async def fleet(server: Any) -> AsyncIterator[Fleet]:
    # As simulated units are by default: a camera still on each press.
    fleet = Fleet(server.base_url, [(unit, server.key(unit)) for unit in SOUNDS])
    await fleet.start()
    for unit, sound in SOUNDS.items():
        fleet.hear(unit, sound)
    await fleet.wait_connected(10)
    yield fleet
    await fleet.stop()


@pytest.fixture
def server(server_factory: Any) -> Any:
    return server_factory(press_listen_seconds=4.0)


async def test_presses_are_listened_to_judged_on_the_console_and_recorded(
    server: Any, fleet: Fleet
) -> None:
    http = await signed_in(server, "olive")
    async with await console_feed(server, http) as ws:
        assert json.loads(await ws.recv())["type"] == "snapshot"
        for unit in SOUNDS:
            fleet.press(unit)
        judged = await voices_from_feed(ws, set(SOUNDS))
    # The first judgement may come before the sound is clear (the first half second of a
    # voice can be a pause): wait for each unit's to settle on what it hears.
    expected = {"HP-01": "voice", "HP-02": "silent", "HP-03": "noisy"}
    incidents = {unit: int(judged[unit]["id"]) for unit in SOUNDS}
    for _ in range(300):
        shown = {
            unit: (await http.get(f"/api/incidents/{incident_id}")).json()
            for unit, incident_id in incidents.items()
        }
        if {unit: view["voice"] for unit, view in shown.items()} == expected:
            break
        await asyncio.sleep(0.05)
    assert {unit: view["voice"] for unit, view in shown.items()} == expected
    assert shown["HP-01"]["voice_level"] > 0.4 and shown["HP-02"]["voice_level"] < 0.1
    # The still each unit sent at once is stored with its incident.
    for incident_id in incidents.values():
        for _ in range(200):
            stills = (await http.get(f"/api/incidents/{incident_id}/stills")).json()
            if stills:
                break
            await asyncio.sleep(0.05)
        assert len(stills) == 1 and stills[0]["width"] == 640
    assert shown["HP-03"]["voice_level"] > 0.4
    # On the timeline, by the system's triage.
    entries = [e for e in shown["HP-01"]["timeline"] if e["action"] == "evidence.voice_judged"]
    assert entries and entries[-1]["actor"] == "system:triage"
    assert entries[-1]["detail"]["voice"] == "voice"

    # After press_listen_seconds the listen ends and its recording is evidence like a call's.
    voice_incident = incidents["HP-01"]
    for _ in range(400):
        history = (await http.get(f"/api/incidents/{voice_incident}/call")).json()
        if history["recordings"]:
            break
        await asyncio.sleep(0.05)
    [press_call] = history["calls"]
    assert press_call["kind"] == "press" and press_call["talk"] is False
    assert press_call["end_reason"] == "listened" and "voice heard" in press_call["detail"]
    [recording] = history["recordings"]
    assert recording["call_id"] == press_call["id"] and recording["held"] is False
    path = recordings_path(server.app.state.settings) / f"incident-{voice_incident:06d}"
    [webm] = list(path.glob("press-*.webm"))
    assert hashlib.sha256(webm.read_bytes()).hexdigest() == recording["sha256"]
    with av.open(str(webm)) as container:
        [stream] = container.streams.audio
        assert stream.metadata.get("title") == "unit audio"
        assert container.duration is not None and container.duration / 1e6 > 2.0
    unit_calls = fleet.unit("HP-01").calls
    assert unit_calls is not None and unit_calls.listening is None
    assert unit_calls.listens[-1].end_reason == "listened"
    # Evidence access is audited as a recording's.
    played = await http.post(f"/api/recordings/{recording['id']}/play")
    assert played.status_code == 200
    detail = (await http.get(f"/api/incidents/{voice_incident}")).json()
    actions = [e["action"] for e in detail["timeline"]]
    assert "evidence.press_audio" in actions and "recording.played" in actions


STEPS = ["offered", "answered", "ice", "dtls", "first_packet", "judged", "stored"]


def test_a_listens_times_are_summed_up_from_the_alarm_in_the_order_of_its_steps() -> None:
    times = ListenTimes(seen=100.0, offered=100.25, answered=100.5, ice=101.0)
    assert times.summary() == "offered=+0.250 answered=+0.500 ice=+1.000"
    times.dtls, times.first_packet, times.judged, times.stored = 101.5, 101.6, 102.2, 102.25
    assert [step.split("=")[0] for step in times.summary().split()] == STEPS


async def test_the_server_logs_where_the_time_to_each_first_judgement_went(
    server: Any, fleet: Fleet, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="helppoint.calls.listen")

    def timings() -> dict[str, str]:
        lines = [r.getMessage() for r in caplog.records if "press listen timings" in r.getMessage()]
        return {re.search(r"unit=(\S+)", line)[1]: line for line in lines}  # type: ignore[index]

    pressed_at = asyncio.get_running_loop().time()
    for unit in SOUNDS:
        fleet.press(unit)
    lines: dict[str, str] = await eventually(
        lambda: timings() if len(timings()) == len(SOUNDS) else {},
        within=30,
        what="a timings line for each unit's first judgement",
    )
    for line in lines.values():
        seen = float(re.search(r"seen=([\d.]+)", line)[1])  # type: ignore[index]
        # On the loop's clock (time.monotonic), after the press: the benchmark lines it up
        # with its own presses.
        assert seen >= pressed_at
        marks = re.findall(r"(\w+)=\+([\d.]+)", line)
        # Every step happened, each after the one before.
        assert [name for name, _ in marks] == STEPS
        offsets = [float(value) for _, value in marks]
        assert offsets == sorted(offsets) and offsets[0] >= 0


async def listening_peer() -> tuple[RTCPeerConnection, list[AudioMeter], str]:
    """A peer that receives audio only, as the console's listen-in does."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("audio", direction="recvonly")
    meters: list[AudioMeter] = []

    def on_track(track: Any) -> None:
        meter = AudioMeter(track)
        meter.start()
        meters.append(meter)

    pc.on("track", on_track)
    await pc.setLocalDescription(await pc.createOffer())
    return pc, meters, str(pc.localDescription.sdp)


async def test_an_operator_listens_in_without_answering_and_answering_takes_over(
    server: Any, fleet: Fleet
) -> None:
    http = await signed_in(server, "olive")
    fleet.press("HP-01")
    await fleet.unit("HP-01").calls.wait_for_listen()  # type: ignore[union-attr]
    for _ in range(200):
        queue = (await http.get("/api/incidents/queue")).json()
        if queue:
            break
        await asyncio.sleep(0.05)
    incident_id = int(queue[0]["id"])
    pc, meters, offer = await listening_peer()
    try:
        response = await http.post(
            f"/api/incidents/{incident_id}/listen", json={"type": "offer", "sdp": offer}
        )
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["unit_id"] == "HP-01"
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        for _ in range(200):
            if meters:
                break
            await asyncio.sleep(0.05)
        await meters[0].wait_for(25, loud=True, timeout=15)
        assert meters[0].stats.peak_level > 0.05
        # Still new: listening in is not answering.
        incident = (await http.get(f"/api/incidents/{incident_id}")).json()
        assert incident["state"] == "new"
        listened = [e for e in incident["timeline"] if e["action"] == "evidence.listened_in"]
        assert [e["actor"] for e in listened] == ["olive"]
        stopped = await http.post(f"/api/incidents/{incident_id}/listen/stop")
        assert stopped.json() == {"listening": False, "was_listening": True}
    finally:
        for meter in meters:
            await meter.stop()
        await pc.close()

    # Answering the call takes the microphone over: the press listen ends first.
    assert (await http.post(f"/api/incidents/{incident_id}/acknowledge")).status_code == 200
    peer = OperatorPeer()
    try:
        response = await http.post(
            f"/api/incidents/{incident_id}/call", json={"type": "offer", "sdp": await peer.offer()}
        )
        assert response.status_code == 200, response.text
        await peer.accept(response.json())
        unit_calls = fleet.unit("HP-01").calls
        assert unit_calls is not None
        await unit_calls.wait_for_call()
        assert unit_calls.listening is None
        assert unit_calls.listens[-1].end_reason == "answered"  # the server ended it first
        history = (await http.get(f"/api/incidents/{incident_id}/call")).json()
        kinds = sorted(call["kind"] for call in history["calls"])
        assert kinds == ["call", "press"]
        [press_call] = [c for c in history["calls"] if c["kind"] == "press"]
        assert press_call["end_reason"] == "answered"
    finally:
        await peer.close()


async def test_listening_in_refuses_bad_offers_and_closed_incidents(
    server: Any, fleet: Fleet
) -> None:
    http = await signed_in(server, "olive")
    bad = await http.post("/api/incidents/1/listen", json={"type": "offer", "sdp": "v=0 nonsense"})
    assert bad.status_code == 400
    missing = await http.post("/api/incidents/999/listen", json={"type": "offer", "sdp": "x"})
    assert missing.status_code in (400, 404)
    _, _, offer = await listening_peer()
    missing = await http.post("/api/incidents/999/listen", json={"type": "offer", "sdp": offer})
    assert missing.status_code == 404
    not_listening = await http.post("/api/incidents/999/listen/stop")
    assert not_listening.json() == {"listening": False, "was_listening": False}
