"""Safer routes: lit, watched paths between help points, drawn by an admin, kept as GeoJSON."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from helppoint.domain.errors import InvalidInput

#: Longest route name, and the most points one route may have (a town path, not a survey).
MAX_NAME = 200
MAX_POINTS = 2000


@dataclass(eq=False)
class SaferRoute:
    """A named path shown on the public map and the printed leaflet."""

    name: str
    geometry: dict[str, Any]
    updated_at: datetime
    updated_by: str
    description: str = ""
    id: int | None = None


def check_name(name: str) -> str:
    """A route's name, trimmed; empty or over-long names are refused."""
    name = name.strip()
    if not name:
        raise InvalidInput("a safer route needs a name")
    if len(name) > MAX_NAME:
        raise InvalidInput(f"a route name is limited to {MAX_NAME} characters")
    return name


def _position(value: Any, where: str) -> list[float]:
    if not isinstance(value, list | tuple) or len(value) not in (2, 3):
        raise InvalidInput(f"{where}: a position is [longitude, latitude]")
    lon, lat = value[0], value[1]
    for number, label in ((lon, "longitude"), (lat, "latitude")):
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise InvalidInput(f"{where}: {label} must be a number")
        if not math.isfinite(number):
            raise InvalidInput(f"{where}: {label} must be finite")
    if not -180 <= lon <= 180:
        raise InvalidInput(f"{where}: longitude {lon} is outside -180..180")
    if not -90 <= lat <= 90:
        raise InvalidInput(f"{where}: latitude {lat} is outside -90..90 (is it [lon, lat]?)")
    return [float(lon), float(lat)]


def _line(value: Any, where: str) -> list[list[float]]:
    if not isinstance(value, list) or len(value) < 2:
        raise InvalidInput(f"{where}: a line needs at least two positions")
    return [_position(p, f"{where}[{i}]") for i, p in enumerate(value)]


def validate_geometry(data: Any) -> dict[str, Any]:
    """A clean GeoJSON LineString or MultiLineString geometry (a bare geometry or a Feature).

    Raises InvalidInput saying what is wrong and where, e.g. "coordinates[3]: latitude …".
    """
    if isinstance(data, dict) and data.get("type") == "Feature":
        data = data.get("geometry")
    if not isinstance(data, dict):
        raise InvalidInput("a route is a GeoJSON LineString or MultiLineString object")
    kind = data.get("type")
    coordinates = data.get("coordinates")
    if kind == "LineString":
        lines = [_line(coordinates, "coordinates")]
    elif kind == "MultiLineString":
        if not isinstance(coordinates, list) or not coordinates:
            raise InvalidInput("coordinates: a MultiLineString needs at least one line")
        lines = [_line(line, f"coordinates[{i}]") for i, line in enumerate(coordinates)]
    else:
        raise InvalidInput(f"a route must be a LineString or MultiLineString, not {kind!r}")
    if sum(len(line) for line in lines) > MAX_POINTS:
        raise InvalidInput(f"a route is limited to {MAX_POINTS} points")
    if kind == "LineString":
        return {"type": "LineString", "coordinates": lines[0]}
    return {"type": "MultiLineString", "coordinates": lines}


def lines_of(geometry: dict[str, Any]) -> list[list[list[float]]]:
    """The route's lines as lists of [lon, lat], whatever its geometry type."""
    if geometry["type"] == "LineString":
        return [geometry["coordinates"]]
    return list(geometry["coordinates"])
