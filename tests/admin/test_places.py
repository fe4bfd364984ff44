"""Guard rails on places (domain/places.py): pure rules, no I/O."""

from __future__ import annotations

import pytest

from helppoint.domain.errors import InvalidInput
from helppoint.domain.places import (
    Neighbour,
    PlaceUnconfirmed,
    check_line,
    check_place,
    distance_km,
    parse_area,
)

NORTHAMPTON = [Neighbour("HP-01 Market Square", 52.2372, -0.8959)]
AREA = parse_area("52.1,-1.1,52.4,-0.7")


def test_a_nearby_point_is_accepted() -> None:
    check_place(52.2405, -0.8902, NORTHAMPTON, AREA)


def test_swapped_coordinates_are_refused_with_a_hint() -> None:
    with pytest.raises(PlaceUnconfirmed) as caught:
        check_place(-0.8959, 52.2372, NORTHAMPTON, AREA)
    message = str(caught.value)
    assert "outside the scheme's area" in message
    assert "km from the nearest other unit (HP-01 Market Square)" in message
    assert "look swapped: did you mean latitude 52.2372, longitude -0.8959?" in message


def test_a_far_point_is_refused_without_a_swap_hint_when_swapping_does_not_help() -> None:
    with pytest.raises(PlaceUnconfirmed) as caught:
        check_place(51.5072, -0.1276, NORTHAMPTON)  # London
    assert "97 km from the nearest other unit" in str(caught.value)
    assert caught.value.hint == ""


def test_a_confirmed_far_point_is_accepted_but_off_earth_never() -> None:
    check_place(51.5072, -0.1276, NORTHAMPTON, AREA, confirmed=True)
    with pytest.raises(InvalidInput, match="not on Earth"):
        check_place(91, 0, confirmed=True)
    with pytest.raises(InvalidInput, match="must be numbers"):
        check_place(float("nan"), 0, confirmed=True)


def test_the_first_unit_of_a_scheme_with_no_area_is_accepted_anywhere() -> None:
    check_place(-33.86, 151.21)


def test_an_area_alone_catches_a_first_unit_in_the_wrong_place() -> None:
    with pytest.raises(PlaceUnconfirmed, match="look swapped"):
        check_place(-0.89, 52.24, (), AREA)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("52,1,53", "four numbers"),
        ("53,-1,52,0", "south must be below north"),
        ("a,b,c,d", "four numbers"),
        ("nan,0,1,1", "finite"),
    ],
)
def test_bad_areas_are_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_area(text)


def test_a_route_drawn_as_lat_lon_is_refused_with_the_hint() -> None:
    with pytest.raises(PlaceUnconfirmed, match="look swapped"):
        check_line([(-0.8959, 52.2372), (-0.8902, 52.2405)], NORTHAMPTON, AREA)
    check_line([(52.2372, -0.8959), (52.2405, -0.8902)], NORTHAMPTON, AREA)


def test_distance() -> None:
    assert round(distance_km((52.2372, -0.8959), (51.5072, -0.1276))) == 97


def test_a_route_drawn_far_from_the_units_is_refused_unless_confirmed(database) -> None:  # type: ignore[no-untyped-def]
    from helppoint.services import public
    from helppoint.services.seed import seed_demo

    seed_demo(database.uow())
    swapped = {"type": "LineString", "coordinates": [[52.2468, -0.8841], [52.2521, -0.8956]]}
    with pytest.raises(PlaceUnconfirmed, match="look swapped"):
        public.save_route(database.uow(), "adam", "Lit path", swapped)
    assert public.list_routes(database.uow()) == []
    public.save_route(database.uow(), "adam", "Far away", swapped, confirm_place=True)
    right = {"type": "LineString", "coordinates": [[-0.8841, 52.2468], [-0.8956, 52.2521]]}
    public.save_route(database.uow(), "adam", "Lit path", right)
    assert [r.name for r in public.list_routes(database.uow())] == ["Far away", "Lit path"]
