"""Plain-dict views of domain objects for the console, the API and real-time messages.

Each builder (`incident_view` …) has a Pydantic model beside it (`IncidentView` …) that says
what the dict holds: the API's routes declare it as their `response_model`, so /openapi.json
describes the answer, while the builders stay plain dicts for the alarm path's real-time
messages (no validation cost per message). A builder whose view is also a message returns that
message's TypedDict (helppoint/topics.py), so mypy checks the dict it builds.
tests/unit/test_views.py keeps each builder's keys and its model's fields the same, and
tests/unit/test_topics.py each message shape's keys and its model's fields.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from helppoint.domain.events import DeviceEvent, EventType, Priority
from helppoint.domain.model import AuditEntry, HelpPoint, Incident, IncidentNote, IncidentState
from helppoint.domain.notifications import Notification, NotificationStatus
from helppoint.domain.plans import ActionKind, Channel
from helppoint.store.repositories import UnitPlace
from helppoint.store.repositories_incidents import IncidentRecord
from helppoint.topics import IncidentMessage, NoteMessage, NotificationMessage


def iso(value: datetime | None) -> str | None:
    """ISO 8601 with an explicit UTC offset, or None."""
    return value.isoformat() if value is not None else None


class UnitView(BaseModel):
    """A help point unit (services/views.unit_view)."""

    id: str
    name: str
    zone_id: str
    latitude: float
    longitude: float
    description: str
    firmware: str
    capabilities: list[str]
    #: When the server last heard from the unit; null: never.
    last_seen_at: str | None
    #: False: removed from service (its link is refused).
    active: bool


class LinkedUnitView(UnitView):
    """A unit with whether its device link is up now."""

    connected: bool


def unit_view(unit: HelpPoint) -> dict[str, Any]:
    return {
        "id": unit.id,
        "name": unit.name,
        "zone_id": unit.zone_id,
        "latitude": unit.latitude,
        "longitude": unit.longitude,
        "description": unit.description,
        "firmware": unit.firmware,
        "capabilities": list(unit.capabilities or []),
        "last_seen_at": iso(unit.last_seen_at),
        "active": unit.active,
    }


class Suggestion(BaseModel):
    """A classification a triage rule suggested (docs/triage.md): never a decision."""

    classification: str
    label: str
    #: The rule that suggested it.
    rule: str | None


class IncidentView(BaseModel):
    """An incident as the queue, the history and the consoles' live feed show it
    (services/views.incident_view). Times are ISO 8601 with a UTC offset; null: not yet."""

    id: int
    #: The reference operators quote (INC-…).
    ref: str
    unit_id: str
    #: The unit's name (its id if the unit is gone).
    unit_name: str
    zone_id: str | None
    latitude: float | None
    longitude: float | None
    #: 1 (most urgent) to 3.
    priority: int
    #: The priority's name.
    kind: Literal["activation", "tamper", "fault"]
    state: IncidentState
    opened_at: str
    last_event_at: str
    #: Presses and events joined to it.
    event_count: int
    acknowledged_at: str | None
    #: The unit's own time of the opening press, and when the server stored it (docs/sla.md).
    pressed_at: str | None
    stored_at: str | None
    acknowledged_by: str | None
    #: Who works on it now: who acknowledged it, until a supervisor moved it.
    held_by: str | None
    call_started_at: str | None
    assessed_at: str | None
    #: The classification code (GET /api/classifications) and its label.
    classification: str | None
    classification_label: str | None
    escalated_at: str | None
    closed_at: str | None
    closed_by: str | None
    outcome: str
    #: What the server heard at press time: "voice", "silent", "noisy"; null: not known.
    voice: str | None
    #: Loudness of the press-time audio, 0..1; null: not known.
    voice_level: float | None
    #: Opened while its unit was on test (docs/triage.md): shown, not an alarm.
    on_test: bool
    #: What triage marked it with ("chattering", a rule's mark).
    mark: str | None
    suggestion: Suggestion | None


def incident_view(incident: Incident | IncidentRecord, unit: HelpPoint | None) -> IncidentMessage:
    if unit is None:
        return incident_view_at(incident, incident.unit_id, None, None, None)
    return incident_view_at(incident, unit.name, unit.zone_id, unit.latitude, unit.longitude)


def incident_view_placed(
    incident: Incident | IncidentRecord, place: UnitPlace | None
) -> IncidentMessage:
    """incident_view with the unit's place as the event writer reads it (None: no such unit)."""
    if place is None:
        return incident_view(incident, None)
    return incident_view_at(incident, place.name, place.zone_id, place.latitude, place.longitude)


def incident_view_at(
    incident: Incident | IncidentRecord,
    unit_name: str,
    zone_id: str | None,
    latitude: float | None,
    longitude: float | None,
) -> IncidentMessage:
    """incident_view with the unit's name and place given (the event writer has them)."""
    classification = incident.classification
    return {
        "id": incident.id,
        "ref": incident.ref,
        "unit_id": incident.unit_id,
        "unit_name": unit_name,
        "zone_id": zone_id,
        "latitude": latitude,
        "longitude": longitude,
        "priority": int(incident.priority),
        "kind": _KINDS[incident.priority],
        "state": incident.state.value,
        "opened_at": iso(incident.opened_at),
        "last_event_at": iso(incident.last_event_at),
        "event_count": incident.event_count,
        "acknowledged_at": iso(incident.acknowledged_at),
        # The unit's own time of the press and when the server stored it (docs/sla.md).
        "pressed_at": iso(incident.pressed_at),
        "stored_at": iso(incident.stored_at),
        "acknowledged_by": incident.acknowledged_by,
        "held_by": incident.held_by,
        "call_started_at": iso(incident.call_started_at),
        "assessed_at": iso(incident.assessed_at),
        "classification": classification.value if classification else None,
        "classification_label": classification.label if classification else None,
        "escalated_at": iso(incident.escalated_at),
        "closed_at": iso(incident.closed_at),
        "closed_by": incident.closed_by,
        "outcome": incident.outcome,
        # Press-time evidence (docs/triage.md): "voice", "silent", "noisy" or None (not judged
        # yet, or no audio), and the sound's level 0-1.
        "voice": incident.voice.value if incident.voice is not None else None,
        "voice_level": incident.voice_level,
        # Opened while its unit was on test (docs/triage.md): shown, not an alarm.
        "on_test": incident.on_test,
        # What triage marked and suggested (docs/triage.md): never a decision.
        "mark": incident.mark,
        "suggestion": (
            {
                "classification": incident.suggested.value,
                "label": incident.suggested.label,
                "rule": incident.suggested_by,
            }
            if incident.suggested is not None
            else None
        ),
    }


#: Priority.label of each priority (a lookup: the enum's name property is slow to read, and
#: every incident message of an alarm flood reads it).
_KINDS = {priority: priority.label for priority in Priority}


class NoteView(BaseModel):
    """An operator's note on an incident."""

    id: int
    author: str
    text: str
    at: str


def note_view(note: IncidentNote) -> NoteMessage:
    return {"id": note.id, "author": note.author, "text": note.text, "at": iso(note.at)}


class EventView(BaseModel):
    """One event a unit reported (a press, a fault …), numbered by the unit."""

    seq: int
    type: EventType
    #: The unit's own clock, and when the server received it.
    unit_time: str
    received_at: str
    payload: dict[str, Any]


def event_view(event: DeviceEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "type": event.type.value,
        "unit_time": iso(event.unit_time),
        "received_at": iso(event.received_at),
        "payload": event.payload,
    }


class AuditView(BaseModel):
    """One entry of the audit trail: who did what, when, from where."""

    at: str
    actor: str
    action: str
    detail: dict[str, Any]
    address: str | None


class IncidentDetail(IncidentView):
    """An incident with its events, notes and timeline (its audit entries)."""

    events: list[EventView]
    notes: list[NoteView]
    timeline: list[AuditView]


def audit_view(entry: AuditEntry) -> dict[str, Any]:
    return {
        "at": iso(entry.at),
        "actor": entry.actor,
        "action": entry.action,
        "detail": entry.detail,
        "address": entry.address,
    }


class NotificationView(BaseModel):
    """One message to one recipient for an incident, with its delivery status."""

    id: int
    incident_id: int
    #: Who it informs, and its label.
    kind: ActionKind
    kind_label: str
    #: How it goes, and to whom.
    channel: Channel
    target: str
    message: str
    idempotency_key: str
    status: NotificationStatus
    attempts: int
    last_error: str
    created_at: str
    #: When it is tried next (pending only).
    next_attempt_at: str | None
    deadline_at: str | None
    delivered_at: str | None
    #: Not acknowledged by its deadline: the control room was alerted.
    overdue: bool


def notification_view(notification: Notification) -> NotificationMessage:
    """A notification with its delivery status, for the incident panel and the API."""
    return {
        "id": notification.id,
        "incident_id": notification.incident_id,
        "kind": notification.kind.value,
        "kind_label": notification.kind.label,
        "channel": notification.channel.value,
        "target": notification.target,
        "message": notification.message,
        "idempotency_key": notification.idempotency_key,
        "status": notification.status.value,
        "attempts": notification.attempts,
        "last_error": notification.last_error,
        "created_at": iso(notification.created_at),
        "next_attempt_at": iso(notification.next_attempt_at)
        if notification.status is NotificationStatus.PENDING
        else None,
        "deadline_at": iso(notification.deadline_at),
        "delivered_at": iso(notification.delivered_at),
        "overdue": notification.overdue_alerted_at is not None,
    }
