"""SLA supervision against a running server: the alert reaches every console; the dashboard API
is for supervisors."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import connect

from helppoint.domain.model import Role
from tests.waiting import first_message
from tests.web.test_api import client, press


def test_an_unacknowledged_alarm_re_alerts_every_console(server_factory) -> None:  # type: ignore[no-untyped-def]
    server = server_factory(sla_ack_seconds=1)
    alice = client(server, "alice")
    sue = client(server, "sue", Role.SUPERVISOR)
    assert alice.get("/api/sla").status_code == 403
    assert alice.get("/supervisor").status_code == 403
    assert sue.get("/supervisor").status_code == 200

    async def scenario() -> dict[str, Any]:
        url = server.base_url.replace("http", "ws") + "/console/ws"
        token = alice.cookies.get("helppoint_session")
        async with connect(url, additional_headers={"Cookie": f"helppoint_session={token}"}) as ws:
            assert json.loads(await ws.recv())["type"] == "snapshot"
            await press(server, "HP-06")
            message = await first_message(
                ws, lambda m: m["type"] == "sla_alert", 30, "the SLA alert"
            )
            return dict(message["data"])

    alert = asyncio.run(scenario())
    assert alert["incident"]["unit_id"] == "HP-06" and alert["waited_seconds"] >= 1
    report = sue.get("/api/sla", params={"hours": 1}).json()
    assert report["limit_seconds"] == 1
    assert report["overall"]["alarms"] == 1 and report["overall"]["waiting"] == 1
    assert [i["unit_id"] for i in report["queue"]] == ["HP-06"]
    assert sue.get("/api/sla", params={"hours": 0}).status_code == 422
