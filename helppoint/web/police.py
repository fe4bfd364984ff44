"""The police view: escalated incidents live, acknowledgement with the CAD reference; and the
operator's checklist and police actions on an incident."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from helppoint.domain.classification import Classification
from helppoint.domain.errors import NotFound
from helppoint.domain.model import Operator, Permission
from helppoint.domain.plans import ActionKind, Channel, PlanScope
from helppoint.services import operators as operator_service
from helppoint.services import police as police_service
from helppoint.services import stills as still_service
from helppoint.services.views import IncidentView, NoteView, NotificationView
from helppoint.topics import Topic
from helppoint.web.admin import PoliceContact
from helppoint.web.deps import (
    SESSION_COOKIE,
    Handler,
    HistoryReader,
    client_address,
    require,
    unit_of_work,
)
from helppoint.web.feeds import batched, feed_text, relay
from helppoint.web.forbidden import forbidden_page
from helppoint.web.media import StillView
from helppoint.web.rendering import page_context, signed_in_operator, templates
from helppoint.web.security import drain_while_signed_in

router = APIRouter(tags=["police"])
Police = Annotated[Operator, Depends(require(Permission.POLICE_RESPONSE))]


class AcknowledgeBody(BaseModel):
    reference: str = Field(min_length=1, max_length=64)


class PoliceResponseView(BaseModel):
    """The police response to an incident: called, acknowledged with their log/CAD
    reference, on scene (null: not yet)."""

    called_at: str
    called_by: str
    acknowledged_at: str | None
    acknowledged_by: str | None
    cad_reference: str
    on_scene_at: str | None


class PoliceChange(IncidentView):
    """The incident after a step of the police response, with the response."""

    police_response: PoliceResponseView | None


class PoliceIncidentView(IncidentView):
    """What the police see of an incident escalated to them."""

    unit_description: str
    police_response: PoliceResponseView | None
    notes: list[NoteView]
    latest_still: StillView | None


class PlanRef(BaseModel):
    """The trigger plan in force for the incident's unit."""

    name: str
    scope: PlanScope
    target_id: str
    version: int


class ChecklistAction(BaseModel):
    """One action the plan asks for: who to notify, how and where, and by when to confirm."""

    notify: ActionKind
    notify_label: str
    channel: Channel
    to: str
    #: Sent by the server (true) or done by the operator, e.g. a phone call (false).
    automatic: bool
    #: Seconds within which the recipient must acknowledge; null: no deadline.
    ack_within: int | None


class Checklist(BaseModel):
    """What the plan asks for an incident's (or a proposed) classification, and what was done."""

    incident_id: int
    classification: str | None
    plan: PlanRef | None
    police: PoliceContact | None
    actions: list[ChecklistAction]
    notifications: list[NotificationView]
    police_response: PoliceResponseView | None


@router.get("/api/incidents/{incident_id}/checklist", response_model=Checklist)
def checklist(
    incident_id: int,
    request: Request,
    reader: HistoryReader,
    classification: Classification | None = None,
) -> dict[str, Any]:
    """The trigger plan's actions for the incident's (or a proposed) classification, the police
    URN and phone line, the notifications and the police response."""
    return police_service.checklist(unit_of_work(request), incident_id, classification)


@router.post("/api/incidents/{incident_id}/police-called", response_model=PoliceChange)
def police_called(incident_id: int, request: Request, operator: Handler) -> dict[str, Any]:
    """One click: the operator telephoned the police."""
    return police_service.police_called(
        unit_of_work(request), incident_id, operator.username, client_address(request)
    )


@router.post("/api/incidents/{incident_id}/police-on-scene", response_model=PoliceChange)
def police_on_scene(incident_id: int, request: Request, operator: Handler) -> dict[str, Any]:
    """Officers were seen on scene."""
    return police_service.police_on_scene(
        unit_of_work(request), incident_id, operator.username, client_address(request)
    )


@router.get("/api/police/incidents", response_model=list[PoliceIncidentView])
def police_incidents(request: Request, officer: Police) -> list[dict[str, Any]]:
    """Open incidents escalated to the police, newest first."""
    return _with_stills(request, police_service.police_queue(unit_of_work(request)))


@router.post("/api/police/incidents/{incident_id}/acknowledge", response_model=PoliceChange)
def police_acknowledge(
    incident_id: int, body: AcknowledgeBody, request: Request, officer: Police
) -> dict[str, Any]:
    """The police acknowledge an incident and give their log/CAD reference."""
    return police_service.police_acknowledge(
        unit_of_work(request),
        incident_id,
        officer.username,
        body.reference,
        client_address(request),
    )


@router.get("/police", response_class=HTMLResponse, include_in_schema=False)
def police_page(request: Request) -> Response:
    """The police control room's view."""
    operator = signed_in_operator(request)
    if operator is None:
        return RedirectResponse("/login?next=/police", status_code=303)
    if not operator.can(Permission.POLICE_RESPONSE):
        return forbidden_page(
            request, operator, "Only police control-room users may open this view."
        )
    context = page_context(request, operator) | {"demo": False}
    return templates.TemplateResponse(request, "police.html", context)


@router.websocket("/police/ws")
async def police_feed(websocket: WebSocket) -> None:
    """Live feed for the police view: a snapshot, then each change to an incident of theirs."""
    app = websocket.app
    token = websocket.cookies.get(SESSION_COOKIE, "")
    operator = await run_in_threadpool(
        operator_service.operator_for_session, unit_of_work(websocket), token
    )
    await websocket.accept()
    if operator is None:
        await websocket.close(4401, "sign in first")
        return
    if not operator.can(Permission.POLICE_RESPONSE):
        await websocket.close(4403, f"role {operator.role.value} may not see police incidents")
        return

    keepalive = app.state.settings.feed_keepalive

    async def send_snapshot() -> None:
        queue = await run_in_threadpool(police_service.police_queue, unit_of_work(websocket))
        snapshot = await run_in_threadpool(_with_stills, websocket, queue)
        await websocket.send_text(
            feed_text({"type": "snapshot", "incidents": snapshot, "keepalive_seconds": keepalive})
        )

    async def frame(topic: str, message: dict[str, Any]) -> dict[str, Any] | None:
        return await _frame(websocket, topic, message)

    topics = [Topic.POLICE, Topic.INCIDENTS]
    async with app.state.broker.subscribe(topics) as subscription:
        await send_snapshot()
        # Closed with 4401 once the session ends (docs/security.md).
        receiver = asyncio.create_task(drain_while_signed_in(websocket, token, _drain))
        await relay(
            websocket, subscription, receiver, frame, send_snapshot, keepalive, batched(websocket)
        )


async def _frame(
    websocket: WebSocket, topic: str, message: dict[str, Any]
) -> dict[str, Any] | None:
    if topic == Topic.POLICE:
        [incident] = await run_in_threadpool(_with_stills, websocket, [message])
        return {"type": "incident", "incident": incident}
    if topic != Topic.INCIDENTS:
        return None
    if message.get("state") == "closed":
        return {"type": "closed", "id": message.get("id")}
    if message.get("state") != "escalated":
        return None
    try:  # a note or other change to an escalated incident: send what the police see of it
        seen = await run_in_threadpool(
            police_service.police_incident, unit_of_work(websocket), int(message["id"])
        )
    except NotFound:
        return None
    [incident] = await run_in_threadpool(_with_stills, websocket, [seen])
    return {"type": "incident", "incident": incident}


def _with_stills(
    request: Request | WebSocket, views: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The police's incidents, each with its latest camera still (facts and URL) or None."""
    uow = unit_of_work(request)
    with uow:
        latest = still_service.latest_stills(uow, [int(v["id"]) for v in views])
    return [{**v, "latest_still": latest.get(int(v["id"]))} for v in views]


async def _drain(websocket: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            if (await websocket.receive())["type"] == "websocket.disconnect":
                return
