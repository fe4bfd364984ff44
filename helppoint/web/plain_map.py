"""The public map drawn by the server, in the page itself: help points and safer routes as SVG.

On a slow mobile link every request costs seconds, and the interactive map needs two more
after the page (Leaflet and the map's own script). The page therefore carries a plain map of
its own — the routes as lines, the units as dots linking to their pages, over a plain
background — that shows with the page's first paint and without JavaScript. The interactive
map replaces it once its scripts have arrived (static/public-map.js). docs/public-pages.md.

Web Mercator, as the interactive map draws, so that nothing jumps when one replaces the other.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from helppoint.domain.routes import SaferRoute, lines_of
from helppoint.services.public import PublicUnit

#: The drawing's size in SVG units (it scales to the page's width).
WIDTH = 600
HEIGHT = 400
#: Room kept free around what is drawn, in SVG units (a dot's radius and its halo).
PADDING = 24


@dataclass(frozen=True)
class PlainDot:
    id: str
    name: str
    x: float
    y: float
    status: str


@dataclass(frozen=True)
class PlainMap:
    width: int
    height: int
    dots: list[PlainDot]
    #: Each route's lines as SVG polyline points ("x,y x,y ...").
    routes: list[tuple[str, list[str]]]


def _mercator(lon: float, lat: float) -> tuple[float, float]:
    lat = max(-85.0, min(85.0, lat))
    return math.radians(lon), math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


def plain_map(units: Sequence[PublicUnit], routes: Sequence[SaferRoute]) -> PlainMap | None:
    """The plain map of these units and routes fitted to WIDTH x HEIGHT; None with no unit."""
    if not units:
        return None
    route_lines = [(route.name, lines_of(route.geometry)) for route in routes]
    points = [_mercator(u.longitude, u.latitude) for u in units]
    for _, lines in route_lines:
        points += [_mercator(lon, lat) for line in lines for lon, lat, *_ in line]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    span_x = max(max(xs) - min(xs), 1e-9)
    span_y = max(max(ys) - min(ys), 1e-9)
    scale = min((WIDTH - 2 * PADDING) / span_x, (HEIGHT - 2 * PADDING) / span_y)
    # A single place (or a few metres apart) is not blown up to fill the box: at most about
    # street level (as the interactive map's maxZoom 16 does).
    scale = min(scale, 2**16 * 256 / (2 * math.pi))
    mid_x, mid_y = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2

    def at(lon: float, lat: float) -> tuple[float, float]:
        x, y = _mercator(lon, lat)
        return (
            round(WIDTH / 2 + (x - mid_x) * scale, 1),
            round(HEIGHT / 2 - (y - mid_y) * scale, 1),
        )

    dots = []
    for unit in units:
        x, y = at(unit.longitude, unit.latitude)
        status = unit.state or ("in_service" if unit.in_service else "out_of_service")
        dots.append(PlainDot(unit.id, unit.name, x, y, status))
    drawn_routes = []
    for name, lines in route_lines:
        polylines = []
        for line in lines:
            polylines.append(" ".join(f"{x},{y}" for x, y in (at(p[0], p[1]) for p in line)))
        drawn_routes.append((name, polylines))
    return PlainMap(WIDTH, HEIGHT, dots, drawn_routes)
