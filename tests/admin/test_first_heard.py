"""A unit is in service from its first hello: written before the welcome, so the admin page
shows it at once (not a second later with the next touch)."""

from __future__ import annotations

import json

from websockets.asyncio.client import connect

from helppoint.domain.units import ServiceState
from helppoint.services.unit_admin import get_unit
from tests.conftest import LiveServer


async def test_the_first_hello_puts_a_unit_in_service(live_server: LiveServer) -> None:
    assert get_unit(live_server.database.uow(), "HP-04").state is ServiceState.NOT_YET_IN_SERVICE
    hello = {
        "type": "hello",
        "protocol": 1,
        "unit": "HP-04",
        "key": live_server.key("HP-04"),
        "firmware": "test 1",
        "capabilities": ["button"],
    }
    async with connect(live_server.device_url) as ws:
        await ws.send(json.dumps(hello))
        welcome = json.loads(await ws.recv())
        assert welcome["type"] == "welcome"
        unit = get_unit(live_server.database.uow(), "HP-04")
        assert unit.state is ServiceState.IN_SERVICE and unit.last_seen_at is not None
