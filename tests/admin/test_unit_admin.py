"""Administration of zones, units and users through the services (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from helppoint.domain.errors import InvalidInput, NotFound
from helppoint.domain.events import EventType
from helppoint.domain.model import AuditEntry, Role
from helppoint.domain.places import PlaceUnconfirmed
from helppoint.domain.units import Removal, ServiceState
from helppoint.services import operators, public, unit_admin, zones
from helppoint.services.ingest import ReportedEvent, handle_device_events
from helppoint.services.supervision import health_board
from helppoint.services.units import AuthenticationFailed, authenticate_unit, revoke_unit
from helppoint.store.tables import audit_entries


def _scheme(database) -> None:  # type: ignore[no-untyped-def]
    zones.add_zone(database.uow(), "town", "Town centre", actor="ann")
    unit_admin.add_unit(database.uow(), "HP-01", "Market Square", "town", 52.2372, -0.8959)


def _press(database, unit_id: str) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    uow = database.uow()
    with uow:
        handle_device_events(
            uow,
            [ReportedEvent(unit_id, 1, EventType.ACTIVATION, now, {})],
            now,
            timedelta(minutes=5),
        )
        uow.commit()


def _audit(database) -> list[AuditEntry]:  # type: ignore[no-untyped-def]
    with database.session() as session:
        return list(session.scalars(select(AuditEntry).order_by(audit_entries.c.seq)))


def _actions(database) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.action for e in _audit(database)]


def test_a_zone_added_twice_is_refused_and_keeps_its_name(database) -> None:  # type: ignore[no-untyped-def]
    _scheme(database)
    with pytest.raises(zones.ZoneExists, match="zone 'town' already exists"):
        zones.add_zone(database.uow(), "town", "Another name")
    listed = zones.list_zones(database.uow())
    assert [(z.id, z.name, z.units) for z in listed] == [("town", "Town centre", 1)]
    zones.rename_zone(database.uow(), "town", "Town", "The centre", actor="ann")
    assert zones.list_zones(database.uow())[0].name == "Town"
    assert "zone.added" in _actions(database) and "zone.changed" in _actions(database)


def test_a_unit_added_twice_is_refused_a_revoked_one_is_reinstated(database) -> None:  # type: ignore[no-untyped-def]
    _scheme(database)
    with pytest.raises(unit_admin.UnitExists, match="HP-01 already exists"):
        unit_admin.add_unit(database.uow(), "HP-01", "Again", "town", 52.2372, -0.8959)
    revoke_unit(database.uow(), "HP-01")
    again = unit_admin.add_unit(database.uow(), "HP-01", "Market Square", "town", 52.2372, -0.8959)
    with database.uow() as uow:
        assert authenticate_unit(uow, "HP-01", again.key).active
    assert "unit.reinstated" in _actions(database)


def test_swapped_place_is_refused_unless_confirmed(database) -> None:  # type: ignore[no-untyped-def]
    _scheme(database)
    with pytest.raises(PlaceUnconfirmed, match="look swapped"):
        unit_admin.add_unit(database.uow(), "HP-02", "Gate", "town", -0.89, 52.24)
    assert [u.id for u in unit_admin.unit_rows(database.uow())] == ["HP-01"]
    unit_admin.add_unit(
        database.uow(), "HP-02", "Far away", "town", -0.89, 52.24, confirm_place=True
    )
    with pytest.raises(PlaceUnconfirmed, match="km from the nearest other unit"):
        unit_admin.update_unit(database.uow(), "HP-01", "Market Square", "", "town", 51.5, -0.13)


def test_edit_and_move_are_audited_with_what_changed(database) -> None:  # type: ignore[no-untyped-def]
    _scheme(database)
    zones.add_zone(database.uow(), "park", "Park")
    unit_admin.update_unit(
        database.uow(),
        "HP-01",
        "Market Sq.",
        "By the fountain",
        "park",
        52.2373,
        -0.8958,
        actor="ann",
    )
    entry = [e for e in _audit(database) if e.action == "unit.changed"][-1]
    assert entry.actor == "ann"
    assert entry.detail["changed"]["zone"] == {"from": "town", "to": "park"}
    assert entry.detail["changed"]["name"] == {"from": "Market Square", "to": "Market Sq."}


def test_a_unit_without_history_is_deleted(database) -> None:  # type: ignore[no-untyped-def]
    _scheme(database)
    assert unit_admin.remove_unit(database.uow(), "HP-01", actor="ann") is Removal.DELETED
    assert unit_admin.unit_rows(database.uow()) == []
    assert "unit.deleted" in _actions(database)
    with pytest.raises(NotFound):
        unit_admin.remove_unit(database.uow(), "HP-01")


def test_a_unit_with_history_is_retired_and_leaves_every_list(database) -> None:  # type: ignore[no-untyped-def]
    _scheme(database)
    unit_admin.add_unit(database.uow(), "HP-02", "Gate", "town", 52.2405, -0.8902)
    _press(database, "HP-02")
    assert unit_admin.remove_unit(database.uow(), "HP-02") is Removal.RETIRED
    rows = {u.id: u.state for u in unit_admin.unit_rows(database.uow())}
    assert rows == {"HP-01": ServiceState.NOT_YET_IN_SERVICE, "HP-02": ServiceState.RETIRED}
    assert [u.id for u in public.public_units(database.uow())] == ["HP-01"]
    with pytest.raises(NotFound):
        public.public_unit(database.uow(), "HP-02")
    board = health_board(database.uow(), datetime.now(UTC), timedelta(days=1))
    assert [row["id"] for row in board] == ["HP-01"]
    with database.uow() as uow:
        assert [u.id for u in uow.units.list()] == ["HP-01"]
        assert uow.incidents.get(1) is not None  # the history stays
        with pytest.raises(AuthenticationFailed):
            authenticate_unit(uow, "HP-02", "any key")
    with pytest.raises(unit_admin.UnitExists, match="retired"):
        unit_admin.add_unit(database.uow(), "HP-02", "Gate", "town", 52.2405, -0.8902)


def test_a_unit_never_heard_from_is_not_yet_in_service_with_no_uptime(database) -> None:  # type: ignore[no-untyped-def]
    _scheme(database)
    (unit,) = public.public_units(database.uow())
    assert (unit.in_service, unit.state_label) == (False, "Not yet in service")
    (row,) = health_board(database.uow(), datetime.now(UTC), timedelta(days=1))
    assert row["uptime"] is None and row["uptime_7d"] is None
    _press(database, "HP-01")
    (unit,) = public.public_units(database.uow())
    assert unit.in_service and unit.state_label == "In service"
    (row,) = health_board(database.uow(), datetime.now(UTC), timedelta(days=1))
    assert row["uptime"] == 1.0


def test_users_change_role_disable_and_cannot_demote_themselves(database) -> None:  # type: ignore[no-untyped-def]
    operators.add_operator(database.uow(), "ann", "password-1", Role.ADMIN)
    operators.add_operator(database.uow(), "bob", "password-2", Role.OPERATOR)
    changed = operators.change_user(
        database.uow(), "bob", "ann", role=Role.SUPERVISOR, active=False
    )
    assert (changed.role, changed.active) == (Role.SUPERVISOR, False)
    with pytest.raises(InvalidInput, match="your own role"):
        operators.change_user(database.uow(), "ann", "ann", role=Role.OPERATOR)
    rows = {u.username: u for u in operators.user_rows(database.uow())}
    assert rows["bob"].active is False and rows["ann"].role is Role.ADMIN
    entry = [e for e in _audit(database) if e.action == "user.changed"][-1]
    assert entry.detail["changed"]["role"] == {"from": "operator", "to": "supervisor"}


def test_the_monthly_report_has_no_uptime_data_for_units_not_yet_in_service(database) -> None:  # type: ignore[no-untyped-def]
    from helppoint.domain.reports import Month
    from helppoint.services.reports import build_monthly_report

    _scheme(database)
    unit_admin.add_unit(database.uow(), "HP-02", "Gate", "town", 52.2405, -0.8902)
    _press(database, "HP-01")
    now = datetime.now(UTC)
    report = build_monthly_report(database.uow(), Month(now.year, now.month))
    shares = {u.unit_id: u.share for u in report.uptime}
    assert shares["HP-02"] is None  # no data, not 100%
    assert shares["HP-01"] is not None
