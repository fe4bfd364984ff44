"""Notifications in trouble, for the supervisors' persistent panel: retrying, overdue, or given
up, so that no failed notification goes unseen (issue #24)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from helppoint.domain.notifications import Notification, NotificationStatus
from helppoint.store.uow import UnitOfWork

#: Given-up notifications stay on the panel this long (open incidents' stay until closed).
KEEP_FAILED = timedelta(hours=24)
#: At most this many are listed (the most recent first).
LIMIT = 50


@dataclass(frozen=True)
class Trouble:
    """One notification in trouble and what is wrong with it."""

    notification: Notification
    incident_ref: str
    unit_id: str
    incident_open: bool
    #: "retrying", "overdue" or "given up".
    state: str


def state_of(notification: Notification, now: datetime) -> str:
    """What the panel says of a notification that is not simply on its way."""
    if notification.status is NotificationStatus.FAILED:
        return "given up"
    if notification.overdue(now):
        return "overdue"
    return "retrying"


def notifications_in_trouble(uow: UnitOfWork, now: datetime) -> list[Trouble]:
    """Pending ones that failed at least once or passed their deadline, and those given up
    within KEEP_FAILED (or whose incident is still open); newest first."""
    with uow:
        found = uow.notifications.in_trouble(now, KEEP_FAILED, LIMIT)
        incidents = {i: uow.incidents.get(i) for i in {x.incident_id for x in found}}
        troubles = []
        for item in found:
            incident = incidents[item.incident_id]
            troubles.append(
                Trouble(
                    item,
                    incident.ref if incident is not None else "?",
                    incident.unit_id if incident is not None else "",
                    incident is not None and incident.is_open,
                    state_of(item, now),
                )
            )
        return troubles
