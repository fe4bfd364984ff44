"""Repositories: load and save domain objects; every query the services need lives here."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    ScalarSelect,
    Select,
    Update,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from helppoint.domain.audit import Chainable, ChainHead
from helppoint.domain.classification import Classification
from helppoint.domain.events import DeviceEvent, Priority
from helppoint.domain.model import (
    OPEN_STATES,
    AuditEntry,
    HelpPoint,
    Incident,
    IncidentNote,
    IncidentState,
    LoginSession,
    Operator,
    Zone,
)
from helppoint.store import tables as t
from helppoint.store import tables_audit as ta


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


class HelpPointRepository:
    """Provisioned units."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, unit_id: str) -> HelpPoint | None:
        return self.session.get(HelpPoint, unit_id)

    def add(self, unit: HelpPoint) -> None:
        self.session.add(unit)

    def list(self) -> Sequence[HelpPoint]:
        return self.session.scalars(select(HelpPoint).order_by(t.help_points.c.id)).all()

    def load(self, unit_ids: Sequence[str]) -> Sequence[HelpPoint]:
        """Load many units in one query (later `get`s of them are answered from the session)."""
        return self.session.scalars(
            select(HelpPoint).where(t.help_points.c.id.in_(list(unit_ids)))
        ).all()

    def places_and_last_seqs(
        self, unit_ids: Sequence[str]
    ) -> tuple[dict[str, dict[str, Any]], dict[str, int]]:
        """What incident views show of each unit (name, zone, position), and each unit's
        highest stored event seq (0 when none): one query for the ingest of a batch."""
        rows = self.session.execute(_places_and_last_seqs(), {"b_ids": list(unit_ids)}).all()
        places = {
            unit_id: {"unit_name": name, "zone_id": zone, "latitude": lat, "longitude": lon}
            for unit_id, name, zone, lat, lon, _ in rows
        }
        found = {unit_id: int(seq) for unit_id, *_, seq in rows if seq is not None}
        return places, {unit_id: found.get(unit_id, 0) for unit_id in unit_ids}

    def touch(self, unit_ids: Sequence[str], at: datetime) -> None:
        """Record when units were last heard from, in one statement (after locking the rows in
        id order, like the supervision sweep, so concurrent processes cannot deadlock)."""
        if unit_ids:
            ids = sorted(unit_ids)
            if self.session.get_bind().dialect.name == "postgresql":
                self.session.execute(_lock_units(), {"b_ids": ids}).all()
            self.session.execute(
                _touch_units(), {"b_ids": ids, "b_at": at, "b_at_ts": at.timestamp()}
            )


# Statements run for every batch of events are built once (on first use, when the tables
# are complete): building and keying a statement costs about as much as running a small one.


@functools.cache
def _places_and_last_seqs() -> Select[Any]:
    h = t.help_points.c
    return select(h.id, h.name, h.zone_id, h.latitude, h.longitude, highest_seq()).where(
        h.id.in_(bindparam("b_ids", expanding=True))
    )


@functools.cache
def _last_seqs() -> Select[Any]:
    h = t.help_points.c
    return select(h.id, highest_seq()).where(h.id.in_(bindparam("b_ids", expanding=True)))


@functools.cache
def _lock_units() -> Select[Any]:
    h = t.help_points.c
    return (
        select(h.id)
        .where(h.id.in_(bindparam("b_ids", expanding=True)))
        .order_by(h.id)
        .with_for_update()
    )


@functools.cache
def _touch_units() -> Update:
    h = t.help_points.c
    return (
        update(t.help_points)
        .where(h.id.in_(bindparam("b_ids", expanding=True)))
        .values(
            last_seen_at=bindparam("b_at", type_=h.last_seen_at.type),
            # The supervision deadline moves with every sign of life (tables_supervision).
            alert_after=bindparam("b_at_ts", type_=Float())
            + h.heartbeat_period
            + h.heartbeat_grace,
        )
    )


def highest_seq() -> ScalarSelect[Any]:
    """The highest stored event seq of the help_points row a query selects (NULL when none).

    One step down the (unit_id, seq) index per unit: a GROUP BY over the units' events would
    read every event they ever sent, on SQLite and PostgreSQL alike.
    """
    c = t.device_events.c
    return select(func.max(c.seq)).where(c.unit_id == t.help_points.c.id).scalar_subquery()


class DeviceEventRepository:
    """Events as units reported them, unique per (unit, seq)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, event: DeviceEvent) -> None:
        self.session.add(event)

    def find(self, unit_id: str, seq: int) -> DeviceEvent | None:
        return self.session.scalars(
            select(DeviceEvent).where(
                t.device_events.c.unit_id == unit_id, t.device_events.c.seq == seq
            )
        ).one_or_none()

    def last_seqs(self, unit_ids: Sequence[str]) -> dict[str, int]:
        """The highest stored sequence number of each unit (0 when none), in one query."""
        rows = self.session.execute(_last_seqs(), {"b_ids": list(unit_ids)}).all()
        found = {unit_id: int(seq) for unit_id, seq in rows if seq is not None}
        return {unit_id: found.get(unit_id, 0) for unit_id in unit_ids}

    def last_seq(self, unit_id: str) -> int:
        """The highest sequence number stored for the unit (0 when none)."""
        value = self.session.scalar(
            select(func.max(t.device_events.c.seq)).where(t.device_events.c.unit_id == unit_id)
        )
        return int(value or 0)

    def for_incident(self, incident_id: int) -> Sequence[DeviceEvent]:
        return self.session.scalars(
            select(DeviceEvent)
            .where(t.device_events.c.incident_id == incident_id)
            .order_by(t.device_events.c.received_at, t.device_events.c.id)
        ).all()

    def count(self, unit_id: str | None = None) -> int:
        query = select(func.count()).select_from(t.device_events)
        if unit_id is not None:
            query = query.where(t.device_events.c.unit_id == unit_id)
        return int(self.session.scalar(query) or 0)


@dataclass(frozen=True)
class IncidentFilter:
    """Search and filters for the incident history."""

    text: str = ""
    unit_id: str | None = None
    zone_id: str | None = None
    state: IncidentState | None = None
    classification: Classification | None = None
    priority: Priority | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 50
    offset: int = 0


class IncidentRepository:
    """Incidents, with the conditional updates that keep two operators from racing."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, incident: Incident) -> None:
        self.session.add(incident)

    def get(self, incident_id: int) -> Incident | None:
        return self.session.get(Incident, incident_id)

    def get_for_update(self, incident_id: int) -> Incident | None:
        """Load an incident and lock its row (PostgreSQL) for the rest of the transaction."""
        return self.session.scalars(
            select(Incident).where(t.incidents.c.id == incident_id).with_for_update()
        ).one_or_none()

    def latest_open(self, unit_id: str, priority: Priority) -> Incident | None:
        """The unit's most recent open incident of this priority, which a repeat event may join."""
        return self.session.scalars(
            select(Incident)
            .where(
                t.incidents.c.unit_id == unit_id,
                t.incidents.c.priority == int(priority),
                t.incidents.c.state.in_([s.value for s in OPEN_STATES]),
            )
            .order_by(t.incidents.c.last_event_at.desc())
            .limit(1)
        ).one_or_none()

    def open_for_units(self, unit_ids: Sequence[str]) -> Sequence[Incident]:
        """Every open incident of these units, oldest activity first, in one query."""
        return self.session.scalars(_open_for_units(), {"b_ids": list(unit_ids)}).all()

    def claim(self, incident_id: int, operator: str, at: datetime) -> bool:
        """Acknowledge atomically: succeeds only if the incident is still new."""
        result = self.session.execute(
            update(t.incidents)
            .where(t.incidents.c.id == incident_id, t.incidents.c.state == IncidentState.NEW.value)
            .values(
                state=IncidentState.ACKNOWLEDGED.value,
                acknowledged_at=at,
                acknowledged_by=operator,
                version=t.incidents.c.version + 1,
            )
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def open_queue(self) -> Sequence[Incident]:
        """Open incidents, most urgent first: priority, then oldest."""
        return self.session.scalars(
            select(Incident)
            .where(t.incidents.c.state.in_([s.value for s in OPEN_STATES]))
            .order_by(t.incidents.c.priority, t.incidents.c.opened_at, t.incidents.c.id)
        ).all()

    def search(self, flt: IncidentFilter) -> tuple[Sequence[Incident], int]:
        """Incident history, newest first, with the total count for paging."""
        c = t.incidents.c
        query = select(Incident)
        conditions: list[ColumnElement[bool]] = []
        if flt.unit_id:
            conditions.append(c.unit_id == flt.unit_id)
        if flt.zone_id:
            conditions.append(
                c.unit_id.in_(
                    select(t.help_points.c.id).where(t.help_points.c.zone_id == flt.zone_id)
                )
            )
        if flt.state is not None:
            conditions.append(c.state == flt.state.value)
        if flt.classification is not None:
            conditions.append(c.classification == flt.classification.value)
        if flt.priority is not None:
            conditions.append(c.priority == int(flt.priority))
        if flt.since is not None:
            conditions.append(c.opened_at >= flt.since)
        if flt.until is not None:
            conditions.append(c.opened_at < flt.until)
        text = flt.text.strip()
        if text:
            pattern = f"%{text.lower()}%"
            ref_id = _parse_ref(text)
            matches: list[ColumnElement[bool]] = [
                func.lower(c.outcome).like(pattern),
                func.lower(c.unit_id).like(pattern),
                c.unit_id.in_(
                    select(t.help_points.c.id).where(func.lower(t.help_points.c.name).like(pattern))
                ),
                c.id.in_(
                    select(t.incident_notes.c.incident_id).where(
                        func.lower(t.incident_notes.c.text).like(pattern)
                    )
                ),
            ]
            if ref_id is not None:
                matches.append(c.id == ref_id)
            conditions.append(or_(*matches))
        if conditions:
            query = query.where(*conditions)
        total = int(self.session.scalar(select(func.count()).select_from(query.subquery())) or 0)
        rows = self.session.scalars(
            query.order_by(c.opened_at.desc(), c.id.desc()).limit(flt.limit).offset(flt.offset)
        ).all()
        return rows, total

    def count(self) -> int:
        return int(self.session.scalar(select(func.count()).select_from(t.incidents)) or 0)


@functools.cache
def _open_for_units() -> Select[Incident]:
    c = t.incidents.c
    return (
        select(Incident)
        .where(
            c.unit_id.in_(bindparam("b_ids", expanding=True)),
            c.state.in_([s.value for s in OPEN_STATES]),
        )
        .order_by(c.last_event_at, c.id)
    )


def _parse_ref(text: str) -> int | None:
    cleaned = text.strip().upper().removeprefix("INC-")
    return int(cleaned) if cleaned.isdigit() else None


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
_LOCK_CHAIN_HEAD = (
    select(ta.audit_chain_head.c.seq, ta.audit_chain_head.c.hash)
    .where(ta.audit_chain_head.c.id == ta.HEAD_ID)
    .with_for_update()
)
_INSERT_ENTRIES = insert(t.audit_entries)
_MOVE_CHAIN_HEAD = (
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
        head_row = self.session.execute(_LOCK_CHAIN_HEAD).one()
        head = ChainHead(int(head_row.seq), str(head_row.hash))
        rows = []
        for entry in entries:
            head.append(entry)
            rows.append(
                {
                    "at": entry.at,
                    "actor": entry.actor,
                    "action": entry.action,
                    "incident_id": entry.incident_id,
                    "detail": entry.detail or {},
                    "address": entry.address,
                    "seq": entry.seq,
                    "prev_hash": entry.prev_hash,
                    "hash": entry.hash,
                }
            )
        # One multi-row INSERT (the ORM would insert entry by entry on SQLite to read back
        # each id, which nothing needs): a batch of events costs one statement, not N.
        self.session.execute(_INSERT_ENTRIES, rows)
        self.session.execute(_MOVE_CHAIN_HEAD, {"b_seq": head.seq, "b_hash": head.hash})

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
        return self.session.scalars(
            select(AuditEntry)
            .where(t.audit_entries.c.incident_id == incident_id)
            .order_by(t.audit_entries.c.at, t.audit_entries.c.id)
        ).all()
