"""The call and recording API: clear refusals, permissions, units that fail to answer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from websockets.asyncio.client import connect

from helppoint.domain.model import Role

from .operator_peer import OperatorPeer, signed_in

pytestmark = pytest.mark.slow


async def raw_unit(
    server: Any, unit: str, answer: Callable[[dict[str, Any]], dict[str, Any] | None]
) -> Any:
    """A unit on a bare device link that presses once and answers call offers with ``answer``."""
    ws = await connect(server.device_url)
    await ws.send(json.dumps({"type": "hello", "unit": unit, "key": server.key(unit)}))
    await ws.recv()
    await ws.send(
        json.dumps(
            {"type": "event", "seq": 1, "event": "activation", "time": "2026-11-25T23:00:00Z"}
        )
    )

    async def read() -> None:
        async for raw in ws:
            frame = json.loads(raw)
            if frame["type"] == "call_offer":
                reply = answer(frame)
                if reply is not None:
                    await ws.send(json.dumps(reply))

    ws.reader = asyncio.create_task(read())
    return ws


async def acknowledged(http: Any, unit: str) -> int:
    for _ in range(100):
        queue = (await http.get("/api/incidents/queue")).json()
        mine = [i for i in queue if i["unit_id"] == unit]
        if mine:
            incident_id = int(mine[0]["id"])
            await http.post(f"/api/incidents/{incident_id}/acknowledge")
            return incident_id
        await asyncio.sleep(0.05)
    raise AssertionError("no incident")


async def test_refusals_say_why(server_factory: Callable[..., Any]) -> None:
    server = server_factory(call_answer_timeout=1, supervision=False)
    http = await signed_in(server, "olive")
    peer = OperatorPeer()
    silent = await raw_unit(server, "HP-05", lambda frame: None)
    refusing = await raw_unit(
        server,
        "HP-06",
        lambda frame: {"type": "call_answer", "call": frame["call"], "ok": False, "detail": "busy"},
    )
    try:
        offer = {"type": "offer", "sdp": await peer.offer()}
        queue = []
        for _ in range(100):
            queue = (await http.get("/api/incidents/queue")).json()
            if len(queue) == 2:
                break
            await asyncio.sleep(0.05)
        new_id = next(i["id"] for i in queue if i["unit_id"] == "HP-05")
        response = await http.post(f"/api/incidents/{new_id}/call", json=offer)
        assert response.status_code == 409 and "acknowledged before" in response.json()["detail"]

        silent_id = await acknowledged(http, "HP-05")
        response = await http.post(f"/api/incidents/{silent_id}/call", json=offer)
        assert response.status_code == 504, response.text
        assert "did not answer the call within 1 s" in response.json()["detail"]

        refusing_id = await acknowledged(http, "HP-06")
        response = await http.post(f"/api/incidents/{refusing_id}/call", json=offer)
        assert response.status_code == 504 and "could not take the call: busy" in response.text

        # Audio is forwarded as it comes, so the browser must send Opus.
        no_opus = {"type": "offer", "sdp": offer["sdp"].replace("opus/48000/2", "PCMU/8000")}
        response = await http.post(f"/api/incidents/{refusing_id}/call", json=no_opus)
        assert response.status_code == 400 and "Opus" in response.json()["detail"]

        # Nothing changed: no call on record, the incidents are still acknowledged.
        for incident_id in (silent_id, refusing_id):
            state = (await http.get(f"/api/incidents/{incident_id}/call")).json()
            assert state["active"] is None and state["calls"] == []
            incident = (await http.get(f"/api/incidents/{incident_id}")).json()
            assert incident["state"] == "acknowledged"

        await silent.close()
        for _ in range(100):
            if "HP-05" not in server.app.state.device_link.connected_units:
                break
            await asyncio.sleep(0.05)
        response = await http.post(f"/api/incidents/{silent_id}/call", json=offer)
        assert response.status_code == 409 and "offline" in response.json()["detail"]

        bad = await http.post(f"/api/incidents/{silent_id}/call", json={"type": "offer", "sdp": ""})
        assert bad.status_code == 422
        missing = await http.post("/api/incidents/999999/call", json=offer)
        assert missing.status_code == 404
        no_call = await http.post(f"/api/incidents/{silent_id}/call/hangup")
        assert no_call.status_code == 409 and "no call in progress" in no_call.json()["detail"]
    finally:
        await peer.close()
        await refusing.close()
        await http.aclose()


async def test_recording_permissions(live_server: Any) -> None:
    operator = await signed_in(live_server, "olive")
    police = await signed_in(live_server, "pc", Role.POLICE)
    supervisor = await signed_in(live_server, "sue", Role.SUPERVISOR)
    try:
        held = await operator.post("/api/recordings/1/hold", json={"reason": "court"})
        assert held.status_code == 403 and "supervise" in held.json()["detail"]
        assert (
            await supervisor.post("/api/recordings/1/hold", json={"reason": "court"})
        ).status_code == 404
        assert (
            await supervisor.post("/api/recordings/1/hold", json={"reason": ""})
        ).status_code == 422
        assert (await police.get("/api/incidents/1/call")).status_code == 403
        assert (await police.post("/api/recordings/1/play")).status_code == 403
        assert (await operator.post("/api/recordings/1/play")).status_code == 404
        forged = await operator.get("/api/recordings/1/media", params={"token": "made-up"})
        assert forged.status_code == 403 and "not valid" in forged.json()["detail"]
        assert (await operator.get("/api/recordings/1/export")).status_code == 404
    finally:
        for http in (operator, police, supervisor):
            await http.aclose()
