"""The incident state machine and the join rule, without I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from helppoint.domain.classification import Category, Classification
from helppoint.domain.errors import InvalidInput, InvalidTransition
from helppoint.domain.events import EventType, Priority, event_digest, incident_priority
from helppoint.domain.model import (
    Incident,
    IncidentNote,
    IncidentState,
    Operator,
    Permission,
    Role,
)

T0 = datetime(2026, 11, 25, 23, 0, tzinfo=UTC)


def new_incident(priority: Priority = Priority.ACTIVATION) -> Incident:
    incident = Incident(unit_id="HP-01", priority=priority, opened_at=T0, last_event_at=T0)
    incident.id = 42
    return incident


def test_full_path_new_to_closed() -> None:
    incident = new_incident()
    incident.acknowledge("alice", T0 + timedelta(seconds=12))
    incident.start_call(T0 + timedelta(seconds=15))
    incident.classify(Classification.IMMINENT_THREAT, T0 + timedelta(seconds=40))
    incident.escalate(T0 + timedelta(seconds=45))
    incident.close("alice", T0 + timedelta(minutes=20), "  police attended  ")
    assert incident.state is IncidentState.CLOSED
    assert incident.acknowledged_by == "alice"
    assert incident.acknowledged_at == T0 + timedelta(seconds=12)
    assert incident.escalated_at == T0 + timedelta(seconds=45)
    assert incident.outcome == "police attended"
    assert not incident.is_open


def test_false_activation_path_skips_call_and_escalation() -> None:
    incident = new_incident()
    incident.acknowledge("bob", T0)
    incident.classify(Classification.FALSE_ACCIDENTAL, T0)
    incident.close("bob", T0)
    assert incident.state is IncidentState.CLOSED
    assert incident.classification is Classification.FALSE_ACCIDENTAL


@pytest.mark.parametrize(
    "action",
    [
        lambda i: i.start_call(T0),
        lambda i: i.classify(Classification.CONCERN, T0),
        lambda i: i.escalate(T0),
        lambda i: i.end_call(),
    ],
)
def test_new_incident_must_be_acknowledged_first(action: object) -> None:
    incident = new_incident()
    with pytest.raises(InvalidTransition, match="INC-000042 is new"):
        action(incident)  # type: ignore[operator]
    assert incident.state is IncidentState.NEW


def test_cannot_acknowledge_twice() -> None:
    incident = new_incident()
    incident.acknowledge("alice", T0)
    with pytest.raises(InvalidTransition):
        incident.acknowledge("bob", T0)
    assert incident.acknowledged_by == "alice"


def test_close_requires_classification() -> None:
    incident = new_incident()
    incident.acknowledge("alice", T0)
    with pytest.raises(InvalidTransition, match="must be classified"):
        incident.close("alice", T0)
    assert incident.state is IncidentState.ACKNOWLEDGED


def test_closed_incident_never_reopens() -> None:
    incident = new_incident()
    incident.acknowledge("alice", T0)
    incident.classify(Classification.FALSE_TEST, T0)
    incident.close("alice", T0)
    for action in (
        lambda: incident.acknowledge("x", T0),
        lambda: incident.start_call(T0),
        lambda: incident.classify(Classification.MEDICAL, T0),
        lambda: incident.escalate(T0),
    ):
        with pytest.raises(InvalidTransition):
            action()
    assert incident.state is IncidentState.CLOSED


def test_reclassify_before_escalation() -> None:
    incident = new_incident()
    incident.acknowledge("alice", T0)
    incident.classify(Classification.SILENT, T0)
    incident.classify(Classification.CONCERN, T0 + timedelta(seconds=5))
    assert incident.classification is Classification.CONCERN


def test_repeat_press_within_window_joins() -> None:
    incident = new_incident()
    window = timedelta(minutes=5)
    assert incident.joins(Priority.ACTIVATION, T0 + timedelta(minutes=4), window)
    incident.add_event(T0 + timedelta(minutes=4))
    # The window runs from the last press, so a steady stream keeps joining.
    assert incident.joins(Priority.ACTIVATION, T0 + timedelta(minutes=8), window)
    assert incident.event_count == 2


def test_press_after_window_or_of_other_kind_or_after_close_does_not_join() -> None:
    incident = new_incident()
    window = timedelta(minutes=5)
    assert not incident.joins(Priority.ACTIVATION, T0 + timedelta(minutes=6), window)
    assert not incident.joins(Priority.TAMPER, T0 + timedelta(seconds=1), window)
    incident.acknowledge("a", T0)
    incident.classify(Classification.FALSE_MALICIOUS, T0)
    incident.close("a", T0)
    assert not incident.joins(Priority.ACTIVATION, T0 + timedelta(seconds=1), window)


def test_priorities_activation_above_tamper_above_fault() -> None:
    assert Priority.ACTIVATION < Priority.TAMPER < Priority.FAULT
    assert incident_priority(EventType.ACTIVATION) is Priority.ACTIVATION
    assert incident_priority(EventType.TAMPER) is Priority.TAMPER
    assert incident_priority(EventType.FAULT) is Priority.FAULT
    assert incident_priority(EventType.HEARTBEAT) is None
    assert incident_priority(EventType.SELF_TEST, {"passed": True}) is None
    assert incident_priority(EventType.SELF_TEST, {"passed": False}) is Priority.FAULT


def test_classification_categories() -> None:
    false_codes = {c for c in Classification if c.is_false}
    assert false_codes == {
        Classification.FALSE_ACCIDENTAL,
        Classification.FALSE_MALICIOUS,
        Classification.FALSE_TEST,
    }
    assert Classification.IMMINENT_THREAT.category is Category.GENUINE
    assert Classification.TECHNICAL.category is Category.TECHNICAL
    assert Classification.SILENT.category is Category.UNKNOWN
    assert all(c.label for c in Classification)


def test_event_digest_tells_resend_from_different_event() -> None:
    a = event_digest("activation", "2026-11-25T23:00:00+00:00", {"hold_ms": 100})
    assert a == event_digest("activation", "2026-11-25T23:00:00+00:00", {"hold_ms": 100})
    assert a != event_digest("activation", "2026-11-25T23:00:01+00:00", {"hold_ms": 100})
    assert a != event_digest("tamper", "2026-11-25T23:00:00+00:00", {"hold_ms": 100})


def test_event_digests_never_change() -> None:
    # Stored digests tell a unit's resend (duplicate) from a different event (conflict): a
    # digest computed differently after an upgrade would refuse every resend of an event
    # stored before it. The value was computed by the first version of event_digest.
    payload = {"code": "PA", "note": "ünï ✓", "sia": {"seq": "0007", "zone": 1}, "x": [1.5, None]}
    assert (
        event_digest("activation", "2026-11-25T23:00:00+00:00", payload)
        == "2591cd0cfd062aa232fec3a219c5e234cb5bc701aae31ad88c27da69022dd122"
    )


def test_note_must_have_text() -> None:
    with pytest.raises(InvalidInput):
        IncidentNote(incident_id=1, author="a", text="   ", at=T0)
    with pytest.raises(InvalidInput):
        IncidentNote(incident_id=1, author="a", text="x" * 4001, at=T0)


def test_roles() -> None:
    def op(role: Role) -> Operator:
        return Operator("u", "U", role, "hash", T0)

    assert op(Role.OPERATOR).can(Permission.HANDLE_INCIDENTS)
    assert not op(Role.OPERATOR).can(Permission.ADMINISTER)
    assert op(Role.SUPERVISOR).can(Permission.SUPERVISE)
    assert not op(Role.SUPERVISOR).can(Permission.ADMINISTER)
    assert all(op(Role.ADMIN).can(p) for p in Permission)
    disabled = op(Role.ADMIN)
    disabled.active = False
    assert not disabled.can(Permission.HANDLE_INCIDENTS)
