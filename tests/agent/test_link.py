"""The device link against a protocol server that loses acks, refuses seqs, crashes and goes quiet.

Whatever the server does, every press must end up stored exactly once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest

from helppoint.agent.light import LightPattern
from helppoint.agent.link import LinkExit, LinkState, device_url
from helppoint.agent.media import SimulatedCamera, SimulatedSpeaker
from helppoint.agent.outbox import Outbox
from tests.threaded_server import bound_socket, port_of

from .conftest import KEYS, Unit
from .protocol_server import Changes, ProtocolServer

MakeUnit = Callable[..., Unit]


def all_acked(outbox: Outbox, unit: str = "HP-01") -> Callable[[], bool]:
    return lambda: outbox.unacked_count(unit) == 0


def test_device_url_accepts_server_addresses() -> None:
    assert device_url("http://127.0.0.1:8800") == "ws://127.0.0.1:8800/device/v1"
    assert device_url("https://hp.example.org/") == "wss://hp.example.org/device/v1"
    assert device_url("ws://h:1/device/v1") == "ws://h:1/device/v1"
    with pytest.raises(ValueError, match="must look like"):
        device_url("127.0.0.1:8800")


async def test_press_is_stored_and_acked(
    server: ProtocolServer, outbox: Outbox, make_unit: MakeUnit, changes: Changes
) -> None:
    unit = make_unit(server.url, outbox)
    unit.start()
    await changes.until(lambda: unit.link.connected)
    unit.hardware.button.press()
    unit.hardware.button.release()
    await changes.until(all_acked(outbox))
    [event] = server.events("HP-01")
    assert (event.seq, event.type, event.payload) == (1, "activation", {"hold_ms": 0})
    assert event.time.endswith("Z")
    assert unit.link.stats.acked == 1 and unit.link.stats.resends == 0


async def test_a_link_connects_from_the_source_address_it_is_given(
    server: ProtocolServer, outbox: Outbox, make_unit: MakeUnit, changes: Changes
) -> None:
    unit = make_unit(server.url, outbox, source_address="127.0.0.3")
    unit.start()
    await changes.until(lambda: unit.link.connected)
    # No per-message compression offered: frames are small and a zlib context per link costs.
    connection = server.connections["HP-01"]
    assert connection.remote_address[0] == "127.0.0.3"
    assert "permessage-deflate" not in (
        connection.request.headers.get("Sec-WebSocket-Extensions") or ""
    )


async def test_events_made_offline_arrive_in_order_once_the_server_is_up(
    outbox: Outbox, make_unit: MakeUnit, changes: Changes
) -> None:
    # The server's port, bound now and listened on later: refused until then, and nothing
    # else can take it meanwhile (tests/threaded_server.py).
    held = bound_socket()
    port = port_of(held)
    unit = make_unit(f"ws://127.0.0.1:{port}/device/v1", outbox)
    unit.start()
    for _ in range(3):
        unit.agent.activate()
    unit.agent.report_tamper("door forced")
    await changes.until(lambda: unit.link.stats.failures >= 2)  # the server is not there yet
    # Local actions did not wait for the network.
    assert unit.hardware.light.pattern is LightPattern.ALARM
    server = ProtocolServer(KEYS, changes)
    await server.start(sock=held)
    try:
        await changes.until(all_acked(outbox))
        assert [(e.seq, e.type) for e in server.events("HP-01")] == [
            (1, "activation"),
            (2, "activation"),
            (3, "activation"),
            (4, "tamper"),
        ]
        assert server.store_order["HP-01"] == [1, 2, 3, 4]
    finally:
        await server.stop()


async def test_a_lost_ack_means_a_resend_that_is_stored_once(
    server: ProtocolServer, outbox: Outbox, make_unit: MakeUnit, changes: Changes
) -> None:
    server.drop_after_store.add(("HP-01", 1))
    unit = make_unit(server.url, outbox)
    unit.agent.activate()
    unit.start()
    await changes.until(all_acked(outbox))
    assert len(server.events("HP-01")) == 1
    assert server.hellos["HP-01"] == 2
    assert unit.link.stats.resends == 1
    assert unit.link.stats.duplicates == 1


async def test_a_failed_store_closes_1011_and_the_event_is_resent(
    server: ProtocolServer, outbox: Outbox, make_unit: MakeUnit, changes: Changes
) -> None:
    server.fail_store.add(("HP-01", 1))
    unit = make_unit(server.url, outbox)
    unit.agent.activate()
    unit.start()
    await changes.until(all_acked(outbox))
    assert [e.seq for e in server.events("HP-01")] == [1]
    assert unit.link.stats.last_close_code == 1011
    assert unit.link.stats.duplicates == 0


@pytest.mark.parametrize("stored", [range(1, 58), [57]], ids=["seq_conflict", "seq_regressed"])
async def test_a_unit_with_a_lost_outbox_renumbers_and_nothing_is_lost(
    server: ProtocolServer,
    outbox: Outbox,
    make_unit: MakeUnit,
    changes: Changes,
    stored: range | list[int],
) -> None:
    server.preload("HP-01", stored)  # the server knows 57 events; the unit's outbox is new
    unit = make_unit(server.url, outbox)
    unit.agent.activate()  # offline: numbered 1 by the fresh outbox
    unit.agent.activate()
    unit.start()
    await changes.until(all_acked(outbox))
    mine = [e for e in server.events("HP-01") if "old" not in e.payload]
    assert [e.seq for e in mine] == [58, 59]
    assert unit.link.stats.renumbers == 1
    assert [e.seq for e in outbox.events("HP-01")] == [58, 59]
    assert unit.agent.activate() is not None
    await changes.until(all_acked(outbox))
    assert server.last_seq("HP-01") == 60


async def test_new_events_continue_after_the_servers_last_seq(
    server: ProtocolServer, outbox: Outbox, make_unit: MakeUnit, changes: Changes
) -> None:
    server.preload("HP-01", range(1, 42))
    unit = make_unit(server.url, outbox)
    unit.start()
    await changes.until(lambda: unit.link.connected)
    event = unit.agent.activate()
    assert event is not None and event.seq == 42
    await changes.until(all_acked(outbox))
    assert unit.link.stats.renumbers == 0


async def test_server_crash_mid_flood_loses_and_doubles_nothing(
    server: ProtocolServer, outbox: Outbox, make_unit: MakeUnit, changes: Changes
) -> None:
    for n in range(300):
        outbox.append("HP-01", "activation", {"n": n})
    server.crash_after = 100
    unit = make_unit(server.url, outbox)
    unit.start()
    await changes.until(lambda: server.crashed.is_set())
    await server.start(server.port)
    await changes.until(all_acked(outbox))
    events = server.events("HP-01")
    assert [e.seq for e in events] == list(range(1, 301))
    assert [e.payload["n"] for e in events] == list(range(300))
    assert server.store_order["HP-01"] == list(range(1, 301))  # each stored once, in order
    assert unit.link.stats.acked == 300


async def test_no_more_than_the_window_is_in_flight(
    server: ProtocolServer, outbox: Outbox, make_unit: MakeUnit, changes: Changes
) -> None:
    server.hold_acks = True
    for n in range(40):
        outbox.append("HP-01", "activation", {"n": n})
    unit = make_unit(server.url, outbox, window=16, heartbeat_period=0.05, ack_timeout=60)
    unit.start()
    # Every event was waiting when the link came up: once a window's worth arrived, two more
    # heartbeats on the same link (after them) leave time for any more to come. None does.
    await changes.until(lambda: len(server.received("HP-01", "event")) >= 16)
    beats = len(server.received("HP-01", "heartbeat"))
    await changes.until(lambda: len(server.received("HP-01", "heartbeat")) >= beats + 2)
    assert len(server.received("HP-01", "event")) == 16
    server.hold_acks = False
    await server.release_acks()
    await changes.until(all_acked(outbox))
    assert [e.payload["n"] for e in server.events("HP-01")] == list(range(40))
    assert unit.link.stats.max_in_flight == 16


async def test_wrong_key_is_retried_slowly_until_fixed(
    server: ProtocolServer,
    outbox: Outbox,
    make_unit: MakeUnit,
    changes: Changes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    unit = make_unit(server.url, outbox, key="wrong", auth_retry=0.05)
    unit.agent.activate()
    unit.start()
    await changes.until(lambda: unit.link.stats.auth_failures >= 2)
    assert unit.link.state is LinkState.AUTH_FAILED
    assert "AUTHENTICATION FAILED" in caplog.text
    assert server.events("HP-01") == []
    server.keys["HP-01"] = "wrong"  # the engineer fixes the server's record
    await changes.until(all_acked(outbox))
    assert len(server.events("HP-01")) == 1


async def test_replaced_connection_stops_instead_of_fighting(
    server: ProtocolServer, make_unit: MakeUnit, changes: Changes
) -> None:
    first = make_unit(server.url, Outbox())
    first.start()
    await changes.until(lambda: first.link.connected)
    second = make_unit(server.url, Outbox())
    second.start()
    assert first.task is not None
    assert await first.task == LinkExit.REPLACED
    assert first.link.state is LinkState.REPLACED
    await changes.until(lambda: second.link.connected)
    assert server.hellos["HP-01"] == 2


async def test_commands_are_carried_out_and_confirmed(
    server: ProtocolServer, outbox: Outbox, make_unit: MakeUnit, changes: Changes
) -> None:
    unit = make_unit(server.url, outbox)
    unit.start()
    await changes.until(lambda: unit.link.connected)
    light = unit.hardware.light
    camera, speaker = unit.hardware.camera, unit.hardware.speaker
    assert isinstance(camera, SimulatedCamera) and isinstance(speaker, SimulatedSpeaker)
    result = await server.command("HP-01", "flash_light", {"on": True, "pattern": "alarm"})
    assert result["ok"] is True and result["detail"] == "light flashing (alarm)"
    assert light.pattern.value == "alarm"
    result = await server.command("HP-01", "flash_light", {"on": False})
    assert result["ok"] is True and light.pattern.value == "off"
    result = await server.command("HP-01", "camera_preset", {"preset": "wide"})
    assert result["ok"] is True and camera.preset == "wide"
    result = await server.command("HP-01", "play_message", {"message": "help_on_way"})
    assert result == {**result, "ok": True, "detail": "playing help_on_way: Help is on the way"}
    assert speaker.played == ["help_on_way"]
    bad: list[tuple[str, dict[str, Any], str]] = [
        ("play_message", {"message": "sing"}, "unknown message 'sing'"),
        ("flash_light", {"on": True, "pattern": "disco"}, "unknown light pattern"),
        ("camera_preset", {}, "needs a preset"),
        ("self_destruct", {}, "unknown command"),
    ]
    for command, args, detail in bad:
        result = await server.command("HP-01", command, args)
        assert result["ok"] is False and detail in result["detail"]


async def test_a_silent_server_is_noticed_and_the_unit_reconnects(
    server: ProtocolServer, outbox: Outbox, make_unit: MakeUnit, changes: Changes
) -> None:
    unit = make_unit(server.url, outbox, heartbeat_period=0.05)
    unit.start()
    await changes.until(lambda: len(server.received("HP-01", "heartbeat")) >= 2)
    heartbeat = server.received("HP-01", "heartbeat")[0]
    assert heartbeat["time"].endswith("Z") and heartbeat["status"]["unacked"] == 0
    server.silent = True
    await changes.until(lambda: server.hellos.get("HP-01", 0) >= 2)
    assert "nothing heard from the server" in unit.link.stats.last_error
    server.silent = False
    unit.agent.activate()
    await changes.until(all_acked(outbox))


async def test_error_frames_are_logged_and_the_link_stays_up(
    server: ProtocolServer,
    outbox: Outbox,
    make_unit: MakeUnit,
    changes: Changes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    unit = make_unit(server.url, outbox)
    unit.start()
    await changes.until(lambda: unit.link.connected)
    with caplog.at_level(logging.WARNING):
        await server.send("HP-01", {"type": "error", "code": "malformed", "message": "bad seq"})
        await server.send("HP-01", {"type": "surprise"})
        await server.send("HP-01", {"type": "ack", "seq": 99, "status": "stored"})
        unit.agent.activate()
        await changes.until(all_acked(outbox))
    assert "server error malformed: bad seq" in caplog.text
    assert "ignored a 'surprise' frame" in caplog.text
    assert "ack for seq 99" in caplog.text
    assert unit.link.connected and server.hellos["HP-01"] == 1


async def test_stop_closes_the_link_cleanly(
    server: ProtocolServer, outbox: Outbox, make_unit: MakeUnit, changes: Changes
) -> None:
    unit = make_unit(server.url, outbox)
    unit.start()
    await changes.until(lambda: unit.link.connected)
    assert await unit.stop() == LinkExit.STOPPED
    await changes.until(lambda: bool(server.closes))
    assert server.closes == [("HP-01", 1000)]


async def test_events_left_unanswered_count_as_a_broken_link(
    server: ProtocolServer, outbox: Outbox, make_unit: MakeUnit, changes: Changes
) -> None:
    server.hold_acks = True  # heartbeats are answered, events never are
    # The unanswered event is found at a heartbeat (the first within 1 s, then every 1 s),
    # before silence would break the link (two periods): with both at 0.1 s, which came
    # first depended on the machine's load, and "nothing heard from the server" once did.
    unit = make_unit(server.url, outbox, heartbeat_period=1.0, ack_timeout=0.05)
    unit.agent.activate()
    unit.start()
    await changes.until(lambda: server.hellos.get("HP-01", 0) >= 2)
    assert "no answer to an event" in unit.link.stats.last_error
    server.hold_acks = False
    await changes.until(all_acked(outbox))
    assert len(server.events("HP-01")) == 1


async def test_stop_does_not_wait_for_a_server_that_never_answers(
    outbox: Outbox, make_unit: MakeUnit
) -> None:
    accepted = asyncio.Event()

    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set()  # TCP accepted, but the WebSocket handshake is never answered
        await reader.read()
        writer.close()

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    unit = make_unit(f"ws://127.0.0.1:{port}/device/v1", outbox, hello_timeout=60)
    unit.start()
    await asyncio.wait_for(accepted.wait(), 10)
    # Stopping returns well before the 60 s the handshake would otherwise be given.
    assert await asyncio.wait_for(unit.stop(), 10) == LinkExit.STOPPED
    server.close()
    await server.wait_closed()


class Draws:
    """Stands in for the link's random source: each draw a given share of its range."""

    def __init__(self, *shares: float) -> None:
        self.shares = list(shares)
        self.calls: list[tuple[float, float]] = []

    def uniform(self, low: float, high: float) -> float:
        self.calls.append((low, high))
        return low + self.shares.pop(0) * (high - low)


async def test_the_first_heartbeat_comes_after_a_random_share_of_the_period(
    server: ProtocolServer,
    outbox: Outbox,
    make_unit: MakeUnit,
    changes: Changes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Units whose links came up in the same instant (a server restart: every unit's first
    # retry falls within half a second) heartbeated in the same second of every period, a
    # full period after connecting. Each link's first heartbeat now comes after a random
    # share of the period (drawn here: 1%), so a fleet's heartbeats spread over it.
    draws = Draws(0.01)
    monkeypatch.setattr("helppoint.agent.link._spread", draws)
    unit = make_unit(server.url, outbox, heartbeat_period=30.0)
    unit.start()
    await changes.until(lambda: unit.link.connected)
    # A period would be 30 s; the first heartbeat comes after 0.3 s.
    await changes.until(lambda: bool(server.received("HP-01", "heartbeat")), within=10)
    assert draws.calls == [(0.0, 30.0)]
