"""Units on test: a maintenance window in which what a unit reports is logged as a test, not
alarmed (domain/triage.py is_test, docs/triage.md)."""

from __future__ import annotations

from typing import Any

from helppoint.domain.errors import InvalidInput, NotFound
from helppoint.domain.model import AuditEntry, HelpPoint
from helppoint.domain.triage import is_test, test_window_end
from helppoint.services.clock import utcnow
from helppoint.services.views import iso
from helppoint.store.uow import UnitOfWork


def test_view(unit: HelpPoint) -> dict[str, Any]:
    """Whether a unit is on test now, until when and why."""
    on_test = is_test(unit.on_test_until, utcnow())
    return {
        "unit_id": unit.id,
        "unit_name": unit.name,
        "on_test": on_test,
        "until": iso(unit.on_test_until) if on_test else None,
        "reason": unit.on_test_reason if on_test else "",
    }


def put_on_test(
    uow: UnitOfWork,
    unit_id: str,
    minutes: int,
    reason: str,
    by: str,
    address: str | None = None,
) -> dict[str, Any]:
    """Put a unit on test for `minutes` from now (a new window replaces the current one)."""
    reason = reason.strip()
    if not reason or len(reason) > 500:
        raise InvalidInput("say why the unit is on test (1-500 characters)")
    now = utcnow()
    until = test_window_end(now, minutes)
    with uow:
        unit = _unit(uow, unit_id)
        unit.on_test_until = until
        unit.on_test_reason = reason
        _audit(uow, by, "unit.on_test", address, unit_id=unit_id, until=iso(until), reason=reason)
        uow.commit()
        return test_view(unit)


def end_test(uow: UnitOfWork, unit_id: str, by: str, address: str | None = None) -> dict[str, Any]:
    """End a unit's maintenance window now: what it reports is an alarm again."""
    with uow:
        unit = _unit(uow, unit_id)
        if not is_test(unit.on_test_until, utcnow()):
            raise InvalidInput(f"{unit_id} is not on test")
        unit.on_test_until = utcnow()
        _audit(uow, by, "unit.test_ended", address, unit_id=unit_id)
        uow.commit()
        return test_view(unit)


def units_on_test(uow: UnitOfWork) -> list[dict[str, Any]]:
    """The units on test now, soonest back first."""
    now = utcnow()
    with uow:
        units = [u for u in uow.units.list() if is_test(u.on_test_until, now)]
        return [test_view(u) for u in sorted(units, key=lambda u: (u.on_test_until, u.id))]


def _unit(uow: UnitOfWork, unit_id: str) -> HelpPoint:
    unit = uow.units.get(unit_id)
    if unit is None:
        raise NotFound(f"unit {unit_id} does not exist")
    return unit


def _audit(uow: UnitOfWork, by: str, action: str, address: str | None, **detail: Any) -> None:
    uow.audit.add(AuditEntry(at=utcnow(), actor=by, action=action, detail=detail, address=address))
