"""handle_device_events: store what units report, exactly once, and open or join incidents."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from helppoint.domain.events import (
    DeviceEvent,
    EventType,
    Priority,
    event_digest,
    incident_priority,
)
from helppoint.domain.model import AuditEntry, Incident
from helppoint.services.maintenance import record_event_faults
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
    A batch costs a fixed handful of queries, however many events it holds.
    """
    if not reported:
        return []
    unit_ids = list(dict.fromkeys(item.unit_id for item in reported))
    with uow.session.no_autoflush:
        last_seqs = uow.events.last_seqs(unit_ids)
        uow.units.load(unit_ids)  # one query, instead of one per incident view below
        open_incidents: dict[tuple[str, Priority], Incident] = {}
        # Ordered by last activity, so the latest open incident of each kind wins.
        for existing in uow.incidents.open_for_units(unit_ids):
            open_incidents[(existing.unit_id, existing.priority)] = existing
        results: list[IngestResult | None] = []
        stored: list[tuple[int, DeviceEvent, Incident | None, str]] = []
        touched: dict[int, Incident] = {}
        for item in reported:
            last_seq = last_seqs[item.unit_id]
            if item.seq <= last_seq:
                results.append(_refused(uow, item, last_seq))
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
            incident, action = _open_or_join(uow, event, open_incidents, join_window)
            if incident is not None:
                touched[id(incident)] = incident
            stored.append((len(results), event, incident, action))
            results.append(None)
            last_seqs[item.unit_id] = item.seq
        # One flush gives every new incident its id; then the events and audit entries follow.
        uow.flush()
        for index, event, joined, action in stored:
            if joined is not None:
                event.incident_id = joined.id
                uow.audit.add(
                    AuditEntry(
                        at=received_at,
                        actor=f"unit:{event.unit_id}",
                        action=action,
                        incident_id=joined.id,
                        detail={"seq": event.seq, "type": event.type.value},
                    )
                )
            uow.events.add(event)
            results[index] = IngestResult(
                event.unit_id,
                event.seq,
                Outcome.STORED,
                last_seqs[event.unit_id],
                event.incident_id,
            )
        uow.units.touch(unit_ids, received_at)
        record_event_faults(uow, [event for _, event, _, _ in stored])
        uow.flush()
    for incident in touched.values():
        uow.publish_after_commit(
            INCIDENTS_TOPIC, incident_view(incident, uow.units.get(incident.unit_id))
        )
    return [r for r in results if r is not None]


def _refused(uow: UnitOfWork, item: ReportedEvent, last_seq: int) -> IngestResult:
    existing = uow.events.find(item.unit_id, item.seq)
    if existing is None:
        outcome = Outcome.REGRESSED
    elif existing.digest == item.digest:
        outcome = Outcome.DUPLICATE
    else:
        outcome = Outcome.CONFLICT
    incident_id = existing.incident_id if existing is not None else None
    return IngestResult(item.unit_id, item.seq, outcome, last_seq, incident_id)


def _open_or_join(
    uow: UnitOfWork,
    event: DeviceEvent,
    open_incidents: dict[tuple[str, Priority], Incident],
    window: timedelta,
) -> tuple[Incident | None, str]:
    priority = incident_priority(event.type, event.payload)
    if priority is None:
        return None, ""
    # Use the server's receive time: unit clocks drift, and the queue is about when we knew.
    at = event.received_at
    incident = open_incidents.get((event.unit_id, priority))
    if incident is not None and incident.joins(priority, at, window):
        incident.add_event(at)
        return incident, "incident.event_joined"
    incident = Incident(unit_id=event.unit_id, priority=priority, opened_at=at, last_event_at=at)
    uow.incidents.add(incident)
    open_incidents[(event.unit_id, priority)] = incident
    return incident, "incident.opened"
