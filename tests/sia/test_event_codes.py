"""Event code tables, their categories, and the admin's handling of each category."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
from alarmdecoder.messages.lrr.events import LRR_CID_MAP
from pysiaalarm.data.data import SIA_CODES

from helppoint.domain.errors import InvalidInput
from helppoint.domain.events import EventType, Priority, incident_priority
from helppoint.domain.sia_code_tables import CONTACT_ID, SIA_DC03
from helppoint.domain.sia_codes import (
    CATEGORIES,
    Category,
    Handling,
    HandlingNotAllowed,
    check_handling,
    contact_id_code,
    sia_code,
)
from helppoint.gateway.sia.codec import Token
from helppoint.gateway.sia.events import Handlings, events_of
from helppoint.services.sia_handling import category_handlings, chosen_handlings, set_handling

ROOT = Path(__file__).resolve().parents[2]


def test_the_tables_are_the_published_ones_whole() -> None:
    # The data file is exactly what the script writes from the libraries' tables.
    spec = importlib.util.spec_from_file_location("tables", ROOT / "scripts/sia_code_tables.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    written = (ROOT / "helppoint/domain/sia_code_tables.py").read_text(encoding="utf-8")
    assert written == script.render()
    assert set(SIA_DC03) == set(SIA_CODES) and len(SIA_DC03) > 300
    assert set(CONTACT_ID) == {f"{n:03X}" for n in LRR_CID_MAP} and len(CONTACT_ID) > 250


def test_every_code_of_the_tables_has_a_category() -> None:
    for code in SIA_DC03:
        meaning = sia_code(code)
        assert meaning.mapped and meaning.category is not Category.UNMAPPED, code
    for code in CONTACT_ID:
        for qualifier in "136":
            meaning = contact_id_code(qualifier, code)
            assert meaning.mapped and meaning.category is not Category.UNMAPPED, code
    # Each category but UNMAPPED holds codes of the tables.
    used = {sia_code(c).category for c in SIA_DC03} | {
        contact_id_code("1", c).category for c in CONTACT_ID
    }
    assert used == set(Category) - {Category.UNMAPPED}


@pytest.mark.parametrize(
    ("code", "category"),
    [
        ("PA", Category.PANIC),
        ("HA", Category.PANIC),
        ("MA", Category.MEDICAL),
        ("BA", Category.INTRUSION),
        ("FA", Category.FIRE),
        ("GA", Category.HAZARD),
        ("TA", Category.TAMPER),
        ("AT", Category.TROUBLE),
        ("YT", Category.TROUBLE),
        ("BT", Category.TROUBLE),
        ("FS", Category.SUPERVISORY),
        ("RP", Category.TEST),
        ("PR", Category.RESTORAL),
        ("BH", Category.RESTORAL),
        ("OP", Category.OPEN_CLOSE),
        ("CL", Category.OPEN_CLOSE),
        ("DG", Category.ACCESS),
        ("BB", Category.BYPASS),
        ("BU", Category.BYPASS),
        ("FL", Category.SYSTEM),
        ("DU", Category.SYSTEM),  # Dealer ID in the published table (not duress)
        ("ZX", Category.UNMAPPED),
    ],
)
def test_sia_codes_fall_into_categories(code: str, category: Category) -> None:
    assert sia_code(code).category is category


@pytest.mark.parametrize(
    ("qualifier", "code", "category"),
    [
        ("1", "100", Category.MEDICAL),
        ("1", "110", Category.FIRE),
        ("1", "120", Category.PANIC),
        ("1", "121", Category.PANIC),
        ("1", "124", Category.PANIC),  # by the standard's range (the library says "Fire")
        ("1", "130", Category.INTRUSION),
        ("1", "137", Category.TAMPER),
        ("1", "151", Category.HAZARD),
        ("1", "200", Category.SUPERVISORY),
        ("1", "301", Category.TROUBLE),
        ("1", "383", Category.TAMPER),
        ("1", "401", Category.OPEN_CLOSE),
        ("3", "401", Category.OPEN_CLOSE),
        ("1", "421", Category.ACCESS),
        ("1", "570", Category.BYPASS),
        ("1", "602", Category.TEST),
        ("3", "120", Category.RESTORAL),
        ("6", "130", Category.SYSTEM),
        ("1", "777", Category.UNMAPPED),
    ],
)
def test_contact_id_codes_fall_into_categories(
    qualifier: str, code: str, category: Category
) -> None:
    assert contact_id_code(qualifier, code).category is category


def test_only_what_may_alarm_may_open_an_incident() -> None:
    for category, rule in CATEGORIES.items():
        assert rule.default in rule.allowed
        assert (Handling.INCIDENT in rule.allowed) == (rule.priority is not None), category
    check_handling(Category.INTRUSION, Handling.LOG)
    with pytest.raises(HandlingNotAllowed, match="open_close"):
        check_handling(Category.OPEN_CLOSE, Handling.INCIDENT)


@pytest.mark.parametrize(
    ("category", "handling", "code", "stored_as", "priority"),
    [
        (Category.INTRUSION, Handling.INCIDENT, "BA", EventType.ACTIVATION, Priority.ACTIVATION),
        (Category.INTRUSION, Handling.SUPERVISION, "BA", EventType.FAULT, None),
        (Category.INTRUSION, Handling.LOG, "BA", EventType.HEARTBEAT, None),
        (Category.TAMPER, Handling.SUPERVISION, "TA", EventType.TAMPER, None),
        (Category.TROUBLE, Handling.INCIDENT, "AT", EventType.FAULT, Priority.FAULT),
        (Category.TEST, Handling.SUPERVISION, "RP", EventType.SELF_TEST, None),
        (Category.TEST, Handling.LOG, "RP", EventType.HEARTBEAT, None),
    ],
)
def test_a_handling_decides_what_an_event_becomes(
    category: Category,
    handling: Handling,
    code: str,
    stored_as: EventType,
    priority: Priority | None,
) -> None:
    [event] = events_of(Token.SIA_DCS, f"N{code}1", Handlings({category: handling}))
    assert (event.type, event.payload["handling"]) == (stored_as, handling.value)
    assert incident_priority(event.type, event.payload) == priority


def test_supervision_only_never_silences_an_activation() -> None:
    payload = {"handling": "supervision"}
    assert incident_priority(EventType.ACTIVATION, payload) is Priority.ACTIVATION
    assert incident_priority(EventType.FAULT, payload) is None
    assert incident_priority(EventType.FAULT, {}) is Priority.FAULT


def test_a_handling_a_category_may_not_have_is_ignored() -> None:
    handlings = Handlings({Category.OPEN_CLOSE: Handling.INCIDENT})
    assert handlings[Category.OPEN_CLOSE] is Handling.LOG


def test_choosing_a_handling_is_stored_audited_and_checked(database: Any) -> None:
    with database.uow() as uow:
        view = set_handling(uow, "intrusion", "supervision", actor="adam")
        uow.commit()
    assert (view.handling, view.default, view.changed_by) == (
        Handling.SUPERVISION,
        Handling.INCIDENT,
        "adam",
    )
    assert "BA" in view.sia_codes and "130" in view.contact_id_codes
    with database.uow() as uow:
        set_handling(uow, "intrusion", "log", actor="adam")  # changed again: one row
        uow.commit()
    with database.uow() as uow:
        assert chosen_handlings(uow) == {Category.INTRUSION: Handling.LOG}
        entries = [e for e in uow.audit.in_chain_order() if e.action == "sia.handling_set"]
        assert [(e.actor, e.detail) for e in entries][-1] == (
            "adam",
            {"category": "intrusion", "handling": "log", "previous": "supervision"},
        )
    for category, handling, message in [
        ("burglary", "log", "no event code category"),
        ("intrusion", "ignore", "no handling"),
        ("open_close", "incident", "can be handled as log"),
    ]:
        with database.uow() as uow, pytest.raises(InvalidInput, match=message):
            set_handling(uow, category, handling)
    with database.uow() as uow:
        views = category_handlings(uow)
    assert [v.category for v in views] == list(Category)
    assert {v.category: v.handling for v in views}[Category.INTRUSION] is Handling.LOG
