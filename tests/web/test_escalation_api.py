"""Escalation over HTTP against a running server: the app's own outbox worker delivers the
notifications to a real receiver, and the console feed shows their status live."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import connect

from helppoint.services.plans import import_plan
from tests.notify.conftest import PLAN
from tests.notify.receivers import HttpReceiver
from tests.waiting import messages_until
from tests.web.test_api import client, press

WEBHOOK_ONLY = PLAN.split("      - notify: police\n        channel: cap")[0]


def test_escalate_over_http_is_delivered_by_the_app_worker(live_server) -> None:  # type: ignore[no-untyped-def]
    receiver = HttpReceiver().start()
    try:
        import_plan(live_server.database.uow(), WEBHOOK_ONLY.format(http=receiver.url), "admin")
        alice = client(live_server, "alice")
        token = alice.cookies.get("helppoint_session")
        asyncio.run(press(live_server, "HP-06"))
        [incident] = alice.get("/api/incidents/queue").json()
        path = f"/api/incidents/{incident['id']}"
        refused = alice.post(f"{path}/escalate")
        assert refused.status_code == 409 and "classified" in refused.json()["detail"]
        alice.post(f"{path}/acknowledge")
        alice.post(f"{path}/classify", json={"classification": "imminent_threat"})

        async def scenario() -> list[dict[str, Any]]:
            url = live_server.base_url.replace("http", "ws") + "/console/ws"
            headers = {"Cookie": f"helppoint_session={token}"}
            async with connect(url, additional_headers=headers) as ws:
                assert json.loads(await ws.recv())["type"] == "snapshot"
                answer = await asyncio.to_thread(alice.post, f"{path}/escalate")
                assert answer.status_code == 200, answer.text
                return await messages_until(
                    ws,
                    lambda ms: any(
                        m["type"] == "notification" and m["data"]["status"] == "delivered"
                        for m in ms
                    ),
                    30,
                    "the delivered notification",
                )

        frames = asyncio.run(scenario())
        statuses = [m["data"]["status"] for m in frames if m["type"] == "notification"]
        assert statuses[0] == "pending" and statuses[-1] == "delivered"
        [notification] = alice.get(f"{path}/notifications").json()
        assert notification["status"] == "delivered"
        assert receiver.processed == [notification["idempotency_key"]]
        assert alice.get(path).json()["state"] == "escalated"
        again = alice.post(f"{path}/escalate")
        assert again.status_code == 409 and "already escalated" in again.json()["detail"]
    finally:
        receiver.stop()
