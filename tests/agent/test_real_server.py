"""The agent and simulated fleets against the real server (uvicorn + the app + SQLite)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from helppoint.agent.light import LightPattern
from helppoint.agent.link import CommandResult, LinkExit, LinkState
from helppoint.agent.outbox import Outbox
from helppoint.sim.fleet import Fleet
from tests.conftest import async_http_client

from .conftest import Unit
from .protocol_server import Changes

MakeUnit = Callable[..., Unit]


def stored(server: Any, unit_id: str) -> list[tuple[int, str]]:
    with server.database.uow() as uow:
        last = uow.events.last_seq(unit_id)
        events = [uow.events.find(unit_id, seq) for seq in range(1, last + 1)]
        return [(e.seq, e.type.value) for e in events if e is not None]


async def test_a_press_reaches_the_server_and_opens_an_alarm(
    live_server: Any, make_unit: MakeUnit, changes: Changes, outbox: Outbox
) -> None:
    unit = make_unit(live_server.device_url, outbox, "HP-01", live_server.key("HP-01"))
    unit.start()
    unit.hardware.button.press()
    unit.hardware.button.release()
    await changes.until(lambda: outbox.unacked_count("HP-01") == 0)
    assert stored(live_server, "HP-01") == [(1, "activation")]
    with live_server.database.uow() as uow:
        [incident] = uow.incidents.open_for_units(["HP-01"])
        assert incident.priority.label == "activation"


async def test_a_lost_ack_is_resent_and_the_server_says_duplicate(
    live_server: Any, make_unit: MakeUnit, changes: Changes, tmp_path: Path
) -> None:
    path = tmp_path / "outbox.sqlite"
    outbox = Outbox(path)
    first = make_unit(live_server.device_url, outbox, "HP-02", live_server.key("HP-02"))
    first.agent.activate()
    first.start()
    await changes.until(lambda: outbox.unacked_count("HP-02") == 0)
    await first.stop()
    # The ack "never arrived": the outbox still thinks the event is waiting.
    with sqlite3.connect(path) as db:
        db.execute("UPDATE outbox_events SET acked = 0")
    second = make_unit(live_server.device_url, outbox, "HP-02", live_server.key("HP-02"))
    second.start()
    await changes.until(lambda: outbox.unacked_count("HP-02") == 0)
    assert second.link.stats.duplicates == 1
    assert stored(live_server, "HP-02") == [(1, "activation")]


async def test_a_unit_with_a_new_outbox_renumbers_after_the_servers_events(
    live_server: Any, make_unit: MakeUnit, changes: Changes
) -> None:
    key = live_server.key("HP-03")
    old = Outbox()
    old_unit = make_unit(live_server.device_url, old, "HP-03", key)
    for _ in range(3):
        old_unit.agent.activate()
    old_unit.start()
    await changes.until(lambda: old.unacked_count("HP-03") == 0)
    await old_unit.stop()
    new = Outbox()  # the SD card was replaced
    unit = make_unit(live_server.device_url, new, "HP-03", key)
    unit.agent.report_tamper("pressed while offline")  # numbered 1 by the new outbox
    unit.start()
    await changes.until(lambda: new.unacked_count("HP-03") == 0)
    assert unit.link.stats.renumbers == 1
    assert stored(live_server, "HP-03") == [
        (1, "activation"),
        (2, "activation"),
        (3, "activation"),
        (4, "tamper"),
    ]


async def test_wrong_key_and_replaced_connections(
    live_server: Any, make_unit: MakeUnit, changes: Changes
) -> None:
    wrong = make_unit(live_server.device_url, Outbox(), "HP-04", "not-the-key", auth_retry=0.05)
    wrong.start()
    await changes.until(lambda: wrong.link.stats.auth_failures >= 1)
    assert wrong.link.state is LinkState.AUTH_FAILED
    await wrong.stop()
    key = live_server.key("HP-04")
    first = make_unit(live_server.device_url, Outbox(), "HP-04", key)
    first.start()
    await changes.until(lambda: first.link.connected)
    second = make_unit(live_server.device_url, Outbox(), "HP-04", key)
    second.start()
    assert first.task is not None
    assert await first.task is LinkExit.REPLACED
    await changes.until(lambda: second.link.connected)


async def test_commands_from_the_console_api_are_carried_out(
    live_server: Any, make_unit: MakeUnit, changes: Changes, outbox: Outbox
) -> None:
    unit = make_unit(live_server.device_url, outbox, "HP-05", live_server.key("HP-05"))
    results: list[CommandResult] = []

    def execute(command: str, args: dict[str, Any]) -> CommandResult:
        results.append(unit.agent.execute(command, args))
        changes.notify()
        return results[-1]

    unit.link.commands = execute
    unit.start()
    await changes.until(lambda: unit.link.connected)
    live_server.add_operator("op", "correct horse battery")
    async with async_http_client(live_server.base_url) as http:
        login = await http.post(
            "/api/login", json={"username": "op", "password": "correct horse battery"}
        )
        assert login.status_code == 200, login.text
        for command, args in [
            ("flash_light", {"on": True, "pattern": "steady"}),
            ("camera_preset", {"preset": "wide"}),
            ("play_message", {"message": "stay_calm"}),
        ]:
            response = await http.post(
                "/api/units/HP-05/commands", json={"command": command, "args": args}
            )
            assert response.status_code == 200, response.text
    await changes.until(lambda: len(results) == 3)
    assert all(result.ok for result in results)
    assert unit.hardware.light.pattern is LightPattern.STEADY
    assert unit.hardware.camera.preset == "wide"  # type: ignore[attr-defined]
    assert unit.hardware.speaker.played == ["stay_calm"]  # type: ignore[attr-defined]


async def test_the_demo_fleet_presses_every_unit(live_server: Any, tmp_path: Path) -> None:
    credentials = [(u.unit_id, u.key) for u in live_server.units]
    fleet = Fleet(
        live_server.device_url, credentials, str(tmp_path / "fleet.sqlite"), backoff_base=0.05
    )
    await fleet.start()
    try:
        await fleet.wait_connected(20)
        for unit_id in fleet.unit_ids:
            assert fleet.press(unit_id) is not None
        await fleet.wait_all_acked(20)
    finally:
        await fleet.stop()
    for unit_id, _ in credentials:
        assert stored(live_server, unit_id) == [(1, "activation")]


async def test_events_the_server_cannot_store_as_sent_do_not_hold_up_the_units_presses(
    live_server: Any, make_unit: MakeUnit, changes: Changes, outbox: Outbox
) -> None:
    """Once, a lone surrogate in a payload failed the server's writer on every resend, and
    every later press of the unit waited behind it; an unknown kind was never answered."""
    unit = make_unit(live_server.device_url, outbox, "HP-06", live_server.key("HP-06"))
    outbox.append("HP-06", "activation", {"detail": "\ud800"})  # a broken driver's text
    outbox.append("HP-06", "explosion")  # a kind the server does not know
    unit.agent.activate()
    unit.start()
    await changes.until(lambda: outbox.unacked_count("HP-06") == 0)
    assert (unit.link.stats.acked, unit.link.stats.refused) == (2, 1)
    assert stored(live_server, "HP-06") == [(1, "activation"), (3, "activation")]
