"""The plain map the server draws in the public map page (web/plain_map.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from helppoint.domain.routes import SaferRoute
from helppoint.services.public import PublicUnit
from helppoint.web.plain_map import HEIGHT, PADDING, WIDTH, plain_map


def _unit(unit_id: str, lat: float, lon: float, state: str = "") -> PublicUnit:
    return PublicUnit(unit_id, f"Unit {unit_id}", "Town", lat, lon, "", state != "out", state)


def test_units_and_routes_fitted_inside_the_drawing_north_up_east_right() -> None:
    route = SaferRoute(
        "Lit path",
        {"type": "LineString", "coordinates": [[-0.900, 52.240], [-0.880, 52.250]]},
        datetime(2026, 1, 1, tzinfo=UTC),
        "adam",
    )
    drawn = plain_map(
        [_unit("W", 52.245, -0.895), _unit("E", 52.245, -0.885), _unit("S", 52.241, -0.890)],
        [route],
    )
    assert drawn is not None
    dots = {dot.id: dot for dot in drawn.dots}
    assert dots["W"].x < dots["E"].x  # east is to the right
    assert dots["S"].y > dots["W"].y  # south is further down (SVG y grows downwards)
    assert dots["W"].y == dots["E"].y
    [(name, [points])] = drawn.routes
    assert name == "Lit path"
    ends = [tuple(map(float, p.split(","))) for p in points.split()]
    xs = [d.x for d in drawn.dots] + [x for x, _ in ends]
    ys = [d.y for d in drawn.dots] + [y for _, y in ends]
    # Everything inside the drawing with its padding, and the widest extent fills it.
    assert min(xs) >= PADDING - 0.1 and max(xs) <= WIDTH - PADDING + 0.1
    assert min(ys) >= PADDING - 0.1 and max(ys) <= HEIGHT - PADDING + 0.1
    assert round(max(xs) - min(xs)) == WIDTH - 2 * PADDING or round(max(ys) - min(ys)) == (
        HEIGHT - 2 * PADDING
    )
    # The route's south-west end is left of and below its north-east end.
    assert ends[0][0] < ends[1][0] and ends[0][1] > ends[1][1]


def test_one_unit_is_centred_not_blown_up_and_states_are_kept() -> None:
    drawn = plain_map([_unit("A", 52.24, -0.89, "not_yet_in_service")], [])
    assert drawn is not None
    [dot] = drawn.dots
    assert (dot.x, dot.y) == (WIDTH / 2, HEIGHT / 2)
    assert dot.status == "not_yet_in_service"
    # A unit without a state says as much as its in-service flag.
    old = plain_map([PublicUnit("B", "B", "Town", 52.24, -0.89, "", False)], [])
    assert old is not None and old.dots[0].status == "out_of_service"


def test_no_units_no_map() -> None:
    assert plain_map([], []) is None
