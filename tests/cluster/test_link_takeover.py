"""A unit's link moving between two `helppoint serve` processes on one PostgreSQL (issue 17).

Once, a process that could not store one of a unit's events noted it and refused that unit's
later events, on every later link, until its event was resent *to it*. When the unit
reconnected to the other process, which stored the resend, the first process kept refusing
its next presses (1011, no ack, nothing stored) until it restarted.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlalchemy import text
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from helppoint.store.database import make_engine

from .test_two_processes import cluster  # noqa: F401  (the fixture)

pytestmark = pytest.mark.postgres


def press(seq: int) -> str:
    at = f"2026-12-03T02:00:{seq:02d}Z"
    return json.dumps({"type": "event", "seq": seq, "event": "activation", "time": at})


async def linked(port: int, key: str) -> tuple[ClientConnection, dict[str, Any]]:
    ws = await connect(f"ws://127.0.0.1:{port}/device/v1")
    await ws.send(json.dumps({"type": "hello", "protocol": 1, "unit": "HP-01", "key": key}))
    welcome = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert welcome["type"] == "welcome"
    return ws, welcome


async def answer(ws: ClientConnection) -> dict[str, Any]:
    """The next frame past the listen-only call offered after a press (docs/triage.md)."""
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 20))
        assert isinstance(frame, dict)
        if frame.get("type") not in ("call_offer", "call_end"):
            return frame


def test_a_process_that_failed_a_units_event_takes_its_presses_after_another_stored_it(
    cluster: Any,  # noqa: F811
) -> None:
    servers, keys = cluster
    one, two = servers
    engine = make_engine(one.database_url)

    def database(*statements: str) -> None:
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement))

    async def scenario() -> None:
        # Process one cannot store HP-01's seq 1 (a constraint of the moment refuses it).
        database(
            "CREATE FUNCTION refuse_one() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$",
            "CREATE TRIGGER refuse_one BEFORE INSERT ON device_events FOR EACH ROW "
            "WHEN (NEW.unit_id = 'HP-01' AND NEW.seq = 1) EXECUTE FUNCTION refuse_one()",
        )
        ws, _ = await linked(one.port, keys["HP-01"])
        await ws.send(press(1))
        with pytest.raises(ConnectionClosed) as closed:
            await answer(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
        database("DROP TRIGGER refuse_one ON device_events")
        # The unit reconnects to process two, which stores the resend.
        ws, welcome = await linked(two.port, keys["HP-01"])
        assert welcome["last_seq"] == 0
        await ws.send(press(1))
        assert (await answer(ws))["status"] == "stored"
        await ws.close()
        # Its next link is to process one again (process two died, say): presses go through.
        ws, welcome = await linked(one.port, keys["HP-01"])
        assert welcome["last_seq"] == 1
        for seq in (2, 3):
            await ws.send(press(seq))
            assert await answer(ws) == {"type": "ack", "seq": seq, "status": "stored"}
        await ws.close()

    try:
        asyncio.run(scenario())
        with engine.connect() as connection:
            seqs = connection.execute(
                text("SELECT seq FROM device_events WHERE unit_id = 'HP-01' ORDER BY seq")
            ).scalars()
            assert list(seqs) == [1, 2, 3]
    finally:
        engine.dispose()
