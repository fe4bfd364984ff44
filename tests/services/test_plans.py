"""Trigger plan use cases on SQLite and PostgreSQL: import, override, export, never invalid."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from helppoint.domain.classification import Classification
from helppoint.domain.errors import NotFound
from helppoint.domain.plans import ActionKind, PlanInvalid, PlanScope
from helppoint.services import plans as svc
from helppoint.services.seed import seed_demo
from tests.unit.test_plans import GOOD

UNIT_PLAN = """\
plan: Racecourse HP-02 override
unit: HP-02
rules:
  - when: [imminent_threat, medical]
    actions:
      - notify: ambulance
        channel: phone
        to: "999"
        template: "{ref}"
"""


@pytest.fixture
def seeded(database):  # type: ignore[no-untyped-def]
    seed_demo(database.uow())
    return database


def unit(database, unit_id: str):  # type: ignore[no-untyped-def]
    uow = database.uow()
    with uow:
        return uow.units.get(unit_id)


def active(database, unit_id: str):  # type: ignore[no-untyped-def]
    uow = database.uow()
    with uow:
        return svc.active_plan(uow, uow.units.get(unit_id))


def test_import_activates_the_plan_for_the_zone(seeded) -> None:  # type: ignore[no-untyped-def]
    assert active(seeded, "HP-06") is None
    view = svc.import_plan(seeded.uow(), GOOD, "admin", "10.0.0.5")
    assert (view["scope"], view["target_id"], view["version"]) == ("zone", "town-centre", 1)
    plan = active(seeded, "HP-06")
    assert plan is not None and plan.plan.name == "Town centre"
    now = datetime.now(UTC)
    assert plan.plan.actions_for(Classification.IMMINENT_THREAT, now)[0].kind is ActionKind.POLICE
    again = svc.import_plan(
        seeded.uow(), GOOD.replace("Town centre\n", "Town centre v2\n"), "admin"
    )
    assert again["version"] == 2 and again["name"] == "Town centre v2"
    assert [p["name"] for p in svc.list_plans(seeded.uow())] == ["Town centre v2"]


def test_a_unit_plan_overrides_its_zone(seeded) -> None:  # type: ignore[no-untyped-def]
    from helppoint.services.units import ensure_zone

    uow = seeded.uow()
    with uow:
        zone_of_hp02 = uow.units.get("HP-02").zone_id
        ensure_zone(uow, zone_of_hp02, "Racecourse", "")
        uow.commit()
    svc.import_plan(seeded.uow(), GOOD.replace("town-centre", zone_of_hp02), "admin")
    svc.import_plan(seeded.uow(), UNIT_PLAN, "admin")
    assert active(seeded, "HP-02").plan.scope is PlanScope.UNIT
    others = [u for u in ("HP-01", "HP-03") if unit(seeded, u).zone_id == zone_of_hp02]
    assert others and active(seeded, others[0]).plan.scope is PlanScope.ZONE
    svc.delete_plan(seeded.uow(), PlanScope.UNIT, "HP-02", "admin")
    assert active(seeded, "HP-02").plan.scope is PlanScope.ZONE


def test_an_invalid_plan_is_never_activated(seeded) -> None:  # type: ignore[no-untyped-def]
    svc.import_plan(seeded.uow(), GOOD, "admin")
    broken = GOOD.replace("Town centre\n", "Broken\n").replace("ack_within: 120", "ack_within: -1")
    with pytest.raises(PlanInvalid, match="ack_within"):
        svc.import_plan(seeded.uow(), broken, "admin")
    stored = svc.get_plan(seeded.uow(), PlanScope.ZONE, "town-centre")
    assert (stored["name"], stored["version"], stored["source"]) == ("Town centre", 1, GOOD)


def test_a_plan_for_an_unknown_zone_is_refused_with_its_line(seeded) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PlanInvalid) as info:
        svc.import_plan(seeded.uow(), GOOD.replace("zone: town-centre", "zone: nowhere"), "admin")
    [problem] = info.value.problems
    assert (problem.line, problem.message) == (3, "there is no zone 'nowhere'")
    with pytest.raises(PlanInvalid, match="there is no unit 'HP-99'"):
        svc.check_plan(seeded.uow(), UNIT_PLAN.replace("HP-02", "HP-99"))
    assert svc.list_plans(seeded.uow()) == []


def test_export_returns_the_file_as_imported_and_import_is_audited(seeded) -> None:  # type: ignore[no-untyped-def]
    svc.import_plan(seeded.uow(), GOOD, "admin", "10.0.0.5")
    assert svc.export_plan(seeded.uow(), PlanScope.ZONE, "town-centre") == GOOD
    uow = seeded.uow()
    with uow:
        rows, _ = uow.audit.search(action="plan.")
    assert [(e.actor, e.action, e.address) for e in rows] == [
        ("admin", "plan.imported", "10.0.0.5")
    ]
    assert rows[0].detail["target"] == "town-centre" and len(rows[0].detail["sha256"]) == 64
    with pytest.raises(NotFound, match="has no trigger plan"):
        svc.export_plan(seeded.uow(), PlanScope.UNIT, "HP-01")


def test_demo_plans_are_valid_and_kept(seeded) -> None:  # type: ignore[no-untyped-def]
    svc.import_plan(seeded.uow(), GOOD, "admin")
    svc.ensure_demo_plans(seeded.uow)
    names = {p["target_id"]: p["name"] for p in svc.list_plans(seeded.uow())}
    assert names == {"racecourse": "Racecourse path (demo)", "town-centre": "Town centre"}
    svc.ensure_demo_plans(seeded.uow)
    assert len(svc.list_plans(seeded.uow())) == 2
