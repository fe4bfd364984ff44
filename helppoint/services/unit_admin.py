"""Administration of units: add (refusing a duplicate), edit and move, remove or retire, and
the list the admin page and `unit list` show. Every change is audited.

Places go through the guard rails of domain/places.py: a point far from the scheme's other
units, or outside its configured area, is refused unless confirmed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from helppoint.domain.errors import InvalidInput, NotFound
from helppoint.domain.model import AuditEntry, HelpPoint
from helppoint.domain.places import DEFAULT_MAX_KM, Area, Neighbour, check_place, parse_area
from helppoint.domain.units import LABELS, Removal, ServiceState, removal_for, service_state
from helppoint.services.clock import utcnow
from helppoint.services.units import ProvisionedUnit, check_id, hash_unit_key, new_unit_key
from helppoint.store.uow import UnitOfWork
from helppoint.topics import Topic

MAX_NAME = 200
MAX_DESCRIPTION = 2000


class UnitExists(InvalidInput):
    """A unit with that id is already provisioned (or retired: ids are not reused)."""


@dataclass(frozen=True)
class PlaceRules:
    """The scheme's guard rails on places (settings scheme_area and place_max_km)."""

    area: Area | None = None
    max_km: float = DEFAULT_MAX_KM

    @classmethod
    def from_settings(cls, settings: Any) -> PlaceRules:
        """The rules of config.Settings (checked when the settings were loaded)."""
        return cls(parse_area(settings.scheme_area), float(settings.place_max_km))


@dataclass(frozen=True)
class UnitRow:
    """A unit as the admin page and `unit list` show it."""

    id: str
    name: str
    zone_id: str
    latitude: float
    longitude: float
    description: str
    state: ServiceState
    last_seen_at: datetime | None
    retired_at: datetime | None

    @property
    def state_label(self) -> str:
        return LABELS[self.state]


def _texts(name: str, description: str, unit_id: str) -> tuple[str, str]:
    name, description = name.strip(), description.strip()
    if len(name) > MAX_NAME:
        raise InvalidInput(f"a unit name is at most {MAX_NAME} characters")
    if len(description) > MAX_DESCRIPTION:
        raise InvalidInput(f"a unit description is at most {MAX_DESCRIPTION} characters")
    return name or unit_id, description


def _check_place(
    uow: UnitOfWork,
    unit_id: str,
    latitude: float,
    longitude: float,
    rules: PlaceRules,
    confirmed: bool,
) -> None:
    neighbours = [
        Neighbour(f"{u.id} {u.name}", u.latitude, u.longitude)
        for u in uow.units.list()
        if u.id != unit_id and u.active
    ]
    check_place(latitude, longitude, neighbours, rules.area, rules.max_km, confirmed)


def check_unit_place(
    uow: UnitOfWork,
    unit_id: str,
    latitude: float,
    longitude: float,
    rules: PlaceRules,
    confirmed: bool = False,
) -> None:
    """The guard rails for a unit's place, on their own (for kinds of unit added elsewhere,
    such as SIP intercoms); PlaceUnconfirmed or InvalidInput says what is wrong."""
    with uow:
        _check_place(uow, unit_id, latitude, longitude, rules, confirmed)


def add_unit(
    uow: UnitOfWork,
    unit_id: str,
    name: str,
    zone_id: str,
    latitude: float,
    longitude: float,
    description: str = "",
    actor: str = "system",
    address: str | None = None,
    rules: PlaceRules | None = None,
    confirm_place: bool = False,
) -> ProvisionedUnit:
    """Provision a new unit and return its key (shown once; only its hash is stored).

    A unit that exists is refused (UnitExists), except a revoked one, which is reinstated
    with a new key; a retired unit's id is never reused.
    """
    unit_id = check_id(unit_id, "unit id")
    name, description = _texts(name, description, unit_id)
    rules = rules or PlaceRules()
    key = new_unit_key()
    with uow:
        if uow.zones.get(zone_id) is None:
            raise NotFound(f"zone {zone_id!r} does not exist; create it first")
        unit = uow.units.get(unit_id)
        if unit is not None and unit.retired_at is not None:
            raise UnitExists(
                f"unit {unit_id} was retired on {unit.retired_at:%Y-%m-%d} and keeps its "
                "history under that id; choose another id"
            )
        if unit is not None and unit.active:
            raise UnitExists(
                f"unit {unit_id} already exists; edit it, or rotate its key, instead of "
                "adding it again"
            )
        _check_place(uow, unit_id, latitude, longitude, rules, confirm_place)
        if unit is None:
            unit = HelpPoint(
                id=unit_id,
                name=name,
                zone_id=zone_id,
                latitude=latitude,
                longitude=longitude,
                description=description,
                key_hash=hash_unit_key(key),
            )
            uow.units.add(unit)
            action = "unit.provisioned"
        else:  # revoked: provisioned again
            unit.key_hash = hash_unit_key(key)
            unit.name, unit.description, unit.zone_id = name, description, zone_id
            unit.latitude, unit.longitude = latitude, longitude
            unit.active = True
            unit.previous_key_hash, unit.previous_key_until = "", None
            action = "unit.reinstated"
        uow.audit.add(
            AuditEntry(
                at=utcnow(),
                actor=actor,
                action=action,
                detail={
                    "unit": unit_id,
                    "zone": zone_id,
                    "lat": latitude,
                    "lon": longitude,
                    "place_confirmed": confirm_place,
                },
                address=address,
            )
        )
        uow.commit()
    return ProvisionedUnit(unit_id, key)


def update_unit(
    uow: UnitOfWork,
    unit_id: str,
    name: str,
    description: str,
    zone_id: str,
    latitude: float,
    longitude: float,
    actor: str = "system",
    address: str | None = None,
    rules: PlaceRules | None = None,
    confirm_place: bool = False,
) -> HelpPoint:
    """Edit a unit's name and description, move it to another zone or place; audited with
    what changed. A moved place goes through the guard rails like a new one."""
    rules = rules or PlaceRules()
    with uow:
        unit = uow.units.get(unit_id)
        if unit is None or unit.retired_at is not None:
            raise NotFound(f"unit {unit_id!r} does not exist")
        if uow.zones.get(zone_id) is None:
            raise NotFound(f"zone {zone_id!r} does not exist")
        name, description = _texts(name, description, unit_id)
        if (latitude, longitude) != (unit.latitude, unit.longitude):
            _check_place(uow, unit_id, latitude, longitude, rules, confirm_place)
        before = {
            "name": unit.name,
            "description": unit.description,
            "zone": unit.zone_id,
            "lat": unit.latitude,
            "lon": unit.longitude,
        }
        unit.name, unit.description, unit.zone_id = name, description, zone_id
        unit.latitude, unit.longitude = latitude, longitude
        after = {
            "name": name,
            "description": description,
            "zone": zone_id,
            "lat": latitude,
            "lon": longitude,
        }
        changed = {k: {"from": before[k], "to": v} for k, v in after.items() if before[k] != v}
        if changed:
            uow.audit.add(
                AuditEntry(
                    at=utcnow(),
                    actor=actor,
                    action="unit.changed",
                    detail={"unit": unit_id, "changed": changed},
                    address=address,
                )
            )
        uow.commit()
        return unit


def remove_unit(
    uow: UnitOfWork, unit_id: str, actor: str = "system", address: str | None = None
) -> Removal:
    """Remove a unit: deleted when nothing ever happened at it, otherwise retired (its keys
    stop working, its link is closed, and it leaves maps, signs, public pages, the console
    and the health board, while its history stays on the record)."""
    with uow:
        unit = uow.units.get(unit_id)
        if unit is None or unit.retired_at is not None:
            raise NotFound(f"unit {unit_id!r} does not exist")
        removal = removal_for(uow.unit_references.has_history(unit_id))
        now = utcnow()
        if removal is Removal.DELETED:
            uow.unit_references.delete_unit(unit)
        else:
            unit.retired_at = now
            unit.active = False
            unit.key_hash = hash_unit_key(new_unit_key())  # nobody holds this key
            unit.previous_key_hash, unit.previous_key_until = "", None
            unit.alert_after = None  # supervision no longer watches it
        uow.audit.add(
            AuditEntry(
                at=now,
                actor=actor,
                action=f"unit.{removal.value}",
                detail={"unit": unit_id, "name": unit.name},
                address=address,
            )
        )
        uow.publish_after_commit(Topic.UNIT_KEY, {"unit_id": unit_id, "reason": "unit removed"})
        uow.commit()
        return removal


def unit_rows(uow: UnitOfWork, include_retired: bool = True) -> list[UnitRow]:
    """Every unit with its service state (retired ones last-seen as they were)."""
    with uow:
        return [
            UnitRow(
                u.id,
                u.name,
                u.zone_id,
                u.latitude,
                u.longitude,
                u.description,
                service_state(u),
                u.last_seen_at,
                u.retired_at,
            )
            for u in uow.units.list(include_retired=include_retired)
        ]


def get_unit(uow: UnitOfWork, unit_id: str) -> UnitRow:
    """One unit of the list (NotFound if there is none)."""
    for row in unit_rows(uow):
        if row.id == unit_id:
            return row
    raise NotFound(f"unit {unit_id!r} does not exist")
