"""Each view builder of services/views.py gives exactly what its Pydantic model describes.

The models are the routes' response models (what /openapi.json says); the builders make the
dicts the API and the real-time messages send. A key added to one and not the other fails here,
before FastAPI would silently drop it from an answer.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel

from helppoint.domain.classification import Classification
from helppoint.domain.events import DeviceEvent, EventType, Priority
from helppoint.domain.model import AuditEntry, HelpPoint, Incident, IncidentNote
from helppoint.domain.notifications import Notification
from helppoint.domain.plans import ActionKind, Channel
from helppoint.domain.triage import Voice
from helppoint.services import views

AT = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
UNIT = HelpPoint(id="HP-01", name="Market Square", zone_id="centre", latitude=51.5, longitude=-0.1)


def incident(**changes: Any) -> Incident:
    return Incident(
        unit_id="HP-01",
        priority=Priority.ACTIVATION,
        opened_at=AT,
        last_event_at=AT,
        id=42,
        **changes,
    )


FULL = incident(
    acknowledged_at=AT,
    acknowledged_by="alice",
    classification=Classification.FALSE_TEST,
    voice=Voice.VOICE,
    voice_level=0.4,
    suggested=Classification.FALSE_TEST,
    suggested_by="rule 1",
    pressed_at=AT,
    stored_at=AT,
)

CASES: list[tuple[type[BaseModel], dict[str, Any]]] = [
    (views.UnitView, views.unit_view(UNIT)),
    (views.IncidentView, views.incident_view(incident(), UNIT)),
    (views.IncidentView, views.incident_view(FULL, UNIT)),
    (views.IncidentView, views.incident_view(incident(), None)),
    (views.NoteView, views.note_view(IncidentNote(42, "alice", "on my way", AT, id=1))),
    (
        views.EventView,
        views.event_view(DeviceEvent("HP-01", 7, EventType.ACTIVATION, AT, AT, {"button": 1})),
    ),
    (
        views.AuditView,
        views.audit_view(AuditEntry(AT, "alice", "incident.acknowledged", 42, {}, "10.0.0.1")),
    ),
    (
        views.NotificationView,
        views.notification_view(
            Notification(
                42,
                ActionKind.POLICE,
                Channel.EMAIL,
                "police@example.org",
                "help",
                "42-police",
                AT,
                AT + timedelta(seconds=30),
                id=5,
            )
        ),
    ),
]


@pytest.mark.parametrize(("model", "view"), CASES)
def test_a_builder_gives_what_its_model_describes(
    model: type[BaseModel], view: dict[str, Any]
) -> None:
    assert set(view) == set(model.model_fields)
    # The model reads the dict back unchanged: the types it declares are the ones sent.
    assert model.model_validate(view).model_dump(mode="json") == view
