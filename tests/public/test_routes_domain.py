"""Safer-route GeoJSON validation: clean input passes through, bad input says what is wrong."""

from __future__ import annotations

import pytest

from helppoint.domain.errors import InvalidInput
from helppoint.domain.routes import check_name, lines_of, validate_geometry

LINE = {"type": "LineString", "coordinates": [[-0.884, 52.246], [-0.891, 52.250]]}


def test_a_linestring_or_feature_is_accepted_and_cleaned() -> None:
    assert validate_geometry(LINE) == LINE
    feature = {"type": "Feature", "geometry": LINE, "properties": {"x": 1}}
    assert validate_geometry(feature) == LINE
    multi = {"type": "MultiLineString", "coordinates": [LINE["coordinates"]] * 2}
    assert lines_of(validate_geometry(multi)) == [LINE["coordinates"]] * 2


@pytest.mark.parametrize(
    ("geometry", "message"),
    [
        ({"type": "Point", "coordinates": [0, 0]}, "LineString or MultiLineString, not 'Point'"),
        ({"type": "LineString", "coordinates": [[0, 0]]}, "at least two positions"),
        ({"type": "LineString", "coordinates": [[0, 0], [0, 91]]}, "coordinates[1]: latitude"),
        ({"type": "LineString", "coordinates": [[0, 0], [181, 0]]}, "longitude 181"),
        ({"type": "LineString", "coordinates": [[0, 0], ["a", 0]]}, "must be a number"),
        ({"type": "LineString", "coordinates": [[0, 0], [0]]}, "[longitude, latitude]"),
        ({"type": "MultiLineString", "coordinates": []}, "at least one line"),
        ("LINESTRING(0 0, 1 1)", "GeoJSON"),
        ({"type": "LineString", "coordinates": [[0, 0]] * 2001}, "limited to 2000"),
    ],
)
def test_bad_geometry_is_refused_with_a_reason(geometry: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=None) as caught:
        validate_geometry(geometry)
    assert message in str(caught.value)


def test_route_names_are_required_and_bounded() -> None:
    assert check_name("  Racecourse path ") == "Racecourse path"
    with pytest.raises(InvalidInput):
        check_name("   ")
    with pytest.raises(InvalidInput):
        check_name("x" * 201)
