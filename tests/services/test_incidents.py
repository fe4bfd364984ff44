"""Operator use cases on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

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
