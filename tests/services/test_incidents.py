"""Operator use cases on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event

from helppoint.domain.classification import Classification
from helppoint.domain.errors import AlreadyClaimed, InvalidInput, InvalidTransition, NotFound
from helppoint.domain.events import EventType
from helppoint.services import incidents as svc
from helppoint.services.ingest import ReportedEvent, handle_device_events
from helppoint.services.seed import seed_demo
from helppoint.store.repositories import IncidentFilter

T0 = datetime(2026, 11, 25, 23, 0, tzinfo=UTC)


def open_incident(database, unit: str = "HP-01", seq: int = 1) -> int:  # type: ignore[no-untyped-def]
    uow = database.uow()
    with uow:
        [result] = handle_device_events(
            uow,
            [ReportedEvent(unit, seq, EventType.ACTIVATION, T0, {})],
            datetime.now(UTC),
            timedelta(minutes=5),
        )
        uow.commit()
    assert result.incident_id is not None
    return result.incident_id


@pytest.fixture
def seeded(database):  # type: ignore[no-untyped-def]
    seed_demo(database.uow())
    return database


def test_acknowledge_classify_note_close(seeded) -> None:  # type: ignore[no-untyped-def]
    incident_id = open_incident(seeded)
    view = svc.acknowledge(seeded.uow(), incident_id, "alice", "10.0.0.5")
    assert view["state"] == "acknowledged" and view["acknowledged_by"] == "alice"
    svc.add_note(seeded.uow(), incident_id, "child pressed it, parent apologised", "alice")
    view = svc.classify(seeded.uow(), incident_id, Classification.FALSE_ACCIDENTAL, "alice")
    assert view["state"] == "assessed"
    view = svc.close(seeded.uow(), incident_id, "alice", "no further action")
    assert view["state"] == "closed" and view["closed_by"] == "alice"
    detail = svc.incident_detail(seeded.uow(), incident_id)
    assert detail["notes"][0]["text"] == "child pressed it, parent apologised"
    assert [e["type"] for e in detail["events"]] == ["activation"]
    actions = [t["action"] for t in detail["timeline"]]
    assert actions == [
        "incident.opened",
        "incident.acknowledged",
        "incident.note_added",
        "incident.classified",
        "incident.closed",
    ]
    assert detail["timeline"][1]["address"] == "10.0.0.5"
    assert svc.open_queue(seeded.uow()) == []


def test_close_with_classification_in_one_step(seeded) -> None:  # type: ignore[no-untyped-def]
    incident_id = open_incident(seeded)
    svc.acknowledge(seeded.uow(), incident_id, "bob")
    view = svc.close(
        seeded.uow(), incident_id, "bob", "kids", classification=Classification.FALSE_MALICIOUS
    )
    assert view["classification"] == "false_malicious" and view["state"] == "closed"


def test_close_unclassified_is_refused_and_changes_nothing(seeded) -> None:  # type: ignore[no-untyped-def]
    incident_id = open_incident(seeded)
    svc.acknowledge(seeded.uow(), incident_id, "bob")
    with pytest.raises(InvalidTransition):
        svc.close(seeded.uow(), incident_id, "bob", "")
    assert svc.incident_detail(seeded.uow(), incident_id)["state"] == "acknowledged"


def test_two_operators_never_both_claim(seeded) -> None:  # type: ignore[no-untyped-def]
    incident_id = open_incident(seeded)
    winners: list[str] = []
    losers: list[str] = []
    barrier = threading.Barrier(8)

    def claim(name: str) -> None:
        barrier.wait()
        try:
            svc.acknowledge(seeded.uow(), incident_id, name)
            winners.append(name)
        except AlreadyClaimed as exc:
            losers.append(str(exc))

    threads = [threading.Thread(target=claim, args=(f"op{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
    assert len(losers) == 7
    assert all(f"already acknowledged by {winners[0]}" in msg for msg in losers)
    with seeded.uow() as uow:
        assert uow.incidents.get(incident_id).acknowledged_by == winners[0]  # type: ignore[union-attr]
        acks = [a for a in uow.audit.for_incident(incident_id) if a.action.endswith("acknowledged")]
        assert len(acks) == 1


def test_unknown_incident_and_empty_note(seeded) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotFound):
        svc.acknowledge(seeded.uow(), 999_999, "alice")
    incident_id = open_incident(seeded)
    with pytest.raises(InvalidInput):
        svc.add_note(seeded.uow(), incident_id, "   ", "alice")
    with pytest.raises(InvalidInput):
        svc.parse_classification("not-a-code")


def test_queue_order_priority_then_age(seeded) -> None:  # type: ignore[no-untyped-def]
    uow = seeded.uow()
    now = datetime.now(UTC)
    with uow:
        handle_device_events(
            uow,
            [ReportedEvent("HP-03", 1, EventType.FAULT, T0, {})],
            now,
            timedelta(minutes=5),
        )
        handle_device_events(
            uow,
            [ReportedEvent("HP-02", 1, EventType.ACTIVATION, T0, {})],
            now + timedelta(seconds=1),
            timedelta(minutes=5),
        )
        handle_device_events(
            uow,
            [ReportedEvent("HP-01", 1, EventType.ACTIVATION, T0, {})],
            now + timedelta(seconds=2),
            timedelta(minutes=5),
        )
        uow.commit()
    queue = svc.open_queue(seeded.uow())
    assert [(i["unit_id"], i["kind"]) for i in queue] == [
        ("HP-02", "activation"),
        ("HP-01", "activation"),
        ("HP-03", "fault"),
    ]


def test_history_search_and_filters(seeded) -> None:  # type: ignore[no-untyped-def]
    first = open_incident(seeded, "HP-01", 1)
    second = open_incident(seeded, "HP-05", 1)
    svc.acknowledge(seeded.uow(), first, "alice")
    svc.add_note(seeded.uow(), first, "Man with a dog asked for directions", "alice")
    svc.close(seeded.uow(), first, "alice", "advice given", Classification.INFORMATION)

    def search(**kw):  # type: ignore[no-untyped-def]
        items, total = svc.search_history(seeded.uow(), IncidentFilter(**kw))
        assert total == len(items)
        return [i["id"] for i in items]

    assert search() == [second, first]
    assert search(text="DOG") == [first]
    assert search(text="market square") == [second]
    assert search(text=f"INC-{second:06d}") == [second]
    assert search(zone_id="racecourse") == [first]
    assert search(classification=Classification.INFORMATION) == [first]
    from helppoint.domain.model import IncidentState

    assert search(state=IncidentState.NEW) == [second]
    assert search(since=datetime.now(UTC) + timedelta(hours=1)) == []
    items, total = svc.search_history(seeded.uow(), IncidentFilter(limit=1))
    assert total == 2 and len(items) == 1


def _events(database, unit: str, seqs: list[int], received_at: datetime) -> list[int | None]:  # type: ignore[no-untyped-def]
    uow = database.uow()
    with uow:
        results = handle_device_events(
            uow,
            [ReportedEvent(unit, seq, EventType.ACTIVATION, T0, {}) for seq in seqs],
            received_at,
            timedelta(minutes=5),
        )
        uow.commit()
    return [result.incident_id for result in results]


def test_incident_detail_lists_its_own_events_only(seeded) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    first, joined = _events(seeded, "HP-01", [1, 2], now)
    [other_unit] = _events(seeded, "HP-02", [1], now)
    [later] = _events(seeded, "HP-01", [3], now + timedelta(minutes=10))  # after the window
    assert first == joined and len({first, other_unit, later}) == 3

    def seqs(incident_id: int | None) -> list[tuple[int, str]]:
        assert incident_id is not None
        detail = svc.incident_detail(seeded.uow(), incident_id)
        return [(e["seq"], detail["unit_id"]) for e in detail["events"]]

    assert seqs(first) == [(1, "HP-01"), (2, "HP-01")]
    assert seqs(later) == [(3, "HP-01")]
    assert seqs(other_unit) == [(1, "HP-02")]


def test_timeline_shows_repeat_presses_once_and_the_chain_keeps_their_entries(seeded) -> None:  # type: ignore[no-untyped-def]
    from helppoint.services.audit import verify

    now = datetime.now(UTC)
    [incident_id, _, _] = _events(seeded, "HP-01", [1, 2, 3], now)
    assert incident_id is not None
    svc.acknowledge(seeded.uow(), incident_id, "alice")
    detail = svc.incident_detail(seeded.uow(), incident_id)
    # Each press is one of the incident's events; the timeline adds what was done about them
    # (its entries for the two repeat presses are left out, as the console shows the events).
    assert [e["seq"] for e in detail["events"]] == [1, 2, 3]
    assert [t["action"] for t in detail["timeline"]] == [
        "incident.opened",
        "incident.acknowledged",
    ]
    with seeded.uow() as uow:
        joined = [
            (e.incident_id, e.detail["seq"])
            for e in uow.audit.in_chain_order()
            if e.action == "incident.event_joined"
        ]
    assert joined == [(incident_id, 2), (incident_id, 3)]
    report = verify(seeded.uow())
    assert report.ok, report.problem


def _detail_statements(database, incident_id: int | None, table: str) -> list[tuple[str, Any]]:  # type: ignore[no-untyped-def]
    """The statements (with their parameters) opening an incident runs on `table`."""
    assert incident_id is not None
    statements: list[tuple[str, Any]] = []

    def record(_conn, _cursor, statement, parameters, _context, _many) -> None:  # type: ignore[no-untyped-def]
        if f"FROM {table}" in statement:
            statements.append((statement, parameters))

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        svc.incident_detail(database.uow(), incident_id)
    finally:
        event.remove(database.engine, "before_cursor_execute", record)
    assert statements
    return statements


def _plan(database, statement: str, parameters: Any) -> list[str]:  # type: ignore[no-untyped-def]
    """The database's plan for a statement, a line per step."""
    with database.engine.connect() as connection:
        if database.kind == "sqlite":
            plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            return [str(row[-1]) for row in plan]
        # PostgreSQL reads a table this small whole unless that is made the dearest way.
        connection.exec_driver_sql("SET enable_seqscan = off")
        return [
            str(row[0]) for row in connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)
        ]


def test_timeline_is_read_through_the_index_of_entries_by_incident(seeded) -> None:  # type: ignore[no-untyped-def]
    # The index leaves out repeat presses' entries (store/tables.py); the timeline's query
    # must say so in the same words, or the database cannot use it and reads the whole trail.
    [incident_id] = _events(seeded, "HP-01", [1], datetime.now(UTC))
    [(statement, parameters)] = _detail_statements(seeded, incident_id, "audit_entries")
    details = _plan(seeded, statement, parameters)
    assert any("ix_audit_entries_incident_id" in d for d in details), details


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)  # PostgreSQL plans by statistics
def test_incident_detail_reads_the_unit_s_events_not_every_event(seeded) -> None:  # type: ignore[no-untyped-def]
    # A year in, device_events holds millions of rows: opening an incident must not read
    # them all (SQLite's plan for every statement on device_events uses an index).
    [incident_id] = _events(seeded, "HP-01", [1], datetime.now(UTC))
    for statement, parameters in _detail_statements(seeded, incident_id, "device_events"):
        details = _plan(seeded, statement, parameters)
        assert not any(d.startswith("SCAN device_events") for d in details), details


def test_the_open_queue_reads_its_units_in_one_query(seeded) -> None:  # type: ignore[no-untyped-def]
    """Every console's snapshot: one query for the alarms and one for their units, however many
    (it read each alarm's unit on its own, thousands of queries in a storm)."""
    units = [f"HP-0{n}" for n in range(1, 9)]
    for unit in units:
        open_incident(seeded, unit, 1)
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(seeded.engine, "before_cursor_execute", count)
    try:
        queue = svc.open_queue(seeded.uow())
    finally:
        event.remove(seeded.engine, "before_cursor_execute", count)
    assert sorted(i["unit_id"] for i in queue) == units
    assert all(i["unit_name"] for i in queue)
    assert len(statements) == 2, statements
