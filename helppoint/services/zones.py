"""Zones of the scheme: add (a duplicate is refused), rename, list; every change audited."""

from __future__ import annotations

from dataclasses import dataclass

from helppoint.domain.errors import InvalidInput, NotFound
from helppoint.domain.model import AuditEntry, Zone
from helppoint.services.clock import utcnow
from helppoint.services.units import check_id
from helppoint.store.uow import UnitOfWork

MAX_NAME = 200
MAX_DESCRIPTION = 2000


class ZoneExists(InvalidInput):
    """A zone with that id is already there (re-adding it must not silently do nothing)."""


@dataclass(frozen=True)
class ZoneRow:
    """A zone as the admin page and `zone list` show it."""

    id: str
    name: str
    description: str
    units: int


def _text(name: str, description: str, zone_id: str) -> tuple[str, str]:
    name, description = name.strip(), description.strip()
    if len(name) > MAX_NAME:
        raise InvalidInput(f"a zone name is at most {MAX_NAME} characters")
    if len(description) > MAX_DESCRIPTION:
        raise InvalidInput(f"a zone description is at most {MAX_DESCRIPTION} characters")
    return name or zone_id, description


def add_zone(
    uow: UnitOfWork,
    zone_id: str,
    name: str,
    description: str = "",
    actor: str = "system",
    address: str | None = None,
) -> Zone:
    """Add a zone; ZoneExists if the id is taken (use `rename_zone` to change it)."""
    zone_id = check_id(zone_id, "zone id")
    name, description = _text(name, description, zone_id)
    with uow:
        existing = uow.zones.get(zone_id)
        if existing is not None:
            raise ZoneExists(
                f"zone {zone_id!r} already exists (named {existing.name!r}); "
                "edit it instead of adding it again"
            )
        zone = Zone(id=zone_id, name=name, description=description)
        uow.zones.add(zone)
        uow.audit.add(
            AuditEntry(
                at=utcnow(),
                actor=actor,
                action="zone.added",
                detail={"zone": zone_id, "name": name},
                address=address,
            )
        )
        uow.commit()
        return zone


def rename_zone(
    uow: UnitOfWork,
    zone_id: str,
    name: str,
    description: str,
    actor: str = "system",
    address: str | None = None,
) -> Zone:
    """Change a zone's name and description; audited with what changed."""
    with uow:
        zone = uow.zones.get(zone_id)
        if zone is None:
            raise NotFound(f"zone {zone_id!r} does not exist")
        name, description = _text(name, description, zone_id)
        before = {"name": zone.name, "description": zone.description}
        zone.name, zone.description = name, description
        uow.audit.add(
            AuditEntry(
                at=utcnow(),
                actor=actor,
                action="zone.changed",
                detail={"zone": zone_id, "before": before, "name": name},
                address=address,
            )
        )
        uow.commit()
        return zone


def list_zones(uow: UnitOfWork) -> list[ZoneRow]:
    """Every zone with the number of units in the scheme (retired units not counted)."""
    with uow:
        counts = uow.zones.unit_counts()
        return [
            ZoneRow(z.id, z.name, z.description, int(counts.get(z.id, 0))) for z in uow.zones.list()
        ]
