"""A camera of the council's CCTV estate shown live on an incident, H.264 forwarded as the
camera encoded it; and every way a camera can fail shown as a clear state, never a crash."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from helppoint.cameras.rtsp_source import RtspTestSource
from helppoint.cameras.stream import StreamState
from helppoint.domain.events import EventType
from helppoint.domain.model import Role
from tests.calls.operator_peer import signed_in
from tests.e2e.harness import record_event

from .conftest import CAMERA_PASSWORD, CAMERA_USER, VideoViewer

pytestmark = pytest.mark.slow


async def register(admin: httpx.AsyncClient, camera_id: str, url: str, **extra: Any) -> None:
    response = await admin.post(
        "/api/admin/cameras", json={"id": camera_id, "name": camera_id, "rtsp_url": url, **extra}
    )
    assert response.status_code == 201, response.text
    linked = await admin.put(f"/api/admin/cameras/{camera_id}/links", json={"unit_id": "HP-01"})
    assert linked.status_code == 200, linked.text


async def pressed(server: Any, operator: httpx.AsyncClient) -> int:
    await asyncio.to_thread(
        record_event, server, "HP-01", 1, datetime.now(UTC), EventType.ACTIVATION.value
    )
    queue = (await operator.get("/api/incidents/queue")).json()
    return int(next(i["id"] for i in queue if i["unit_id"] == "HP-01"))


async def test_a_linked_camera_is_forwarded_live_without_re_encoding(
    server_factory: Callable[..., Any], council_camera: RtspTestSource
) -> None:
    server = server_factory(supervision=False, camera_clips=False)
    admin = await signed_in(server, "ada", Role.ADMIN)
    await register(
        admin, "CAM-01", council_camera.url, username=CAMERA_USER, password=CAMERA_PASSWORD
    )
    operator = await signed_in(server, "olive")
    incident_id = await pressed(server, operator)
    viewer = VideoViewer()
    try:
        response = await viewer.watch(operator, incident_id, "CAM-01")
        assert response.status_code == 200, response.text
        assert (viewer.answer["codec"], viewer.answer["forwarded"]) == ("h264", True)
        assert "H264" in viewer.answer["sdp"] and "VP8" not in viewer.answer["sdp"]
        await viewer.frames(15)
        assert viewer.meter is not None
        assert (viewer.meter.stats.width, viewer.meter.stats.height) == (320, 240)
        shown = (await operator.get(f"/api/incidents/{incident_id}/cameras")).json()
        assert (shown["cameras"][0]["state"], shown["cameras"][0]["forwarded"]) == ("live", True)
        audit = (await admin.get(f"/api/incidents/{incident_id}")).json()
        assert "camera.viewed" in str(audit)
        assert (
            await operator.delete(f"/api/camera-views/{viewer.answer['view']}")
        ).status_code == 204
    finally:
        await viewer.close()
        for client in (admin, operator):
            await client.aclose()


async def test_each_camera_failure_is_a_clear_state_and_nothing_crashes(
    server_factory: Callable[..., Any],
    rtsp_sources: Callable[..., RtspTestSource],
) -> None:
    server = server_factory(supervision=False, camera_clips=False, camera_timeout=2)
    locked = rtsp_sources(user=CAMERA_USER, password=CAMERA_PASSWORD)
    admin = await signed_in(server, "ada", Role.ADMIN)
    await register(admin, "WRONG-PW", locked.url, username=CAMERA_USER, password="not-it")
    await register(admin, "NO-PW", locked.url)
    await register(admin, "DOWN", "rtsp://127.0.0.1:9/stream")
    # The server's own HTTP port: something answers, but not RTSP.
    await register(admin, "NOT-RTSP", f"rtsp://127.0.0.1:{server.port}/")
    await register(
        admin,
        "NO-PATH",
        locked.url.replace("/stream", "/nothing"),
        username=CAMERA_USER,
        password=CAMERA_PASSWORD,
    )
    operator = await signed_in(server, "olive")
    incident_id = await pressed(server, operator)
    expected = {
        "WRONG-PW": ("unauthorized", "refused the user name or password"),
        "NO-PW": ("unauthorized", "refused the user name or password"),
        "DOWN": ("unreachable", "cannot be reached"),
        "NOT-RTSP": ("not_rtsp", "not as an RTSP camera"),
        "NO-PATH": ("not_found", "no stream at this address"),
    }
    for camera_id, (state, says) in expected.items():
        viewer = VideoViewer()
        response = await viewer.watch(operator, incident_id, camera_id)
        await viewer.close()
        assert response.status_code == 503, (camera_id, response.text)
        assert response.json()["state"] == state, (camera_id, response.text)
        assert says in response.json()["detail"]
        assert CAMERA_PASSWORD not in response.text and "not-it" not in response.text
    shown = (await operator.get(f"/api/incidents/{incident_id}/cameras")).json()["cameras"]
    assert {c["camera_id"]: c["state"] for c in shown} == {
        camera_id: state for camera_id, (state, _) in expected.items()
    }
    # A camera not shown on the incident, and an offer that is not SDP.
    other = VideoViewer()
    assert (await other.watch(operator, incident_id, "CAM-NONE")).status_code == 404
    await other.close()
    bad = await operator.post(
        f"/api/incidents/{incident_id}/cameras/DOWN/view", json={"type": "offer", "sdp": "hello"}
    )
    assert bad.status_code in (400, 503), bad.text
    # The server still serves.
    assert (await operator.get("/api/incidents/queue")).status_code == 200
    for client in (admin, operator):
        await client.aclose()


async def test_a_camera_that_dies_mid_stream_is_reported_lost_and_comes_back(
    server_factory: Callable[..., Any], rtsp_sources: Callable[..., RtspTestSource]
) -> None:
    server = server_factory(supervision=False, camera_clips=False, camera_timeout=2)
    camera = rtsp_sources()
    admin = await signed_in(server, "ada", Role.ADMIN)
    await register(admin, "CAM-01", camera.url)
    operator = await signed_in(server, "olive")
    incident_id = await pressed(server, operator)
    viewer = VideoViewer()
    try:
        assert (await viewer.watch(operator, incident_id, "CAM-01")).status_code == 200
        await viewer.frames(5)
        camera.kill()
        states = server.app.state.cameras.pool.get("CAM-01")
        await eventually_state(states, "lost")
        shown = (await operator.get(f"/api/incidents/{incident_id}/cameras")).json()
        assert shown["cameras"][0]["state"] == "lost"
        assert (
            "stream stopped" in shown["cameras"][0]["detail"]
            or "ended" in shown["cameras"][0]["detail"]
        )
        # The camera comes back on the same address: the same view shows it again.
        assert viewer.meter is not None
        before = viewer.meter.stats.frames
        rtsp_sources(port=camera.port)
        await eventually_state(states, "live", within=30)
        await viewer.frames(before + 10, within=30)
    finally:
        await viewer.close()
        for client in (admin, operator):
            await client.aclose()


async def test_a_camera_sending_motion_jpeg_is_re_encoded_for_the_browser(
    server_factory: Callable[..., Any], rtsp_sources: Callable[..., RtspTestSource]
) -> None:
    server = server_factory(supervision=False, camera_clips=False)
    camera = rtsp_sources(codec="jpeg")
    admin = await signed_in(server, "ada", Role.ADMIN)
    await register(admin, "MJPEG", camera.url)
    operator = await signed_in(server, "olive")
    incident_id = await pressed(server, operator)
    viewer = VideoViewer()
    try:
        response = await viewer.watch(operator, incident_id, "MJPEG")
        assert response.status_code == 200, response.text
        assert (viewer.answer["codec"], viewer.answer["forwarded"]) == ("mjpeg", False)
        await viewer.frames(10)
    finally:
        await viewer.close()
        for client in (admin, operator):
            await client.aclose()


async def eventually_state(stream: Any, state: str, within: float = 15) -> None:
    """Wait for a stream's state: its changes wake the waiter on the server's own loop."""
    await asyncio.to_thread(stream.wait_from_thread, StreamState(state), within)
