"""GET /api/notifications/trouble: the supervisors' panel of notifications in trouble."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from helppoint.domain.model import Operator, Permission
from helppoint.services.clock import utcnow
from helppoint.services.notification_trouble import notifications_in_trouble
from helppoint.web.deps import require

router = APIRouter(tags=["notifications"])
Supervisor = Annotated[Operator, Depends(require(Permission.SUPERVISE))]


class TroubleView(BaseModel):
    """A notification that is retrying, overdue or given up."""

    id: int
    incident_id: int
    incident_ref: str
    unit_id: str
    incident_open: bool
    state: str
    kind: str
    channel: str
    target: str
    attempts: int
    last_error: str
    #: When it was written: it has been failing since its first attempt after that.
    since: datetime
    next_attempt_at: datetime | None
    deadline_at: datetime | None


@router.get("/api/notifications/trouble", response_model=list[TroubleView])
def trouble(request: Request, supervisor: Supervisor) -> list[TroubleView]:
    """Notifications retrying, overdue or given up (24 h), newest first."""
    found = notifications_in_trouble(request.app.state.uow_factory(), utcnow())
    return [
        TroubleView(
            id=t.notification.id or 0,
            incident_id=t.notification.incident_id,
            incident_ref=t.incident_ref,
            unit_id=t.unit_id,
            incident_open=t.incident_open,
            state=t.state,
            kind=t.notification.kind.label,
            channel=t.notification.channel.value,
            target=t.notification.target,
            attempts=t.notification.attempts,
            last_error=t.notification.last_error,
            since=t.notification.created_at,
            next_attempt_at=t.notification.next_attempt_at if t.state == "retrying" else None,
            deadline_at=t.notification.deadline_at,
        )
        for t in found
    ]
