"""Each view builder of services/views.py gives exactly what its Pydantic model describes.

The models are the routes' response models (what /openapi.json says); the builders make the
dicts the API and the real-time messages send. A key added to one and not the other fails here,
before FastAPI would silently drop it from an answer.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import BaseModel

from helppoint.domain.events import DeviceEvent, EventType
from helppoint.domain.model import AuditEntry, IncidentNote
from helppoint.domain.notifications import Notification
from helppoint.domain.plans import ActionKind, Channel
from helppoint.services import views
from tests.unit.incidents import AT, FULL, UNIT, incident

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
