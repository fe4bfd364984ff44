"""Difference in differences on generated police.uk files: the planted effect is recovered."""

from __future__ import annotations

import math
from datetime import date

import pytest

from helppoint.domain.errors import InvalidInput
from helppoint.domain.evaluation import Area, CrimePoint, bounding_box, distance_m, evaluate
from helppoint.services.crime_import import import_crime_file
from helppoint.services.evaluation import evaluate_scheme, evaluation_view, parse_place
from helppoint.services.seed import UNITS, seed_demo
from tests.evaluation.police_uk import CHOSEN, Plan, month_range, write_files

INSTALLED = date(2026, 1, 1)
MONTHS = month_range(date(2025, 1, 1), 25)  # 12 before, the installation month, 12 after
# Eight comparison places about 3 km east of the town, a kilometre apart.
COMPARISON = [(52.26 - 0.009 * i, -0.85) for i in range(8)]


def test_distance() -> None:
    # One degree of latitude is about 111.2 km anywhere.
    assert distance_m(52.0, -0.9, 53.0, -0.9) == pytest.approx(111_195, rel=1e-3)


@pytest.mark.parametrize("latitude", [0.0, 52.24, -60.0, 88.5])
def test_the_box_of_crimes_loaded_holds_every_areas_circle(latitude: float) -> None:
    areas = [Area("a", latitude, -0.88, True), Area("b", latitude - 0.01, -0.86, False)]
    box = bounding_box(areas, 300)
    for area in areas:
        for bearing_lat, bearing_lon in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            # A point 300 m from the area's centre, due north, south, east or west.
            lat = area.latitude + bearing_lat * 300 / 111_000
            lon_scale = 111_000 * max(math.cos(math.radians(area.latitude)), 1e-9)
            lon = area.longitude + bearing_lon * 300 / lon_scale
            assert distance_m(area.latitude, area.longitude, lat, lon) <= 305
            assert box.south <= lat <= box.north and box.west <= lon <= box.east


def test_the_planted_effect_is_recovered_end_to_end(database, tmp_path) -> None:  # type: ignore[no-untyped-def]
    seed_demo(database.uow())
    plan = Plan(
        treated=[(u.latitude, u.longitude) for u in UNITS],
        comparison=COMPARISON,
        months=MONTHS,
        installed=INSTALLED,
    )
    for path in write_files(plan, tmp_path):
        import_crime_file(database.uow(), path)
    comparison = [
        parse_place(f"Comparison {i}:{lat},{lon}") for i, (lat, lon) in enumerate(COMPARISON)
    ]
    result = evaluate_scheme(database.uow(), [CHOSEN], 100, INSTALLED, comparison)
    assert len(result.months_before) == 12 and len(result.months_after) == 12
    assert result.rate_ratio is not None
    assert result.rate_ratio.contains(0.7)  # the planted ratio
    assert result.rate_ratio.high < 1  # and a reduction the interval does not doubt
    # Per area-month: (10 * 1.2 * 0.7 - 10) - (10 * 1.2 - 10) = -3.6.
    assert result.difference.contains(-3.6) and result.difference.high < 0
    view = evaluation_view(result)
    assert [a["help_point"] for a in view["areas"]] == [True] * 8 + [False] * 8
    assert "association, not proof" in view["caveat"]
    assert "As a ratio: 0." in view["summary"]


def test_no_effect_gives_an_interval_around_no_change() -> None:
    plan = Plan(
        treated=[(52.0 + i / 100, -1.0) for i in range(6)],
        comparison=[(52.0 + i / 100, -1.1) for i in range(6)],
        months=MONTHS,
        installed=INSTALLED,
        effect=1.0,
    )
    crimes = _crimes(plan)
    areas = [Area(f"T{i}", *p, True) for i, p in enumerate(plan.treated)]
    areas += [Area(f"C{i}", *p, False) for i, p in enumerate(plan.comparison)]
    result = evaluate(areas, crimes, [CHOSEN], 100, INSTALLED, MONTHS)
    assert result.difference.contains(0)
    assert result.rate_ratio is not None and result.rate_ratio.contains(1.0)
    assert "chance cannot be ruled out" in result.summary()


def _crimes(plan: Plan) -> list[CrimePoint]:
    import csv
    import tempfile
    from pathlib import Path

    crimes = []
    with tempfile.TemporaryDirectory() as folder:
        for path in write_files(plan, Path(folder), seed=11):
            with path.open(encoding="utf-8") as handle:
                for row in csv.DictReader(handle):
                    if row["Longitude"]:
                        month = date(*map(int, row["Month"].split("-")), 1)
                        crimes.append(
                            CrimePoint(month, row["Crime type"], float(row["Latitude"]),
                                       float(row["Longitude"]))
                        )  # fmt: skip
    return crimes


def test_bad_evaluation_inputs_are_refused(database) -> None:  # type: ignore[no-untyped-def]
    treated = Area("T", 52.0, -1.0, True)
    control = Area("C", 52.1, -1.0, False)
    with pytest.raises(InvalidInput, match="comparison areas"):
        evaluate([treated], [], [CHOSEN], 100, INSTALLED, MONTHS)
    with pytest.raises(InvalidInput, match="radius"):
        evaluate([treated, control], [], [CHOSEN], 5, INSTALLED, MONTHS)
    with pytest.raises(InvalidInput, match="before and after"):
        evaluate([treated, control], [], [CHOSEN], 100, INSTALLED, MONTHS[:12])
    with pytest.raises(InvalidInput, match="NAME:LAT,LON"):
        parse_place("Abington Park 52.2,-0.8")
    seed_demo(database.uow())
    with pytest.raises(InvalidInput, match="no crime data"):
        evaluate_scheme(database.uow(), [CHOSEN], 100, INSTALLED, [control])


def test_evaluation_over_http(live_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from helppoint.domain.model import Role
    from tests.web.test_api import client

    plan = Plan(
        treated=[(u.latitude, u.longitude) for u in UNITS],
        comparison=COMPARISON,
        months=MONTHS,
        installed=INSTALLED,
    )
    for path in write_files(plan, tmp_path):
        import_crime_file(live_server.database.uow(), path)
    body = {
        "crime_types": [CHOSEN],
        "installed": "2026-01",
        "radius_m": 100,
        "comparison": [f"C{i}:{lat},{lon}" for i, (lat, lon) in enumerate(COMPARISON)],
    }
    operator = client(live_server, "olly", Role.OPERATOR)
    assert operator.post("/api/evaluation", json=body).status_code == 403
    supervisor = client(live_server, "sue", Role.SUPERVISOR)
    view = supervisor.post("/api/evaluation", json=body).json()
    assert view["rate_ratio"]["low"] <= 0.7 <= view["rate_ratio"]["high"] < 1
    bad = supervisor.post("/api/evaluation", json=body | {"comparison": ["nowhere"]})
    assert bad.status_code == 400 and "NAME:LAT,LON" in bad.json()["detail"]
    unknown = supervisor.post("/api/evaluation", json=body | {"units": ["HP-99"]})
    assert unknown.status_code == 404
