"""The operator's checklist and the police response, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from helppoint.domain.classification import Classification
from helppoint.domain.errors import InvalidInput, InvalidTransition, NotFound
from helppoint.services import notifications, police
from helppoint.services.plans import import_plan

from .conftest import open_classified

PHONE_ONLY = """\
plan: Racecourse
zone: racecourse
police:
  urn: NP-RC-7
  phone: "01604 700700"
rules:
  - when: imminent_threat
    actions:
      - notify: police
        channel: phone
        to: "01604 700700"
        template: "{ref}"
"""


def audit(database: Any, prefix: str) -> list[tuple[str, str]]:
    uow = database.uow()
    with uow:
        rows, _ = uow.audit.search(action=prefix, limit=None)
        return [(e.actor, e.action) for e in reversed(rows)]


def test_checklist_previews_the_plan_for_a_classification(scheme: Any) -> None:
    incident_id = open_classified(scheme)
    preview = police.checklist(scheme.uow(), incident_id, Classification.FALSE_ACCIDENTAL)
    assert preview["actions"] == [] and preview["classification"] == "false_accidental"
    current = police.checklist(scheme.uow(), incident_id)
    assert current["plan"]["name"] == "Town centre"
    assert current["police"] == {"urn": "NP-2026-0042", "phone": "101"}
    assert [(a["notify"], a["channel"], a["automatic"]) for a in current["actions"]] == [
        ("police", "webhook", True),
        ("police", "cap", True),
        ("council_safeguarding", "email", True),
        ("supervisor", "console", True),
        ("police", "phone", False),
    ]
    assert current["police_response"] is None and current["notifications"] == []


def test_police_acknowledge_with_their_reference(escalated: Any) -> None:
    database, incident_id, _ = escalated
    [shown] = police.police_queue(database.uow())
    assert shown["id"] == incident_id and shown["police_response"]["called_by"] == "olive"
    assert shown["police_response"]["acknowledged_at"] is None
    with pytest.raises(InvalidInput, match="police reference"):
        police.police_acknowledge(database.uow(), incident_id, "pc-smith", "<script>")
    view = police.police_acknowledge(
        database.uow(), incident_id, "pc-smith", " NP-20261125-0421 ", "10.9.0.1"
    )
    response = view["police_response"]
    assert (response["acknowledged_by"], response["cad_reference"]) == (
        "pc-smith",
        "NP-20261125-0421",
    )
    with pytest.raises(InvalidTransition, match="already acknowledged by pc-smith"):
        police.police_acknowledge(database.uow(), incident_id, "pc-jones", "OTHER")
    police.police_on_scene(database.uow(), incident_id, "olive")
    with pytest.raises(InvalidTransition, match="already recorded on scene"):
        police.police_on_scene(database.uow(), incident_id, "olive")
    checklist = police.checklist(database.uow(), incident_id)
    assert checklist["police_response"]["on_scene_at"] is not None
    assert audit(database, "police.") == [
        ("pc-smith", "police.acknowledged"),
        ("olive", "police.on_scene"),
    ]


def test_a_phone_plan_is_one_click_police_called(scheme: Any) -> None:
    import_plan(scheme.uow(), PHONE_ONLY, "admin")
    incident_id = open_classified(scheme, unit="HP-01")
    with pytest.raises(InvalidTransition, match="must be escalated"):
        police.police_called(scheme.uow(), incident_id, "olive")
    view = notifications.escalate(scheme.uow(), incident_id, "olive")
    assert view["notifications"] == [] and view["state"] == "escalated"
    assert police.police_queue(scheme.uow()) == []  # not called yet
    called = police.police_called(scheme.uow(), incident_id, "olive")
    assert called["police_response"]["called_by"] == "olive"
    with pytest.raises(InvalidTransition, match="already called"):
        police.police_called(scheme.uow(), incident_id, "olive")
    assert [i["id"] for i in police.police_queue(scheme.uow())] == [incident_id]


def test_incidents_not_escalated_to_the_police_are_not_theirs(scheme: Any) -> None:
    incident_id = open_classified(scheme)
    with pytest.raises(NotFound, match="not escalated to the police"):
        police.police_acknowledge(scheme.uow(), incident_id, "pc-smith", "X1")
    with pytest.raises(NotFound):
        police.police_incident(scheme.uow(), incident_id)
