"""Simulated fleets: presses go through each unit's button and all reach the server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from helppoint.agent.button import GpioButton, VirtualButton
from helppoint.agent.light import LightPattern
from helppoint.sim.fleet import Fleet, UnknownUnit

from .conftest import KEYS
from .protocol_server import Changes, ProtocolServer

CREDENTIALS = sorted(KEYS.items())[:5]


@pytest.fixture
async def fleet(server: ProtocolServer) -> AsyncIterator[Fleet]:
    acks: list[tuple[str, int, str]] = []
    fleet = Fleet(
        server.url,
        CREDENTIALS,
        stills=False,  # the protocol server takes no uploads
        backoff_base=0.01,
        backoff_cap=0.05,
        on_ack=lambda *ack: acks.append(ack),
    )
    fleet.acks = acks  # type: ignore[attr-defined]
    await fleet.start()
    yield fleet
    await fleet.stop()


async def test_small_fleets_press_through_gpiozero_mock_pins(
    fleet: Fleet, server: ProtocolServer
) -> None:
    assert fleet.gpio_mock
    assert isinstance(fleet.unit("HP-01").hardware.button, GpioButton)
    await fleet.wait_connected(10)
    for unit_id in fleet.unit_ids:
        event = fleet.press(unit_id)
        assert event is not None and event.seq == 1
    await fleet.wait_all_acked(10)
    for unit_id in fleet.unit_ids:
        assert [(e.seq, e.type) for e in server.events(unit_id)] == [(1, "activation")]
        assert fleet.unit(unit_id).hardware.light.pattern is LightPattern.ALARM
    assert sorted(fleet.acks) == [(u, 1, "stored") for u in fleet.unit_ids]  # type: ignore[attr-defined]
    timings = fleet.timings()
    assert len(timings) == 5 and all(t.latency is not None and t.latency >= 0 for t in timings)
    assert fleet.press_time("HP-02", 1) == next(
        t.happened_at for t in timings if t.unit_id == "HP-02"
    )
    stats = fleet.stats(1)
    assert (stats.unit_id, stats.appended, stats.acked, stats.link) == ("HP-01", 1, 1, "connected")


async def test_units_are_found_by_id_or_number(fleet: Fleet) -> None:
    assert fleet.unit(2).unit_id == "HP-02"
    with pytest.raises(UnknownUnit, match="no unit number 6"):
        fleet.unit(6)
    with pytest.raises(UnknownUnit, match="no unit 'HP-77'"):
        fleet.press("HP-77")


async def test_hold_and_tamper(server: ProtocolServer, changes: Changes) -> None:
    fleet = Fleet(server.url, CREDENTIALS[:1], hold_time=0.05, backoff_base=0.01, stills=False)
    await fleet.start()
    try:
        assert fleet.press("HP-01") is None  # a quick press does not activate
        await fleet.hold("HP-01", 0.1)
        assert fleet.tamper("HP-01") is not None
        await fleet.wait_all_acked(10)
        events = server.events("HP-01")
        assert [e.type for e in events] == ["activation", "tamper"]
        assert events[0].payload["hold_ms"] >= 50
    finally:
        await fleet.stop()


async def test_presses_made_while_the_server_is_down_survive_a_restart_of_the_fleet(
    tmp_path: Path, changes: Changes
) -> None:
    outbox = str(tmp_path / "fleet-outbox.sqlite")
    server = ProtocolServer(KEYS, changes)
    await server.start()
    port = server.port
    await server.stop()  # the server is down
    first = Fleet(f"ws://127.0.0.1:{port}", CREDENTIALS, outbox, backoff_base=0.01, stills=False)
    await first.start()
    for unit_id in first.unit_ids:
        first.press(unit_id)
    assert first.pending == 5
    await first.stop()  # e.g. a power cut before the network came back
    await server.start(port)
    second = Fleet(f"ws://127.0.0.1:{port}", CREDENTIALS, outbox, backoff_base=0.01, stills=False)
    await second.start()
    try:
        assert second.pending == 5
        await second.wait_all_acked(10)
        assert all(len(server.events(u)) == 1 for u in second.unit_ids)
    finally:
        await second.stop()
        await server.stop()


async def test_timings_follow_a_renumbered_event(server: ProtocolServer) -> None:
    server.preload("HP-01", range(1, 11))
    fleet = Fleet(server.url, CREDENTIALS[:1], backoff_base=0.01, stills=False)
    await fleet.start()
    try:
        event = fleet.press("HP-01")  # numbered 1: the welcome saying 10 has not come yet
        assert event is not None and event.seq == 1
        await fleet.wait_all_acked(10)
        assert fleet.stats("HP-01").renumbers == 1
        [timing] = fleet.timings()
        assert timing.seq == 11 and timing.status == "stored"
        assert timing.happened_at is not None
        assert fleet.press_time("HP-01", 11) == timing.happened_at
    finally:
        await fleet.stop()


def test_gpio_mock_is_refused_for_large_fleets() -> None:
    credentials = [(f"SIM-{n:04d}", "k") for n in range(51)]
    with pytest.raises(ValueError, match="at most 50 units"):
        Fleet("ws://127.0.0.1:1", credentials, gpio_mock=True)
    with pytest.raises(ValueError, match="only once"):
        Fleet("ws://127.0.0.1:1", [("A", "k"), ("A", "k")])


@pytest.mark.slow
async def test_a_large_virtual_fleet_delivers_every_press(changes: Changes) -> None:
    keys = {f"SIM-{n:04d}": f"key-{n}" for n in range(1, 301)}
    server = ProtocolServer(keys, changes)
    await server.start()
    fleet = Fleet(server.url, sorted(keys.items()), backoff_base=0.01, stills=False)
    await fleet.start()
    try:
        assert not fleet.gpio_mock
        assert isinstance(fleet.unit(1).hardware.button, VirtualButton)
        await fleet.wait_connected(30)
        for unit_id in fleet.unit_ids:
            fleet.press(unit_id)
        await fleet.wait_all_acked(30)
        assert sum(len(server.events(u)) for u in keys) == 300
    finally:
        await fleet.stop()
        await server.stop()
