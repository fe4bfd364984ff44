"""The event writer's fast paths store and publish what the ORM's would (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import bindparam, event, insert, select, update
from sqlalchemy.exc import DataError
from sqlalchemy.orm.exc import StaleDataError

from helppoint.domain.events import EventType
from helppoint.domain.model import Incident
from helppoint.services.ingest import ReportedEvent, handle_device_events
from helppoint.services.seed import seed_demo
from helppoint.services.views import incident_view
from helppoint.store import tables as t
from helppoint.store.database import make_session_factory
from helppoint.store.prepared import BulkStatement
from helppoint.store.uow import UnitOfWork

T0 = datetime(2026, 11, 25, 23, 0, 0, 123456, tzinfo=UTC)
WINDOW = timedelta(minutes=5)
KEYS = ("unit_id", "seq", "type", "unit_time", "received_at", "payload", "digest", "incident_id")


@pytest.fixture
def seeded(database):  # type: ignore[no-untyped-def]
    seed_demo(database.uow())
    return database


def press(seq: int, unit: str = "HP-01") -> ReportedEvent:
    return ReportedEvent(unit, seq, EventType.ACTIVATION, T0, {"code": "PA", "note": "ünï"})


def test_bulk_statement_stores_what_sqlalchemy_stores(seeded) -> None:  # type: ignore[no-untyped-def]
    cest = T0.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Berlin"))
    rows: list[tuple[Any, ...]] = [
        ("HP-01", 1, EventType.ACTIVATION, cest, T0, {"a": [1, None], "é": "✓"}, "d1", None),
        ("HP-01", 2, EventType.TAMPER, T0, T0, {}, "d2", None),
        ("HP-02", 1, EventType.ACTIVATION, T0 + timedelta(seconds=1), T0, {"x": 1.5}, "d3", None),
    ]
    bulk = BulkStatement(insert(t.device_events), KEYS, repeated=("type", "received_at"))
    with seeded.session() as session:
        bulk.execute(session.connection(), rows)
        # The same rows for other units, the way SQLAlchemy binds them itself.
        other = {"HP-01": "HP-03", "HP-02": "HP-04"}
        session.execute(
            insert(t.device_events),
            [dict(zip(KEYS, (other[r[0]], *r[1:]), strict=True)) for r in rows],
        )
        stored = session.execute(
            select(*(t.device_events.c[k] for k in KEYS)).order_by(t.device_events.c.id)
        ).all()
        session.commit()
    ours, theirs = stored[:3], stored[3:]
    assert [tuple(r)[1:] for r in ours] == [tuple(r)[1:] for r in theirs]
    assert ours[0].unit_time == T0 and ours[0].payload == {"a": [1, None], "é": "✓"}


def test_bulk_statement_keeps_the_rows_order_and_their_text_exactly(seeded) -> None:  # type: ignore[no-untyped-def]
    # On PostgreSQL the rows go as one JSON document: quotes, backslashes, escapes and
    # newlines in a value or a payload come back as they went, and rows in the given order.
    odd = 'say "hi" \\ \\u0041 \n\t ✓ \u2028'
    rows: list[tuple[Any, ...]] = [
        ("HP-01", n, EventType.ACTIVATION, T0, T0, {"text": odd, "n": n}, f"{odd}{n}", None)
        for n in range(1, 301)
    ]
    bulk = BulkStatement(insert(t.device_events), KEYS, repeated=("type", "received_at"))
    with seeded.session() as session:
        bulk.execute(session.connection(), rows)
        stored = session.execute(
            select(
                t.device_events.c.seq, t.device_events.c.payload, t.device_events.c.digest
            ).order_by(t.device_events.c.id)
        ).all()
        session.rollback()
    assert [tuple(row) for row in stored] == [(r[1], r[5], r[6]) for r in rows]


def test_bulk_update_counts_every_row_it_changed(seeded) -> None:  # type: ignore[no-untyped-def]
    h = t.help_points.c
    bulk = BulkStatement(
        update(t.help_points).where(h.id == bindparam("b_id")).values(firmware=bindparam("b_fw")),
        ("b_id", "b_fw"),
    )
    with seeded.session() as session:
        changed = bulk.execute(
            session.connection(), [("HP-01", "1.2"), ("NO-SUCH", "1.2"), ("HP-02", "1.3")]
        )
        assert changed == 2
        assert bulk.execute(session.connection(), []) == 0


@pytest.mark.postgres
def test_bulk_statement_refuses_a_value_too_long_for_its_column(postgres_database) -> None:  # type: ignore[no-untyped-def]
    # On PostgreSQL the rows go as one JSON document: their type must not cut a long value
    # short.
    seed_demo(postgres_database.uow())
    bulk = BulkStatement(insert(t.device_events), KEYS)
    row = ("HP-01", 1, EventType.ACTIVATION, T0, T0, {}, "d" * 65, None)
    with postgres_database.uow() as uow:
        with pytest.raises(DataError, match="too long"):
            bulk.execute(uow._session.connection(), [row])
        uow.rollback()
    with postgres_database.engine.connect() as connection:
        assert connection.execute(select(t.device_events.c.id)).all() == []


def test_bulk_statement_refuses_keys_that_are_not_its_parameters() -> None:
    with pytest.raises(ValueError, match="repeated"):
        BulkStatement(insert(t.device_events), KEYS, repeated=("nope",))


def test_a_joined_incident_changed_meanwhile_stores_nothing(seeded) -> None:  # type: ignore[no-untyped-def]
    with seeded.uow() as uow:
        [opened] = handle_device_events(uow, [press(1)], T0, WINDOW)
        uow.commit()
    with seeded.uow() as uow:
        _, _, [record] = uow.units.places_seqs_and_open_incidents(["HP-01"])
        # Someone else changes the incident after the writer read it (an operator's claim).
        assert uow.incidents.claim(opened.incident_id, "alice", T0)  # type: ignore[arg-type]
        record.add_event(T0)
        with pytest.raises(StaleDataError):
            uow.incidents.store_joins([record])


def test_published_views_of_joined_incidents_are_the_stored_incidents(seeded) -> None:  # type: ignore[no-untyped-def]
    published: list[tuple[str, dict[str, Any]]] = []
    factory = make_session_factory(seeded.engine)

    def ingest(events: list[ReportedEvent], at: datetime) -> None:
        uow = UnitOfWork(factory, lambda topic, message: published.append((topic, message)))
        with uow:
            handle_device_events(uow, events, at, WINDOW)
            uow.commit()

    ingest([press(1), press(1, "HP-02")], T0)
    with seeded.uow() as uow:
        _, _, [first] = uow.units.places_seqs_and_open_incidents(["HP-01"])
        assert uow.incidents.claim(first.id, "alice", T0)
        uow.commit()
    published.clear()
    ingest([press(2), press(3), press(2, "HP-02")], T0 + timedelta(minutes=1))
    with seeded.uow() as uow:
        expected = [
            incident_view(i, uow.units.get(i.unit_id))
            for i in sorted(uow.incidents.open_queue(), key=lambda i: i.unit_id)
        ]
    assert [m for topic, m in published if topic == "incidents"] == expected
    assert [(m["event_count"], m["state"]) for m in expected] == [
        (3, "acknowledged"),
        (2, "new"),
    ]


@pytest.mark.parametrize("units", [["HP-01"], ["HP-01", "HP-02", "HP-03"]])
def test_incidents_a_batch_opens_are_stored_as_a_new_incident_is(seeded, units) -> None:  # type: ignore[no-untyped-def]
    """The writer inserts the incidents a batch opens as records (one statement, or one for
    several), not as mapped Incidents: every column as the ORM would store a new Incident, a
    repeat press in the same batch counted, each event on its own unit's incident."""
    published: list[tuple[str, dict[str, Any]]] = []
    factory = make_session_factory(seeded.engine)
    events = [press(1, unit) for unit in units] + [press(2, units[0])]
    uow = UnitOfWork(factory, lambda topic, message: published.append((topic, message)))
    flushed: list[object] = []  # mapped Incidents the ORM inserts (it cost a third of a press)

    def inserted(mapper: object, connection: object, target: object) -> None:
        flushed.append(target)

    event.listen(Incident, "after_insert", inserted)
    try:
        with uow:
            results = handle_device_events(uow, events, T0, WINDOW)
            uow.commit()
    finally:
        event.remove(Incident, "after_insert", inserted)
    assert flushed == []
    with seeded.uow() as uow:
        stored = {i.unit_id: i for i in uow.incidents.open_queue()}
        # What the ORM stores for a new Incident, for comparison.
        orm = Incident(
            unit_id="HP-04", priority=stored[units[0]].priority, opened_at=T0, last_event_at=T0
        )
        uow.incidents.add(orm)
        uow.flush()
        assert orm._version == 1  # type: ignore[attr-defined]
        for unit in units:
            incident = stored[unit]
            assert incident._version == 1  # type: ignore[attr-defined]
            for field in ("state", "acknowledged_at", "outcome", "voice", "on_test", "mark"):
                assert getattr(incident, field) == getattr(orm, field)
            assert (incident.opened_at, incident.last_event_at, incident.pressed_at) == (T0,) * 3
            assert incident.stored_at is not None and incident.stored_at >= T0
            assert incident.event_count == (2 if unit == units[0] else 1)
        ids = {unit: stored[unit].id for unit in units}
        counts = {unit: stored[unit].event_count for unit in units}
        uow.rollback()
    assert [(r.unit_id, r.incident_id) for r in results] == [
        *((unit, ids[unit]) for unit in units),
        (units[0], ids[units[0]]),
    ]
    assert len(set(ids.values())) == len(units)
    views = [m for topic, m in published if topic == "incidents"]
    assert sorted((m["id"], m["event_count"]) for m in views) == sorted(
        (ids[unit], counts[unit]) for unit in units
    )


def test_a_resent_batch_is_told_apart_in_one_lookup(seeded) -> None:  # type: ignore[no-untyped-def]
    def ingest(events: list[ReportedEvent]) -> list[tuple[str, int | None]]:
        with seeded.uow() as uow:
            results = handle_device_events(uow, events, T0, WINDOW)
            uow.commit()
        return [(r.outcome.value, r.incident_id) for r in results]

    first = ingest([press(5), press(5), press(1, "HP-02")])
    incident = first[0][1]
    # A repeat inside the batch that stored it is refused as below the unit's highest seq.
    assert first[1] == ("regressed", None)
    changed = ReportedEvent("HP-01", 5, EventType.ACTIVATION, T0, {"other": True})
    assert ingest([press(5), changed, press(3), press(1, "HP-02"), press(6)]) == [
        ("duplicate", incident),
        ("conflict", incident),
        ("regressed", None),
        ("duplicate", first[2][1]),
        ("stored", incident),
    ]
