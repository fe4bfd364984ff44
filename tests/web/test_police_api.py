"""The police role over HTTP: sees only escalated incidents, acknowledges, handles nothing else."""

from __future__ import annotations

import asyncio

from helppoint.domain.model import Role
from helppoint.services.plans import import_plan
from tests.notify.receivers import HttpReceiver
from tests.web.test_api import client, press
from tests.web.test_escalation_api import WEBHOOK_ONLY


def test_police_role_sees_and_acknowledges_only_escalated_incidents(live_server) -> None:  # type: ignore[no-untyped-def]
    receiver = HttpReceiver().start()
    try:
        import_plan(live_server.database.uow(), WEBHOOK_ONLY.format(http=receiver.url), "admin")
        police = client(live_server, "pc-smith", Role.POLICE)
        alice = client(live_server, "alice")
        assert police.get("/api/incidents/queue").status_code == 403
        home = police.get("/", follow_redirects=False)
        assert home.status_code == 303 and home.headers["location"] == "/police"
        assert police.get("/police").status_code == 200
        assert alice.get("/police").status_code == 403
        assert alice.get("/api/police/incidents").status_code == 403

        asyncio.run(press(live_server, "HP-06"))
        [incident] = alice.get("/api/incidents/queue").json()
        path = f"/api/incidents/{incident['id']}"
        alice.post(f"{path}/acknowledge")
        alice.post(f"{path}/classify", json={"classification": "imminent_threat"})
        ack = f"/api/police/incidents/{incident['id']}/acknowledge"
        assert police.post(ack, json={"reference": "X1"}).status_code == 404  # not escalated yet
        assert police.get("/api/police/incidents").json() == []
        checklist = alice.get(f"{path}/checklist").json()
        assert [a["channel"] for a in checklist["actions"]] == ["webhook"]
        alice.post(f"{path}/escalate")
        [shown] = police.get("/api/police/incidents").json()
        assert shown["ref"] == incident["ref"] and shown["police_response"]["called_by"] == "alice"
        assert alice.post(ack, json={"reference": "X1"}).status_code == 403
        assert police.post(ack, json={"reference": ""}).status_code == 422
        assert police.post(ack, json={"reference": "bad<ref>"}).status_code == 400
        done = police.post(ack, json={"reference": "NP-0421"})
        assert done.status_code == 200
        assert done.json()["police_response"]["cad_reference"] == "NP-0421"
        again = police.post(ack, json={"reference": "NP-9999"})
        assert again.status_code == 409
        seen = alice.get(f"{path}/checklist").json()["police_response"]
        assert (seen["acknowledged_by"], seen["cad_reference"]) == ("pc-smith", "NP-0421")
        assert police.post(f"{path}/police-on-scene").status_code == 403
        assert alice.post(f"{path}/police-on-scene").status_code == 200
    finally:
        receiver.stop()
