"""The device link fuzzed with hypothesis: random and mutated frames over a real WebSocket.

Every bad frame gets a documented error frame or a documented close code, the server never
fails, nothing is stored from a bad frame, and other units keep being served throughout.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from helppoint.store.tables import device_events
from tests.conftest import LiveServer

#: Error codes and close codes of docs/device-protocol.md a bad frame may get.
ERROR_CODES = {"malformed", "unknown_type", "seq_conflict", "seq_regressed"}
CLOSE_CODES = {4400, 1003, 1009}  # protocol violation, binary frame, frame too large
TIME = "2026-11-25T23:00:00.000Z"
FUZZED, BYSTANDER = "HP-01", "HP-08"
#: Frames the server starts on its own (docs/device-protocol.md): right after a stored activation
#: it offers a press-time listen (``call_offer`` with ``"listen": true``) and may end it later.
SERVER_INITIATED = {"call_offer", "call_end", "command"}

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)
GOOD_FRAMES: list[dict[str, Any]] = [
    {"type": "event", "seq": 5, "event": "activation", "time": TIME, "payload": {}},
    {"type": "heartbeat", "time": TIME, "status": {"battery": 0.9, "mains": True}},
    {"type": "command_result", "id": "c1", "ok": True, "detail": ""},
    {"type": "hello", "protocol": 1, "unit": FUZZED, "key": "x"},
    {"type": "call_end", "call": "c1", "reason": "bye"},
]


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A valid frame with fields dropped, replaced by random values, or added."""
    frame = dict(draw(st.sampled_from(GOOD_FRAMES)))
    for _ in range(draw(st.integers(1, 3))):
        action = draw(st.sampled_from(["drop", "replace", "add"]))
        key = draw(st.sampled_from(sorted(frame))) if frame else "type"
        if action == "drop":
            frame.pop(key, None)
        elif action == "replace":
            frame[key] = draw(json_values)
        else:
            frame[draw(text)] = draw(json_values)
    return json.dumps(frame)


frames = st.one_of(
    mutated(),
    json_values.map(json.dumps),
    text,
    st.binary(min_size=1, max_size=40),
    st.just("{" * 5000),
    st.integers(70_000, 90_000).map(lambda n: json.dumps({"type": "event", "pad": "x" * n})),
)


class Unit:
    """A unit on the real device link that reconnects when the server closes it."""

    def __init__(self, server: LiveServer, unit_id: str) -> None:
        self.server, self.unit_id = server, unit_id
        self.ws: ClientConnection | None = None
        self.stack = ExitStack()

    def link(self) -> ClientConnection:
        if self.ws is None:
            self.ws = self.stack.enter_context(connect(self.server.device_url, open_timeout=10))
            hello = {"type": "hello", "protocol": 1, "unit": self.unit_id, "key": ""}
            hello["key"] = self.server.key(self.unit_id)
            self.ws.send(json.dumps(hello))
            assert answer_from(self.ws)["type"] == "welcome"
        return self.ws

    def press(self, seq: int) -> dict[str, Any]:
        ws = self.link()
        ws.send(json.dumps({"type": "event", "seq": seq, "event": "activation", "time": TIME}))
        return answer_from(ws)


def answer_from(ws: ClientConnection) -> dict[str, Any]:
    """The server's next answer, passing over the frames it starts on its own."""
    while True:
        frame = dict(json.loads(ws.recv(timeout=10)))
        if frame.get("type") not in SERVER_INITIATED:
            return frame


def answers_to(unit: Unit, frame: str | bytes) -> tuple[list[dict[str, Any]], int | None]:
    """Send a frame, then a probe (a repeat of seq 1); what came back before the probe's ack."""
    ws = unit.link()
    got: list[dict[str, Any]] = []
    try:
        ws.send(frame)
        ws.send(json.dumps({"type": "event", "seq": 1, "event": "activation", "time": TIME}))
        while True:
            answer = answer_from(ws)
            if answer == {"type": "ack", "seq": 1, "status": "duplicate"}:
                return got, None
            got.append(answer)
    except ConnectionClosed as closed:
        unit.ws = None
        return got, closed.rcvd.code if closed.rcvd else None


@pytest.mark.slow
def test_bad_frames_never_crash_the_link_or_store_anything(live_server: LiveServer) -> None:
    fuzzed, bystander = Unit(live_server, FUZZED), Unit(live_server, BYSTANDER)
    assert fuzzed.press(1)["status"] == "stored"
    acked: set[int] = {1}
    problems: list[str] = []
    bystander_seq = 0
    closes: set[int] = set()

    @settings(
        max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(frame=frames)
    @example(frame=b"\x00binary")
    @example(frame=json.dumps(GOOD_FRAMES[3]))  # a second hello
    @example(frame=json.dumps({"type": "event", "pad": "x" * 70_000}))
    def fuzz(frame: str | bytes) -> None:
        nonlocal bystander_seq
        answers, code = answers_to(fuzzed, frame)
        for answer in answers:
            if answer.get("type") == "ack" and answer.get("status") == "stored":
                acked.add(int(answer["seq"]))  # the frame happened to be a valid event
            elif answer.get("type") in ("ack", "heartbeat_ack"):
                continue  # a valid repeat event or heartbeat
            elif answer.get("type") != "error" or answer.get("code") not in ERROR_CODES:
                problems.append(f"{frame!r:.120} -> undocumented answer {answer}")
        if code is not None:
            closes.add(code)
        if code is not None and code not in CLOSE_CODES:
            problems.append(f"{frame!r:.120} -> close code {code}")
        bystander_seq += 1
        served = bystander.press(bystander_seq)
        if served != {"type": "ack", "seq": bystander_seq, "status": "stored"}:
            problems.append(f"after {frame!r:.120} the other unit got {served}")

    fuzz()
    fuzzed.stack.close()
    bystander.stack.close()
    assert closes >= CLOSE_CODES  # each documented way of closing was exercised
    assert problems == [], "\n".join(problems)
    with live_server.database.session() as session:
        seqs = session.execute(select(device_events.c.unit_id, device_events.c.seq)).all()
    assert sorted(s for u, s in seqs if u == FUZZED) == sorted(acked)
    assert sorted(s for u, s in seqs if u == BYSTANDER) == list(range(1, bystander_seq + 1))
