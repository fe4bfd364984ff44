"""Use cases behind the public pages: what a member of the public may see, and safer routes.

Only what is printed on a sign anyway leaves here: a unit's id, name, place, zone name and
whether it is in service. Never incidents, events, keys, cameras, operators or times last heard.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from helppoint.domain.errors import InvalidInput, NotFound
from helppoint.domain.model import AuditEntry, HelpPoint
from helppoint.domain.places import DEFAULT_MAX_KM, Area, Neighbour, check_line
from helppoint.domain.routes import SaferRoute, check_name, lines_of, validate_geometry
from helppoint.domain.units import LABELS, ServiceState, in_scheme, service_state
from helppoint.services.clock import utcnow
from helppoint.store.uow import UnitOfWork

#: Longest route description shown to the public.
MAX_DESCRIPTION = 2000


@dataclass(frozen=True)
class PublicUnit:
    """A help point as the public sees it."""

    id: str
    name: str
    zone: str
    latitude: float
    longitude: float
    description: str
    in_service: bool
    #: "in_service", "not_yet_in_service" or "out_of_service" (domain/units.py); empty:
    #: as `in_service` says.
    state: str = ""

    @property
    def state_label(self) -> str:
        if self.state:
            return LABELS[ServiceState(self.state)]
        return LABELS[ServiceState.IN_SERVICE if self.in_service else ServiceState.OUT_OF_SERVICE]


def _public(unit: HelpPoint, zone_names: dict[str, str]) -> PublicUnit:
    # "In service" is what the control room was last told by supervision (issue #5), not a
    # live guess: a unit reported down, or withdrawn by an admin, is out of service; one
    # never heard from is not in service yet (domain/units.py).
    state = service_state(unit)
    if state not in (ServiceState.IN_SERVICE, ServiceState.NOT_YET_IN_SERVICE):
        state = ServiceState.OUT_OF_SERVICE
    return PublicUnit(
        id=unit.id,
        name=unit.name,
        zone=zone_names.get(unit.zone_id, ""),
        latitude=unit.latitude,
        longitude=unit.longitude,
        description=unit.description,
        in_service=state is ServiceState.IN_SERVICE,
        state=state.value,
    )


def public_units(uow: UnitOfWork) -> list[PublicUnit]:
    """Every unit, as shown on the public map, in id order."""
    with uow:
        zones = {zone.id: zone.name for zone in uow.zones.list()}
        return sorted((_public(u, zones) for u in uow.units.list()), key=lambda u: u.id)


def public_unit(uow: UnitOfWork, unit_id: str) -> PublicUnit:
    """One unit for its public page (the short URL on its sign); NotFound if there is none."""
    with uow:
        unit = uow.units.get(unit_id.strip().upper()) or uow.units.get(unit_id.strip())
        if unit is None or not in_scheme(unit):
            raise NotFound(f"there is no help point {unit_id!r}")
        zone = uow.zones.get(unit.zone_id)
        return _public(unit, {zone.id: zone.name} if zone else {})


def route_view(route: SaferRoute) -> dict[str, Any]:
    """A route as a GeoJSON Feature (public: no editor names or times)."""
    return {
        "type": "Feature",
        "id": route.id,
        "geometry": route.geometry,
        "properties": {"id": route.id, "name": route.name, "description": route.description},
    }


def list_routes(uow: UnitOfWork) -> list[SaferRoute]:
    """Every safer route, oldest first."""
    with uow:
        return list(uow.safer_routes.list())


def _description(text: str) -> str:
    text = text.strip()
    if len(text) > MAX_DESCRIPTION:
        raise InvalidInput(f"a route description is limited to {MAX_DESCRIPTION} characters")
    return text


def save_route(
    uow: UnitOfWork,
    actor: str,
    name: str,
    geometry: Any,
    description: str = "",
    route_id: int | None = None,
    area: Area | None = None,
    max_km: float = DEFAULT_MAX_KM,
    confirm_place: bool = False,
) -> SaferRoute:
    """Add a route, or replace route `route_id`; bad GeoJSON raises InvalidInput, saving nothing.

    Its points go through the guard rails of domain/places.py: far from every unit, or outside
    the scheme's area, is refused unless `confirm_place` (a route drawn as [lat, lon] is told so).
    """
    name = check_name(name)
    clean = validate_geometry(geometry)
    description = _description(description)
    now = utcnow()
    with uow:
        neighbours = [
            Neighbour(f"{u.id} {u.name}", u.latitude, u.longitude)
            for u in uow.units.list()
            if u.active
        ]
        points = [(p[1], p[0]) for line in lines_of(clean) for p in line]
        check_line(points, neighbours, area, max_km, confirm_place)
        routes = uow.safer_routes
        if route_id is None:
            route = SaferRoute(name, clean, now, actor, description)
            routes.add(route)
            action = "route_added"
        else:
            found = routes.get(route_id)
            if found is None:
                raise NotFound(f"there is no safer route {route_id}")
            route = found
            route.name, route.geometry, route.description = name, clean, description
            route.updated_at, route.updated_by = now, actor
            action = "route_changed"
        uow.flush()
        uow.audit.add(
            AuditEntry(at=now, actor=actor, action=action, detail={"route": route.id, "name": name})
        )
        uow.commit()
        return route


def delete_route(uow: UnitOfWork, actor: str, route_id: int) -> None:
    """Remove a safer route from the map; NotFound if there is none."""
    with uow:
        routes = uow.safer_routes
        route = routes.get(route_id)
        if route is None:
            raise NotFound(f"there is no safer route {route_id}")
        routes.delete(route)
        uow.audit.add(
            AuditEntry(
                at=utcnow(),
                actor=actor,
                action="route_deleted",
                detail={"route": route_id, "name": route.name},
            )
        )
        uow.commit()
