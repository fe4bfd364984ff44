"""handle_device_events: store what units report, exactly once, and open or join incidents."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, update
from sqlalchemy import inspect as inspect_object
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from helppoint.domain.audit import NewAuditEntry
from helppoint.domain.events import (
    EventType,
    Priority,
    event_digest,
    incident_priority,
)
from helppoint.domain.model import Incident
from helppoint.services.maintenance import record_event_faults
from helppoint.services.selftest import record_results
from helppoint.services.views import incident_view
from helppoint.store import tables as t
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


@dataclass(slots=True)
class StoredEvent:
    """An event being stored: a plain record, cheaper than a mapped DeviceEvent per event."""

    unit_id: str
    seq: int
    type: EventType
    unit_time: datetime
    received_at: datetime
    payload: dict[str, Any]
    digest: str
    incident_id: int | None = None


@dataclass(frozen=True)
class IngestResult:
    """The outcome for one event, with the server's highest stored seq for its unit."""

    unit_id: str
    seq: int
    outcome: Outcome
    last_seq: int
    incident_id: int | None = None


# The batch's statements, built once (building and keying one costs about as much as running
# a small one).
_INSERT_EVENTS = insert(t.device_events)
_JOIN_INCIDENTS = (
    update(t.incidents)
    .where(t.incidents.c.id == bindparam("b_id"), t.incidents.c.version == bindparam("b_version"))
    .values(
        event_count=bindparam("b_count"),
        last_event_at=bindparam("b_last"),
        version=bindparam("b_new_version"),
    )
)


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
        # What the consoles' incident views show of each unit, and its highest stored seq.
        places, last_seqs = uow.units.places_and_last_seqs(unit_ids)
        open_incidents: dict[tuple[str, Priority], Incident] = {}
        # Only units with an event that opens or joins an incident need theirs (a batch of
        # heartbeats, restorals or passed self-tests loads none).
        alarmed = list(
            dict.fromkeys(
                item.unit_id
                for item in reported
                if incident_priority(item.type, item.payload) is not None
            )
        )
        # Ordered by last activity, so the latest open incident of each kind wins.
        for existing in uow.incidents.open_for_units(alarmed) if alarmed else ():
            open_incidents[(existing.unit_id, existing.priority)] = existing
        results: list[IngestResult | None] = []
        stored: list[tuple[int, StoredEvent, Incident | None, str]] = []
        touched: dict[int, Incident] = {}
        for item in reported:
            last_seq = last_seqs[item.unit_id]
            if item.seq <= last_seq:
                results.append(_refused(uow, item, last_seq))
                continue
            event = StoredEvent(
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
        _write_joins(uow, [i for i in touched.values() if i.id is not None])
        # One flush gives every new incident its id; then the events and audit entries follow.
        uow.flush()
        rows: list[dict[str, Any]] = []
        for index, event, joined, action in stored:
            if joined is not None:
                event.incident_id = joined.id
                uow.audit.add(
                    NewAuditEntry(
                        at=received_at,
                        actor=f"unit:{event.unit_id}",
                        action=action,
                        incident_id=joined.id,
                        detail={"seq": event.seq, "type": event.type.value},
                    )
                )
            rows.append(
                {
                    "unit_id": event.unit_id,
                    "seq": event.seq,
                    "type": event.type,
                    "unit_time": event.unit_time,
                    "received_at": event.received_at,
                    "payload": event.payload,
                    "digest": event.digest,
                    "incident_id": event.incident_id,
                }
            )
            results[index] = IngestResult(
                event.unit_id,
                event.seq,
                Outcome.STORED,
                last_seqs[event.unit_id],
                event.incident_id,
            )
        if rows:
            # One multi-row INSERT: the events' own ids are never needed here, and the ORM
            # would insert them one by one on SQLite (RETURNING in order).
            uow.session.execute(_INSERT_EVENTS, rows)
        uow.units.touch(unit_ids, received_at)
        record_event_faults(uow, [event for _, event, _, _ in stored])
        record_results(uow, [event for _, event, _, _ in stored])
        uow.flush()
    for incident in touched.values():
        view = incident_view(incident, None) | places.get(incident.unit_id, {})
        uow.publish_after_commit(INCIDENTS_TOPIC, view)
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


def _write_joins(uow: UnitOfWork, incidents: list[Incident]) -> None:
    """Store the new event counts of stored incidents that events joined, in one statement.

    The same optimistic version check as the ORM's (`WHERE version = old`), but one
    multi-row UPDATE for the batch instead of one per incident; the objects are then told
    these values are stored, so the flush writes nothing more for them.
    """
    if not incidents:
        return
    params = []
    for incident in incidents:
        version = int(inspect_object(incident).dict["_version"])  # as loaded: never changed here
        params.append(
            {
                "b_id": incident.id,
                "b_version": version,
                "b_new_version": version + 1,
                "b_count": incident.event_count,
                "b_last": incident.last_event_at,
            }
        )
    result = uow.session.execute(_JOIN_INCIDENTS, params)
    if result.rowcount != len(params):  # type: ignore[attr-defined]
        raise StaleDataError(
            "an incident changed while events were joined to it; the batch is not stored"
        )
    for incident, values in zip(incidents, params, strict=True):
        set_committed_value(incident, "event_count", values["b_count"])
        set_committed_value(incident, "last_event_at", values["b_last"])
        set_committed_value(incident, "_version", values["b_new_version"])
        # Stored: nothing for the flush to look at (the object stays readable for its view).
        uow.session.expunge(incident)


def _open_or_join(
    uow: UnitOfWork,
    event: StoredEvent,
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
