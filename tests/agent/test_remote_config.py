"""Remote configuration: the server sends `configure`, the agent applies and confirms it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import connect

from helppoint.agent.outbox import Outbox
from helppoint.domain.model import Role
from tests.conftest import async_http_client
from tests.waiting import first_message

from .conftest import Unit
from .protocol_server import Changes

PASSWORD = "correct horse battery"


def test_agent_applies_only_valid_settings(make_unit: Callable[..., Unit], outbox: Outbox) -> None:
    unit = make_unit("ws://127.0.0.1:9/device/v1", outbox)
    result = unit.agent.configure(
        {"heartbeat_period": 10, "hold_ms": 500, "volume": 40, "prompts": {"nope": "x"}}
    )
    assert not result.ok
    assert result.applied == {"heartbeat_period": 10, "hold_ms": 500, "volume": 40}
    assert "prompts" in result.detail
    assert unit.link.heartbeat_override == 10
    assert unit.hardware.button.hold_time == 0.5
    assert unit.agent.configure({"volume": True}).applied == {}


async def test_unit_confirms_what_it_applied(
    live_server: Any, make_unit: Callable[..., Unit], changes: Changes, outbox: Outbox
) -> None:
    live_server.add_operator("ada", PASSWORD, Role.ADMIN)
    async with async_http_client(live_server.base_url, timeout=None) as http:
        login = await http.post("/api/login", json={"username": "ada", "password": PASSWORD})
        assert login.status_code == 200
        token = http.cookies.get("helppoint_session")
        unit = make_unit(live_server.device_url, outbox, "HP-04", live_server.key("HP-04"))
        unit.start()
        await changes.until(lambda: unit.link.state.value == "connected")
        feed_url = live_server.base_url.replace("http", "ws") + "/console/ws"
        async with connect(
            feed_url, additional_headers={"Cookie": f"helppoint_session={token}"}
        ) as feed:
            await feed.recv()  # the snapshot
            settings = {
                "heartbeat_period": 5,
                "hold_ms": 300,
                "volume": 60,
                "prompts": {"connecting": "Connecting you to the Town Hall CCTV room"},
            }
            sent = await http.post("/api/units/HP-04/configure", json=settings)
            assert sent.status_code == 200, sent.text
            message = await first_message(
                feed, lambda m: m["type"] == "command_result", 20, "the command's result"
            )
        assert message["result"]["id"] == sent.json()["id"] and message["result"]["ok"]
        [change] = (await http.get("/api/units/HP-04/config")).json()
    assert change["applied"] == settings and change["ok"] is True
    assert change["requested_by"] == "ada" and change["confirmed_at"] is not None
    speaker = unit.hardware.speaker
    assert speaker.texts["connecting"].startswith("Connecting you to the Town Hall")  # type: ignore[attr-defined]
    assert unit.hardware.speaker.volume == 60  # type: ignore[attr-defined]
    with live_server.database.uow() as uow:
        # The applied period is what the server now supervises (and tells the unit next time).
        assert uow.units.get("HP-04").heartbeat_period == 5  # type: ignore[union-attr]
