"""Provisioning and authentication of help point units."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from helppoint.domain.errors import InvalidInput, NotFound
from helppoint.domain.model import AuditEntry, HelpPoint, Zone
from helppoint.services.clock import utcnow
from helppoint.store.uow import UnitOfWork


class AuthenticationFailed(Exception):
    """A unit's id or key is wrong (deliberately not saying which)."""


def hash_unit_key(key: str) -> str:
    """Hash of a unit key.

    Unit keys are 256-bit random tokens, not passwords people choose, so a single SHA-256 is
    enough to make a stolen table useless, and it lets thousands of units reconnect at once
    after a restart without the CPU cost of a password hash.
    """
    return hashlib.sha256(key.encode()).hexdigest()


def new_unit_key() -> str:
    """A fresh 256-bit unit key, URL-safe."""
    return secrets.token_urlsafe(32)


def _check_id(value: str, what: str) -> str:
    value = value.strip()
    if not value or len(value) > 64 or not all(ch.isalnum() or ch in "-_." for ch in value):
        raise InvalidInput(f"{what} must be 1-64 letters, digits, '-', '_' or '.', not {value!r}")
    return value


def ensure_zone(uow: UnitOfWork, zone_id: str, name: str, description: str = "") -> Zone:
    """Create the zone if it does not exist yet."""
    zone_id = _check_id(zone_id, "zone id")
    zone = uow.zones.get(zone_id)
    if zone is None:
        zone = Zone(id=zone_id, name=name.strip() or zone_id, description=description)
        uow.zones.add(zone)
    return zone


@dataclass(frozen=True)
class ProvisionedUnit:
    """A unit and the key to put on it (shown once; only its hash is stored)."""

    unit_id: str
    key: str


def provision_unit(
    uow: UnitOfWork,
    unit_id: str,
    name: str,
    zone_id: str,
    latitude: float,
    longitude: float,
    description: str = "",
    actor: str = "system",
    key: str | None = None,
) -> ProvisionedUnit:
    """Add a unit, or issue a new key to an existing one (the old key stops working)."""
    unit_id = _check_id(unit_id, "unit id")
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise InvalidInput(f"latitude/longitude {latitude},{longitude} is not on Earth")
    if uow.zones.get(zone_id) is None:
        raise NotFound(f"zone {zone_id!r} does not exist; create it first")
    key = key or new_unit_key()
    unit = uow.units.get(unit_id)
    if unit is None:
        unit = HelpPoint(
            id=unit_id,
            name=name.strip() or unit_id,
            zone_id=zone_id,
            latitude=latitude,
            longitude=longitude,
            description=description,
            key_hash=hash_unit_key(key),
        )
        uow.units.add(unit)
        action = "unit.provisioned"
    else:
        unit.key_hash = hash_unit_key(key)
        unit.name = name.strip() or unit.name
        unit.zone_id = zone_id
        unit.latitude, unit.longitude = latitude, longitude
        unit.active = True
        action = "unit.key_rotated"
    uow.audit.add(AuditEntry(at=utcnow(), actor=actor, action=action, detail={"unit": unit_id}))
    return ProvisionedUnit(unit_id=unit_id, key=key)


def authenticate_unit(uow: UnitOfWork, unit_id: str, key: str) -> HelpPoint:
    """The unit, if the key matches and the unit is in service."""
    unit = uow.units.get(unit_id)
    expected = unit.key_hash if unit is not None else hash_unit_key("no-such-unit")
    matches = hmac.compare_digest(expected, hash_unit_key(key))
    if unit is None or not unit.active or not matches:
        raise AuthenticationFailed(unit_id)
    return unit
