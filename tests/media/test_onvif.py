"""An external PTZ camera over ONVIF: the ONVIF test double (a SOAP service started by the
tests) receives GotoPreset with the configured preset token on activation, the home token
when the incident closes, and the token of the preset the operator picks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from helppoint.agent.camera_onvif import CameraError, OnvifPtzCamera, UnknownPreset
from helppoint.agent.hardware import virtual_hardware
from helppoint.agent.runner import build_camera, camera_capabilities
from helppoint.agent.settings import AgentConfigError, AgentSettings
from tests.ports import free_port
from tests.waiting import eventually

from .onvif_double import GotoPreset, OnvifCameraDouble
from .test_light_and_close import commands, signed_in

PRESETS = {"zoom": "1", "home": "2", "gate": "3"}


@pytest.fixture
async def onvif() -> AsyncIterator[OnvifCameraDouble]:
    double = OnvifCameraDouble(presets={"1": "Zoom", "2": "Home", "3": "Gate"})
    await double.start()
    yield double
    await double.stop()


def camera(double: OnvifCameraDouble, **options: Any) -> OnvifPtzCamera:
    return OnvifPtzCamera(
        "127.0.0.1", double.port, double.user, "secret", PRESETS, timeout=5, **options
    )


async def test_goto_preset_sends_the_configured_token_on_the_first_profile(
    onvif: OnvifCameraDouble,
) -> None:
    ptz = camera(onvif)
    try:
        assert await ptz.goto_preset_async("zoom") == "zoom"
        assert await ptz.goto_preset_async("home") == "home"
        assert onvif.received == [GotoPreset("profile_main", "1"), GotoPreset("profile_main", "2")]
        assert ptz.reached == ["zoom", "home"]
        # One ONVIF session: services and profiles are looked up once.
        assert onvif.calls.count("GetProfiles") == 1
        assert ptz.capabilities() == ["ptz", "preset:zoom", "preset:home", "preset:gate"]
    finally:
        ptz.close()


async def test_a_configured_profile_is_used_and_a_missing_one_is_reported(
    onvif: OnvifCameraDouble,
) -> None:
    ptz = camera(onvif, profile="profile_sub")
    missing = camera(onvif, profile="profile_4k")
    try:
        await ptz.goto_preset_async("gate")
        assert onvif.received == [GotoPreset("profile_sub", "3")]
        with pytest.raises(CameraError, match="no profile 'profile_4k'"):
            await missing.goto_preset_async("zoom")
    finally:
        ptz.close()
        missing.close()


async def test_unknown_presets_bad_credentials_and_a_dead_camera_are_errors(
    onvif: OnvifCameraDouble,
) -> None:
    ptz = camera(onvif)
    intruder = OnvifPtzCamera("127.0.0.1", onvif.port, "mallory", "x", PRESETS, timeout=5)
    dead = OnvifPtzCamera("127.0.0.1", free_port(), "u", "p", PRESETS, timeout=5)
    try:
        with pytest.raises(UnknownPreset, match="configured: zoom, home, gate"):
            await ptz.goto_preset_async("balcony")
        with pytest.raises(CameraError, match="did not go to preset zoom"):
            await intruder.goto_preset_async("zoom")
        with pytest.raises(CameraError, match="did not go to preset zoom"):
            await dead.goto_preset_async("zoom")
        assert onvif.received == [] and intruder.failures == 1 and dead.failures == 1
        # After a failure the next request connects afresh.
        onvif.user = "mallory"
        await intruder.goto_preset_async("home")
        assert onvif.received == [GotoPreset("profile_main", "2")]
    finally:
        for each in (ptz, intruder, dead):
            each.close()


async def test_activation_zooms_close_goes_home_and_the_operator_picks_presets(
    live_server: Any, linked_unit: Any, changes: Any, onvif: OnvifCameraDouble
) -> None:
    ptz = camera(onvif)
    unit = linked_unit(live_server, "HP-05", camera=ptz, camera_preset="zoom")
    try:
        unit.agent.activate()
        # The press path does not wait for the camera: the move arrives by itself.
        assert await onvif.until_presets(1) == [GotoPreset("profile_main", "1")]
        await changes.until(lambda: unit.outbox.unacked_count("HP-05") == 0)
        http = await signed_in(live_server)
        [incident] = (await http.get("/api/incidents/queue")).json()
        path = f"/api/incidents/{incident['id']}"
        media = (await http.get(f"{path}/unit-media")).json()
        assert media["camera_presets"] == ["zoom", "home", "gate"]

        picked = await http.post(
            f"{path}/unit-commands", json={"command": "camera_preset", "args": {"preset": "gate"}}
        )
        assert picked.status_code == 200
        assert (await onvif.until_presets(2))[-1] == GotoPreset("profile_main", "3")
        wrong = await http.post(
            f"{path}/unit-commands",
            json={"command": "camera_preset", "args": {"preset": "balcony"}},
        )
        assert wrong.status_code == 200  # sent; the unit refuses it
        await _until_answered(live_server, 2)

        await http.post(f"{path}/acknowledge")
        await http.post(f"{path}/close", json={"classification": "false_accidental"})
        assert (await onvif.until_presets(3))[-1] == GotoPreset("profile_main", "2")
        await _until_answered(live_server, 4)
        recorded = [(c, a, ok) for c, a, ok, _ in commands(live_server)]
        assert recorded == [
            ("camera_preset", {"preset": "gate"}, True),
            ("camera_preset", {"preset": "balcony"}, False),
            ("flash_light", {"on": False}, True),
            ("camera_preset", {"preset": "home"}, True),
        ]
        timeline = (await http.get(path)).json()["timeline"]
        [failed] = [e for e in timeline if e["action"] == "unit.command_failed"]
        assert "unknown camera preset 'balcony'" in failed["detail"]["result"]
        await http.aclose()
    finally:
        ptz.close()


async def _until_answered(server: Any, count: int) -> None:

    await eventually(
        lambda: len(rows := commands(server)) >= count and all(r[2] is not None for r in rows)
    )


def test_settings_map_preset_names_to_tokens_and_check_them() -> None:
    settings = AgentSettings.from_values(
        {
            "onvif_host": "10.0.0.9",
            "onvif_user": "admin",
            "onvif_password": "pw",
            "onvif_presets": "zoom=Preset_1, home=Preset_0 ,gate=7",
        }
    )
    assert settings.preset_tokens() == {"zoom": "Preset_1", "home": "Preset_0", "gate": "7"}
    assert "pw" not in repr(settings)
    built = build_camera(settings)
    assert isinstance(built, OnvifPtzCamera) and built.presets["zoom"] == "Preset_1"
    hardware = virtual_hardware()
    hardware.camera = built
    assert camera_capabilities(hardware) == ["ptz", "preset:zoom", "preset:home", "preset:gate"]
    assert not isinstance(build_camera(AgentSettings()), OnvifPtzCamera)
    for bad, says in (
        ({"onvif_presets": "zoom"}, "NAME=TOKEN"),
        ({"onvif_presets": "=1"}, "NAME=TOKEN"),
        ({"onvif_host": "cam", "onvif_presets": "home=2"}, "camera_preset 'zoom' is not in"),
        ({"onvif_host": "cam", "home_preset": "park"}, "home_preset 'park' is not in"),
        ({"onvif_host": "cam", "onvif_port": 0}, "onvif_port"),
    ):
        with pytest.raises(AgentConfigError, match=says):
            AgentSettings.from_values(bad)
