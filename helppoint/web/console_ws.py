"""The console's real-time feed: a snapshot on connect, then every committed change."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from helppoint.domain.model import Permission
from helppoint.gateway.device_link import DeviceLinkHub
from helppoint.services import incidents as incident_service
from helppoint.services import operators as operator_service
from helppoint.services.clock import utcnow
from helppoint.services.views import unit_view
from helppoint.topics import Topic
from helppoint.web.deps import SESSION_COOKIE
from helppoint.web.feeds import batched, feed_text, relay
from helppoint.web.security import drain_while_signed_in

router = APIRouter()

CLOSE_UNAUTHORISED = 4401
CLOSE_FORBIDDEN = 4403


def _snapshot(app: Any) -> dict[str, Any]:
    hub: DeviceLinkHub = app.state.device_link
    connected = hub.linked_units()
    with app.state.uow_factory().reading() as uow:
        units = [unit_view(u) | {"connected": u.id in connected} for u in uow.units.list()]
    return {
        "type": "snapshot",
        "server_time": utcnow().isoformat(),
        "incidents": incident_service.open_queue(app.state.uow_factory()),
        "units": units,
    }


@router.websocket("/console/ws")
async def console_feed(websocket: WebSocket) -> None:
    app = websocket.app
    token = websocket.cookies.get(SESSION_COOKIE, "")
    operator = await run_in_threadpool(
        operator_service.operator_for_session, app.state.uow_factory(), token
    )
    await websocket.accept()
    if operator is None:
        await websocket.close(CLOSE_UNAUTHORISED, "sign in first")
        return
    if not operator.can(Permission.HANDLE_INCIDENTS):
        await websocket.close(CLOSE_FORBIDDEN, f"role {operator.role.value} may not handle alarms")
        return

    async def frame(topic: str, message: dict[str, Any]) -> dict[str, Any]:
        return _frame(topic, message)

    keepalive = app.state.settings.feed_keepalive

    async def resync() -> None:
        # Messages may have been missed (units linking included): everything again, over the
        # feed, so it stays in order with what follows (an HTTP reload could be older).
        snapshot = await run_in_threadpool(_snapshot, app)
        await websocket.send_text(feed_text(snapshot | {"keepalive_seconds": keepalive}))

    async with app.state.broker.subscribe() as subscription:
        # Subscribe before the snapshot, so nothing committed in between is missed. (Sent by
        # resync, not held here: a local would keep every unit's and alarm's view alive for
        # as long as the console is open.)
        await resync()
        receiver = asyncio.create_task(drain_while_signed_in(websocket, token, _drain))
        await relay(websocket, subscription, receiver, frame, resync, keepalive, batched(websocket))


def _frame(topic: str, message: dict[str, Any]) -> dict[str, Any]:
    if topic == Topic.INCIDENTS:
        return {"type": "incident", "incident": message}
    if topic == Topic.UNITS:
        return {"type": "unit", "unit": message}
    if topic == Topic.COMMANDS:
        return {"type": "command_result", "result": message}
    return {"type": topic, "data": message}


async def _drain(websocket: WebSocket) -> None:
    """Read (and ignore) what the browser sends, to notice when it goes away."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
