"""Storing device events exactly once and opening/joining incidents (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from helppoint.domain.events import EventType, Priority
from helppoint.domain.model import IncidentState
from helppoint.services.ingest import Outcome, ReportedEvent, handle_device_events
from helppoint.services.seed import seed_demo

T0 = datetime(2026, 11, 25, 23, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=5)


def press(seq: int, unit: str = "HP-01", payload: dict[str, object] | None = None) -> ReportedEvent:
    return ReportedEvent(
        unit, seq, EventType.ACTIVATION, T0 + timedelta(seconds=seq), payload or {}
    )


def ingest(database, events, at=T0):  # type: ignore[no-untyped-def]
    uow = database.uow()
    with uow:
        results = handle_device_events(uow, events, at, WINDOW)
        uow.commit()
    return results


@pytest.fixture
def seeded(database):  # type: ignore[no-untyped-def]
    seed_demo(database.uow())
    return database


def test_press_is_stored_and_opens_incident(seeded) -> None:  # type: ignore[no-untyped-def]
    [result] = ingest(seeded, [press(1)])
    assert result.outcome is Outcome.STORED
    assert result.incident_id is not None
    with seeded.uow() as uow:
        incident = uow.incidents.get(result.incident_id)
        assert incident is not None
        assert incident.state is IncidentState.NEW
        assert incident.priority is Priority.ACTIVATION
        assert incident.opened_at == T0
        assert uow.events.count("HP-01") == 1
        assert uow.units.get("HP-01").last_seen_at == T0  # type: ignore[union-attr]


def test_resend_is_duplicate_and_changes_nothing(seeded) -> None:  # type: ignore[no-untyped-def]
    first = ingest(seeded, [press(1)])
    again = ingest(seeded, [press(1)], at=T0 + timedelta(seconds=3))
    assert again[0].outcome is Outcome.DUPLICATE
    assert again[0].incident_id == first[0].incident_id
    with seeded.uow() as uow:
        assert uow.events.count() == 1
        assert uow.incidents.count() == 1
        incident = uow.incidents.get(first[0].incident_id)
        assert incident is not None and incident.event_count == 1


def test_different_event_under_stored_seq_is_a_conflict(seeded) -> None:  # type: ignore[no-untyped-def]
    ingest(seeded, [press(1), press(2)])
    [result] = ingest(seeded, [press(1, payload={"other": True})])
    assert result.outcome is Outcome.CONFLICT
    assert result.last_seq == 2
    with seeded.uow() as uow:
        assert uow.events.count() == 2


def test_regressed_seq_is_refused(seeded) -> None:  # type: ignore[no-untyped-def]
    ingest(seeded, [press(5)])
    [result] = ingest(seeded, [press(3)])
    assert result.outcome is Outcome.REGRESSED
    assert result.last_seq == 5
    with seeded.uow() as uow:
        assert uow.events.count() == 1


def test_repeat_presses_join_within_window_and_open_new_after(seeded) -> None:  # type: ignore[no-untyped-def]
    a = ingest(seeded, [press(1)], at=T0)
    b = ingest(seeded, [press(2)], at=T0 + timedelta(minutes=4))
    c = ingest(seeded, [press(3)], at=T0 + timedelta(minutes=10))
    assert a[0].incident_id == b[0].incident_id
    assert c[0].incident_id != a[0].incident_id
    with seeded.uow() as uow:
        joined = uow.incidents.get(a[0].incident_id)
        assert joined is not None and joined.event_count == 2


def test_batch_with_many_units_and_kinds(seeded) -> None:  # type: ignore[no-untyped-def]
    events = [
        press(1, "HP-01"),
        press(2, "HP-01"),
        ReportedEvent("HP-02", 1, EventType.TAMPER, T0, {}),
        ReportedEvent("HP-03", 1, EventType.FAULT, T0, {"fault": "light"}),
        ReportedEvent("HP-04", 1, EventType.HEARTBEAT, T0, {}),
        ReportedEvent("HP-05", 1, EventType.SELF_TEST, T0, {"passed": True}),
    ]
    results = ingest(seeded, events)
    assert [r.outcome for r in results] == [Outcome.STORED] * 6
    assert results[0].incident_id == results[1].incident_id
    assert results[4].incident_id is None and results[5].incident_id is None
    with seeded.uow() as uow:
        queue = uow.incidents.open_queue()
        assert [(i.unit_id, i.priority) for i in queue] == [
            ("HP-01", Priority.ACTIVATION),
            ("HP-02", Priority.TAMPER),
            ("HP-03", Priority.FAULT),
        ]


def test_commit_publishes_after_commit_only(seeded) -> None:  # type: ignore[no-untyped-def]
    from helppoint.store.database import make_session_factory
    from helppoint.store.uow import UnitOfWork

    published: list[tuple[str, dict[str, object]]] = []
    uow = UnitOfWork(make_session_factory(seeded.engine), lambda t, m: published.append((t, m)))
    with uow:
        handle_device_events(uow, [press(1)], T0, WINDOW)
        assert published == []
        uow.rollback()
    assert published == []
    with seeded.uow() as check:
        assert check.events.count() == 0
    with uow:
        handle_device_events(uow, [press(1)], T0, WINDOW)
        uow.commit()
    assert [t for t, _ in published] == ["incidents"]
    assert published[0][1]["unit_name"] == "Racecourse - Kettering Road gate"


def fault(seq: int, unit: str, name: str, detail: str = "") -> ReportedEvent:
    return ReportedEvent(unit, seq, EventType.FAULT, T0, {"fault": name, "detail": detail})


def tickets(database):  # type: ignore[no-untyped-def]
    with database.uow() as uow:
        return sorted(
            (t.unit_id, t.fault, t.state.value, t.occurrences, t.detail)
            for t in uow.tickets.list(open_only=False)
        )


def test_faults_in_a_batch_open_one_ticket_per_unit_and_fault(seeded) -> None:  # type: ignore[no-untyped-def]
    ingest(seeded, [fault(1, "HP-03", "camera"), fault(1, "HP-04", "light")])
    ingest(
        seeded,
        [
            fault(2, "HP-03", "light", "dead"),
            fault(3, "HP-03", "light", "still dead"),
            fault(2, "HP-04", "light"),
            fault(4, "HP-03", "camera"),
            ReportedEvent("HP-02", 1, EventType.TAMPER, T0, {"detail": "door"}),
        ],
    )
    # HP-03's light and HP-04's camera have no ticket: pairs of a batch do not cross.
    assert tickets(seeded) == [
        ("HP-02", "tamper", "open", 1, "door"),
        ("HP-03", "camera", "open", 2, ""),
        ("HP-03", "light", "open", 2, "still dead"),
        ("HP-04", "light", "open", 2, ""),
    ]


def test_a_fault_after_its_fix_opens_a_new_ticket_that_the_batch_recurs_on(seeded) -> None:  # type: ignore[no-untyped-def]
    ingest(seeded, [fault(1, "HP-03", "light")])
    with seeded.uow() as uow:
        [ticket] = uow.tickets.list(open_only=True)
        ticket.mark_fixed("eng", T0)
        uow.commit()
    ingest(seeded, [fault(2, "HP-03", "light", "again"), fault(3, "HP-03", "light")])
    assert tickets(seeded) == [
        ("HP-03", "light", "fixed", 1, ""),
        ("HP-03", "light", "open", 2, "again"),
    ]


def test_every_stored_event_is_on_a_verifiable_audit_chain(seeded) -> None:  # type: ignore[no-untyped-def]
    from helppoint.services.audit import verify

    first = ingest(seeded, [press(1), press(2), press(1, "HP-02")])
    ingest(seeded, [press(2), press(3), ReportedEvent("HP-04", 1, EventType.HEARTBEAT, T0, {})])
    report = verify(seeded.uow())
    assert report.ok, report.problem
    with seeded.uow() as uow:
        trail = [
            (e.actor, e.action, e.incident_id, e.detail)
            for e in uow.audit.in_chain_order()
            if e.actor.startswith("unit:")
        ]
    hp01, hp02 = first[0].incident_id, first[2].incident_id
    activation = {"type": "activation"}
    assert trail == [
        ("unit:HP-01", "incident.opened", hp01, {"seq": 1} | activation),
        ("unit:HP-01", "incident.event_joined", hp01, {"seq": 2} | activation),
        ("unit:HP-02", "incident.opened", hp02, {"seq": 1} | activation),
        ("unit:HP-01", "incident.event_joined", hp01, {"seq": 3} | activation),
    ]


def test_last_seqs_are_each_units_highest_stored(seeded) -> None:  # type: ignore[no-untyped-def]
    ingest(seeded, [press(1), press(2), press(7, "HP-02"), press(9, "HP-02")])
    with seeded.uow() as uow:
        assert uow.events.last_seqs(["HP-02", "HP-01", "HP-03", "NO-SUCH"]) == {
            "HP-02": 9,
            "HP-01": 2,
            "HP-03": 0,
            "NO-SUCH": 0,
        }


def test_events_that_open_nothing_leave_open_incidents_alone(seeded) -> None:  # type: ignore[no-untyped-def]
    from helppoint.store.database import make_session_factory
    from helppoint.store.uow import UnitOfWork

    [opened] = ingest(seeded, [press(1)])
    published: list[tuple[str, dict[str, object]]] = []
    uow = UnitOfWork(make_session_factory(seeded.engine), lambda t, m: published.append((t, m)))
    with uow:
        results = handle_device_events(
            uow,
            [
                ReportedEvent("HP-01", 2, EventType.HEARTBEAT, T0, {}),
                ReportedEvent("HP-01", 3, EventType.SELF_TEST, T0, {"passed": True}),
                press(1, "HP-02"),
            ],
            T0 + timedelta(minutes=1),
            WINDOW,
        )
        uow.commit()
    assert [r.incident_id for r in results[:2]] == [None, None]
    assert [m["unit_id"] for t, m in published if t == "incidents"] == ["HP-02"]
    with seeded.uow() as check:
        incident = check.incidents.get(opened.incident_id)
        assert incident is not None
        assert (incident.event_count, incident.last_event_at) == (1, T0)
