"""Plain-dict views of domain objects for the console, the API and real-time messages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from helppoint.domain.events import DeviceEvent, Priority
from helppoint.domain.model import AuditEntry, HelpPoint, Incident, IncidentNote
from helppoint.domain.notifications import Notification, NotificationStatus
from helppoint.store.repositories import UnitPlace
from helppoint.store.repositories_incidents import IncidentRecord


def iso(value: datetime | None) -> str | None:
    """ISO 8601 with an explicit UTC offset, or None."""
    return value.isoformat() if value is not None else None


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


def incident_view(incident: Incident | IncidentRecord, unit: HelpPoint | None) -> dict[str, Any]:
    if unit is None:
        return incident_view_at(incident, incident.unit_id, None, None, None)
    return incident_view_at(incident, unit.name, unit.zone_id, unit.latitude, unit.longitude)


def incident_view_placed(
    incident: Incident | IncidentRecord, place: UnitPlace | None
) -> dict[str, Any]:
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
) -> dict[str, Any]:
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


def note_view(note: IncidentNote) -> dict[str, Any]:
    return {"id": note.id, "author": note.author, "text": note.text, "at": iso(note.at)}


def event_view(event: DeviceEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "type": event.type.value,
        "unit_time": iso(event.unit_time),
        "received_at": iso(event.received_at),
        "payload": event.payload,
    }


def audit_view(entry: AuditEntry) -> dict[str, Any]:
    return {
        "at": iso(entry.at),
        "actor": entry.actor,
        "action": entry.action,
        "detail": entry.detail,
        "address": entry.address,
    }


def notification_view(notification: Notification) -> dict[str, Any]:
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
