"""Repositories: load and save domain objects; every query the services need lives here."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from sqlalchemy import (
    ColumnElement,
    Float,
    ScalarSelect,
    Select,
    and_,
    bindparam,
    func,
    insert,
    select,
    tuple_,
    update,
)
from sqlalchemy.orm import Session

from helppoint.domain.audit import Chainable, ChainHead
from helppoint.domain.events import DeviceEvent, EventType
from helppoint.domain.model import (
    OPEN_STATES,
    AuditEntry,
    HelpPoint,
    IncidentNote,
    LoginSession,
    Operator,
    Zone,
)
from helppoint.store import tables as t
from helppoint.store import tables_audit as ta
from helppoint.store.prepared import BulkStatement, PreparedStatement

# Incidents have their own module; uow.py and the services import these from here.
from helppoint.store.repositories_incidents import IncidentFilter as IncidentFilter
from helppoint.store.repositories_incidents import IncidentRecord
from helppoint.store.repositories_incidents import IncidentRepository as IncidentRepository


class ZoneRepository:
    """Zones of the scheme."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, zone_id: str) -> Zone | None:
        return self.session.get(Zone, zone_id)

    def add(self, zone: Zone) -> None:
        self.session.add(zone)

    def list(self) -> Sequence[Zone]:
        return self.session.scalars(select(Zone).order_by(t.zones.c.name)).all()

    def unit_counts(self) -> dict[str, int]:
        """How many units each zone has in the scheme (retired units not counted)."""
        h = t.help_points.c
        rows = self.session.execute(
            select(h.zone_id, func.count()).where(h.retired_at.is_(None)).group_by(h.zone_id)
        ).all()
        return {zone_id: int(count) for zone_id, count in rows}


class UnitPlace(NamedTuple):
    """What an incident view shows of its unit, and until when it is on test."""

    name: str
    zone_id: str
    latitude: float
    longitude: float
    on_test_until: datetime | None = None


#: Built once: a statement with `in_(list)` built anew for each call leaves its bound parameters
#: in reference cycles once executed (cyclic garbage for the collector, ~10 objects a call).
@functools.cache
def _load_units() -> Select[HelpPoint]:
    # (Built at first use: the classes are mapped after this module is imported.)
    return select(HelpPoint).where(t.help_points.c.id.in_(bindparam("b_ids", expanding=True)))


class HelpPointRepository:
    """Provisioned units."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, unit_id: str) -> HelpPoint | None:
        return self.session.get(HelpPoint, unit_id)

    def add(self, unit: HelpPoint) -> None:
        self.session.add(unit)

    def list(self, include_retired: bool = False) -> Sequence[HelpPoint]:
        """Units in id order; retired units (kept for their history) only when asked."""
        query = select(HelpPoint).order_by(t.help_points.c.id)
        if not include_retired:
            query = query.where(t.help_points.c.retired_at.is_(None))
        return self.session.scalars(query).all()

    def load(self, unit_ids: Sequence[str]) -> Sequence[HelpPoint]:
        """Load many units in one query (later `get`s of them are answered from the session)."""
        return self.session.scalars(_load_units(), {"b_ids": list(unit_ids)}).all()

    def places_and_last_seqs(
        self, unit_ids: Sequence[str]
    ) -> tuple[dict[str, UnitPlace], dict[str, int]]:
        """What incident views show of each unit (name, zone, position), and each unit's
        highest stored event seq (0 when none): one query for the ingest of a batch."""
        rows = _places_and_last_seqs().rows(self.session.connection(), {"b_ids": unit_ids})
        places = {
            unit_id: UnitPlace(name, zone, lat, lon, test)
            for unit_id, name, zone, lat, lon, test, _ in rows
        }
        found = {unit_id: int(seq) for unit_id, *_, seq in rows if seq is not None}
        return places, {unit_id: found.get(unit_id, 0) for unit_id in unit_ids}

    def places_seqs_and_open_incidents(
        self, unit_ids: Sequence[str]
    ) -> tuple[dict[str, UnitPlace], dict[str, int], Sequence[IncidentRecord]]:
        """places_and_last_seqs, and the units' open incidents as plain records, oldest
        activity first (as open_for_units), from one query: a batch of alarms needs all three."""
        rows = _places_seqs_and_open_incidents().rows(
            self.session.connection(), {"b_ids": unit_ids}
        )
        places: dict[str, UnitPlace] = {}
        found: dict[str, int] = {}
        records: list[IncidentRecord] = []
        for unit_id, name, zone, lat, lon, test, seq, *incident in rows:
            places[unit_id] = UnitPlace(name, zone, lat, lon, test)
            if seq is not None:
                found[unit_id] = int(seq)
            if incident[0] is not None:  # the incident's id: the unit has an open one
                records.append(IncidentRecord(*incident))
        return places, {unit_id: found.get(unit_id, 0) for unit_id in unit_ids}, records

    def touch(self, unit_ids: Sequence[str], at: datetime) -> None:
        """Record when units were last heard from, in one statement (on PostgreSQL locking
        the rows in id order first, like the supervision sweep, so concurrent processes
        cannot deadlock)."""
        if unit_ids:
            ids = sorted(unit_ids)
            connection = self.session.connection()
            touch = (
                _lock_and_touch_units if connection.dialect.name == "postgresql" else _touch_units
            )
            touch().send(connection, {"b_ids": ids, "b_at": at, "b_at_ts": at.timestamp()})


# Statements run for every batch of events are built once (on first use, when the tables
# are complete): building and keying a statement costs about as much as running a small one.


@functools.cache
def _places_and_last_seqs() -> PreparedStatement:
    h = t.help_points.c
    return PreparedStatement(
        select(
            h.id, h.name, h.zone_id, h.latitude, h.longitude, h.on_test_until, highest_seq()
        ).where(h.id.in_(bindparam("b_ids", expanding=True)))
    )


@functools.cache
def _places_seqs_and_open_incidents() -> PreparedStatement:
    h, i = t.help_points.c, t.incidents.c
    is_open = and_(i.unit_id == h.id, i.state.in_([s.value for s in OPEN_STATES]))
    return PreparedStatement(
        select(
            h.id,
            h.name,
            h.zone_id,
            h.latitude,
            h.longitude,
            h.on_test_until,
            highest_seq(),
            # In IncidentRecord's field order, so the row's end makes a record positionally.
            *(i[name] for name in IncidentRecord.__dataclass_fields__),
        )
        .select_from(t.help_points.outerjoin(t.incidents, is_open))
        .where(h.id.in_(bindparam("b_ids", expanding=True)))
        # As open_for_units: the latest open incident of each kind comes last.
        .order_by(i.last_event_at, i.id)
    )


@functools.cache
def _last_seqs() -> PreparedStatement:
    h = t.help_points.c
    return PreparedStatement(
        select(h.id, highest_seq()).where(h.id.in_(bindparam("b_ids", expanding=True)))
    )


@functools.cache
def _stored_digests() -> Select[Any]:
    c = t.device_events.c
    return select(c.unit_id, c.seq, c.digest, c.incident_id).where(
        tuple_(c.unit_id, c.seq).in_(bindparam("b_keys", expanding=True))
    )


def _touched(where: ColumnElement[bool]) -> PreparedStatement:
    """The units' last-seen time (and supervision deadline) moved to `b_at`, where `where`."""
    h = t.help_points.c
    return PreparedStatement(
        update(t.help_points)
        .where(where)
        .values(
            last_seen_at=bindparam("b_at", type_=h.last_seen_at.type),
            # Supervision (and the reports' uptime) starts when a unit is first heard.
            first_seen_at=func.coalesce(
                h.first_seen_at, bindparam("b_at", type_=h.last_seen_at.type)
            ),
            # The supervision deadline moves with every sign of life (tables_supervision).
            alert_after=bindparam("b_at_ts", type_=Float())
            + h.heartbeat_period
            + h.heartbeat_grace,
        )
    )


@functools.cache
def _touch_units() -> PreparedStatement:
    return _touched(t.help_points.c.id.in_(bindparam("b_ids", expanding=True)))


@functools.cache
def _lock_and_touch_units() -> PreparedStatement:
    # One round trip instead of a SELECT ... FOR UPDATE and then the UPDATE. FOR UPDATE keeps
    # the subquery apart from the update (PostgreSQL does not pull a locking subquery up), so
    # it locks the rows as it reads them, sorted: in id order, and the update changes only
    # rows it has locked.
    h = t.help_points.c
    locked = (
        select(h.id)
        .where(h.id.in_(bindparam("b_ids", expanding=True)))
        .order_by(h.id)
        .with_for_update()
    )
    return _touched(h.id.in_(locked))


def highest_seq() -> ScalarSelect[Any]:
    """The highest stored event seq of the help_points row a query selects (NULL when none).

    One step down the (unit_id, seq) index per unit: a GROUP BY over the units' events would
    read every event they ever sent, on SQLite and PostgreSQL alike.
    """
    c = t.device_events.c
    return select(func.max(c.seq)).where(c.unit_id == t.help_points.c.id).scalar_subquery()


class NewEvent(Protocol):
    """An event to store as a device_events row."""

    unit_id: str
    seq: int
    type: EventType
    unit_time: datetime
    received_at: datetime
    payload: dict[str, Any]
    digest: str
    incident_id: int | None


_INSERT_EVENTS = BulkStatement(
    insert(t.device_events),
    (
        "unit_id",
        "seq",
        "type",
        "unit_time",
        "received_at",
        "payload",
        "digest",
        "incident_id",
    ),
    # A batch's events share their receive time, and mostly their type and unit time.
    repeated=("type", "unit_time", "received_at"),
)


class DeviceEventRepository:
    """Events as units reported them, unique per (unit, seq)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, event: DeviceEvent) -> None:
        self.session.add(event)

    def add_many(self, events: Sequence[NewEvent]) -> None:
        """Store events in one statement (their ids are not read back: nothing needs them)."""
        if events:
            _INSERT_EVENTS.send(
                self.session.connection(),
                [
                    (
                        e.unit_id,
                        e.seq,
                        e.type,
                        e.unit_time,
                        e.received_at,
                        e.payload,
                        e.digest,
                        e.incident_id,
                    )
                    for e in events
                ],
            )

    def find(self, unit_id: str, seq: int) -> DeviceEvent | None:
        return self.session.scalars(
            select(DeviceEvent).where(
                t.device_events.c.unit_id == unit_id, t.device_events.c.seq == seq
            )
        ).one_or_none()

    def stored_digests(
        self, keys: Sequence[tuple[str, int]]
    ) -> dict[tuple[str, int], tuple[str, int | None]]:
        """The digest and incident of each stored (unit, seq) among `keys`, in one query
        (for the writer's resent and refused events; keys not stored are left out)."""
        if not keys:
            return {}
        rows = self.session.execute(_stored_digests(), {"b_keys": list(keys)})
        return {(unit_id, seq): (digest, incident_id) for unit_id, seq, digest, incident_id in rows}

    def latest_payloads(
        self, unit_ids: Sequence[str], per_unit: int
    ) -> list[tuple[dict[str, Any] | None, datetime]]:
        """(payload, received at) of each unit's `per_unit` latest events, oldest first."""
        c = t.device_events.c
        newest = (
            func.row_number().over(partition_by=c.unit_id, order_by=c.id.desc()).label("newest")
        )
        latest = (
            select(c.id, c.payload, c.received_at, newest)
            .where(c.unit_id.in_(list(unit_ids)))
            .subquery()
        )
        rows = self.session.execute(
            select(latest.c.payload, latest.c.received_at)
            .where(latest.c.newest <= per_unit)
            .order_by(latest.c.id)
        )
        return [(payload, received_at) for payload, received_at in rows]

    def last_seqs(self, unit_ids: Sequence[str]) -> dict[str, int]:
        """The highest stored sequence number of each unit (0 when none), in one query."""
        rows = _last_seqs().rows(self.session.connection(), {"b_ids": unit_ids})
        found = {unit_id: int(seq) for unit_id, seq in rows if seq is not None}
        return {unit_id: found.get(unit_id, 0) for unit_id in unit_ids}

    def last_seq(self, unit_id: str) -> int:
        """The highest sequence number stored for the unit (0 when none)."""
        value = self.session.scalar(
            select(func.max(t.device_events.c.seq)).where(t.device_events.c.unit_id == unit_id)
        )
        return int(value or 0)

    def for_incident(self, incident_id: int, unit_id: str) -> Sequence[DeviceEvent]:
        """The events of an incident (all from its unit), in the order they were received.

        By unit and incident: the (unit_id, seq) index then reads that unit's events only.
        device_events.incident_id has no index of its own (during an alarm flood it would be
        one more page written per event), so by incident alone every event ever stored was
        read each time an incident was opened: ~100 ms at a million events, warm.
        """
        return self.session.scalars(
            select(DeviceEvent)
            .where(
                t.device_events.c.unit_id == unit_id,
                t.device_events.c.incident_id == incident_id,
            )
            .order_by(t.device_events.c.received_at, t.device_events.c.id)
        ).all()

    def count(self, unit_id: str | None = None) -> int:
        query = select(func.count()).select_from(t.device_events)
        if unit_id is not None:
            query = query.where(t.device_events.c.unit_id == unit_id)
        return int(self.session.scalar(query) or 0)


class NoteRepository:
    """Operators' notes on incidents."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, note: IncidentNote) -> None:
        self.session.add(note)

    def for_incident(self, incident_id: int) -> Sequence[IncidentNote]:
        return self.session.scalars(
            select(IncidentNote)
            .where(t.incident_notes.c.incident_id == incident_id)
            .order_by(t.incident_notes.c.at, t.incident_notes.c.id)
        ).all()


class OperatorRepository:
    """Control-room users."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, operator: Operator) -> None:
        self.session.add(operator)

    def get(self, operator_id: int) -> Operator | None:
        return self.session.get(Operator, operator_id)

    def by_username(self, username: str) -> Operator | None:
        return self.session.scalars(
            select(Operator).where(t.operators.c.username == username)
        ).one_or_none()

    def list(self) -> Sequence[Operator]:
        return self.session.scalars(select(Operator).order_by(t.operators.c.username)).all()


class LoginSessionRepository:
    """Signed-in browsers."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, login: LoginSession) -> None:
        self.session.add(login)

    def get(self, token_hash: str) -> LoginSession | None:
        return self.session.get(LoginSession, token_hash)

    def delete(self, login: LoginSession) -> None:
        self.session.delete(login)


# Run by every commit that writes to the trail, so built once.
_LOCK_CHAIN_HEAD = PreparedStatement(
    select(ta.audit_chain_head.c.seq, ta.audit_chain_head.c.hash)
    .where(ta.audit_chain_head.c.id == ta.HEAD_ID)
    .with_for_update()
)
_INSERT_ENTRIES = BulkStatement(
    insert(t.audit_entries),
    ("at", "actor", "action", "incident_id", "detail", "address", "seq", "prev_hash", "hash"),
    repeated=("at",),  # a batch's entries mostly share their time
)
_MOVE_CHAIN_HEAD = PreparedStatement(
    update(ta.audit_chain_head)
    .where(ta.audit_chain_head.c.id == ta.HEAD_ID)
    .values(seq=bindparam("b_seq"), hash=bindparam("b_hash"))
)


class AuditRepository:
    """The record of who did what, when: a hash chain appended to on commit."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._pending: list[Chainable] = []

    def add(self, entry: Chainable) -> None:
        """Queue an entry; `seal()` chains and stores it when the transaction commits.

        A NewAuditEntry is stored exactly as the AuditEntry with its fields, more cheaply.
        """
        self._pending.append(entry)

    def discard_pending(self) -> None:
        """Forget queued entries (the transaction rolled back)."""
        self._pending = []

    def seal(self) -> None:
        """Append the queued entries to the chain, in the order they were added.

        The chain head row is locked last in the transaction (after every incident row the
        use case touched), so appending never waits while holding a lock someone else needs.
        """
        if not self._pending:
            return
        entries, self._pending = self._pending, []
        connection = self.session.connection()
        [(seq, hash_)] = _LOCK_CHAIN_HEAD.rows(connection, {})
        head = ChainHead(int(seq), str(hash_))
        rows = []
        for entry in entries:
            head.append(entry)
            rows.append(
                (
                    entry.at,
                    entry.actor,
                    entry.action,
                    entry.incident_id,
                    entry.detail or {},
                    entry.address,
                    entry.seq,
                    entry.prev_hash,
                    entry.hash,
                )
            )
        # One statement for the batch (the ORM would insert entry by entry on SQLite to read
        # back each id, which nothing needs).
        _INSERT_ENTRIES.send(connection, rows)
        _MOVE_CHAIN_HEAD.send(connection, {"b_seq": head.seq, "b_hash": head.hash})

    def head(self) -> ChainHead:
        """The chain head as stored."""
        row = self.session.execute(
            select(ta.audit_chain_head.c.seq, ta.audit_chain_head.c.hash).where(
                ta.audit_chain_head.c.id == ta.HEAD_ID
            )
        ).one()
        return ChainHead(int(row.seq), str(row.hash))

    def in_chain_order(self, batch: int = 1000) -> Iterator[AuditEntry]:
        """Every entry by seq, streamed in batches (the trail can be long)."""
        last = 0
        c = t.audit_entries.c
        while True:
            rows = self.session.scalars(
                select(AuditEntry).where(c.seq > last).order_by(c.seq).limit(batch)
            ).all()
            if not rows:
                return
            yield from rows
            last = int(rows[-1].seq or 0)
            self.session.expunge_all()

    def search(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        actor: str | None = None,
        action: str | None = None,
        limit: int | None = 200,
        offset: int = 0,
    ) -> tuple[Sequence[AuditEntry], int]:
        """Entries newest first with the total for paging; `limit=None` returns all."""
        c = t.audit_entries.c
        conditions: list[ColumnElement[bool]] = []
        if since is not None:
            conditions.append(c.at >= since)
        if until is not None:
            conditions.append(c.at < until)
        if actor:
            conditions.append(c.actor == actor)
        if action:
            conditions.append(c.action.startswith(action, autoescape=True))
        query = select(AuditEntry).where(*conditions)
        total = int(self.session.scalar(select(func.count()).select_from(query.subquery())) or 0)
        query = query.order_by(c.seq.desc()).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        return self.session.scalars(query).all(), total

    def for_incident(self, incident_id: int) -> Sequence[AuditEntry]:
        """An incident's entries but for its repeat presses' (EVENT_JOINED; its events show
        those), in time order, through the partial index that leaves them out."""
        c = t.audit_entries.c
        return self.session.scalars(
            select(AuditEntry)
            .where(c.incident_id == incident_id, t.NOT_JOINED)
            .order_by(c.at, c.id)
        ).all()
