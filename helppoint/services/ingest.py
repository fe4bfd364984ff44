"""handle_device_events: store what units report, exactly once, and open or join incidents."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from helppoint.domain.events import DeviceEvent, EventType, event_digest, incident_priority
from helppoint.domain.model import AuditEntry, Incident
from helppoint.services.views import incident_view
from helppoint.store.uow import UnitOfWork

INCIDENTS_TOPIC = "incidents"


class Outcome(enum.StrEnum):
    """What became of one reported event."""

    STORED = "stored"
    DUPLICATE = "duplicate"  # the same event was stored before: acknowledge it again
    CONFLICT = "conflict"  # a different event already has this sequence number
    REGRESSED = "regressed"  # older than what the unit already reported, and never stored


@dataclass(frozen=True)
class ReportedEvent:
    """One event as a unit reported it, already checked for shape."""

    unit_id: str
    seq: int
    type: EventType
    unit_time: datetime
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return event_digest(self.type.value, self.unit_time.isoformat(), self.payload)


@dataclass(frozen=True)
class IngestResult:
    """The outcome for one event, with the server's highest stored seq for its unit."""

    unit_id: str
    seq: int
    outcome: Outcome
    last_seq: int
    incident_id: int | None = None


def handle_device_events(
    uow: UnitOfWork,
    reported: Sequence[ReportedEvent],
    received_at: datetime,
    join_window: timedelta,
) -> list[IngestResult]:
    """Store a batch of events in the caller's transaction; the caller commits, then acks.

    Events of one unit must come in the order the unit sent them. A resend of a stored event
    is a duplicate (acknowledged, changes nothing); a different event under a stored sequence
    number, or one below the unit's highest stored number, is refused and changes nothing.
    """
    last_seqs: dict[str, int] = {}
    results: list[IngestResult] = []
    touched: dict[int, Incident] = {}
    for item in reported:
        if item.unit_id not in last_seqs:
            last_seqs[item.unit_id] = uow.events.last_seq(item.unit_id)
        last_seq = last_seqs[item.unit_id]
        if item.seq <= last_seq:
            existing = uow.events.find(item.unit_id, item.seq)
            if existing is None:
                outcome = Outcome.REGRESSED
            elif existing.digest == item.digest:
                outcome = Outcome.DUPLICATE
            else:
                outcome = Outcome.CONFLICT
            incident_id = existing.incident_id if existing is not None else None
            results.append(IngestResult(item.unit_id, item.seq, outcome, last_seq, incident_id))
            continue
        event = DeviceEvent(
            unit_id=item.unit_id,
            seq=item.seq,
            type=item.type,
            unit_time=item.unit_time,
            received_at=received_at,
            payload=item.payload,
            digest=item.digest,
        )
        incident = _open_or_join(uow, event, join_window)
        if incident is not None:
            touched[id(incident)] = incident
        uow.events.add(event)
        last_seqs[item.unit_id] = item.seq
        results.append(
            IngestResult(item.unit_id, item.seq, Outcome.STORED, item.seq, event.incident_id)
        )
    uow.units.touch(list(last_seqs), received_at)
    uow.flush()
    for incident in touched.values():
        uow.publish_after_commit(
            INCIDENTS_TOPIC, incident_view(incident, uow.units.get(incident.unit_id))
        )
    return results


def _open_or_join(uow: UnitOfWork, event: DeviceEvent, window: timedelta) -> Incident | None:
    priority = incident_priority(event.type, event.payload)
    if priority is None:
        return None
    # Use the server's receive time: unit clocks drift, and the queue is about when we knew.
    at = event.received_at
    incident = uow.incidents.latest_open(event.unit_id, priority)
    if incident is not None and incident.joins(priority, at, window):
        incident.add_event(at)
        action = "incident.event_joined"
    else:
        incident = Incident(
            unit_id=event.unit_id, priority=priority, opened_at=at, last_event_at=at
        )
        uow.incidents.add(incident)
        action = "incident.opened"
    uow.flush()
    event.incident_id = incident.id
    uow.audit.add(
        AuditEntry(
            at=at,
            actor=f"unit:{event.unit_id}",
            action=action,
            incident_id=incident.id,
            detail={"seq": event.seq, "type": event.type.value},
        )
    )
    return incident
