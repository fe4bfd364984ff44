"""Weeding out a false activation: the rules, without I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from helppoint.domain.classification import Classification
from helppoint.domain.errors import AlreadyClaimed, InvalidInput, InvalidTransition
from helppoint.domain.events import Priority
from helppoint.domain.model import Incident, IncidentState
from helppoint.domain.triage import (
    WEED_OUT_REASONS,
    ChangedSinceSeen,
    ConfirmationNeeded,
    Voice,
    person_may_be_there,
    take_order,
)

T0 = datetime(2026, 11, 25, 23, 0, tzinfo=UTC)
LATER = T0 + timedelta(seconds=7)


def new_incident() -> Incident:
    incident = Incident(
        unit_id="HP-01", priority=Priority.ACTIVATION, opened_at=T0, last_event_at=T0
    )
    incident.id = 42
    return incident


def test_a_new_incident_is_acknowledged_classified_and_closed_in_one_change() -> None:
    incident = new_incident()
    acknowledged = incident.weed_out("alice", Classification.FALSE_MALICIOUS, LATER, " kids ")
    assert acknowledged is True
    assert incident.state is IncidentState.CLOSED
    assert (incident.acknowledged_by, incident.acknowledged_at) == ("alice", LATER)
    assert (incident.classification, incident.assessed_at) == (
        Classification.FALSE_MALICIOUS,
        LATER,
    )
    assert (incident.closed_by, incident.closed_at, incident.outcome) == ("alice", LATER, "kids")


@pytest.mark.parametrize("state", [IncidentState.ACKNOWLEDGED, IncidentState.ASSESSED])
def test_an_incident_the_operator_holds_is_closed_without_acknowledging_again(
    state: IncidentState,
) -> None:
    incident = new_incident()
    incident.acknowledge("alice", T0)
    if state is IncidentState.ASSESSED:
        incident.classify(Classification.CONCERN, T0)
    assert incident.weed_out("alice", Classification.FALSE_ACCIDENTAL, LATER) is False
    assert incident.acknowledged_at == T0  # the answer time stays the first acknowledgement
    assert incident.classification is Classification.FALSE_ACCIDENTAL
    assert incident.state is IncidentState.CLOSED


def test_only_a_false_reason_weeds_out() -> None:
    incident = new_incident()
    with pytest.raises(InvalidInput, match="not a false activation"):
        incident.weed_out("alice", Classification.IMMINENT_THREAT, LATER)
    assert incident.state is IncidentState.NEW
    assert set(WEED_OUT_REASONS) == {c for c in Classification if c.is_false}
    assert WEED_OUT_REASONS[0] is Classification.FALSE_ACCIDENTAL  # the one-key default


def test_another_operators_incident_is_refused() -> None:
    incident = new_incident()
    incident.acknowledge("bob", T0)
    with pytest.raises(AlreadyClaimed, match="already acknowledged by bob"):
        incident.weed_out("alice", Classification.FALSE_ACCIDENTAL, LATER)
    assert incident.state is IncidentState.ACKNOWLEDGED


def test_in_a_call_escalated_or_closed_is_refused() -> None:
    in_call = new_incident()
    in_call.acknowledge("alice", T0)
    in_call.start_call(T0)
    with pytest.raises(InvalidTransition, match="hang up"):
        in_call.weed_out("alice", Classification.FALSE_ACCIDENTAL, LATER)
    escalated = new_incident()
    escalated.acknowledge("alice", T0)
    escalated.classify(Classification.IMMINENT_THREAT, T0)
    escalated.escalate(T0)
    with pytest.raises(InvalidTransition, match="escalated"):
        escalated.weed_out("alice", Classification.FALSE_ACCIDENTAL, LATER)
    closed = new_incident()
    closed.weed_out("bob", Classification.FALSE_TEST, T0)
    with pytest.raises(InvalidTransition, match="already closed"):
        closed.weed_out("alice", Classification.FALSE_ACCIDENTAL, LATER)
    assert closed.closed_by == "bob"


@pytest.mark.parametrize(
    ("voice", "needs"),
    [(Voice.VOICE, True), (Voice.NOISY, True), (Voice.SILENT, False), (None, False)],
)
def test_a_person_who_may_be_there_needs_an_explicit_confirm(
    voice: Voice | None, needs: bool
) -> None:
    assert person_may_be_there(voice) is needs
    incident = new_incident()
    incident.voice = voice
    if needs:
        with pytest.raises(ConfirmationNeeded, match="confirm"):
            incident.weed_out("alice", Classification.FALSE_ACCIDENTAL, LATER)
        assert incident.state is IncidentState.NEW and incident.acknowledged_by is None
    incident.weed_out("alice", Classification.FALSE_ACCIDENTAL, LATER, confirmed=True)
    assert incident.state is IncidentState.CLOSED


def test_a_unit_pressed_again_since_the_operator_looked_is_refused() -> None:
    incident = new_incident()
    incident.add_event(T0 + timedelta(seconds=2))
    with pytest.raises(ChangedSinceSeen, match="pressed again since you looked"):
        incident.weed_out("alice", Classification.FALSE_ACCIDENTAL, LATER, seen_event_count=1)
    assert incident.state is IncidentState.NEW
    incident.weed_out("alice", Classification.FALSE_ACCIDENTAL, LATER, seen_event_count=2)
    assert incident.state is IncidentState.CLOSED


def test_a_supervisor_moves_a_held_incident_and_who_acknowledged_it_stays() -> None:
    incident = new_incident()
    incident.acknowledge("alice", T0)
    assert incident.held_by == "alice"
    assert incident.move_to("bob") == "alice"
    assert (incident.held_by, incident.acknowledged_by, incident.acknowledged_at) == (
        "bob",
        "alice",
        T0,
    )
    with pytest.raises(AlreadyClaimed, match="is held by bob"):
        incident.weed_out("alice", Classification.FALSE_ACCIDENTAL, LATER)
    incident.weed_out("bob", Classification.FALSE_ACCIDENTAL, LATER)
    assert incident.closed_by == "bob"


def test_only_a_held_incident_out_of_a_call_can_move() -> None:
    waiting = new_incident()
    with pytest.raises(InvalidTransition, match="nobody holds"):
        waiting.move_to("bob")
    held = new_incident()
    held.acknowledge("alice", T0)
    with pytest.raises(InvalidInput, match="already held by alice"):
        held.move_to("alice")
    held.start_call(T0)
    with pytest.raises(InvalidTransition, match="in a call with alice"):
        held.move_to("bob")
    closed = new_incident()
    closed.weed_out("alice", Classification.FALSE_TEST, T0)
    with pytest.raises(InvalidTransition, match="closed"):
        closed.move_to("bob")


def test_take_order_alarms_first_a_voice_first_then_the_oldest() -> None:
    def incident(n: int, **fields: object) -> Incident:
        made = Incident(
            unit_id=f"HP-{n:02d}",
            priority=Priority.ACTIVATION,
            opened_at=T0 + timedelta(seconds=n),
            last_event_at=T0,
        )
        made.id = n
        for name, value in fields.items():
            setattr(made, name, value)
        return made

    incidents = [
        incident(1, priority=Priority.TAMPER),
        incident(2),
        incident(3, voice=Voice.SILENT),
        incident(4, voice=Voice.NOISY),
        incident(5, voice=Voice.VOICE),
        incident(0, on_test=True),
    ]
    assert [i.id for i in sorted(incidents, key=take_order)] == [5, 4, 2, 3, 1, 0]
