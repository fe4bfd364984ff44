"""Remote configuration of units: what was asked, and what each unit confirmed it applied."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from helppoint.domain.errors import InvalidInput, NotFound
from helppoint.domain.model import AuditEntry
from helppoint.services.clock import utcnow
from helppoint.services.views import iso
from helppoint.store.uow import UnitOfWork

#: Settings a unit can be configured with remotely, and their allowed ranges.
INT_SETTINGS = {"heartbeat_period": (1, 3600), "hold_ms": (0, 10_000), "volume": (0, 100)}


@dataclass(frozen=True)
class ConfigRequest:
    """A configuration to send to a unit, under a command id the unit will confirm."""

    unit_id: str
    command_id: str
    settings: dict[str, Any]


def check_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings if every one is known and in range; InvalidInput says which is not."""
    if not settings:
        raise InvalidInput("give at least one setting to configure")
    for name, value in settings.items():
        if name in INT_SETTINGS:
            low, high = INT_SETTINGS[name]
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise InvalidInput(f"{name} must be an integer from {low} to {high}")
        elif name == "prompts":
            if not isinstance(value, dict) or not all(
                isinstance(k, str) and isinstance(v, str) and 0 < len(v) <= 500
                for k, v in value.items()
            ):
                raise InvalidInput("prompts must map message names to texts of 1-500 characters")
        else:
            known = ", ".join([*INT_SETTINGS, "prompts"])
            raise InvalidInput(f"unknown setting {name!r}; known: {known}")
    return settings


def request_config(
    uow: UnitOfWork, unit_id: str, settings: dict[str, Any], actor: str
) -> ConfigRequest:
    """Record a configuration request before it is sent (so the answer always finds it)."""
    check_settings(settings)
    with uow:
        if uow.units.get(unit_id) is None:
            raise NotFound(f"unit {unit_id!r} does not exist")
        command_id = uuid.uuid4().hex
        at = utcnow()
        uow.unit_config.add_request(
            {
                "unit_id": unit_id,
                "command_id": command_id,
                "requested": settings,
                "requested_by": actor,
                "requested_at": at,
                "detail": "",
            }
        )
        uow.audit.add(
            AuditEntry(
                at=at,
                actor=actor,
                action="unit.configure_requested",
                detail={"unit": unit_id, "settings": settings},
            )
        )
        uow.commit()
    return ConfigRequest(unit_id, command_id, settings)


def confirm_config(
    uow: UnitOfWork, unit_id: str, command_id: str, ok: bool, applied: dict[str, Any], detail: str
) -> bool:
    """Store what the unit says it applied; False if no such request of this unit exists.

    An applied heartbeat period becomes the unit's supervised period at once, so the unit is
    neither reported down early (period raised) nor late (period lowered).
    """
    with uow:
        answer = {"ok": ok, "applied": applied, "detail": detail[:1000], "confirmed_at": utcnow()}
        if not uow.unit_config.confirm(command_id, unit_id, answer):
            return False
        period = applied.get("heartbeat_period")
        unit = uow.units.get(unit_id)
        if unit is not None and isinstance(period, int) and 1 <= period <= 3600:
            unit.heartbeat_period = period
            if unit.last_seen_at is not None:
                unit.alert_after = unit.last_seen_at.timestamp() + period + unit.heartbeat_grace
        uow.audit.add(
            AuditEntry(
                at=utcnow(),
                actor=f"unit:{unit_id}",
                action="unit.configure_applied",
                detail={"unit": unit_id, "ok": ok, "applied": applied, "detail": detail[:200]},
            )
        )
        uow.commit()
        return True


def config_history(uow: UnitOfWork, unit_id: str, limit: int = 20) -> list[dict[str, Any]]:
    """The unit's latest configuration requests with what it confirmed, newest first."""
    with uow:
        rows = uow.unit_config.history(unit_id, limit)
    return [_view(row._mapping) for row in rows]


def _view(row: Any) -> dict[str, Any]:
    confirmed: datetime | None = row["confirmed_at"]
    return {
        "command_id": row["command_id"],
        "requested": row["requested"],
        "requested_by": row["requested_by"],
        "requested_at": iso(row["requested_at"]),
        "ok": row["ok"],
        "applied": row["applied"],
        "detail": row["detail"],
        "confirmed_at": iso(confirmed),
    }


def applied_settings(uow: UnitOfWork, unit_id: str) -> dict[str, Any]:
    """What the unit last confirmed it uses, setting by setting, and when.

    Each confirmation names exactly the settings that answer applied; later ones win, and
    prompts merge message by message. Requests still waiting for an answer are counted.
    """
    with uow:
        unit = uow.units.get(unit_id)
        if unit is None:
            raise NotFound(f"unit {unit_id!r} does not exist")
        rows = uow.unit_config.applied(unit_id)
        pending = uow.unit_config.pending_count(unit_id)
        settings: dict[str, Any] = {}
        since: dict[str, str | None] = {}
        for applied, confirmed_at in rows:
            for name, value in (applied or {}).items():
                if name == "prompts" and isinstance(value, dict):
                    settings["prompts"] = {**settings.get("prompts", {}), **value}
                else:
                    settings[name] = value
                since[name] = iso(confirmed_at)
        return {
            "unit_id": unit_id,
            "name": unit.name,
            "supervised_period": unit.heartbeat_period,
            "applied": settings,
            "applied_at": since,
            "pending": int(pending or 0),
        }
