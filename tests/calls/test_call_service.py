"""A call end to end without a browser: a simulated unit (the real agent) and an aiortc peer
posting to the call API of a live server, which relays and records the media."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import av
import pytest

from helppoint.calls.media import rms_level
from helppoint.calls.video import VideoPacketTap
from helppoint.sim.fleet import Fleet
from helppoint.store.recording_files import recordings_path

from .operator_peer import OperatorPeer, open_incident, signed_in

pytestmark = pytest.mark.slow


async def test_operator_and_unit_hear_each_other_and_the_call_is_recorded(
    live_server: Any,
) -> None:
    fleet = Fleet(live_server.base_url, [("HP-01", live_server.key("HP-01"))])
    await fleet.start()
    http = await signed_in(live_server, "olive")
    peer = OperatorPeer()
    try:
        await fleet.wait_connected(10)
        fleet.press("HP-01")
        incident_id = await open_incident(http, "HP-01")

        response = await http.post(
            f"/api/incidents/{incident_id}/call", json={"type": "offer", "sdp": await peer.offer()}
        )
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["talk"] is True and answer["video"] is True and answer["detail"] == ""
        await peer.accept(answer)

        unit_call = await fleet.unit("HP-01").calls.wait_for_call()  # type: ignore[union-attr]
        assert peer.audio is not None and peer.video is not None
        await peer.audio.wait_for(25, loud=True, timeout=15)
        await peer.video.wait_for(5, timeout=15)
        assert unit_call.meter is not None
        await unit_call.meter.wait_for(25, loud=True, timeout=15)
        assert peer.audio.stats.peak_level > 0.05
        assert unit_call.received.peak_level > 0.05
        assert (peer.video.stats.width, peer.video.stats.height) == (320, 240)
        # The hub forwarded the unit's VP8 pictures as they were (calls/video.py): they went
        # through its tap, and its own receiver decoded none of them.
        active = live_server.app.state.calls._calls[incident_id]
        [video_tap] = [t for t in active.taps if isinstance(t, VideoPacketTap)]
        assert video_tap.pictures >= 5

        state = (await http.get(f"/api/incidents/{incident_id}/call")).json()
        assert state["active"]["talk"] is True
        incident = (await http.get(f"/api/incidents/{incident_id}")).json()
        assert incident["state"] == "in_call" and incident["call_started_at"]

        await asyncio.sleep(1.0)
        hung_up = await http.post(f"/api/incidents/{incident_id}/call/hangup")
        assert hung_up.status_code == 200, hung_up.text
        ended = hung_up.json()
        assert ended["end_reason"] == "hangup" and ended["ended_at"]
        await fleet.unit("HP-01").calls.wait_idle()  # type: ignore[union-attr]

        state = (await http.get(f"/api/incidents/{incident_id}/call")).json()
        assert state["active"] is None
        # The call's recording (the press-time audio before the answer has its own).
        [recording] = [r for r in state["recordings"] if r["call_id"] == ended["id"]]
        incident = (await http.get(f"/api/incidents/{incident_id}")).json()
        assert incident["state"] == "acknowledged"
        actions = [entry["action"] for entry in incident["timeline"]]
        assert "call.started" in actions and "call.ended" in actions
    finally:
        await peer.close()
        await http.aclose()
        await fleet.stop()

    await asyncio.to_thread(check_recording, live_server, recording)


def check_recording(server: Any, recording: dict[str, Any]) -> None:
    """The file exists, matches its checksum and decodes with the call's length."""
    assert recording["duration"] > 1.0
    directory = recordings_path(server.app.state.settings)
    [path] = list(directory.rglob("call-*.webm"))  # (press-*.webm: the press-time audio)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == recording["sha256"]
    with av.open(str(path)) as container:
        kinds = sorted((s.type, s.metadata.get("title", "")) for s in container.streams)
        assert kinds == [
            ("audio", "operator audio"),
            ("audio", "unit audio"),
            ("video", "unit video"),
        ]
        assert container.duration is not None
        seconds = container.duration / 1_000_000
        assert abs(seconds - recording["duration"]) < 1.0
        # The unit's voice is in it, not silence.
        audio = next(s for s in container.streams if s.metadata.get("title") == "unit audio")
        frames = list(container.decode(audio))
        assert len(frames) > 25
        assert max(rms_level(frame) for frame in frames) > 0.05
