"""The light flashes from activation until the incident closes; the operator starts and stops
it from the incident; the unit confirms each change, which shows on the incident. On close the
server puts the unit back to rest (light off, camera to home)."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from helppoint.agent.light import LightPattern
from helppoint.agent.stills import StillSender, TestPatternStills
from helppoint.store.tables_media import camera_stills, unit_commands
from tests.conftest import async_http_client
from tests.waiting import eventually
from tests.web.test_api import PASSWORD


async def signed_in(server: Any, username: str = "alice") -> Any:
    server.add_operator(username, PASSWORD)
    http = async_http_client(server.base_url, timeout=None)
    answer = await http.post("/api/login", json={"username": username, "password": PASSWORD})
    assert answer.status_code == 200
    return http


def commands(server: Any) -> list[tuple[str, Any, bool | None, str]]:
    with server.database.session() as session:
        rows = session.execute(
            select(unit_commands).order_by(unit_commands.c.sent_at, unit_commands.c.id)
        ).all()
        return [(r.command, r.args, r.ok, r.sent_by) for r in rows]


async def test_operator_stops_and_starts_the_light_and_close_resets_the_unit(
    live_server_any: Any, linked_unit: Any, changes: Any
) -> None:
    live_server = live_server_any
    unit = linked_unit(live_server, "HP-06")
    unit.agent.stills = StillSender(
        live_server.device_url, "HP-06", live_server.key("HP-06"), TestPatternStills("HP-06")
    )
    unit.agent.activate()
    assert unit.hardware.light.pattern is LightPattern.ALARM  # at once, before any network
    assert unit.hardware.camera.preset == "zoom"
    await changes.until(lambda: unit.outbox.unacked_count("HP-06") == 0)
    http = await signed_in(live_server)
    [incident] = (await http.get("/api/incidents/queue")).json()
    path = f"/api/incidents/{incident['id']}"
    media = (await http.get(f"{path}/unit-media")).json()
    assert media["light"] == {
        "pattern": "alarm",
        "since": None,
        "confirmed": False,
        "pending": None,
    }

    stop = await http.post(
        f"{path}/unit-commands", json={"command": "flash_light", "args": {"on": False}}
    )
    assert stop.status_code == 200, stop.text
    await eventually(lambda: unit.hardware.light.pattern is LightPattern.OFF)

    async def light() -> dict[str, Any]:
        return dict((await http.get(f"{path}/unit-media")).json()["light"])

    async def confirmed(pattern: str) -> None:
        for _ in range(500):
            state = await light()
            if state["confirmed"] and state["pattern"] == pattern:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"light {pattern} never confirmed")

    await confirmed("off")
    start = await http.post(
        f"{path}/unit-commands",
        json={"command": "flash_light", "args": {"on": True, "pattern": "alarm"}},
    )
    assert start.status_code == 200
    await confirmed("alarm")
    assert unit.hardware.light.pattern is LightPattern.ALARM

    # The still the agent sent on activation is on the incident.
    assert unit.agent.stills.wait_idle(10)
    with live_server.database.session() as session:
        [still] = session.execute(select(camera_stills.c.incident_id)).all()
        assert still.incident_id == incident["id"]

    await http.post(f"{path}/acknowledge")
    closed = await http.post(
        f"{path}/close", json={"classification": "false_test", "outcome": "test"}
    )
    assert closed.status_code == 200
    await eventually(lambda: unit.hardware.light.pattern is LightPattern.OFF)
    await eventually(lambda: unit.hardware.camera.preset == "home")
    await eventually(lambda: all(ok is not None for _, _, ok, _ in commands(live_server)))
    assert commands(live_server) == [
        ("flash_light", {"on": False}, True, "alice"),
        ("flash_light", {"on": True, "pattern": "alarm"}, True, "alice"),
        ("flash_light", {"on": False}, True, "system"),
        ("camera_preset", {"preset": "home"}, True, "system"),
    ]
    timeline = (await http.get(path)).json()["timeline"]
    confirmations = [
        (e["actor"], e["detail"].get("command"))
        for e in timeline
        if e["action"] == "unit.command_confirmed"
    ]
    assert confirmations == [("HP-06", "flash_light")] * 3 + [("HP-06", "camera_preset")]
    # A closed incident's unit takes no more commands from it.
    late = await http.post(f"{path}/unit-commands", json={"command": "flash_light", "args": {}})
    assert late.status_code == 400 and "closed" in late.json()["detail"]
    await http.aclose()


async def test_close_keeps_the_light_when_the_unit_has_another_open_incident(
    live_server: Any, linked_unit: Any, changes: Any
) -> None:
    unit = linked_unit(live_server, "HP-02")
    unit.agent.activate()
    unit.agent.report_tamper("door forced")  # a second, separate incident on the same unit
    await changes.until(lambda: unit.outbox.unacked_count("HP-02") == 0)
    http = await signed_in(live_server)
    queue = (await http.get("/api/incidents/queue")).json()
    assert len(queue) == 2
    first = queue[0]
    await http.post(f"/api/incidents/{first['id']}/acknowledge")
    closed = await http.post(
        f"/api/incidents/{first['id']}/close", json={"classification": "false_test"}
    )
    assert closed.status_code == 200
    # Something visible must come after the close to prove no reset was sent: an explicit
    # command from the other incident is confirmed, and nothing else was recorded.
    other = queue[1]
    sent = await http.post(
        f"/api/incidents/{other['id']}/unit-commands",
        json={"command": "camera_preset", "args": {"preset": "zoom"}},
    )
    assert sent.status_code == 200
    await eventually(lambda: commands(live_server) and commands(live_server)[-1][2] is not None)
    assert commands(live_server) == [("camera_preset", {"preset": "zoom"}, True, "alice")]
    assert unit.hardware.light.pattern is LightPattern.ALARM
    await http.aclose()


async def test_bad_commands_are_refused_and_not_recorded(
    live_server: Any, linked_unit: Any, changes: Any
) -> None:
    unit = linked_unit(live_server, "HP-04")
    unit.agent.activate()
    await changes.until(lambda: unit.outbox.unacked_count("HP-04") == 0)
    http = await signed_in(live_server)
    [incident] = (await http.get("/api/incidents/queue")).json()
    path = f"/api/incidents/{incident['id']}/unit-commands"
    for body, status in (
        ({"command": "self_destruct", "args": {}}, 422),
        ({"command": "flash_light", "args": {"on": "yes"}}, 400),
        ({"command": "flash_light", "args": {"pattern": "disco"}}, 400),
        ({"command": "camera_preset", "args": {}}, 400),
        ({"command": "play_message", "args": {"message": ""}}, 400),
    ):
        answer = await http.post(path, json=body)
        assert answer.status_code == status, (body, answer.text)
    assert (
        await http.post("/api/incidents/999999/unit-commands", json={"command": "flash_light"})
    ).status_code == 404
    assert commands(live_server) == []
    await http.aclose()
