"""Provisioning and authentication of help point units."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from helppoint.domain.errors import InvalidInput, NotFound
from helppoint.domain.model import AuditEntry, HelpPoint, Zone
from helppoint.services.clock import utcnow
from helppoint.store.uow import UnitOfWork
from helppoint.topics import Topic

#: Longest time an old unit key may keep working after a rotation.
MAX_KEY_OVERLAP = timedelta(days=7)


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


def check_id(value: str, what: str) -> str:
    """An id of a unit or zone, trimmed; InvalidInput names what is wrong."""
    value = value.strip()
    if not value or len(value) > 64 or not all(ch.isalnum() or ch in "-_." for ch in value):
        raise InvalidInput(f"{what} must be 1-64 letters, digits, '-', '_' or '.', not {value!r}")
    return value


def ensure_zone(uow: UnitOfWork, zone_id: str, name: str, description: str = "") -> Zone:
    """Create the zone if it does not exist yet."""
    zone_id = check_id(zone_id, "zone id")
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
    unit_id = check_id(unit_id, "unit id")
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
        unit.previous_key_hash, unit.previous_key_until = "", None
        uow.publish_after_commit(Topic.UNIT_KEY, {"unit_id": unit_id, "reason": "new key"})
        action = "unit.key_rotated"
    uow.audit.add(AuditEntry(at=utcnow(), actor=actor, action=action, detail={"unit": unit_id}))
    return ProvisionedUnit(unit_id=unit_id, key=key)


def unit_key_matches(unit: HelpPoint | None, key: str) -> bool:
    """Whether `key` opens `unit` (in service, current key or the previous one within its
    overlap after a rotation); hashed and compared in constant time even for no unit."""
    given = hash_unit_key(key)
    expected = unit.key_hash if unit is not None else hash_unit_key("no-such-unit")
    matches = hmac.compare_digest(expected, given)
    if unit is not None and not matches and unit.previous_key_hash:
        still_valid = unit.previous_key_until is not None and utcnow() < unit.previous_key_until
        matches = still_valid and hmac.compare_digest(unit.previous_key_hash, given)
    return unit is not None and unit.active and matches


def authenticate_unit(uow: UnitOfWork, unit_id: str, key: str) -> HelpPoint:
    """The unit, if the key matches and the unit is in service.

    After a rotation with an overlap, the previous key also works until the overlap ends.
    """
    unit = uow.units.get(unit_id)
    if unit is None or not unit_key_matches(unit, key):
        raise AuthenticationFailed(unit_id)
    return unit


def rotate_unit_key(
    uow: UnitOfWork,
    unit_id: str,
    overlap: timedelta = timedelta(0),
    actor: str = "system",
    address: str | None = None,
) -> ProvisionedUnit:
    """Give a unit a new key (shown once). The old key stops working at once, or after
    `overlap` so the new key can be installed on the unit first; audited."""
    if not timedelta(0) <= overlap <= MAX_KEY_OVERLAP:
        raise InvalidInput(f"the overlap must be 0 to {MAX_KEY_OVERLAP.days} days")
    key = new_unit_key()
    with uow:
        unit = uow.units.get(unit_id)
        if unit is None:
            raise NotFound(f"unit {unit_id!r} does not exist")
        if not unit.active:
            raise InvalidInput(f"unit {unit_id} is revoked; provision it again to reinstate it")
        now = utcnow()
        unit.previous_key_hash = unit.key_hash if overlap else ""
        unit.previous_key_until = now + overlap if overlap else None
        unit.key_hash = hash_unit_key(key)
        uow.audit.add(
            AuditEntry(
                at=now,
                actor=actor,
                action="unit.key_rotated",
                detail={"unit": unit_id, "overlap_seconds": int(overlap.total_seconds())},
                address=address,
            )
        )
        if not overlap:  # the live link was opened with the old key
            uow.publish_after_commit(Topic.UNIT_KEY, {"unit_id": unit_id, "reason": "key rotated"})
        uow.commit()
    return ProvisionedUnit(unit_id, key)


def revoke_unit(
    uow: UnitOfWork, unit_id: str, actor: str = "system", address: str | None = None
) -> None:
    """Take a unit out of service (stolen, decommissioned): its keys stop working, its live
    link is closed, and it cannot reconnect until provisioned again; audited."""
    with uow:
        unit = uow.units.get(unit_id)
        if unit is None:
            raise NotFound(f"unit {unit_id!r} does not exist")
        unit.active = False
        unit.key_hash = hash_unit_key(new_unit_key())  # nobody holds this key
        unit.previous_key_hash = ""
        unit.previous_key_until = None
        uow.audit.add(
            AuditEntry(
                at=utcnow(),
                actor=actor,
                action="unit.revoked",
                detail={"unit": unit_id},
                address=address,
            )
        )
        uow.publish_after_commit(Topic.UNIT_KEY, {"unit_id": unit_id, "reason": "unit revoked"})
        uow.commit()
