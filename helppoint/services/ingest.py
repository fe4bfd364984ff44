"""handle_device_events: store what units report, exactly once, and open or join incidents."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, overload

from helppoint.domain.audit import EVENT_JOINED, INCIDENT_OPENED, NewAuditEntry
from helppoint.domain.events import (
    EventType,
    Priority,
    event_digest,
    incident_priority,
    string_event_digest,
)
from helppoint.domain.model import Incident
from helppoint.domain.triage import is_test
from helppoint.services.clock import utcnow
from helppoint.services.known_units import KnownUnits
from helppoint.services.maintenance import record_event_faults, record_fault
from helppoint.services.selftest import record_results
from helppoint.services.views import incident_view, incident_view_placed
from helppoint.store.repositories_incidents import IncidentRecord
from helppoint.store.uow import UnitOfWork
from helppoint.topics import Topic

if TYPE_CHECKING:
    from helppoint.services.join_updates import JoinUpdates
    from helppoint.services.unit_touches import UnitTouches

#: The payload field in which the server notes what it repaired in an event it stored
#: (gateway/frame_text.py; docs/device-protocol.md): a list of sentences.
REPAIRS_FIELD = "server_repairs"
#: The maintenance faults of a unit that sends events the server had to repair or refuse.
FAULT_EVENT_REPAIRED = "event_repaired"
FAULT_EVENT_REFUSED = "event_refused"


class Outcome(enum.StrEnum):
    """What became of one reported event."""

    STORED = "stored"
    DUPLICATE = "duplicate"  # the same event was stored before: acknowledge it again
    CONFLICT = "conflict"  # a different event already has this sequence number
    REGRESSED = "regressed"  # older than what the unit already reported, and never stored
    #: Not stored, while the other events of its batch were (gateway/batch_commit.py): the
    #: ingest queue answers it as unavailable, and the unit resends it.
    NOT_STORED = "not_stored"


class _Digest:
    """`ReportedEvent.digest`: worked out on first use and then kept in the event's __dict__
    (which hides this descriptor from then on). functools.cached_property does the same, but
    on Python 3.11 takes a lock for it: a few microseconds of every event's way to the writer.
    """

    @overload
    def __get__(self, event: None, owner: type[Any]) -> _Digest: ...

    @overload
    def __get__(self, event: ReportedEvent, owner: type[Any]) -> str: ...

    def __get__(self, event: ReportedEvent | None, owner: type[Any]) -> _Digest | str:
        if event is None:
            return self
        digest = event_digest(event.type.value, event.unit_time.isoformat(), event.payload)
        event.__dict__["digest"] = digest
        return digest


@dataclass(frozen=True)
class ReportedEvent:
    """One event as a unit reported it, already checked for shape."""

    unit_id: str
    seq: int
    type: EventType
    unit_time: datetime
    payload: dict[str, Any] = field(default_factory=dict)

    #: A stable fingerprint of the event's content (domain.events.event_digest).
    digest = _Digest()

    @classmethod
    def of_strings(
        cls,
        unit_id: str,
        seq: int,
        kind: EventType,
        unit_time: datetime,
        payload: dict[str, Any],
    ) -> ReportedEvent:
        """The same as the constructor, for a payload of only strings, booleans and dicts of
        them (a DC-09 event's, one per message): its digest is worked out now, the faster
        way (domain.events.string_event_digest), and the fields are set at once (a frozen
        dataclass's __init__ sets each through object.__setattr__)."""
        event = object.__new__(cls)
        event.__dict__.update(
            unit_id=unit_id,
            seq=seq,
            type=kind,
            unit_time=unit_time,
            payload=payload,
            digest=string_event_digest(kind.value, unit_time.isoformat(), payload),
        )
        return event

    @classmethod
    def repaired(
        cls,
        unit_id: str,
        seq: int,
        kind: EventType,
        unit_time: datetime,
        payload: dict[str, Any],
        digest: str,
    ) -> ReportedEvent:
        """An event the server repaired to store it, with the digest of what the unit sent
        (so a resend of it is a duplicate, whatever the repair notes say)."""
        event = cls(unit_id, seq, kind, unit_time, payload)
        event.__dict__["digest"] = digest
        return event

    def __reduce__(self) -> tuple[Any, ...]:
        # Every event is pickled to the writer process: as plain values, with its digest
        # (so the serving process computes it, not the writer), it costs a fraction of a
        # dataclass holding an enum and an aware datetime.
        at: datetime | int = self.unit_time
        if self.unit_time.tzinfo is UTC:  # (another offset is part of the event: kept as is)
            at = (self.unit_time - _EPOCH) // _MICROSECOND
        return (_event, (self.unit_id, self.seq, self.type.value, at, self.payload, self.digest))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_EVENT_TYPES = {kind.value: kind for kind in EventType}


#: A batch's events as columns (pack_events): unit ids, seqs, types, times (microseconds
#: since 1970 in UTC, else the datetime itself), payloads and digests.
PackedEvents = tuple[
    list[str], list[int], list[str], list[datetime | int], list[dict[str, Any]], list[str]
]


def pack_events(events: Sequence[ReportedEvent]) -> PackedEvents:
    """A batch's events as six lists of plain values, to pickle to the writer process.

    What `ReportedEvent.__reduce__` makes of each event, but one list per field rather than
    a call into Python and a tuple per event: a batch of alarms pickles in about half the time.
    """
    times: list[datetime | int] = [
        (e.unit_time - _EPOCH) // _MICROSECOND if e.unit_time.tzinfo is UTC else e.unit_time
        for e in events
    ]
    return (
        [e.unit_id for e in events],
        [e.seq for e in events],
        [e.type.value for e in events],
        times,
        [e.payload for e in events],
        [e.digest for e in events],
    )


def unpack_events(packed: PackedEvents) -> list[ReportedEvent]:
    """The events `pack_events` packed."""
    return [_event(*fields) for fields in zip(*packed, strict=True)]


def _event(
    unit_id: str,
    seq: int,
    kind: str,
    at: datetime | int,
    payload: dict[str, Any],
    digest: str,
) -> ReportedEvent:
    """A ReportedEvent from what `ReportedEvent.__reduce__` pickled."""
    event = object.__new__(ReportedEvent)
    event.__dict__.update(
        unit_id=unit_id,
        seq=seq,
        type=_EVENT_TYPES[kind],
        unit_time=at if isinstance(at, datetime) else _EPOCH + at * _MICROSECOND,
        payload=payload,
        digest=digest,
    )
    return event


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

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled back from the writer process for every event: plain values are cheaper.
        return (
            _result,
            (self.unit_id, self.seq, self.outcome.value, self.last_seq, self.incident_id),
        )


_OUTCOMES = {outcome.value: outcome for outcome in Outcome}


def _result(
    unit_id: str, seq: int, outcome: str, last_seq: int, incident_id: int | None
) -> IngestResult:
    """An IngestResult from what `IngestResult.__reduce__` pickled (the serving process makes
    one per event stored: its fields set at once, not one by one as a frozen dataclass's
    __init__ does)."""
    result = object.__new__(IngestResult)
    result.__dict__.update(
        unit_id=unit_id,
        seq=seq,
        outcome=_OUTCOMES[outcome],
        last_seq=last_seq,
        incident_id=incident_id,
    )
    return result


def handle_device_events(
    uow: UnitOfWork,
    reported: Sequence[ReportedEvent],
    received_at: datetime,
    join_window: timedelta,
    known: KnownUnits | None = None,
    updates: JoinUpdates | None = None,
    touches: UnitTouches | None = None,
) -> list[IngestResult]:
    """Store a batch of events in the caller's transaction; the caller commits, then acks.

    Events of one unit must come in the order the unit sent them. A resend of a stored event
    is a duplicate (acknowledged, changes nothing); a different event under a stored sequence
    number, or one below the unit's highest stored number, is refused and changes nothing.
    A batch costs a fixed handful of queries, however many events it holds. With `known`
    (the writer's KnownUnits, SQLite only), what earlier batches left is not read again; the
    caller then tells it when the transaction committed, and stores the batch again without
    it after a StaleDataError or IntegrityError (see known_units.py). With `updates` (the
    writers'), an incident that events joined is published only if its last update is old
    enough, else owed (see join_updates.py); the caller tells it when the transaction committed.
    With `touches` (the writers'), a unit's last-seen time is written only if this writer last
    wrote it long enough ago, else owed (see unit_touches.py); likewise told of the commit.
    """
    if not reported:
        return []
    unit_ids = list(dict.fromkeys(item.unit_id for item in reported))
    with uow.no_autoflush():
        # What the consoles' incident views show of each unit, its highest stored seq, and
        # its open incidents as plain records (see IncidentRecord), oldest activity first, so
        # the latest open incident of each kind wins. A unit without an alarm in the batch
        # never joins its incidents: they are loaded with the others, for one query less.
        open_incidents: dict[tuple[str, Priority], IncidentRecord] = {}
        records: Sequence[IncidentRecord] = ()
        if known is not None:
            places, last_seqs, records = known.lookup(uow, unit_ids)
        elif any(incident_priority(item.type, item.payload) is not None for item in reported):
            # Only a batch with an event that opens or joins an incident needs them (one of
            # heartbeats, restorals or passed self-tests loads none).
            places, last_seqs, records = uow.units.places_seqs_and_open_incidents(unit_ids)
        else:
            places, last_seqs = uow.units.places_and_last_seqs(unit_ids)
        for existing in records:
            open_incidents[(existing.unit_id, existing.priority)] = existing
        results: list[IngestResult | None] = []
        refused: list[tuple[int, ReportedEvent, int]] = []
        stored: list[tuple[int, StoredEvent, IncidentRecord | None, str]] = []
        touched: dict[int, IncidentRecord] = {}
        #: The incidents this batch opens (stored once the batch is laid out, see below).
        opened: dict[int, IncidentRecord] = {}
        repaired: list[StoredEvent] = []
        for item in reported:
            last_seq = last_seqs[item.unit_id]
            if item.seq <= last_seq:
                refused.append((len(results), item, last_seq))
                results.append(None)
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
            place = places.get(item.unit_id)
            test = is_test(place.on_test_until if place is not None else None, received_at)
            incident, action = _open_or_join(event, open_incidents, join_window, test)
            if incident is not None:
                touched[id(incident)] = incident
                if action == INCIDENT_OPENED:
                    opened[id(incident)] = incident
            if REPAIRS_FIELD in event.payload:
                repaired.append(event)
            stored.append((len(results), event, incident, action))
            results.append(None)
            last_seqs[item.unit_id] = item.seq
        # Told apart against what was stored before this batch, in one query for them all.
        found = uow.events.stored_digests([(item.unit_id, item.seq) for _, item, _ in refused])
        for index, item, last_seq in refused:
            results[index] = _refused(item, last_seq, found.get((item.unit_id, item.seq)))
        uow.incidents.store_joins([i for key, i in touched.items() if key not in opened])
        # When the batch's incidents are stored: the commit (and the units' acks) follow.
        stored_at = utcnow()
        for incident in opened.values():
            incident.stored_at = stored_at
        # Every new incident gets its id (with what the batch's later events added to it);
        # then the events and audit entries follow.
        uow.incidents.insert_new(list(opened.values()))
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
            results[index] = IngestResult(
                event.unit_id,
                event.seq,
                Outcome.STORED,
                last_seqs[event.unit_id],
                event.incident_id,
            )
        events = [event for _, event, _, _ in stored]
        # One statement: the ORM would insert them one by one on SQLite (RETURNING in order).
        uow.events.add_many(events)
        uow.units.touch(
            unit_ids if touches is None else touches.due(unit_ids, received_at), received_at
        )
        record_event_faults(uow, events)
        record_results(uow, events)
        for event in repaired:
            _record_repair(uow, event)
        uow.flush()
        if known is not None:
            known.remember(last_seqs, open_incidents)
    publish: list[IncidentRecord] = []
    for key, incident in touched.items():
        if updates is not None:
            if key in opened:
                updates.published(incident.id)
            elif not updates.publish_join(incident.id):
                continue  # updated moments ago: owed, published once the interval is over
        publish.append(incident)
    if known is not None:
        _refresh_evidence(uow, [i for i in publish if id(i) not in opened])
    for incident in publish:
        view = incident_view_placed(incident, places.get(incident.unit_id))
        uow.publish_after_commit(Topic.INCIDENTS, view)
    return [r for r in results if r is not None]


def _refresh_evidence(uow: UnitOfWork, records: list[IncidentRecord]) -> None:
    """Read what triage stored on joined incidents the writer knew from earlier batches (the
    voice judgement, marks, suggestions): triage writes without moving the version
    (services/triage.py), so what the writer holds may be older, and the consoles must not
    see a judgement go back."""
    if records:
        found = uow.incidents.evidence([record.id for record in records])
        for record in records:
            evidence = found.get(record.id)
            if evidence is not None:
                (
                    record.voice,
                    record.voice_level,
                    record.mark,
                    record.suggested,
                    record.suggested_by,
                ) = evidence


def _record_repair(uow: UnitOfWork, event: StoredEvent) -> None:
    """Show on the health board that the unit sent an event the server had to repair."""
    notes = event.payload.get(REPAIRS_FIELD)
    detail = "; ".join(str(note) for note in notes) if isinstance(notes, list) else str(notes)
    summary = f"{event.type.value} seq {event.seq} stored repaired: {detail}"
    # A fault event has its fault incident already; the ticket goes with it.
    fault_incident = incident_priority(event.type, event.payload) is Priority.FAULT
    incident_id = event.incident_id if fault_incident else None
    record_unit_fault(
        uow, event.unit_id, FAULT_EVENT_REPAIRED, summary, event.received_at, incident_id
    )


def record_refused_event(
    uow: UnitOfWork, unit_id: str, seq: int, reason: str, message: str, at: datetime
) -> None:
    """Record (and commit) that a unit sent an event that can never be stored, so the refusal
    is on the health board before the unit drops the event."""
    with uow:
        summary = f"seq {seq} refused ({reason}): {message}"
        record_unit_fault(uow, unit_id, FAULT_EVENT_REFUSED, summary, at)
        uow.commit()


def record_unit_fault(
    uow: UnitOfWork,
    unit_id: str,
    fault: str,
    detail: str,
    at: datetime,
    incident_id: int | None = None,
) -> None:
    """A fault of the unit's firmware, as other unit faults are: a fault incident (unless
    `incident_id` is one) and a maintenance ticket, or one more occurrence on the ticket
    while it is not fixed."""
    detail = detail[:1000]
    ticket = uow.tickets.open_for(unit_id, fault)
    if ticket is not None and ticket.fixed_at is None:
        ticket.recur(at, detail)
        return
    if incident_id is not None:
        record_fault(uow, unit_id, fault, detail, incident_id, at)
        return
    incident = Incident(unit_id=unit_id, priority=Priority.FAULT, opened_at=at, last_event_at=at)
    uow.incidents.add(incident)
    uow.flush()
    uow.audit.add(
        NewAuditEntry(
            at=at,
            actor=f"unit:{unit_id}",
            action=f"unit.{fault}",
            incident_id=incident.id,
            detail={"unit": unit_id, "detail": detail},
        )
    )
    record_fault(uow, unit_id, fault, detail, incident.id, at)
    uow.publish_after_commit(Topic.INCIDENTS, incident_view(incident, uow.units.get(unit_id)))


def _refused(
    item: ReportedEvent, last_seq: int, stored: tuple[str, int | None] | None
) -> IngestResult:
    """The outcome of an event at or below its unit's highest seq, given the digest and
    incident of the event stored under its seq (None: nothing is)."""
    if stored is None:
        return IngestResult(item.unit_id, item.seq, Outcome.REGRESSED, last_seq, None)
    digest, incident_id = stored
    outcome = Outcome.DUPLICATE if digest == item.digest else Outcome.CONFLICT
    return IngestResult(item.unit_id, item.seq, outcome, last_seq, incident_id)


def _open_or_join(
    event: StoredEvent,
    open_incidents: dict[tuple[str, Priority], IncidentRecord],
    window: timedelta,
    test: bool,
) -> tuple[IncidentRecord | None, str]:
    """The incident the event joins, or a new one it opens (not yet stored: its id is 0), and
    the audit action; (None, "") for an event that opens no incident."""
    priority = incident_priority(event.type, event.payload)
    if priority is None:
        return None, ""
    # Use the server's receive time: unit clocks drift, and the queue is about when we knew.
    at = event.received_at
    incident = open_incidents.get((event.unit_id, priority))
    if incident is not None and incident.joins(priority, at, window, test):
        incident.add_event(at)
        return incident, EVENT_JOINED
    new = IncidentRecord.opened(event.unit_id, priority, at, test, event.unit_time)
    open_incidents[(event.unit_id, priority)] = new
    return new, INCIDENT_OPENED
