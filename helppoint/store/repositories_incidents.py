"""Repositories of incidents: loading, searching, and the writes that must not race."""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Select, bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from helppoint.domain.classification import Classification
from helppoint.domain.events import Priority
from helppoint.domain.model import OPEN_STATES, Incident, IncidentActivity, IncidentState
from helppoint.domain.triage import Voice
from helppoint.store import tables as t
from helppoint.store.prepared import BulkStatement, PreparedStatement
from helppoint.store.types import EPOCH, epoch_microseconds


class Evidence(NamedTuple):
    """What triage stored on an incident."""

    voice: Voice | None
    voice_level: float | None
    mark: str | None
    suggested: Classification | None
    suggested_by: str | None


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


@dataclass(slots=True, eq=False)
class IncidentRecord(IncidentActivity):
    """A stored incident as a plain record, for writers that handle many in one transaction.

    Loading, changing and storing a mapped Incident costs several times more than the row
    itself (SQLAlchemy's identity map and attribute events). The record has every field of an
    Incident (a test keeps them in step) and the row's `version`, and the Incident's own rules
    for repeat events (`IncidentActivity`), so it joins events exactly as an Incident does.
    """

    id: int
    unit_id: str
    priority: Priority
    state: IncidentState
    opened_at: datetime
    last_event_at: datetime
    event_count: int
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    held_by: str | None
    call_started_at: datetime | None
    assessed_at: datetime | None
    classification: Classification | None
    escalated_at: datetime | None
    closed_at: datetime | None
    closed_by: str | None
    outcome: str
    voice: Voice | None
    voice_level: float | None
    on_test: bool
    mark: str | None
    suggested: Classification | None
    suggested_by: str | None
    pressed_at: datetime | None
    stored_at: datetime | None
    answer_microseconds: int | None
    version: int

    @classmethod
    def opened(
        cls,
        unit_id: str,
        priority: Priority,
        at: datetime,
        on_test: bool,
        pressed_at: datetime | None,
    ) -> IncidentRecord:
        """A new incident as an event opens it, not stored yet (its id 0 until
        `IncidentRepository.insert_new`): every field as a new Incident has it."""
        return cls(
            id=0,
            unit_id=unit_id,
            priority=priority,
            state=IncidentState.NEW,
            opened_at=at,
            last_event_at=at,
            event_count=1,
            acknowledged_at=None,
            acknowledged_by=None,
            held_by=None,
            call_started_at=None,
            assessed_at=None,
            classification=None,
            escalated_at=None,
            closed_at=None,
            closed_by=None,
            outcome="",
            voice=None,
            voice_level=None,
            on_test=on_test,
            mark=None,
            suggested=None,
            suggested_by=None,
            pressed_at=pressed_at,
            stored_at=None,
            answer_microseconds=None,
            version=1,
        )

    @classmethod
    def of(cls, incident: Incident) -> IncidentRecord:
        """A stored (flushed) Incident as a record, with the version the ORM gave its row."""
        values = {
            name: getattr(incident, name) for name in cls.__dataclass_fields__ if name != "version"
        }
        return cls(**values, version=incident._version)  # type: ignore[attr-defined]


@functools.cache
def _get_many() -> Select[Incident]:
    """Built once, at first use (see repositories.py `_load_units`: no cyclic garbage per call)."""
    return (
        select(Incident)
        .where(t.incidents.c.id.in_(bindparam("b_ids", expanding=True)))
        .order_by(t.incidents.c.id)
    )


class IncidentRepository:
    """Incidents, with the conditional updates that keep two operators from racing."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, incident: Incident) -> None:
        self.session.add(incident)

    def get(self, incident_id: int) -> Incident | None:
        return self.session.get(Incident, incident_id)

    def get_many(self, incident_ids: Collection[int]) -> Sequence[Incident]:
        """The incidents with these ids (those that exist), by id, in one query."""
        return self.session.scalars(_get_many(), {"b_ids": list(incident_ids)}).all()

    def refresh(self, incident: Incident) -> None:
        """Reload an incident's columns (after a conditional UPDATE changed its row)."""
        self.session.refresh(incident)

    def get_for_update(self, incident_id: int) -> Incident | None:
        """Load an incident and lock its row (PostgreSQL) for the rest of the transaction."""
        return self.session.scalars(
            select(Incident).where(t.incidents.c.id == incident_id).with_for_update()
        ).one_or_none()

    def open_for_units(self, unit_ids: Sequence[str]) -> Sequence[Incident]:
        """Every open incident of these units, oldest activity first, in one query."""
        return self.session.scalars(_open_for_units(), {"b_ids": list(unit_ids)}).all()

    def newest_id(self) -> int:
        """The highest incident id there is (0: none); incidents are never deleted."""
        [(newest,)] = _NEWEST.rows(self.session.connection(), {})
        return int(newest or 0)

    def insert_new(self, records: Sequence[IncidentRecord]) -> None:
        """Store incidents the event writer opened, as records, and give each its id.

        A mapped Incident added to the session and flushed cost the writer about a third of
        a press's time (the identity map, attribute events, the unit of work's flush); the
        record is inserted with every column given (its version 1, as the ORM would start
        it), in one prepared statement, or one statement for several (in their order)."""
        if not records:
            return
        connection = self.session.connection()
        if len(records) == 1:
            [record] = records
            [(record.id,)] = _INSERT_INCIDENT.returned(connection, _incident_row(record))
            return
        ids = connection.execute(
            insert(t.incidents).returning(t.incidents.c.id, sort_by_parameter_order=True),
            [_incident_row(record) for record in records],
        ).scalars()
        for record, new_id in zip(records, ids, strict=True):
            record.id = new_id

    def store_joins(self, records: Sequence[IncidentRecord]) -> None:
        """Store the event counts and last event times of records that events joined.

        One statement for them all, with the ORM's optimistic check (`WHERE version = old`,
        moving the version on): if another transaction changed one of them since it was
        read, StaleDataError, and the caller's transaction must not commit.
        """
        if not records:
            return
        changed = _STORE_JOINS.execute(
            self.session.connection(),
            [(r.id, r.version, r.version + 1, r.event_count, r.last_event_at) for r in records],
        )
        if changed != len(records):
            raise StaleDataError(
                "an incident changed while events were joined to it; the batch is not stored"
            )
        for record in records:
            record.version += 1

    def set_voice(self, incident_id: int, voice: Voice, level: float) -> bool:
        """Store the press-time voice judgement of an open incident, without moving its
        version (evidence is not an operator's change: nobody's optimistic check fails)."""
        result = self.session.execute(
            update(t.incidents)
            .where(
                t.incidents.c.id == incident_id,
                t.incidents.c.state != IncidentState.CLOSED.value,
            )
            .values(voice=voice.value, voice_level=level)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def evidence(self, incident_ids: Sequence[int]) -> dict[int, Evidence]:
        """What triage stored on these incidents (voice, level, mark, suggestion), in one query:
        the event writer reads it for joined incidents it publishes, which it may hold from
        before (triage writes without moving the version)."""
        return {
            row[0]: Evidence(*row[1:])
            for row in _EVIDENCE.rows(self.session.connection(), {"b_ids": list(incident_ids)})
        }

    def set_triage(
        self, incident_id: int, mark: str | None, suggested: Classification | None, by: str | None
    ) -> bool:
        """Store what triage marked and suggested on an open incident, without moving its
        version (like set_voice)."""
        result = self.session.execute(
            update(t.incidents)
            .where(
                t.incidents.c.id == incident_id,
                t.incidents.c.state != IncidentState.CLOSED.value,
            )
            .values(
                mark=mark,
                suggested=suggested.value if suggested is not None else None,
                suggested_by=by,
            )
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def claim(self, incident_id: int, operator: str, at: datetime) -> bool:
        """Acknowledge atomically: succeeds only if the incident is still new. Its answer time
        (domain.model.answer_microseconds) is stored with it, from the row's opened_at."""
        dialect = self.session.get_bind().dialect.name
        opened = epoch_microseconds(t.incidents.c.opened_at, dialect)
        result = self.session.execute(
            update(t.incidents)
            .where(t.incidents.c.id == incident_id, t.incidents.c.state == IncidentState.NEW.value)
            .values(
                state=IncidentState.ACKNOWLEDGED.value,
                acknowledged_at=at,
                answer_microseconds=(at - EPOCH) // timedelta(microseconds=1) - opened,
                acknowledged_by=operator,
                held_by=operator,
                version=t.incidents.c.version + 1,
            )
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def unclaimed(self, limit: int = 1000) -> Sequence[Incident]:
        """Incidents nobody has acknowledged yet (at most `limit`, the oldest first)."""
        return self.session.scalars(
            select(Incident)
            .where(t.incidents.c.state == IncidentState.NEW.value)
            .order_by(t.incidents.c.opened_at, t.incidents.c.id)
            .limit(limit)
        ).all()

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

    def activation_totals(self) -> tuple[int, int]:
        """How many activation incidents there are, and how many presses they gathered."""
        c = t.incidents.c
        incidents, presses = self.session.execute(
            select(func.count(), func.sum(c.event_count)).where(c.priority == Priority.ACTIVATION)
        ).one()
        return int(incidents or 0), int(presses or 0)

    def first_test_activation(self, unit_id: str, since: datetime) -> Incident | None:
        """The unit's first activation incident opened on test at or after `since`."""
        c = t.incidents.c
        return self.session.scalars(
            select(Incident)
            .where(
                c.unit_id == unit_id,
                c.on_test.is_(True),
                c.priority == Priority.ACTIVATION,
                c.opened_at >= since,
            )
            .order_by(c.id)
            .limit(1)
        ).first()


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


_NEWEST = PreparedStatement(select(func.max(t.incidents.c.id)))
_EVIDENCE = PreparedStatement(
    select(
        t.incidents.c.id,
        t.incidents.c.voice,
        t.incidents.c.voice_level,
        t.incidents.c.mark,
        t.incidents.c.suggested,
        t.incidents.c.suggested_by,
    ).where(t.incidents.c.id.in_(bindparam("b_ids", expanding=True)))
)

#: The columns of a new incident: all of a record's but its id (given by the database).
_NEW_INCIDENT = tuple(name for name in IncidentRecord.__dataclass_fields__ if name != "id")
_INSERT_INCIDENT = PreparedStatement(insert(t.incidents).returning(t.incidents.c.id))


def _incident_row(record: IncidentRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in _NEW_INCIDENT}


_STORE_JOINS = BulkStatement(
    update(t.incidents)
    .where(t.incidents.c.id == bindparam("b_id"), t.incidents.c.version == bindparam("b_version"))
    .values(
        version=bindparam("b_new_version"),
        event_count=bindparam("b_count"),
        last_event_at=bindparam("b_last"),
    ),
    ("b_id", "b_version", "b_new_version", "b_count", "b_last"),
    repeated=("b_last",),
)


def _parse_ref(text: str) -> int | None:
    cleaned = text.strip().upper().removeprefix("INC-")
    return int(cleaned) if cleaned.isdigit() else None
