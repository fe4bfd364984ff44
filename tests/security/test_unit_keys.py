"""Unit key rotation and revocation, with a real device-link client against a live server."""

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import timedelta
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from helppoint.domain.errors import InvalidInput
from helppoint.domain.model import Role
from helppoint.services import units as unit_service
from helppoint.services.clock import utcnow
from tests.cli import inprocess
from tests.conftest import Database, LiveServer, http_client

PASSWORD = "correct horse battery"
TIME = "2026-11-25T23:00:00.000Z"


async def link(server: LiveServer, unit: str, key: str) -> tuple[ClientConnection, dict[str, Any]]:
    """Connect as a unit and say hello; the socket and the server's first answer."""
    ws = await connect(server.device_url)
    hello = {"type": "hello", "protocol": 1, "unit": unit, "key": key, "firmware": "t"}
    await ws.send(json.dumps(hello))
    try:
        return ws, json.loads(await asyncio.wait_for(ws.recv(), 10))
    except ConnectionClosed as exc:
        return ws, {"closed": exc.rcvd.code if exc.rcvd else None}


async def close_code(ws: ClientConnection) -> int | None:
    try:
        while True:
            await asyncio.wait_for(ws.recv(), 10)
    except ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd else None


async def press(ws: ClientConnection, seq: int) -> dict[str, Any]:
    frame = {"type": "event", "seq": seq, "event": "activation", "time": TIME, "payload": {}}
    await ws.send(json.dumps(frame))
    while True:
        answer = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if answer.get("type") == "ack":
            return dict(answer)


def admin(server: LiveServer) -> Any:
    server.add_operator("keymaster", PASSWORD, Role.ADMIN)
    http = http_client(server.base_url, timeout=None)
    assert http.post("/api/login", json={"username": "keymaster", "password": PASSWORD}).is_success
    return http


@pytest.mark.asyncio
async def test_a_rotated_key_replaces_the_old_one_at_once(live_server: LiveServer) -> None:
    http = await asyncio.to_thread(admin, live_server)
    old_key = live_server.key("HP-01")
    ws, welcome = await link(live_server, "HP-01", old_key)
    assert welcome["type"] == "welcome"
    answer = await asyncio.to_thread(http.post, "/api/admin/units/HP-01/rotate-key", json={})
    assert answer.status_code == 200 and answer.json()["link_closed"] is True
    new_key = answer.json()["key"]
    assert await close_code(ws) == 4401
    _, refused = await link(live_server, "HP-01", old_key)
    assert refused == {"closed": 4401}
    ws, welcome = await link(live_server, "HP-01", new_key)
    assert welcome["type"] == "welcome"
    assert (await press(ws, 1))["seq"] == 1
    await ws.close()
    with live_server.database.uow() as uow:
        rotated = [e for e in uow.audit.in_chain_order() if e.action == "unit.key_rotated"]
    assert rotated[-1].actor == "keymaster" and rotated[-1].detail["overlap_seconds"] == 0


@pytest.mark.asyncio
async def test_an_overlap_lets_the_old_key_work_until_it_ends(live_server: LiveServer) -> None:
    http = await asyncio.to_thread(admin, live_server)
    old_key = live_server.key("HP-02")
    ws, _ = await link(live_server, "HP-02", old_key)
    answer = await asyncio.to_thread(
        http.post, "/api/admin/units/HP-02/rotate-key", json={"overlap_seconds": 3600}
    )
    assert answer.json()["link_closed"] is False
    assert (await press(ws, 1))["seq"] == 1  # the live link stays up during the overlap
    await ws.close()
    again, welcome = await link(live_server, "HP-02", old_key)
    assert welcome["type"] == "welcome"
    await again.close()
    with live_server.database.uow() as uow:  # the overlap has passed
        unit = uow.units.get("HP-02")
        assert unit is not None
        unit.previous_key_until = utcnow() - timedelta(seconds=1)
        uow.commit()
    _, refused = await link(live_server, "HP-02", old_key)
    assert refused == {"closed": 4401}
    fresh, welcome = await link(live_server, "HP-02", answer.json()["key"])
    assert welcome["type"] == "welcome"
    await fresh.close()


@pytest.mark.asyncio
async def test_a_revoked_unit_is_cut_off_and_others_carry_on(live_server: LiveServer) -> None:
    http = await asyncio.to_thread(admin, live_server)
    stolen, _ = await link(live_server, "HP-03", live_server.key("HP-03"))
    other, _ = await link(live_server, "HP-04", live_server.key("HP-04"))
    answer = await asyncio.to_thread(http.post, "/api/admin/units/HP-03/revoke")
    assert answer.json() == {"unit_id": "HP-03", "revoked": True, "link_closed": True}
    assert await close_code(stolen) == 4401
    _, refused = await link(live_server, "HP-03", live_server.key("HP-03"))
    assert refused == {"closed": 4401}
    assert (await press(other, 1))["seq"] == 1
    await other.close()
    with live_server.database.uow() as uow:
        revoked = [e for e in uow.audit.in_chain_order() if e.action == "unit.revoked"]
    assert revoked[0].actor == "keymaster" and revoked[0].detail == {"unit": "HP-03"}
    # only an administrator may revoke
    live_server.add_operator("opal", PASSWORD, Role.OPERATOR)
    operator = http_client(live_server.base_url, timeout=None)
    operator.post("/api/login", json={"username": "opal", "password": PASSWORD})
    assert operator.post("/api/admin/units/HP-04/revoke").status_code == 403


def test_rotation_rules(database: Database) -> None:
    from helppoint.services.seed import seed_demo

    seed_demo(database.uow())
    with pytest.raises(InvalidInput):
        unit_service.rotate_unit_key(database.uow(), "HP-01", timedelta(days=30))
    unit_service.revoke_unit(database.uow(), "HP-01")
    with pytest.raises(InvalidInput, match="revoked"):
        unit_service.rotate_unit_key(database.uow(), "HP-01")
    with database.uow() as uow, pytest.raises(unit_service.AuthenticationFailed):
        unit_service.authenticate_unit(uow, "HP-01", "")


def test_the_cli_rotates_and_revokes(sqlite_database: Database) -> None:
    from helppoint.services.seed import seed_demo

    keys = {u.unit_id: u.key for u in seed_demo(sqlite_database.uow())}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return inprocess.run(["unit", *args, "--database-url", sqlite_database.url])

    rotated = run("rotate-key", "HP-05")
    assert rotated.returncode == 0, rotated.stderr
    new_key = rotated.stdout.splitlines()[-1]
    with sqlite_database.uow() as uow:
        assert unit_service.authenticate_unit(uow, "HP-05", new_key).id == "HP-05"
        with pytest.raises(unit_service.AuthenticationFailed):
            unit_service.authenticate_unit(uow, "HP-05", keys["HP-05"])
    assert run("revoke", "HP-05").returncode == 0
    with sqlite_database.uow() as uow, pytest.raises(unit_service.AuthenticationFailed):
        unit_service.authenticate_unit(uow, "HP-05", new_key)
    missing = run("revoke", "HP-99")
    assert missing.returncode != 0 and "does not exist" in missing.stderr
