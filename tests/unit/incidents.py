"""An incident at a unit, as the view and message tests build them (tests/unit/test_views.py,
tests/unit/test_topics.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from helppoint.domain.classification import Classification
from helppoint.domain.events import Priority
from helppoint.domain.model import HelpPoint, Incident
from helppoint.domain.triage import Voice

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


#: Every optional field set.
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
