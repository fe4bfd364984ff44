"""What a unit reports: DeviceEvent kinds and their alarm priority."""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from helppoint.domain.canonical_json import canonical_json, canonical_json_of_strings


class EventType(enum.StrEnum):
    """Kinds of DeviceEvent a unit can report."""

    ACTIVATION = "activation"
    HEARTBEAT = "heartbeat"
    TAMPER = "tamper"
    FAULT = "fault"
    SELF_TEST = "self_test"


class Priority(enum.IntEnum):
    """Alarm priority: a lower number is more urgent (activation above tamper above fault)."""

    ACTIVATION = 1
    TAMPER = 2
    FAULT = 3

    @property
    def label(self) -> str:
        """Name shown in the console."""
        return self.name.lower()


def incident_priority(
    event_type: EventType, payload: dict[str, Any] | None = None
) -> Priority | None:
    """The priority of the incident an event opens, or None if it opens none.

    A self-test that failed counts as a fault; heartbeats and passing self-tests open nothing.
    A tamper or fault the scheme handles as supervision only (payload `"handling":
    "supervision"`, set by the DC-09 receiver from the admin's choice for the code's category)
    raises its maintenance ticket but opens no incident; an activation always opens one.
    """
    if event_type is EventType.ACTIVATION:
        return Priority.ACTIVATION
    if event_type is EventType.TAMPER:
        return None if _supervision_only(payload) else Priority.TAMPER
    if event_type is EventType.FAULT:
        return None if _supervision_only(payload) else Priority.FAULT
    if event_type is EventType.SELF_TEST and payload is not None and payload.get("passed") is False:
        return Priority.FAULT
    return None


#: The payload value that makes a tamper or fault supervision only (see incident_priority).
SUPERVISION_ONLY = "supervision"


def _supervision_only(payload: dict[str, Any] | None) -> bool:
    return payload is not None and payload.get("handling") == SUPERVISION_ONLY


def event_digest(event_type: str, unit_time: str, payload: dict[str, Any]) -> str:
    """A stable fingerprint of an event's content, to tell a resend from a different event."""
    canonical = canonical_json({"type": event_type, "time": unit_time, "payload": payload})
    return hashlib.sha256(canonical.encode()).hexdigest()


def string_event_digest(event_type: str, unit_time: str, payload: dict[str, Any]) -> str:
    """`event_digest` of a payload that holds only strings, booleans and dicts of them (a
    DC-09 event's): the same digest, without checking every value for orjson first."""
    canonical = canonical_json_of_strings(
        {"type": event_type, "time": unit_time, "payload": payload}
    )
    if canonical is None:
        return event_digest(event_type, unit_time, payload)
    return hashlib.sha256(canonical).hexdigest()


@dataclass(eq=False)
class DeviceEvent:
    """One event reported by a unit, numbered by the unit's own sequence."""

    unit_id: str
    seq: int
    type: EventType
    unit_time: datetime
    received_at: datetime
    payload: dict[str, Any] = field(default_factory=dict)
    digest: str = ""
    incident_id: int | None = None
    id: int | None = None
