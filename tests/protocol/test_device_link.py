"""The device link against a running server, with a real WebSocket client (every bad-input case)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.waiting import eventually

pytestmark = pytest.mark.asyncio

TIME = "2026-11-25T23:00:00.000Z"


async def recv(ws: ClientConnection, wait: float = 10) -> dict[str, Any]:
    """The next frame, past the listen-only call the server offers after a press is stored
    (docs/triage.md): these tests are about the link's other frames."""
    while True:
        data = json.loads(await asyncio.wait_for(ws.recv(), wait))
        assert isinstance(data, dict)
        if data.get("type") not in ("call_offer", "call_end"):
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
        (json.dumps({"type": "event", "event": "activation", "time": TIME}), "malformed", "'seq'"),
        ("[" * 33 + "]" * 33, "malformed", "nested deeper than 32"),
        (
            # The frame, its payload and 31 lists: 33 levels.
            f'{{"type": "event", "seq": 1, "payload": {{"a": {"[" * 31}{"]" * 31}}}}}',
            "malformed",
            "nested deeper than 32",
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


async def test_deep_nesting_is_refused_before_it_is_parsed(live_server) -> None:  # type: ignore[no-untyped-def]
    deep = "[" * 20_000 + "]" * 20_000
    # Before authentication: a protocol violation, not a traceback.
    async with connect(live_server.device_url) as ws:
        await ws.send(f'{{"type": "hello", "unit": "HP-01", "key": {deep}}}')
        code, reason = await closed_with(ws)
    assert code == 4400 and "nested deeper than 32 levels" in reason
    # After: an error frame, and the link goes on.
    async with connect(live_server.device_url) as ws:
        await hello(ws, "HP-01", live_server.key("HP-01"))
        await ws.send(f'{{"type": "event", "seq": 1, "event": "activation", "payload": {deep}}}')
        error = await recv(ws)
        assert error["code"] == "malformed" and "nested deeper" in error["message"]
        await ws.send(event(1))
        assert (await recv(ws))["status"] == "stored"


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
        await eventually(lambda: "HP-05" in hub.connected_units, every=0.01, what="HP-05 linking")
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


#: Events whose payload or time no store can hold as sent, and what the server notes of each.
HOSTILE = [
    (r'{"detail": "\ud800"}', "lone surrogates"),
    (r'{"\udfff": 1}', "lone surrogates"),
    (r'{"detail": "a\u0000b"}', "NUL characters"),
    ('{"detail": "raw \x00 and \x07 inside"}', "NUL characters"),
    ('{"hold_ms": NaN}', "NaN or an infinity"),
    ('{"hold_ms": -Infinity, "x": 1e400}', "NaN or an infinity"),
    ('{"hold_ms": ' + "9" * 5000 + "}", "integer too long"),
    ("[1, 2]", "not a JSON object"),
    ('"just text"', "not a JSON object"),
]
HOSTILE_TIMES = [
    ('"2026-11-25T23:00:00"', "no UTC offset"),
    ('"yesterday"', "not an ISO 8601 time"),
    ('"0001-01-01T00:00:00+01:00"', "out of range"),
    (r'"2026-11-25T23:00:00\ud800Z"', "not an ISO 8601 time"),
    ("12", "must be an ISO 8601 time"),
    ("null", "must be an ISO 8601 time"),
]


def raw_event(seq: int, payload: str = "{}", time: str = f'"{TIME}"') -> str:
    head = f'{{"type": "event", "seq": {seq}, "event": "activation", "time": {time}'
    return f'{head}, "payload": {payload}}}'


async def test_a_press_with_values_no_store_holds_is_stored_repaired(live_server_any) -> None:  # type: ignore[no-untyped-def]
    """A lone surrogate once failed the writer, the unit was closed with 1011, resent the same
    event first on every reconnect, and every later press of that unit waited behind it."""
    server = live_server_any
    frames = [raw_event(n, payload) for n, (payload, _) in enumerate(HOSTILE, start=1)]
    frames += [
        raw_event(len(frames) + n, time=time) for n, (time, _) in enumerate(HOSTILE_TIMES, start=1)
    ]
    notes = [note for _, note in HOSTILE + HOSTILE_TIMES]
    async with connect(server.device_url, max_size=None) as ws:
        await hello(ws, "HP-01", server.key("HP-01"))
        for frame in frames:
            await ws.send(frame)
        answers = [await recv(ws) for _ in frames]
        assert sorted((a["seq"], a["status"]) for a in answers) == [
            (n, "stored") for n in range(1, len(frames) + 1)
        ]
        for frame in frames:  # resent (the ack was lost): the same event, not another
            await ws.send(frame)
        resent = [await recv(ws) for _ in frames]
        assert {a["status"] for a in resent} == {"duplicate"}
        await ws.send(event(len(frames) + 1))  # and the unit's next press goes through
        assert await recv(ws) == {"type": "ack", "seq": len(frames) + 1, "status": "stored"}
    with server.database.uow() as uow:
        for seq, note in enumerate(notes, start=1):
            stored = uow.events.find("HP-01", seq)
            assert stored is not None and stored.type.value == "activation"
            assert any(note in repair for repair in stored.payload["server_repairs"]), (seq, note)
        [alarm] = [
            i for i in uow.incidents.open_for_units(["HP-01"]) if i.priority.label == "activation"
        ]
        assert alarm.event_count == len(frames) + 1
        # The unit's firmware is at fault: one ticket on the health board, counted each time.
        ticket = uow.tickets.open_for("HP-01", "event_repaired")
        assert ticket is not None and ticket.occurrences == len(frames)
        assert ticket.incident_id is not None


async def test_an_event_of_an_unknown_kind_is_refused_for_good(live_server_any) -> None:  # type: ignore[no-untyped-def]
    server = live_server_any
    async with connect(server.device_url) as ws:
        await hello(ws, "HP-02", server.key("HP-02"))
        for seq, kind in [(1, '"explosion"'), (2, "7"), (3, "null")]:
            await ws.send(f'{{"type": "event", "seq": {seq}, "event": {kind}, "time": "{TIME}"}}')
            refused = await recv(ws)
            assert refused["type"] == "ack" and refused["seq"] == seq
            assert refused["status"] == "refused" and refused["reason"] == "unknown_event"
            assert "'event' must be one of" in refused["message"]
        await ws.send(event(4))
        assert (await recv(ws))["status"] == "stored"
    with server.database.uow() as uow:
        assert [uow.events.find("HP-02", seq) is None for seq in (1, 2, 3, 4)] == [
            True,
            True,
            True,
            False,
        ]
        ticket = uow.tickets.open_for("HP-02", "event_refused")
        assert ticket is not None and ticket.occurrences == 3
        assert "seq 3 refused (unknown_event)" in ticket.detail


@pytest.mark.parametrize(
    "unit",
    ["HP-01\\u0000", "\\ud800", "HP-01\\udc00"],
    ids=["NUL", "lone high surrogate", "lone low surrogate"],
)
async def test_a_hello_no_store_holds_fails_authentication_only(live_server_any, unit: str) -> None:  # type: ignore[no-untyped-def]
    """Once, such a hello failed the database round it shared with other units' hellos."""
    server = live_server_any
    async with connect(server.device_url) as ws:
        await ws.send(f'{{"type": "hello", "unit": "{unit}", "key": "k\\u0000"}}')
        assert (await closed_with(ws))[0] == 4401
    async with connect(server.device_url) as ws:
        assert (await hello(ws, "HP-01", server.key("HP-01")))["type"] == "welcome"
