"""Imported crime data looked after (issue #23, item 6): implausible rows left out with their
line numbers, thin months and gaps warned about and thin months left out of the evaluation,
months removed, the latest evaluation kept; over HTTP with the upload, on both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from helppoint.domain.errors import NotFound
from helppoint.domain.model import Role
from helppoint.services.crime_import import (
    COLUMNS,
    import_crime_file,
    imported_months,
    remove_crime_month,
)
from helppoint.services.evaluation import (
    evaluate_scheme,
    evaluation_view,
    latest,
    parse_place,
    save_latest,
)
from helppoint.services.seed import seed_demo
from tests.reports.test_reports_web import _pages
from tests.web.test_api import client

FORCE = "Northamptonshire Police"
KIND = "Violence and sexual offences"
HP05 = (52.2372, -0.8959)  # about where the demo's Market Square unit is
PARK = (52.2425, -0.8650)
NOW = datetime(2026, 12, 6, tzinfo=UTC)


def _row(month: str, lat: float, lon: float, kind: str = KIND) -> str:
    return (
        f"x,{month},{FORCE},{FORCE},{lon:.6f},{lat:.6f},On or near Market Square,E01027000,"
        f"Northampton 020A,{kind},Under investigation,"
    )


def _file(folder: Path, month: str, near: int, park: int, extra: tuple[str, ...] = ()) -> Path:
    rows = [_row(month, *HP05)] * near + [_row(month, *PARK)] * park + list(extra)
    path = folder / f"{month}-northamptonshire-street.csv"
    path.write_text("\n".join([",".join(COLUMNS), *rows]) + "\n", encoding="utf-8")
    return path


def test_rows_far_from_every_help_point_are_left_out(database, tmp_path) -> None:  # type: ignore[no-untyped-def]
    seed_demo(database.uow())
    # Line 2 and 3 near the units; line 4 with latitude and longitude swapped (the Indian
    # Ocean); line 5 in Scotland.
    swapped = _row("2026-10", HP05[1], HP05[0])
    scotland = _row("2026-10", 55.95, -3.19)
    path = _file(tmp_path, "2026-10", 1, 1, (swapped, scotland))
    result = import_crime_file(database.uow(), path)
    assert (result.rows, result.imported) == (4, 2)
    assert result.warnings == [
        "2 row(s) more than 100 km from every help point were left out (line 4, 5); 1 of them "
        "would be near if latitude and longitude were swapped"
    ]
    months, overall = imported_months(database.uow())
    assert [(m.month, m.rows) for m in months] == [(date(2026, 10, 1), 2)]
    assert overall == []


def test_thin_months_and_gaps_are_warned_about_and_thin_months_left_out(database, tmp_path) -> None:  # type: ignore[no-untyped-def]
    seed_demo(database.uow())
    for month in ("2025-11", "2025-12", "2026-02"):  # before, before, after
        import_crime_file(database.uow(), _file(tmp_path, month, 8, 4))
    import_crime_file(database.uow(), _file(tmp_path, "2026-04", 1, 0))  # 1 row: incomplete
    months, overall = imported_months(database.uow())
    thin = {f"{m.month:%Y-%m}": m.warnings for m in months}
    assert thin["2026-04"] == (
        f"only 1 rows against a median of 12 for {FORCE}: incomplete? (left out of evaluations)",
    )
    assert thin["2025-11"] == ()
    assert overall == ["no data for 2026-01, 2026-03 (a gap between imported months)"]
    result = evaluate_scheme(
        database.uow(), [KIND], 200, date(2026, 1, 1), [parse_place(f"Park:{PARK[0]},{PARK[1]}")],
        ["HP-05"],
    )  # fmt: skip
    # The thin April is not an "after" month of almost no crime: left out, and said so.
    assert [f"{m:%Y-%m}" for m in result.months_after] == ["2026-02"]
    assert [f"{m:%Y-%m}" for m in result.left_out] == ["2026-04"]
    view = evaluation_view(result)
    assert view["months_left_out"] == ["2026-04"]
    # Month by month: HP-05's circle has 8 crimes a month, the park's 4.
    assert view["monthly"] == [
        {"month": m, "help_points": 8.0, "comparison": 4.0}
        for m in ("2025-11", "2025-12", "2026-02")
    ]
    stored = save_latest(database.uow(), view, "sue", NOW)
    assert latest(database.uow()) == stored and stored["run_by"] == "sue"
    assert remove_crime_month(database.uow(), date(2026, 4, 1), FORCE, "sue", NOW) == 1
    with pytest.raises(NotFound):
        remove_crime_month(database.uow(), date(2026, 4, 1), None, "sue", NOW)
    months, _ = imported_months(database.uow())
    assert [f"{m.month:%Y-%m}" for m in months] == ["2025-11", "2025-12", "2026-02"]
    with database.uow() as uow:
        actions = [e.action for e in uow.audit.search(limit=10)[0]]
    assert "crime.month_removed" in actions and "evaluation.run" in actions


def test_upload_months_and_the_evaluation_in_the_pdf(live_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    http = client(live_server, "sue", Role.SUPERVISOR)
    bad = ",".join(COLUMNS) + "\n" + _row("2026-13", *HP05) + "\n" + _row("2026-10", *HP05)
    answer = http.post(
        "/api/evaluation/crime-files?name=bad.csv",
        content=bad.encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert answer.status_code == 400
    assert "line 2: Month must be YYYY-MM, not '2026-13'" in answer.json()["detail"]
    assert http.get("/api/evaluation/months").json()["months"] == []  # nothing stored
    for month in ("2025-11", "2025-12", "2026-02", "2026-03"):
        path = _file(tmp_path, month, 8, 4)
        answer = http.post(
            f"/api/evaluation/crime-files?name={path.name}",
            content=path.read_bytes(),
            headers={"Content-Type": "text/csv"},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["imported"] == 12 and answer.json()["warnings"] == []
    listed = http.get("/api/evaluation/months").json()
    assert [m["month"] for m in listed["months"]] == ["2025-11", "2025-12", "2026-02", "2026-03"]
    assert listed["crime_types"] == [{"type": KIND, "count": 48}]
    assert http.delete(f"/api/evaluation/months/2026-03?force={FORCE}").status_code == 204
    assert http.delete("/api/evaluation/months/2026-03").status_code == 404
    run = http.post(
        "/api/evaluation",
        json={"crime_types": [KIND], "installed": "2026-01", "radius_m": 200,
              "comparison": [f"Park:{PARK[0]},{PARK[1]}"], "units": ["HP-05"]},
    )  # fmt: skip
    assert run.status_code == 200, run.text
    assert run.json()["months_after"] == ["2026-02"]
    assert http.get("/api/evaluation/latest").json()["summary"] == run.json()["summary"]
    pdf = http.get("/api/reports/monthly.pdf?month=2026-10")
    text = " ".join(_pages(pdf.content, tmp_path))
    assert "Crime near the help points" in text
    assert "6. Crime near the help points (impact evaluation)" in text
    assert "installed 2026-01; 2 months before and 1 after" in text
    assert "Caveat:" in text and "association, not proof" in text
    operator = client(live_server, "olly", Role.OPERATOR)
    assert operator.get("/api/evaluation/months").status_code == 403
    assert operator.post("/api/evaluation/crime-files?name=x.csv", content=b"x").status_code == 403
