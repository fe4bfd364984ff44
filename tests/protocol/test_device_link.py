"""The device link against a running server, with a real WebSocket client (every bad-input case)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

pytestmark = pytest.mark.asyncio

TIME = "2026-11-25T23:00:00.000Z"


async def recv(ws: ClientConnection, wait: float = 10) -> dict[str, Any]:
    data = json.loads(await asyncio.wait_for(ws.recv(), wait))
    assert isinstance(data, dict)
    return data


async def hello(ws: ClientConnection, unit: str, key: str) -> dict[str, Any]:
    await ws.send(
        json.dumps(
            {
                "type": "hello",
                "protocol": 1,
                "unit": unit,
                "key": key,
                "firmware": "test 1.0",
                "capabilities": ["button", "light"],
            }
        )
    )
    return await recv(ws)


def event(seq: int, kind: str = "activation", time: str = TIME, **payload: Any) -> str:
    return json.dumps(
        {"type": "event", "seq": seq, "event": kind, "time": time, "payload": payload}
    )


async def closed_with(ws: ClientConnection) -> tuple[int | None, str]:
    with pytest.raises(ConnectionClosed) as info:
        while True:
            await asyncio.wait_for(ws.recv(), 10)
    rcvd = info.value.rcvd
    return (rcvd.code, rcvd.reason) if rcvd else (None, "")


def counts(server) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    with server.database.uow() as uow:
        return uow.events.count(), uow.incidents.count()


async def test_hello_welcome_event_ack(live_server_any) -> None:  # type: ignore[no-untyped-def]
    server = live_server_any
    async with connect(server.device_url) as ws:
        welcome = await hello(ws, "HP-01", server.key("HP-01"))
        assert welcome["type"] == "welcome"
        assert welcome["unit"] == "HP-01" and welcome["last_seq"] == 0
        assert welcome["heartbeat_period"] == 30
        await ws.send(event(1))
        assert await recv(ws) == {"type": "ack", "seq": 1, "status": "stored"}
        await ws.send(event(1))
        assert await recv(ws) == {"type": "ack", "seq": 1, "status": "duplicate"}
        await ws.send(json.dumps({"type": "heartbeat", "time": TIME}))
        assert (await recv(ws))["type"] == "heartbeat_ack"
    assert counts(server) == (1, 1)
    async with connect(server.device_url) as ws:
        assert (await hello(ws, "HP-01", server.key("HP-01")))["last_seq"] == 1
    with server.database.uow() as uow:
        unit = uow.units.get("HP-01")
        assert unit.firmware == "test 1.0" and unit.capabilities == ["button", "light"]


async def test_pipelined_events_are_all_acked_in_order(live_server) -> None:  # type: ignore[no-untyped-def]
    async with connect(live_server.device_url) as ws:
        await hello(ws, "HP-02", live_server.key("HP-02"))
        for seq in range(1, 51):
            await ws.send(event(seq, time=f"2026-11-25T23:00:{seq % 60:02d}Z"))
        acked = [(await recv(ws))["seq"] for _ in range(50)]
    assert sorted(acked) == list(range(1, 51))
    events, incidents = counts(live_server)
    assert events == 50 and incidents == 1  # repeat presses joined one incident


@pytest.mark.parametrize(
    ("unit", "key"),
    [("HP-01", "wrong-key"), ("HP-99", "whatever"), ("HP-01", "")],
    ids=["wrong key", "unknown unit", "empty key"],
)
async def test_bad_credentials_close_4401(live_server, unit: str, key: str) -> None:  # type: ignore[no-untyped-def]
    async with connect(live_server.device_url) as ws:
        await ws.send(json.dumps({"type": "hello", "unit": unit, "key": key}))
        code, reason = await closed_with(ws)
    expected = 4401 if key else 4400  # an empty key is a malformed hello
    assert code == expected
    assert reason in ("authentication failed",) or reason.startswith("first frame must be hello")
    assert counts(live_server) == (0, 0)


async def test_key_of_another_unit_is_refused(live_server) -> None:  # type: ignore[no-untyped-def]
    async with connect(live_server.device_url) as ws:
        await ws.send(
            json.dumps({"type": "hello", "unit": "HP-01", "key": live_server.key("HP-02")})
        )
        assert (await closed_with(ws))[0] == 4401


@pytest.mark.parametrize(
    "first",
    [
        "not json",
        json.dumps([1, 2]),
        json.dumps({"type": "event", "seq": 1, "event": "activation", "time": TIME}),
        json.dumps({"type": "hello", "unit": "HP-01", "key": "k", "protocol": 2}),
    ],
    ids=["not json", "not an object", "event before hello", "wrong protocol version"],
)
async def test_first_frame_must_be_a_valid_hello(live_server, first: str) -> None:  # type: ignore[no-untyped-def]
    async with connect(live_server.device_url) as ws:
        await ws.send(first)
        code, reason = await closed_with(ws)
    assert code == 4400 and "hello" in reason
    assert counts(live_server) == (0, 0)


@pytest.mark.parametrize(
    ("frame", "code", "words"),
    [
        ("{not json", "malformed", "not valid JSON"),
        (json.dumps("a string"), "malformed", "JSON object"),
        (json.dumps({"seq": 1}), "malformed", "'type'"),
        (json.dumps({"type": "launch_missiles"}), "unknown_type", "unknown frame type"),
        (
            json.dumps({"type": "event", "seq": 0, "event": "activation", "time": TIME}),
            "malformed",
            "positive integer",
        ),
        (
            json.dumps({"type": "event", "seq": -4, "event": "activation", "time": TIME}),
            "malformed",
            "positive integer",
        ),
        (
            json.dumps({"type": "event", "seq": "7", "event": "activation", "time": TIME}),
            "malformed",
            "positive integer",
        ),
        (
            json.dumps({"type": "event", "seq": True, "event": "activation", "time": TIME}),
            "malformed",
            "positive integer",
        ),
        (
            json.dumps({"type": "event", "seq": 2**70, "event": "activation", "time": TIME}),
            "malformed",
            "positive integer",
        ),
        (
            json.dumps({"type": "event", "seq": 1, "event": "explosion", "time": TIME}),
            "malformed",
            "'event' must be one of",
        ),
        (json.dumps({"type": "event", "seq": 1, "event": "activation"}), "malformed", "'time'"),
        (
            json.dumps({"type": "event", "seq": 1, "event": "activation", "time": "yesterday"}),
            "malformed",
            "not an ISO 8601",
        ),
        (
            json.dumps(
                {"type": "event", "seq": 1, "event": "activation", "time": "2026-11-25T23:00:00"}
            ),
            "malformed",
            "no UTC offset",
        ),
        (
            json.dumps(
                {"type": "event", "seq": 1, "event": "activation", "time": TIME, "payload": [1]}
            ),
            "malformed",
            "'payload'",
        ),
        (json.dumps({"type": "command_result", "id": "x"}), "malformed", "'ok'"),
    ],
)
async def test_malformed_frames_get_error_and_change_nothing(  # type: ignore[no-untyped-def]
    live_server, frame: str, code: str, words: str
) -> None:
    async with connect(live_server.device_url) as ws:
        await hello(ws, "HP-01", live_server.key("HP-01"))
        await ws.send(frame)
        error = await recv(ws)
        assert error["type"] == "error" and error["code"] == code
        assert words in error["message"]
        # The link stays usable after a bad frame.
        await ws.send(event(1))
        assert (await recv(ws))["type"] == "ack"
    assert counts(live_server) == (1, 1)


async def test_conflicting_and_regressed_sequence_numbers(live_server) -> None:  # type: ignore[no-untyped-def]
    async with connect(live_server.device_url) as ws:
        await hello(ws, "HP-03", live_server.key("HP-03"))
        await ws.send(event(5))
        assert (await recv(ws))["status"] == "stored"
        await ws.send(event(5, time="2026-11-25T23:59:00Z"))
        conflict = await recv(ws)
        assert conflict["code"] == "seq_conflict" and conflict["seq"] == 5
        assert conflict["last_seq"] == 5 and "renumber from 6" in conflict["message"]
        await ws.send(event(2))
        regressed = await recv(ws)
        assert regressed["code"] == "seq_regressed" and regressed["last_seq"] == 5
    assert counts(live_server) == (1, 1)


async def test_oversized_frame_closes_1009(live_server) -> None:  # type: ignore[no-untyped-def]
    async with connect(live_server.device_url, max_size=None) as ws:
        await hello(ws, "HP-01", live_server.key("HP-01"))
        await ws.send(event(1, blob="x" * 70_000))
        code, _ = await closed_with(ws)
    assert code == 1009
    assert counts(live_server) == (0, 0)


async def test_binary_frame_closes_1003(live_server) -> None:  # type: ignore[no-untyped-def]
    async with connect(live_server.device_url) as ws:
        await hello(ws, "HP-01", live_server.key("HP-01"))
        await ws.send(b"\x00\x01")
        assert (await closed_with(ws))[0] == 1003


async def test_second_hello_is_a_protocol_error(live_server) -> None:  # type: ignore[no-untyped-def]
    async with connect(live_server.device_url) as ws:
        await hello(ws, "HP-01", live_server.key("HP-01"))
        await ws.send(json.dumps({"type": "hello", "unit": "HP-01", "key": "x"}))
        assert (await closed_with(ws))[0] == 4400


async def test_hello_timeout(server_factory) -> None:  # type: ignore[no-untyped-def]
    server = server_factory(hello_timeout=0.3)
    async with connect(server.device_url) as ws:
        assert (await closed_with(ws))[0] == 4408


async def test_newer_connection_replaces_older(live_server) -> None:  # type: ignore[no-untyped-def]
    key = live_server.key("HP-04")
    async with connect(live_server.device_url) as old:
        await hello(old, "HP-04", key)
        async with connect(live_server.device_url) as new:
            await hello(new, "HP-04", key)
            assert (await closed_with(old))[0] == 4409
            await new.send(event(1))
            assert (await recv(new))["status"] == "stored"
    assert live_server.app.state.device_link.connected_units == set()


async def test_commands_reach_the_unit_and_results_are_published(live_server) -> None:  # type: ignore[no-untyped-def]
    hub = live_server.app.state.device_link
    async with connect(live_server.device_url) as ws:
        await hello(ws, "HP-05", live_server.key("HP-05"))
        for _ in range(100):
            if "HP-05" in hub.connected_units:
                break
            await asyncio.sleep(0.01)
        loop = live_server.app.state.broker._loop
        future = asyncio.run_coroutine_threadsafe(
            hub.send_command("HP-05", "flash_light", {"on": True, "pattern": "alarm"}), loop
        )
        command = await recv(ws)
        assert command["type"] == "command" and command["command"] == "flash_light"
        assert command["args"] == {"on": True, "pattern": "alarm"}
        assert command["id"] == await asyncio.wrap_future(future)


async def test_the_device_link_skips_the_browser_stack(live_server) -> None:  # type: ignore[no-untyped-def]
    """Units go straight to the hub (helppoint/web/app.py, HelppointApp): the browser-only
    checks (here the cross-site WebSocket refusal for requests carrying a session cookie) are
    not in their way, and the key in the hello is still the only way in."""
    server = live_server
    headers = {"Cookie": "helppoint_session=anything", "Origin": "https://elsewhere.example"}
    async with connect(server.device_url, additional_headers=headers) as ws:
        welcome = await hello(ws, "HP-01", server.key("HP-01"))
        assert welcome["type"] == "welcome"
    async with connect(server.device_url, additional_headers=headers) as ws:
        await ws.send(json.dumps({"type": "hello", "protocol": 1, "unit": "HP-01", "key": "x"}))
        assert (await closed_with(ws))[0] == 4401
    # Anything else still goes through the whole stack: the console feed is refused cross-site.
    console_url = server.device_url.replace("/device/v1", "/console/ws")
    with pytest.raises(InvalidStatus) as refused:
        async with connect(console_url, additional_headers=headers):
            pass
    assert refused.value.response.status_code == 403
