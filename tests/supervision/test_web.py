"""Supervision over the real server: the worker, the health board, tickets, permissions."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from websockets.asyncio.client import connect

from helppoint.domain.model import Role
from tests.conftest import http_client
from tests.waiting import messages_until

PASSWORD = "correct horse battery"


def client(server: Any, username: str, role: Role) -> httpx.Client:
    http = http_client(server.base_url, timeout=None)
    server.add_operator(username, PASSWORD, role)
    response = http.post("/api/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return http


async def hello(server: Any, unit: str) -> Any:
    ws = await connect(server.device_url)
    await ws.send(json.dumps({"type": "hello", "unit": unit, "key": server.key(unit)}))
    welcome = json.loads(await ws.recv())
    assert welcome["type"] == "welcome"
    return ws


def test_silent_unit_is_reported_by_the_running_worker(server_factory) -> None:  # type: ignore[no-untyped-def]
    server = server_factory(supervision_interval=0.1)
    admin = client(server, "ada", Role.ADMIN)
    changed = admin.put(
        "/api/units/HP-03/supervision", json={"heartbeat_period": 1, "heartbeat_grace": 0}
    )
    assert changed.status_code == 200, changed.text
    token = admin.cookies.get("helppoint_session")

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        url = server.base_url.replace("http", "ws") + "/console/ws"
        async with connect(
            url, additional_headers={"Cookie": f"helppoint_session={token}"}
        ) as feed:
            assert json.loads(await feed.recv())["type"] == "snapshot"
            unit = await hello(server, "HP-03")
            await unit.close()  # ... and then nothing more from HP-03

            messages = await messages_until(
                feed,
                lambda ms: {"supervision", "incident"} <= {m["type"] for m in ms},
                40,
                "the unit's report and its fault incident",
            )
            seen: dict[str, dict[str, Any]] = {}
            for message in messages:
                seen.setdefault(message["type"], message)
            return seen["supervision"], seen["incident"]

    down, incident = asyncio.run(scenario())
    assert down["data"] == {"id": "HP-03", "status": "down"}
    assert incident["incident"]["unit_id"] == "HP-03"
    assert incident["incident"]["kind"] == "fault"
    board = {row["id"]: row for row in admin.get("/api/health/units").json()}
    assert board["HP-03"]["status"] == "down"
    assert board["HP-03"]["open_faults"] == 1
    [ticket] = admin.get("/api/maintenance/tickets").json()
    assert (ticket["unit_id"], ticket["fault"], ticket["state"]) == ("HP-03", "offline", "open")


def test_health_board_and_ticket_workflow(live_server) -> None:  # type: ignore[no-untyped-def]
    async def report_fault() -> None:
        ws = await hello(live_server, "HP-05")
        await ws.send(
            json.dumps(
                {
                    "type": "event",
                    "seq": 1,
                    "event": "fault",
                    "time": "2026-11-25T23:00:00Z",
                    "payload": {"fault": "light", "detail": "lamp open circuit"},
                }
            )
        )
        assert json.loads(await ws.recv())["type"] == "ack"
        await ws.close()

    asyncio.run(report_fault())
    operator = client(live_server, "olly", Role.OPERATOR)
    supervisor = client(live_server, "sue", Role.SUPERVISOR)
    other = client(live_server, "sam", Role.SUPERVISOR)
    board = {row["id"]: row for row in operator.get("/api/health/units").json()}
    assert len(board) == 8
    assert board["HP-05"]["status"] == "up" and board["HP-05"]["open_faults"] == 1
    assert board["HP-01"]["status"] == "unknown"
    page = operator.get("/health-board")
    assert page.status_code == 200 and "Maintenance queue" in page.text
    [ticket] = operator.get("/api/maintenance/tickets").json()
    assert (ticket["fault"], ticket["detail"]) == ("light", "lamp open circuit")
    path = f"/api/maintenance/tickets/{ticket['id']}"
    assert operator.post(f"{path}/assign", json={"engineer": "eve"}).status_code == 403
    assert supervisor.post(f"{path}/verify").status_code == 409  # not fixed yet
    assert supervisor.post(f"{path}/assign", json={"engineer": "eve"}).json()["state"] == "assigned"
    assert supervisor.post(f"{path}/fixed").json()["fixed_by"] == "sue"
    assert supervisor.post(f"{path}/verify").status_code == 409  # the fixer cannot verify
    assert other.post(f"{path}/verify").json()["state"] == "verified"
    assert operator.get("/api/maintenance/tickets").json() == []
    assert supervisor.post("/api/maintenance/tickets/999/fixed").status_code == 404


def test_supervision_settings_are_checked_and_admin_only(live_server) -> None:  # type: ignore[no-untyped-def]
    supervisor = client(live_server, "sue", Role.SUPERVISOR)
    admin = client(live_server, "ada", Role.ADMIN)
    body = {"heartbeat_period": 10}
    assert supervisor.put("/api/units/HP-01/supervision", json=body).status_code == 403
    assert (
        admin.put("/api/units/HP-01/supervision", json={"heartbeat_period": 0}).status_code == 422
    )
    assert admin.put("/api/units/NOPE/supervision", json=body).status_code == 404
    assert admin.post("/api/units/HP-01/configure", json={"volume": 50}).status_code == 409
    assert admin.post("/api/units/HP-01/configure", json={"volume": 500}).status_code == 422
