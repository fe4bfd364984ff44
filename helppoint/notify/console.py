"""The supervisor's console as a channel: a real-time alert to every console."""

from __future__ import annotations

from helppoint.domain.notifications import Notification
from helppoint.notify.base import IncidentFacts
from helppoint.topics import Publish, Topic


class ConsoleNotifier:
    """Publishes the notification to the consoles; supervisors see it as an alert."""

    def __init__(self, publish: Publish) -> None:
        self.publish = publish

    async def notify(self, notification: Notification, incident: IncidentFacts) -> None:
        self.publish(
            Topic.SUPERVISOR_ALERT,
            {
                "kind": "plan_action",
                "incident_id": incident.incident_id,
                "ref": incident.ref,
                "message": notification.message,
                "idempotency_key": notification.idempotency_key,
            },
        )
