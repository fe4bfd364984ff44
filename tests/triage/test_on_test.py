"""Units on test (issue 18, item 5), on SQLite and PostgreSQL: what a unit reports in its
maintenance window is stored and shown as a test, never alarmed, and left out of answer
times and reports; the window ends and presses are alarms again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from helppoint.domain.errors import InvalidInput, NotFound
from helppoint.domain.events import EventType
from helppoint.domain.reports import Month
from helppoint.domain.sla import Shifts
from helppoint.domain.triage import is_test
from helppoint.gateway.batch_commit import Batch, commit_batches
from helppoint.services import incidents as incident_service
from helppoint.services import sla as sla_service
from helppoint.services import triage_on_test
from helppoint.services.ingest import ReportedEvent
from helppoint.services.known_units import KnownUnits
from helppoint.services.reports import build_monthly_report
from helppoint.services.seed import seed_demo
from helppoint.store.database import make_session_factory
from helppoint.store.uow import UnitOfWork
from tests.conftest import Database

WINDOW = timedelta(minutes=5)


def store(database: Database, known: KnownUnits | None, *events: ReportedEvent) -> list[Any]:
    published: list[dict[str, Any]] = []
    uow = UnitOfWork(
        make_session_factory(database.engine),
        lambda topic, m: published.append(m) if topic == "incidents" else None,
    )
    now = datetime.now(UTC)
    commit_batches(uow, [Batch(list(events), now)], WINDOW, known)
    return published


def event(unit: str, seq: int, kind: EventType = EventType.ACTIVATION) -> ReportedEvent:
    return ReportedEvent(unit, seq, kind, datetime.now(UTC), {})


@pytest.fixture
def seeded(database: Database) -> Database:
    seed_demo(database.uow())
    return database


def test_the_rule() -> None:
    t0 = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)
    assert not is_test(None, t0)
    assert is_test(t0 + timedelta(seconds=1), t0)
    assert not is_test(t0, t0)  # the window is over at its end


def test_presses_on_test_are_tests_shown_not_alarmed_and_left_out_of_figures(
    seeded: Database,
) -> None:
    known = KnownUnits() if seeded.kind == "sqlite" else None
    view = triage_on_test.put_on_test(seeded.uow(), "HP-05", 30, "new camera fitted", "sue")
    assert view["on_test"] is True and view["reason"] == "new camera fitted"
    assert [u["unit_id"] for u in triage_on_test.units_on_test(seeded.uow())] == ["HP-05"]
    [opened] = store(seeded, known, event("HP-05", 1))
    assert opened["on_test"] is True and opened["kind"] == "activation"
    both = store(seeded, known, event("HP-05", 2), event("HP-05", 3, EventType.TAMPER))
    assert [(m["kind"], m["on_test"]) for m in both] == [("activation", True), ("tamper", True)]
    queue = incident_service.open_queue(seeded.uow())
    assert sorted((i["kind"], i["on_test"], i["event_count"]) for i in queue) == [
        ("activation", True, 2),
        ("tamper", True, 1),
    ]
    store(seeded, known, event("HP-06", 1))  # a real alarm elsewhere

    # Not an alarm: no SLA alert however long it waits, not in the answer times or reports.
    later = datetime.now(UTC) + timedelta(minutes=10)
    alerts = sla_service.alert_unacknowledged(seeded.uow(), later, timedelta(seconds=30))
    assert [a["incident"]["unit_id"] for a in alerts] == ["HP-06"]
    shifts = Shifts((datetime.min.time(),), "UTC")
    dashboard = sla_service.dashboard(seeded.uow(), later, later - timedelta(hours=1), shifts)
    assert dashboard["overall"]["alarms"] == 1
    assert [i["unit_id"] for i in dashboard["queue"]] == ["HP-06"]
    month = datetime.now(UTC)
    report = build_monthly_report(seeded.uow(), Month(month.year, month.month), timezone="UTC")
    assert report.activations == 1

    # The window ends: a press is an alarm again, and does not join the test.
    ended = triage_on_test.end_test(seeded.uow(), "HP-05", "sue")
    assert ended["on_test"] is False
    if known is not None:
        known.forget()  # (a writer reads a unit's place again within 5 s)
    [alarm] = store(seeded, known, event("HP-05", 4))
    assert alarm["on_test"] is False and alarm["event_count"] == 1
    with seeded.uow() as uow:
        actions = [e.action for e in uow.audit.search(limit=50)[0]]
    assert "unit.on_test" in actions and "unit.test_ended" in actions


def test_bad_windows_are_refused_and_change_nothing(seeded: Database) -> None:
    with pytest.raises(InvalidInput):
        triage_on_test.put_on_test(seeded.uow(), "HP-01", 0, "x", "sue")
    with pytest.raises(InvalidInput):
        triage_on_test.put_on_test(seeded.uow(), "HP-01", 24 * 60 + 1, "x", "sue")
    with pytest.raises(InvalidInput):
        triage_on_test.put_on_test(seeded.uow(), "HP-01", 10, "   ", "sue")
    with pytest.raises(NotFound):
        triage_on_test.put_on_test(seeded.uow(), "HP-99", 10, "x", "sue")
    with pytest.raises(InvalidInput):
        triage_on_test.end_test(seeded.uow(), "HP-01", "sue")
    assert triage_on_test.units_on_test(seeded.uow()) == []


def test_supervisors_put_units_on_test_over_http(live_server: Any) -> None:
    from helppoint.domain.model import Role
    from tests.web.test_api import client

    sue = client(live_server, "sue", Role.SUPERVISOR)
    alice = client(live_server, "alice")
    body = {"minutes": 45, "reason": "lamp replaced"}
    assert alice.put("/api/units/HP-02/on-test", json=body).status_code == 403
    put = sue.put("/api/units/HP-02/on-test", json=body)
    assert put.status_code == 200, put.text
    assert put.json()["on_test"] is True and put.json()["until"]
    assert [u["unit_id"] for u in sue.get("/api/units/on-test").json()] == ["HP-02"]
    assert (
        sue.put("/api/units/HP-02/on-test", json={"minutes": 0, "reason": "x"}).status_code == 422
    )
    assert sue.put("/api/units/HP-99/on-test", json=body).status_code == 404
    assert sue.delete("/api/units/HP-02/on-test").json()["on_test"] is False
    assert sue.delete("/api/units/HP-02/on-test").status_code == 400
    assert sue.get("/api/units/on-test").json() == []
