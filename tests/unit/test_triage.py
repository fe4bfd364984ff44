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
