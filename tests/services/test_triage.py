"""Weeding out false activations, one or several at a time, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from helppoint.domain.classification import Classification
from helppoint.domain.errors import AlreadyClaimed, InvalidInput, InvalidTransition, NotFound
from helppoint.domain.events import EventType
from helppoint.domain.model import IncidentState
from helppoint.domain.triage import ChangedSinceSeen, ConfirmationNeeded, Voice
from helppoint.services import incidents as svc
from helppoint.services.ingest import ReportedEvent, handle_device_events
from helppoint.services.seed import seed_demo
from helppoint.store import tables as t
from helppoint.store.database import make_session_factory
from helppoint.store.uow import UnitOfWork

T0 = datetime(2026, 11, 25, 23, 0, tzinfo=UTC)
FALSE = Classification.FALSE_ACCIDENTAL


def press(database: Any, unit: str, seq: int = 1) -> int:
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
def seeded(database: Any) -> Any:
    seed_demo(database.uow())
    return database


def judge(database: Any, incident_id: int, voice: Voice) -> None:
    """Store a voice judgement on the incident, as the press-time audio path does."""
    with database.session() as session:
        session.execute(
            update(t.incidents).where(t.incidents.c.id == incident_id).values(voice=voice.value)
        )
        session.commit()


def actions(database: Any, incident_id: int) -> list[str]:
    with database.uow() as uow:
        return [a.action for a in uow.audit.for_incident(incident_id)]


def test_weed_out_is_one_audited_change_that_tells_the_consoles(seeded: Any) -> None:
    incident_id = press(seeded, "HP-01")
    published: list[tuple[str, dict[str, Any]]] = []
    uow = UnitOfWork(
        make_session_factory(seeded.engine),
        lambda topic, message: published.append((topic, message)),
    )
    view = svc.weed_out(
        uow,
        incident_id,
        "alice",
        Classification.FALSE_MALICIOUS,
        outcome="kids",
        address="10.0.0.9",
    )
    assert view["state"] == "closed"
    assert view["acknowledged_by"] == view["closed_by"] == "alice"
    assert view["classification"] == "false_malicious" and view["outcome"] == "kids"
    assert actions(seeded, incident_id) == ["incident.opened", "incident.weeded_out"]
    with seeded.uow() as uow:
        entry = uow.audit.for_incident(incident_id)[-1]
        assert entry.actor == "alice" and entry.address == "10.0.0.9"
        assert entry.detail == {
            "classification": "false_malicious",
            "outcome": "kids",
            "acknowledged": True,
            "voice": None,
            "confirmed": False,
        }
        stored = uow.incidents.get(incident_id)
        assert stored is not None and stored.state is IncidentState.CLOSED
        assert stored.acknowledged_at == stored.closed_at
    assert [topic for topic, _ in published] == ["incidents", "unit_reset"]
    assert published[0][1]["state"] == "closed"
    assert svc.open_queue(seeded.uow()) == []


def test_refusals_change_nothing(seeded: Any) -> None:
    incident_id = press(seeded, "HP-02")
    svc.acknowledge(seeded.uow(), incident_id, "bob")
    with pytest.raises(AlreadyClaimed, match="bob"):
        svc.weed_out(seeded.uow(), incident_id, "alice", FALSE)
    with pytest.raises(InvalidInput, match="not a false activation"):
        svc.weed_out(seeded.uow(), incident_id, "bob", Classification.MEDICAL)
    with pytest.raises(InvalidInput, match="4000"):
        svc.weed_out(seeded.uow(), incident_id, "bob", FALSE, outcome="x" * 4001)
    with pytest.raises(NotFound):
        svc.weed_out(seeded.uow(), 999_999, "bob", FALSE)
    press(seeded, "HP-02", seq=2)  # joins the open incident: two presses now
    with pytest.raises(ChangedSinceSeen):
        svc.weed_out(seeded.uow(), incident_id, "bob", FALSE, seen_event_count=1)
    assert actions(seeded, incident_id) == ["incident.opened", "incident.acknowledged"]
    view = svc.weed_out(seeded.uow(), incident_id, "bob", FALSE, seen_event_count=2)
    assert view["state"] == "closed"
    with pytest.raises(InvalidTransition, match="already closed"):
        svc.weed_out(seeded.uow(), incident_id, "bob", FALSE)


def test_two_operators_racing_never_both_succeed(seeded: Any) -> None:
    incident_id = press(seeded, "HP-03")
    done: list[str] = []
    refused: list[str] = []
    barrier = threading.Barrier(6)

    def act(name: str, weed: bool) -> None:
        barrier.wait()
        try:
            if weed:
                svc.weed_out(seeded.uow(), incident_id, name, FALSE)
            else:
                svc.acknowledge(seeded.uow(), incident_id, name)
            done.append(name)
        except (AlreadyClaimed, InvalidTransition) as exc:
            refused.append(str(exc))

    threads = [threading.Thread(target=act, args=(f"op{i}", i % 2 == 0)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(done) == 1 and len(refused) == 5
    [winner] = done
    with seeded.uow() as uow:
        incident = uow.incidents.get(incident_id)
        assert incident is not None and incident.acknowledged_by == winner
    changes = [a for a in actions(seeded, incident_id) if a != "incident.opened"]
    assert changes in (["incident.acknowledged"], ["incident.weeded_out"])


def test_several_at_once_each_with_its_own_entry_and_result(seeded: Any) -> None:
    mine = press(seeded, "HP-04")
    held = press(seeded, "HP-05")
    again = press(seeded, "HP-06")
    svc.acknowledge(seeded.uow(), held, "bob")
    press(seeded, "HP-06", seq=2)
    results = svc.weed_out_many(
        seeded.uow,
        [(mine, 1), (held, None), (again, 1), (999_999, None)],
        "alice",
        Classification.FALSE_TEST,
        outcome="maintenance visit",
    )
    assert [(r.incident_id, r.result) for r in results] == [
        (mine, "closed"),
        (held, "held_by_other"),
        (again, "pressed_again"),
        (999_999, "not_found"),
    ]
    assert results[0].ok and results[0].incident is not None
    assert results[0].incident["classification"] == "false_test"
    assert "bob" in results[1].detail and not results[1].ok
    assert actions(seeded, mine) == ["incident.opened", "incident.weeded_out"]
    assert actions(seeded, again) == ["incident.opened"]
    open_units = {i["unit_id"] for i in svc.open_queue(seeded.uow())}
    assert open_units == {"HP-05", "HP-06"}


def test_a_voice_heard_needs_a_confirm_one_at_a_time_and_several(seeded: Any) -> None:
    heard = press(seeded, "HP-08")
    quiet = press(seeded, "HP-01")
    judge(seeded, heard, Voice.VOICE)
    judge(seeded, quiet, Voice.SILENT)
    with pytest.raises(ConfirmationNeeded, match="a voice was heard"):
        svc.weed_out(seeded.uow(), heard, "alice", FALSE)
    results = svc.weed_out_many(seeded.uow, [(heard, None), (quiet, None)], "alice", FALSE)
    assert [r.result for r in results] == ["needs_confirmation", "closed"]
    assert actions(seeded, heard) == ["incident.opened"]
    view = svc.weed_out(seeded.uow(), heard, "alice", FALSE, confirmed=True)
    assert view["state"] == "closed" and view["voice"] == "voice"
    with seeded.uow() as uow:
        entry = uow.audit.for_incident(heard)[-1]
        assert entry.detail["voice"] == "voice" and entry.detail["confirmed"] is True


def test_several_with_a_wrong_reason_touch_nothing(seeded: Any) -> None:
    incident_id = press(seeded, "HP-07")
    with pytest.raises(InvalidInput):
        svc.weed_out_many(seeded.uow, [(incident_id, None)], "alice", Classification.CONCERN)
    assert actions(seeded, incident_id) == ["incident.opened"]


def test_operators_taking_at_once_each_get_a_different_alarm(seeded: Any) -> None:
    units = ["HP-01", "HP-02", "HP-03", "HP-04", "HP-05"]
    ids = {press(seeded, unit): unit for unit in units}
    taken: list[int] = []
    nothing: list[str] = []
    barrier = threading.Barrier(7)

    def take(name: str) -> None:
        barrier.wait()
        view = svc.take_next(seeded.uow(), name)
        if view is None:
            nothing.append(name)
        else:
            assert view["acknowledged_by"] == view["held_by"] == name
            taken.append(view["id"])

    threads = [threading.Thread(target=take, args=(f"op{n}",)) for n in range(7)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(taken) == sorted(ids)  # every alarm once, none twice
    assert len(nothing) == 2
    with seeded.uow() as uow:
        for incident_id in ids:
            entries = uow.audit.for_incident(incident_id)
            acks = [a for a in entries if a.action == "incident.acknowledged"]
            assert len(acks) == 1 and acks[0].detail == {"taken": True}


def test_take_next_takes_a_voice_heard_first_then_the_oldest(seeded: Any) -> None:
    oldest = press(seeded, "HP-01")
    heard = press(seeded, "HP-02")
    judge(seeded, heard, Voice.VOICE)
    assert svc.take_next(seeded.uow(), "alice")["id"] == heard  # type: ignore[index]
    assert svc.take_next(seeded.uow(), "alice")["id"] == oldest  # type: ignore[index]
    assert svc.take_next(seeded.uow(), "alice") is None


def test_a_supervisor_moves_an_alarm_and_the_record_keeps_who_acknowledged_it(
    seeded: Any,
) -> None:
    from helppoint.domain.model import Role
    from helppoint.services.operators import add_operator

    for name, role in (("alice", Role.OPERATOR), ("bob", Role.OPERATOR), ("aud", Role.AUDITOR)):
        add_operator(seeded.uow(), name, "a long enough password", role)
    incident_id = press(seeded, "HP-03")
    svc.acknowledge(seeded.uow(), incident_id, "alice")
    view = svc.move(seeded.uow(), incident_id, "bob", "sam", "10.0.0.7")
    assert (view["held_by"], view["acknowledged_by"]) == ("bob", "alice")
    with seeded.uow() as uow:
        entry = uow.audit.for_incident(incident_id)[-1]
        assert (entry.action, entry.actor, entry.address) == ("incident.moved", "sam", "10.0.0.7")
        assert entry.detail == {"from_operator": "alice", "to_operator": "bob"}
    with pytest.raises(InvalidInput, match="not an operator"):
        svc.move(seeded.uow(), incident_id, "aud", "sam")
    with pytest.raises(InvalidInput, match="not an operator"):
        svc.move(seeded.uow(), incident_id, "nobody", "sam")
    with pytest.raises(InvalidInput, match="already held by bob"):
        svc.move(seeded.uow(), incident_id, "bob", "sam")
    with pytest.raises(AlreadyClaimed, match="held by bob"):
        svc.weed_out(seeded.uow(), incident_id, "alice", FALSE)
    assert svc.weed_out(seeded.uow(), incident_id, "bob", FALSE)["closed_by"] == "bob"
    waiting = press(seeded, "HP-04")
    with pytest.raises(InvalidTransition, match="nobody holds"):
        svc.move(seeded.uow(), waiting, "bob", "sam")
    holders = {h["username"]: h["holds"] for h in svc.holders(seeded.uow())}
    assert holders == {"alice": 0, "bob": 0}  # the auditor does not handle alarms
    svc.acknowledge(seeded.uow(), waiting, "alice")
    assert {h["username"]: h["holds"] for h in svc.holders(seeded.uow())} == {"alice": 1, "bob": 0}
