"""SIGKILL the server while its outbox worker waits for a receiver's answer, restart it: the
notification is delivered, and reaches the receiver once for its idempotency key."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from helppoint.domain.classification import Classification
from helppoint.domain.events import EventType
from helppoint.domain.model import Role
from helppoint.services import incidents, notifications
from helppoint.services.ingest import ReportedEvent, handle_device_events
from helppoint.services.operators import add_operator
from helppoint.services.plans import import_plan
from helppoint.services.seed import seed_demo
from helppoint.store.database import make_engine, make_session_factory
from helppoint.store.migrate import upgrade
from helppoint.store.uow import UnitOfWork
from tests.conftest import http_client
from tests.notify.receivers import HttpReceiver
from tests.ports import free_port
from tests.web.test_escalation_api import WEBHOOK_ONLY

from .server_process import ServerProcess


@pytest.mark.slow
def test_sigkill_mid_delivery_then_restart_delivers_once_per_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HELPPOINT_OUTBOX_LEASE", "5")  # the shortest lease allowed
    receiver = HttpReceiver().start()
    url = f"sqlite:///{tmp_path / 'server.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)

    def uow() -> UnitOfWork:
        return UnitOfWork(make_session_factory(engine))

    seed_demo(uow())
    add_operator(uow(), "sue", "correct horse battery", Role.SUPERVISOR)
    import_plan(uow(), WEBHOOK_ONLY.format(http=receiver.url), "admin")
    now = datetime.now(UTC)
    with uow() as work:
        [result] = handle_device_events(
            work,
            [ReportedEvent("HP-06", 1, EventType.ACTIVATION, now, {})],
            now,
            timedelta(minutes=5),
        )
        work.commit()
    incident_id = result.incident_id
    assert incident_id is not None
    incidents.acknowledge(uow(), incident_id, "sue")
    incidents.classify(uow(), incident_id, Classification.IMMINENT_THREAT, "sue")
    [queued] = notifications.escalate(uow(), incident_id, "sue")["notifications"]
    key = queued["idempotency_key"]

    receiver.hold_next()
    server = ServerProcess(url, free_port(), tmp_path / "server.log")
    try:
        server.start()
        assert receiver.wait_for(key, 1, timeout=30), "the worker never sent the notification"
        server.kill()  # while the receiver holds the request: the answer never comes
        receiver.release()
        [pending] = notifications.notifications_for(uow(), incident_id)
        assert (pending["status"], pending["attempts"]) == ("pending", 1)

        server.start()
        http = http_client(f"http://127.0.0.1:{server.port}", timeout=None)
        http.post("/api/login", json={"username": "sue", "password": "correct horse battery"})
        token = http.cookies.get("helppoint_session")

        async def delivered() -> dict[str, object]:
            ws_url = f"ws://127.0.0.1:{server.port}/console/ws"
            headers = {"Cookie": f"helppoint_session={token}"}
            async with connect(ws_url, additional_headers=headers) as ws:
                while True:
                    [current] = notifications.notifications_for(uow(), incident_id)
                    if current["status"] == "delivered":
                        return current
                    message = json.loads(await asyncio.wait_for(ws.recv(), 60))
                    if message["type"] == "notification" and message["data"]["status"] != "pending":
                        return dict(message["data"])

        final = asyncio.run(delivered())
    finally:
        server.stop()
        receiver.stop()
        engine.dispose()
    assert final["status"] == "delivered" and final["attempts"] == 2
    assert receiver.seen[key] == 2  # sent twice (at least once)...
    assert receiver.processed == [key]  # ...processed once, by its idempotency key
