"""The JSON API and the console feed over real HTTP/WebSocket against a running server."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from helppoint.domain.model import Role
from tests.conftest import http_client
from tests.waiting import first_message

PASSWORD = "correct horse battery"


def client(server, username: str | None = "alice", role: Role = Role.OPERATOR) -> httpx.Client:  # type: ignore[no-untyped-def]
    http = http_client(server.base_url, timeout=None)
    if username:
        server.add_operator(username, PASSWORD, role)
        response = http.post("/api/login", json={"username": username, "password": PASSWORD})
        assert response.status_code == 200, response.text
    return http


async def press(server, unit: str = "HP-01", seq: int = 1) -> None:  # type: ignore[no-untyped-def]
    async with connect(server.device_url) as ws:
        await ws.send(json.dumps({"type": "hello", "unit": unit, "key": server.key(unit)}))
        await ws.recv()
        await ws.send(
            json.dumps(
                {"type": "event", "seq": seq, "event": "activation", "time": "2026-11-25T23:00:00Z"}
            )
        )
        ack = json.loads(await ws.recv())
        assert ack["type"] == "ack"


def test_login_wrong_password_and_unauthenticated(live_server) -> None:  # type: ignore[no-untyped-def]
    live_server.add_operator("alice", PASSWORD)
    http = http_client(live_server.base_url)
    bad = http.post("/api/login", json={"username": "alice", "password": "nope"})
    assert bad.status_code == 401 and bad.json()["detail"] == "wrong username or password"
    nobody = http.post("/api/login", json={"username": "mallory", "password": "nope"})
    assert nobody.status_code == 401
    assert http.get("/api/incidents/queue").status_code == 401
    assert http.get("/api/me").status_code == 401
    page = http.get("/", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")


def test_login_cookie_is_httponly_and_strict(live_server) -> None:  # type: ignore[no-untyped-def]
    live_server.add_operator("alice", PASSWORD)
    response = httpx.post(
        f"{live_server.base_url}/api/login",
        json={"username": "Alice", "password": PASSWORD},
        timeout=None,
    )
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    me = httpx.get(f"{live_server.base_url}/api/me", cookies=response.cookies, timeout=None)
    assert me.json()["username"] == "alice"


def test_logout_ends_session(live_server) -> None:  # type: ignore[no-untyped-def]
    http = client(live_server)
    token = http.cookies.get("helppoint_session")
    assert http.post("/api/logout").status_code == 204
    again = httpx.get(
        f"{live_server.base_url}/api/me", cookies={"helppoint_session": token or ""}, timeout=None
    )
    assert again.status_code == 401


def test_incident_flow_over_http(live_server) -> None:  # type: ignore[no-untyped-def]
    asyncio.run(press(live_server))
    alice = client(live_server, "alice")
    bob = client(live_server, "bob")
    [incident] = alice.get("/api/incidents/queue").json()
    assert incident["unit_id"] == "HP-01" and incident["state"] == "new"
    path = f"/api/incidents/{incident['id']}"
    assert alice.post(f"{path}/acknowledge").json()["acknowledged_by"] == "alice"
    lost = bob.post(f"{path}/acknowledge")
    assert lost.status_code == 409
    assert lost.json()["detail"] == f"{incident['ref']} was already acknowledged by alice"
    refused = alice.post(f"{path}/close", json={"outcome": "x"})
    assert refused.status_code == 409 and "classified" in refused.json()["detail"]
    bad = alice.post(f"{path}/classify", json={"classification": "aliens"})
    assert bad.status_code == 422
    assert alice.post(f"{path}/notes", json={"text": ""}).status_code == 422
    assert alice.post(f"{path}/notes", json={"text": "Caller says pressed by mistake"}).is_success
    closed = alice.post(
        f"{path}/close", json={"outcome": "no action", "classification": "false_accidental"}
    ).json()
    assert closed["state"] == "closed" and closed["classification"] == "false_accidental"
    assert alice.get("/api/incidents/queue").json() == []
    history = alice.get("/api/incidents", params={"text": "mistake"}).json()
    assert history["total"] == 1 and history["items"][0]["id"] == incident["id"]
    detail = alice.get(path).json()
    assert detail["notes"][0]["author"] == "alice"


def test_bad_requests_change_nothing(live_server) -> None:  # type: ignore[no-untyped-def]
    http = client(live_server)
    assert http.post("/api/incidents/12345/acknowledge").status_code == 404
    assert http.get("/api/incidents/not-a-number").status_code == 422
    assert http.get("/api/incidents", params={"since": "last tuesday"}).status_code == 400
    assert http.get("/api/incidents", params={"limit": 0}).status_code == 422
    assert http.get("/api/incidents", params={"state": "on_fire"}).status_code == 422
    assert (
        http.post(
            "/api/incidents/1/notes",
            content=b"{not json",
            headers={"content-type": "application/json"},
        ).status_code
        == 422
    )
    sent = http.post("/api/units/HP-01/commands", json={"command": "flash_light"})
    assert sent.status_code == 409 and "not connected" in sent.json()["detail"]
    assert (
        http.post("/api/units/HP-01/commands", json={"command": "self_destruct"}).status_code == 422
    )
    assert http.post("/api/demo/press/HP-01").status_code == 404
    with live_server.database.uow() as uow:
        assert uow.incidents.count() == 0 and uow.events.count() == 0


def test_console_feed_snapshot_and_live_push(live_server) -> None:  # type: ignore[no-untyped-def]
    http = client(live_server)
    token = http.cookies.get("helppoint_session")

    async def scenario() -> list[dict[str, Any]]:
        url = live_server.base_url.replace("http", "ws") + "/console/ws"
        async with connect(url, additional_headers={"Cookie": f"helppoint_session={token}"}) as ws:
            snapshot = json.loads(await ws.recv())
            assert snapshot["type"] == "snapshot" and snapshot["incidents"] == []
            assert len(snapshot["units"]) == 8
            await press(live_server, "HP-06")
            messages = []
            while len([m for m in messages if m["type"] == "incident"]) < 1:
                messages.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
            return messages

    messages = asyncio.run(scenario())
    incident = next(m["incident"] for m in messages if m["type"] == "incident")
    assert incident["unit_id"] == "HP-06" and incident["state"] == "new"
    unit_messages = [m["unit"] for m in messages if m["type"] == "unit"]
    assert {"id": "HP-06", "connected": True} in unit_messages


def test_a_console_feed_that_may_have_missed_messages_gets_a_fresh_snapshot(live_server) -> None:  # type: ignore[no-untyped-def]
    # A feed that fell behind (or whose server lost another process's messages) may have
    # missed a unit linking: the page is sent everything again over the feed, units included,
    # in order with what follows, rather than told to reload only the alarm queue.
    http = client(live_server)
    token = http.cookies.get("helppoint_session")

    async def scenario() -> dict[str, Any]:
        url = live_server.base_url.replace("http", "ws") + "/console/ws"
        async with connect(url, additional_headers={"Cookie": f"helppoint_session={token}"}) as ws:
            first = json.loads(await ws.recv())
            assert first["type"] == "snapshot"
            async with connect(live_server.device_url) as unit:
                hello = {"type": "hello", "unit": "HP-02", "key": live_server.key("HP-02")}
                await unit.send(json.dumps(hello))
                await unit.recv()
                live_server.app.state.broker.resync_all()
                return await first_message(
                    ws, lambda m: m["type"] not in ("unit", "keepalive"), 20, "the resync"
                )

    again = asyncio.run(scenario())
    assert again["type"] == "snapshot"
    assert {u["id"]: u["connected"] for u in again["units"]}["HP-02"] is True


def test_console_feed_refuses_without_session(live_server) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> int | None:
        url = live_server.base_url.replace("http", "ws") + "/console/ws"
        async with connect(url) as ws:
            with pytest.raises(Exception):  # noqa: B017 - closed by the server
                await asyncio.wait_for(ws.recv(), 10)
            return ws.close_code

    assert asyncio.run(scenario()) == 4401


def test_api_v1_is_the_api_and_api_its_alias(live_server) -> None:  # type: ignore[no-untyped-def]
    asyncio.run(press(live_server))
    alice = client(live_server, "alice")
    assert (
        httpx.get(f"{live_server.base_url}/api/v1/incidents/queue", timeout=None).status_code == 401
    )
    [incident] = alice.get("/api/v1/incidents/queue").json()
    assert alice.get("/api/incidents/queue").json() == [incident]
    # A change through /api/v1 gets the same checks (CSRF for a cookie) and the same handler.
    refused = httpx.post(
        f"{live_server.base_url}/api/v1/incidents/{incident['id']}/acknowledge",
        cookies=alice.cookies,
        timeout=None,
    )
    assert refused.status_code == 403
    acknowledged = alice.post(f"/api/v1/incidents/{incident['id']}/acknowledge").json()
    assert acknowledged["acknowledged_by"] == "alice"
    assert alice.get(f"/api/incidents/{incident['id']}").json()["state"] == "acknowledged"
    assert alice.get("/api/v1/no-such-thing").status_code == 404
    paths = httpx.get(f"{live_server.base_url}/openapi.json", timeout=None).json()["paths"]
    assert not [p for p in paths if p.startswith("/api/") and not p.startswith("/api/v1/")]


def test_openapi_is_published(live_server) -> None:  # type: ignore[no-untyped-def]
    spec = httpx.get(f"{live_server.base_url}/openapi.json", timeout=None).json()
    assert "/api/v1/incidents/{incident_id}/acknowledge" in spec["paths"]


def test_login_form_keeps_username_and_refuses_foreign_redirect(live_server) -> None:  # type: ignore[no-untyped-def]
    live_server.add_operator("alice", PASSWORD)
    http = http_client(live_server.base_url)
    failed = http.post("/login", data={"username": "alice", "password": "wrong", "next": "/"})
    assert failed.status_code == 401
    assert 'value="alice"' in failed.text and "Wrong username or password" in failed.text
    ok = http.post(
        "/login",
        data={"username": "alice", "password": PASSWORD, "next": "//evil.example/"},
        follow_redirects=False,
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/"
