"""PTZ cameras turn to the pressed unit's preset (ONVIF GotoPreset) and the operator moves them;
every failure (wrong account, unreachable, fixed camera) is a clear answer on the record."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from helppoint.cameras import ptz as ptz_module
from helppoint.cameras.activation import CameraActivations
from helppoint.domain.model import Role
from tests.calls.operator_peer import signed_in
from tests.e2e.harness import SimulatedUnit
from tests.media.onvif_double import GotoPreset

from .onvif_ptz import Move, OnvifPtzDouble
from .waiting import eventually

pytestmark = pytest.mark.slow

ONVIF_PASSWORD = "ptz-pässword"


@pytest.fixture
async def onvif() -> AsyncIterator[OnvifPtzDouble]:
    double = OnvifPtzDouble(password=ONVIF_PASSWORD, presets={"1": "HP-01", "2": "Home"})
    await double.start()
    yield double
    await double.stop()


async def register(
    admin: httpx.AsyncClient, camera_id: str, link: dict[str, Any], **body: Any
) -> None:
    body.setdefault("rtsp_url", "rtsp://127.0.0.1:9/stream")
    response = await admin.post(
        "/api/admin/cameras", json={"id": camera_id, "name": camera_id, **body}
    )
    assert response.status_code == 201, response.text
    response = await admin.put(f"/api/admin/cameras/{camera_id}/links", json=link)
    assert response.status_code == 200, response.text


async def press(server: Any, unit_id: str) -> SimulatedUnit:
    unit = await asyncio.to_thread(lambda: SimulatedUnit(server, unit_id).connect())
    await asyncio.to_thread(unit.press)
    return unit


async def incident_of(http: httpx.AsyncClient, unit_id: str) -> int:
    queue = (await http.get("/api/incidents/queue")).json()
    return int(next(i["id"] for i in queue if i["unit_id"] == unit_id))


async def timeline(http: httpx.AsyncClient, incident_id: int, action: str) -> list[dict[str, Any]]:
    detail = (await http.get(f"/api/incidents/{incident_id}")).json()
    return [e for e in detail["timeline"] if e.get("action") == action]


async def test_a_press_turns_linked_ptz_cameras_to_the_units_preset(
    server_factory: Callable[..., Any], onvif: OnvifPtzDouble
) -> None:
    server = server_factory(supervision=False, camera_clips=False, camera_timeout=3)
    admin = await signed_in(server, "ada", Role.ADMIN)
    account = {"username": onvif.user, "password": ONVIF_PASSWORD}
    onvif_at = f"127.0.0.1:{onvif.port}"
    await register(admin, "PTZ-1", {"unit_id": "HP-01", "preset": "1"}, onvif=onvif_at, **account)
    await register(
        admin,
        "PTZ-BAD",
        {"unit_id": "HP-01", "preset": "1"},
        onvif=onvif_at,
        username=onvif.user,
        password="wrong",
    )
    await register(admin, "ZONE-PTZ", {"zone_id": "racecourse"}, onvif=onvif_at, **account)
    unit = await press(server, "HP-01")
    try:
        await onvif.until(lambda: len(onvif.received) >= 1)
        assert onvif.received == [GotoPreset("profile_main", "1")]
        operator = await signed_in(server, "olive")
        incident_id = await incident_of(operator, "HP-01")

        async def outcomes() -> tuple[list[Any], list[Any]] | None:
            # The job writes both outcomes once both cameras answered.
            turned = await timeline(operator, incident_id, "camera.turned_to_preset")
            failed = await timeline(operator, incident_id, "camera.preset_failed")
            return (turned, failed) if turned and failed else None

        turned, failed = await eventually(outcomes)
        assert turned[0]["detail"] == {"camera": "PTZ-1", "preset": "1"}
        assert failed[0]["detail"]["camera"] == "PTZ-BAD"
        assert "refused the ONVIF user name or password" in failed[0]["detail"]["reason"]
        await operator.aclose()
    finally:
        await asyncio.to_thread(unit.stop)
        await admin.aclose()


async def test_the_operator_moves_stops_and_turns_a_camera_and_failures_say_why(
    server_factory: Callable[..., Any], onvif: OnvifPtzDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = server_factory(supervision=False, camera_clips=False, camera_timeout=3)
    admin = await signed_in(server, "ada", Role.ADMIN)
    onvif_at = f"127.0.0.1:{onvif.port}"
    account = {"username": onvif.user, "password": ONVIF_PASSWORD}
    await register(admin, "PTZ-1", {"unit_id": "HP-02", "preset": "1"}, onvif=onvif_at, **account)
    await register(admin, "FIXED", {"unit_id": "HP-02"})
    await register(admin, "DEAD", {"unit_id": "HP-02"}, onvif="127.0.0.1:9")
    unit = await press(server, "HP-02")
    operator = await signed_in(server, "olive")
    try:
        await onvif.until(lambda: len(onvif.received) >= 1)
        incident_id = await incident_of(operator, "HP-02")
        url = f"/api/incidents/{incident_id}/cameras"
        moved = await operator.post(
            f"{url}/PTZ-1/ptz", json={"action": "move", "pan": -0.5, "zoom": 0.25}
        )
        assert moved.status_code == 200, moved.text
        assert onvif.moves == [Move(-0.5, 0.0, 0.25)]
        stopped = await operator.post(f"{url}/PTZ-1/ptz", json={"action": "stop"})
        assert stopped.status_code == 200 and onvif.stops == 1
        preset = await operator.post(f"{url}/PTZ-1/ptz", json={"action": "preset"})
        assert preset.json() == {"camera_id": "PTZ-1", "action": "preset", "preset": "1"}
        other = await operator.post(f"{url}/PTZ-1/ptz", json={"action": "preset", "preset": "2"})
        assert other.status_code == 200
        assert onvif.received[-2:] == [
            GotoPreset("profile_main", "1"),
            GotoPreset("profile_main", "2"),
        ]
        missing = await operator.post(f"{url}/PTZ-1/ptz", json={"action": "preset", "preset": "9"})
        assert missing.status_code == 502 and "did not go to preset 9" in missing.text
        fixed = await operator.post(f"{url}/FIXED/ptz", json={"action": "move", "pan": 1})
        assert fixed.status_code == 409 and "fixed camera" in fixed.text
        dead = await operator.post(f"{url}/DEAD/ptz", json={"action": "move", "pan": 1})
        assert dead.status_code == 502 and "cannot be reached" in dead.text
        for bad in (
            {"action": "move", "pan": 2},
            {"action": "spin"},
            {"action": "move", "pan": "NaN"},
        ):
            assert (await operator.post(f"{url}/PTZ-1/ptz", json=bad)).status_code == 422
        assert (await operator.post(f"{url}/NOPE/ptz", json={"action": "stop"})).status_code == 404
        moves = await timeline(operator, incident_id, "camera.moved")
        assert [m["detail"]["how"] for m in moves] == ["move", "preset", "preset"]
        failures = await timeline(operator, incident_id, "camera.move_failed")
        assert {f["detail"]["camera"] for f in failures} == {"PTZ-1", "DEAD"}
        # A move the browser never stops (it closed mid-move) stops by itself.
        monkeypatch.setattr(ptz_module, "MAX_MOVE", 0.3)
        await operator.post(f"{url}/PTZ-1/ptz", json={"action": "move", "tilt": 1})
        await onvif.until(lambda: onvif.stops == 2)
    finally:
        await asyncio.to_thread(unit.stop)
        for client in (admin, operator):
            await client.aclose()


class _Recorder(CameraActivations):
    def __init__(self) -> None:
        super().__init__(lambda: None, None, None)  # type: ignore[arg-type]
        self.presses: list[tuple[int, str, bool]] = []

    async def pressed(self, incident_id: int, unit_id: str, first: bool, at: datetime) -> None:
        self.presses.append((incident_id, unit_id, first))


async def test_only_new_presses_count_and_only_the_first_turns_the_cameras() -> None:
    job = _Recorder()
    now = datetime.now(UTC)

    def message(incident: int, count: int, at: datetime, **extra: Any) -> dict[str, Any]:
        return {
            "id": incident,
            "unit_id": "HP-01",
            "kind": "activation",
            "state": "new",
            "event_count": count,
            "last_event_at": at.isoformat(),
            **extra,
        }

    job._on_incident(message(1, 1, now))
    job._on_incident(message(1, 1, now, state="acknowledged"))  # not a press
    job._on_incident(message(1, 2, now + timedelta(seconds=5)))  # a repeat press
    job._on_incident(message(2, 1, now, kind="fault"))  # not an activation
    job._on_incident(message(3, 4, now - timedelta(minutes=5)))  # an old press, replayed
    job._on_incident(message(4, 3, now))  # first seen at its third press: not the first
    job._on_incident(message(1, 2, now + timedelta(seconds=5), state="closed"))
    await asyncio.gather(*job._pending)
    assert job.presses == [(1, "HP-01", True), (1, "HP-01", False), (4, "HP-01", False)]
