"""The `helppoint simulate` console: commands, and clear errors for bad ones."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from helppoint.sim.console import FleetConsole
from helppoint.sim.fleet import Fleet

from .conftest import KEYS
from .protocol_server import ProtocolServer


@pytest.fixture
async def console(server: ProtocolServer) -> AsyncIterator[tuple[FleetConsole, list[str]]]:
    fleet = Fleet(server.url, sorted(KEYS.items())[:3], backoff_base=0.01, stills=False)
    await fleet.start()
    output: list[str] = []
    yield FleetConsole(fleet, output.append), output
    await fleet.stop()


async def test_press_by_id_or_number(
    console: tuple[FleetConsole, list[str]], server: ProtocolServer
) -> None:
    con, output = console
    assert await con.handle("press 2")
    assert await con.handle("press hp-03")  # case does not matter
    assert output == [
        "HP-02: pressed; activation stored as seq 1",
        "HP-03: pressed; activation stored as seq 1",
    ]
    await con.fleet.wait_all_acked(10)
    assert len(server.events("HP-02")) == len(server.events("HP-03")) == 1


async def test_tamper_hold_status_help_and_quit(
    console: tuple[FleetConsole, list[str]],
) -> None:
    con, output = console
    await con.handle("tamper HP-01")
    assert output[-1] == "HP-01: tamper reported (seq 1)"
    await con.handle("hold 1 0.01")
    assert output[-1] == "HP-01: holding the button for 0.01 s"
    await con.handle("status")
    table = output[-1].splitlines()
    assert table[0].split() == ["unit", "link", "light", "events", "acked", "waiting"]
    assert [line.split()[0] for line in table[1:]] == ["HP-01", "HP-02", "HP-03"]
    await con.handle("help")
    assert "press UNIT" in output[-1]
    assert await con.handle("") is True
    assert await con.handle("quit") is False


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("press", "error: usage: press UNIT"),
        ("press HP-99", "error: no unit 'HP-99'; units are HP-01, HP-02, HP-03 (or 1-3)"),
        ("press 7", "error: no unit '7'; units are HP-01, HP-02, HP-03 (or 1-3)"),
        ("hold 1", "error: usage: hold UNIT SECONDS"),
        ("hold 1 soon", "error: SECONDS must be a number, not 'soon'"),
        ("hold 1 -3", "error: SECONDS must be more than 0 and at most 3600"),
        ("status now", "error: usage: status"),
        (
            "dance 1",
            "error: unknown command 'dance'; try press, hold, tamper, battery, mains, fault, "
            "selftest, hear, status, help or quit",
        ),
        ("hear 1", "error: usage: hear UNIT voice|silence|noise|tone"),
        (
            "hear 1 music",
            "error: a simulated microphone hears one of tone, voice, silence, noise",
        ),
    ],
)
async def test_bad_commands_get_clear_errors(
    console: tuple[FleetConsole, list[str]], line: str, error: str
) -> None:
    con, output = console
    assert await con.handle(line) is True
    assert output == [error]
    assert con.fleet.pending == 0  # nothing happened
    assert all(unit.calls.microphone is None for unit in con.fleet._units.values())  # type: ignore[union-attr]


async def test_hear_sets_what_a_units_microphone_hears(
    console: tuple[FleetConsole, list[str]],
) -> None:
    con, output = console
    assert await con.handle("hear 2 VOICE") is True
    assert output == ["HP-02: the microphone hears voice"]
    assert con.fleet.unit("HP-02").calls.microphone == "voice"  # type: ignore[union-attr]
