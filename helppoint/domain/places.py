"""Guard rails on places: a point far from the scheme's other units, or outside its configured
area, is refused unless confirmed, with a hint when latitude and longitude look swapped.

Used for units (CLI, API, admin pages) and safer routes alike. Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from helppoint.domain.errors import InvalidInput

EARTH_RADIUS_KM = 6371.0088
#: Default distance from the nearest other unit beyond which a place must be confirmed.
DEFAULT_MAX_KM = 25.0


@dataclass(frozen=True)
class Area:
    """The scheme's area: a box of latitudes and longitudes (WGS84)."""

    south: float
    west: float
    north: float
    east: float

    def contains(self, latitude: float, longitude: float) -> bool:
        """Whether the point lies in the box (edges included)."""
        return self.south <= latitude <= self.north and self.west <= longitude <= self.east

    def text(self) -> str:
        return f"{self.south:g},{self.west:g} to {self.north:g},{self.east:g}"


def parse_area(text: str) -> Area | None:
    """'south,west,north,east' in degrees; None for an empty text; InvalidInput otherwise."""
    if not text.strip():
        return None
    parts = text.split(",")
    try:
        south, west, north, east = (float(p) for p in parts)
    except ValueError:
        raise InvalidInput(
            f"an area is 'south,west,north,east' in degrees (four numbers), not {text!r}"
        ) from None
    if not all(map(math.isfinite, (south, west, north, east))):
        raise InvalidInput("an area's corners must be finite numbers")
    if not (-90 <= south < north <= 90 and -180 <= west < east <= 180):
        raise InvalidInput(
            f"area {text!r}: south must be below north and west below east, within "
            "-90..90 and -180..180"
        )
    return Area(south, west, north, east)


def check_on_earth(latitude: float, longitude: float) -> None:
    """InvalidInput unless the point is a real latitude and longitude."""
    if not (math.isfinite(latitude) and math.isfinite(longitude)):
        raise InvalidInput("latitude and longitude must be numbers")
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise InvalidInput(f"latitude/longitude {latitude},{longitude} is not on Earth")


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (latitude, longitude) points (haversine)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True)
class Neighbour:
    """Another place of the scheme (a unit) to judge a new point against."""

    name: str
    latitude: float
    longitude: float


class PlaceUnconfirmed(InvalidInput):
    """A place looks wrong; it is accepted only when the user confirms it."""

    def __init__(self, problems: Sequence[str], hint: str = "") -> None:
        self.problems = list(problems)
        self.hint = hint
        text = "; ".join(self.problems) + "."
        if hint:
            text += f" {hint}"
        super().__init__(f"{text} Check it, or confirm the place if it is right.")


def _problems(
    latitude: float,
    longitude: float,
    neighbours: Sequence[Neighbour],
    area: Area | None,
    max_km: float,
) -> list[str]:
    problems = []
    if area is not None and not area.contains(latitude, longitude):
        problems.append(f"{latitude:g},{longitude:g} is outside the scheme's area ({area.text()})")
    if neighbours:
        nearest = min(
            neighbours, key=lambda n: distance_km((latitude, longitude), (n.latitude, n.longitude))
        )
        km = distance_km((latitude, longitude), (nearest.latitude, nearest.longitude))
        if km > max_km:
            problems.append(
                f"{latitude:g},{longitude:g} is {km:,.0f} km from the nearest other unit "
                f"({nearest.name}); the limit is {max_km:g} km"
            )
    return problems


def check_place(
    latitude: float,
    longitude: float,
    neighbours: Sequence[Neighbour] = (),
    area: Area | None = None,
    max_km: float = DEFAULT_MAX_KM,
    confirmed: bool = False,
) -> None:
    """Refuse a point off the Earth always, and one far from the other units or outside the
    area unless `confirmed` (PlaceUnconfirmed then says why, with a hint when latitude and
    longitude swapped would fit)."""
    check_on_earth(latitude, longitude)
    problems = _problems(latitude, longitude, neighbours, area, max_km)
    if not problems or confirmed:
        return
    hint = ""
    swapped_ok = -90 <= longitude <= 90 and (area is not None or neighbours)
    if swapped_ok and not _problems(longitude, latitude, neighbours, area, max_km):
        hint = (
            f"Latitude and longitude look swapped: did you mean latitude {longitude:g}, "
            f"longitude {latitude:g}?"
        )
    raise PlaceUnconfirmed(problems, hint)


def check_line(
    points: Sequence[tuple[float, float]],
    neighbours: Sequence[Neighbour] = (),
    area: Area | None = None,
    max_km: float = DEFAULT_MAX_KM,
    confirmed: bool = False,
) -> None:
    """check_place for a route's points given as (latitude, longitude): the first point that
    looks wrong is refused unless confirmed; the hint covers a route drawn as [lat, lon]."""
    for latitude, longitude in points:
        check_place(latitude, longitude, neighbours, area, max_km, confirmed)
