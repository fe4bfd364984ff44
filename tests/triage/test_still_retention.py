"""Press-time stills are evidence like call recordings (issue 18, item 3): an audited evidence
hold, and the same retention, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from helppoint.agent.stills import TestPatternStills
from helppoint.domain.model import Role
from helppoint.services.clock import utcnow
from helppoint.services.stills import purge_stills
from tests.media.test_stills import post_still
from tests.web.test_api import client, press


def test_a_held_still_outlives_retention_and_the_rest_are_purged_audited(
    live_server_any: Any,
) -> None:
    server = live_server_any
    alice = client(server, "alice")
    sue = client(server, "sue", Role.SUPERVISOR)
    for unit in ("HP-06", "HP-07"):
        asyncio.run(press(server, unit))
        assert post_still(server, TestPatternStills(unit).capture(), unit=unit).status_code == 201
    queue = {i["unit_id"]: i["id"] for i in alice.get("/api/incidents/queue").json()}
    [kept] = alice.get(f"/api/incidents/{queue['HP-06']}/stills").json()
    [gone] = alice.get(f"/api/incidents/{queue['HP-07']}/stills").json()
    assert kept["held"] is False and kept["available"] is True

    assert alice.post(f"/api/stills/{kept['id']}/hold", json={"reason": "x"}).status_code == 403
    assert sue.post(f"/api/stills/{kept['id']}/hold", json={"reason": " "}).status_code == 400
    held = sue.post(f"/api/stills/{kept['id']}/hold", json={"reason": "police request 42/26"})
    assert held.status_code == 200 and held.json()["held_by"] == "sue"
    assert sue.post(f"/api/stills/{kept['id']}/hold", json={"reason": "again"}).status_code == 409

    # Retention (recording_retention_days) is up for both: the held one is kept.
    later = utcnow() + timedelta(days=32)
    assert purge_stills(server.database.uow, timedelta(days=31), later) == 1
    assert purge_stills(server.database.uow, timedelta(days=31), later) == 0
    assert alice.get(kept["url"]).status_code == 200
    purged = alice.get(gone["url"])
    assert purged.status_code == 404 and "end of its retention" in purged.json()["detail"]
    [listed] = alice.get(f"/api/incidents/{queue['HP-07']}/stills").json()
    assert listed["available"] is False and listed["purged_at"]

    # Released, normal retention applies again.
    assert sue.post(f"/api/stills/{kept['id']}/release").json()["held"] is False
    assert sue.post(f"/api/stills/{kept['id']}/release").status_code == 409
    assert purge_stills(server.database.uow, timedelta(days=31), later) == 1
    assert sue.post(f"/api/stills/{kept['id']}/hold", json={"reason": "late"}).status_code == 409
    timeline = alice.get(f"/api/incidents/{queue['HP-06']}").json()["timeline"]
    actions = [(e["actor"], e["action"]) for e in timeline]
    for entry in (("sue", "still.held"), ("sue", "still.released"), ("system", "still.purged")):
        assert entry in actions
