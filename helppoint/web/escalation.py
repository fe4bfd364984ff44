"""Escalating an incident under its trigger plan, and its notifications' delivery status."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from helppoint.services import notifications as notification_service
from helppoint.services.views import IncidentView, NotificationView
from helppoint.topics import NotificationMessage
from helppoint.web.deps import Handler, HistoryReader, client_address

router = APIRouter(prefix="/api", tags=["escalation"])


class Escalated(IncidentView):
    """The escalated incident, with the notifications its plan queued."""

    notifications: list[NotificationView]


@router.post("/incidents/{incident_id}/escalate", response_model=Escalated)
def escalate(incident_id: int, request: Request, operator: Handler) -> dict[str, Any]:
    """Escalate a classified incident: the trigger plan's automatic actions for its
    classification are queued in the outbox in the same transaction, and delivered by the
    outbox worker. 409 if not classified or already escalated; 400 without a plan."""
    return notification_service.escalate(
        request.app.state.uow_factory(), incident_id, operator.username, client_address(request)
    )


@router.get("/incidents/{incident_id}/notifications", response_model=list[NotificationView])
def notifications(
    incident_id: int, request: Request, reader: HistoryReader
) -> list[NotificationMessage]:
    """The incident's notifications with their delivery status."""
    return notification_service.notifications_for(request.app.state.uow_factory(), incident_id)
