"""A call set up by the process the operator's browser talks to, for a unit linked to another
process: signalling crosses the cluster bus, media flows between the unit and that process."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from helppoint.sim.fleet import Fleet
from tests.calls.operator_peer import OperatorPeer, open_incident
from tests.conftest import async_http_client

from .test_two_processes import PASSWORD, base, cluster  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


async def test_operator_at_process_two_talks_to_a_unit_linked_to_process_one(
    cluster: Any,  # noqa: F811
) -> None:
    servers, keys = cluster
    one, two = servers
    fleet = Fleet(base(one), [("HP-01", keys["HP-01"])])
    await fleet.start()
    http = async_http_client(base(two), timeout=None)
    peer = OperatorPeer()
    try:
        login = await http.post("/api/login", json={"username": "alice", "password": PASSWORD})
        assert login.status_code == 200, login.text
        await fleet.wait_connected(10)
        fleet.press("HP-01")
        incident_id = await open_incident(http, "HP-01")
        # Process 2 learns where the unit is linked within about a second.
        for _ in range(100):
            units = (await http.get("/api/units")).json()
            if any(u["id"] == "HP-01" and u["connected"] for u in units):
                break
            await asyncio.sleep(0.1)

        response = await http.post(
            f"/api/incidents/{incident_id}/call", json={"type": "offer", "sdp": await peer.offer()}
        )
        assert response.status_code == 200, response.text
        await peer.accept(response.json())
        unit_call = await fleet.unit("HP-01").calls.wait_for_call()  # type: ignore[union-attr]
        assert peer.audio is not None and unit_call.meter is not None
        await peer.audio.wait_for(25, loud=True, timeout=15)
        await unit_call.meter.wait_for(25, loud=True, timeout=15)

        hung_up = await http.post(f"/api/incidents/{incident_id}/call/hangup")
        assert hung_up.status_code == 200 and hung_up.json()["end_reason"] == "hangup"
        # The unit (at process 1) was told, through the bus, that the call ended.
        await asyncio.wait_for(fleet.unit("HP-01").calls.wait_idle(), 15)  # type: ignore[union-attr]
    finally:
        await peer.close()
        await http.aclose()
        await fleet.stop()
