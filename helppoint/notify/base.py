"""What every channel shares: the incident as sent, and the errors a delivery can end in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from helppoint.domain.notifications import Notification


class DeliveryFailed(Exception):
    """A delivery attempt did not succeed. `retry` says whether trying again may help."""

    def __init__(self, message: str, retry: bool = True) -> None:
        super().__init__(message)
        self.retry = retry


@dataclass(frozen=True)
class IncidentFacts:
    """What a notification tells the recipient about the incident."""

    ref: str
    incident_id: int
    unit_id: str
    unit_name: str
    zone: str
    latitude: float
    longitude: float
    classification: str
    classification_label: str
    opened_at: datetime
    operator: str
    police_urn: str
    state: str
    #: Test activity (a unit on test or being commissioned, domain/triage.py is_test): every
    #: channel says so, so that no one acts on it.
    test: bool = False


class Notifier(Protocol):
    """A channel: deliver one notification, or raise DeliveryFailed."""

    async def notify(self, notification: Notification, incident: IncidentFacts) -> None: ...
