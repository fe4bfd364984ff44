"""IncidentRecord, the event writer's plain incident, is an Incident in all it does."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from helppoint.domain.events import Priority
from helppoint.domain.model import Incident, IncidentState
from helppoint.domain.triage import Voice
from helppoint.services.views import incident_view
from helppoint.store.repositories_incidents import IncidentRecord

T0 = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=5)


def pair(**changes: object) -> tuple[Incident, IncidentRecord]:
    values: dict[str, object] = {
        "id": 42,
        "unit_id": "HP-01",
        "priority": Priority.ACTIVATION,
        "state": IncidentState.NEW,
        "opened_at": T0,
        "last_event_at": T0,
        "event_count": 1,
        "acknowledged_at": None,
        "acknowledged_by": None,
        "held_by": None,
        "call_started_at": None,
        "assessed_at": None,
        "classification": None,
        "escalated_at": None,
        "closed_at": None,
        "closed_by": None,
        "outcome": "",
        "voice": None,
        "voice_level": None,
        "on_test": False,
        "mark": None,
        "suggested": None,
        "suggested_by": None,
        "pressed_at": None,
        "stored_at": None,
        "answer_microseconds": None,
    } | changes
    return Incident(**values), IncidentRecord(**values, version=3)  # type: ignore[arg-type]


def test_the_record_has_every_field_of_an_incident_and_the_rows_version() -> None:
    incident = {f.name for f in dataclasses.fields(Incident)}
    record = {f.name for f in dataclasses.fields(IncidentRecord)}
    assert record == incident | {"version"}


@pytest.mark.parametrize(
    ("changes", "priority", "after"),
    [
        ({}, Priority.ACTIVATION, timedelta(minutes=4)),
        ({}, Priority.ACTIVATION, timedelta(minutes=6)),
        ({}, Priority.TAMPER, timedelta(minutes=1)),
        ({"state": IncidentState.ACKNOWLEDGED}, Priority.ACTIVATION, timedelta(minutes=1)),
        ({"state": IncidentState.CLOSED}, Priority.ACTIVATION, timedelta(minutes=1)),
        ({}, Priority.ACTIVATION, timedelta(minutes=-1)),
    ],
)
def test_the_record_joins_events_as_the_incident_does(
    changes: dict[str, object], priority: Priority, after: timedelta
) -> None:
    incident, record = pair(**changes)
    at = T0 + after
    assert record.joins(priority, at, WINDOW) == incident.joins(priority, at, WINDOW)
    assert record.is_open == incident.is_open
    incident.add_event(at)
    record.add_event(at)
    assert (record.event_count, record.last_event_at) == (
        incident.event_count,
        incident.last_event_at,
    )


def test_the_record_shows_as_the_incident_does() -> None:
    incident, record = pair(state=IncidentState.ACKNOWLEDGED, acknowledged_by="alice")
    assert record.ref == incident.ref == "INC-000042"
    assert incident_view(record, None) == incident_view(incident, None)
    judged, judged_record = pair(voice=Voice.SILENT, voice_level=0.02)
    view = incident_view(judged_record, None)
    assert view == incident_view(judged, None)
    assert (view["voice"], view["voice_level"]) == ("silent", 0.02)


def test_an_incident_not_judged_yet_shows_no_voice() -> None:
    view = incident_view(pair()[0], None)
    assert view["voice"] is None and view["voice_level"] is None


def test_iso_writes_every_time_as_isoformat_does_whatever_came_before() -> None:
    from datetime import UTC, datetime, timedelta, timezone

    from helppoint.services.views import iso

    shared = datetime(2026, 12, 2, 2, 0, 0, 5, tzinfo=UTC)
    same_instant = shared.astimezone(timezone(timedelta(hours=1)))  # equal, other text
    times = [shared, same_instant, shared, datetime(2026, 1, 1, tzinfo=UTC), shared]
    times += [shared + timedelta(microseconds=n) for n in range(5)] + [same_instant, None]
    for value in times * 2:
        assert iso(value) == (value.isoformat() if value is not None else None)
