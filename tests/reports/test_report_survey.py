"""The public survey inside the scheme report: JSON, CSV and PDF, with counts and 95% intervals
worked out by hand, on SQLite and PostgreSQL (issue #22's survey in issue #23's report)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, update

from helppoint.domain.reports import CostInputs, Month, Year
from helppoint.printables.report import report_pdf
from helppoint.services.reports import build_monthly_report, report_csv, report_view
from helppoint.store.tables import help_points
from helppoint.store.tables_public import survey_answers
from tests.reports.history import seed_october, utc
from tests.reports.test_reports_web import _pages

COSTS = CostInputs(capital=22_000, capital_months=60, monitoring_per_month=500)
NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)

# unit, zone, hour (UTC), feeling. HP-05 is installed (first heard) on 15 October here.
ANSWERS = [
    ("HP-01", "racecourse", utc(2026, 10, 3, 21), 5),  # 22:00 BST
    ("HP-01", "racecourse", utc(2026, 10, 3, 21), 4),
    ("HP-01", "racecourse", utc(2026, 10, 10, 12), 2),  # 13:00
    ("HP-05", "town-centre", utc(2026, 10, 10, 8), 1),  # 09:00, before its installation
    ("HP-05", "town-centre", utc(2026, 10, 20, 8), 4),  # 09:00
    ("HP-05", "town-centre", utc(2026, 10, 31, 23), 5),  # 23:00 GMT, still October
    ("HP-05", "town-centre", utc(2026, 11, 1, 0), 3),  # November: not in October's report
]


def seed(database) -> None:  # type: ignore[no-untyped-def]
    seed_october(database.uow)
    with database.engine.begin() as connection:
        connection.execute(
            update(help_points)
            .where(help_points.c.id == "HP-05")
            .values(first_seen_at=utc(2026, 10, 15, 0))
        )
        connection.execute(
            insert(survey_answers),
            [{"unit_id": u, "zone_id": z, "hour": h, "feeling": f} for u, z, h, f in ANSWERS],
        )


def stats(n, mean, mean_low, mean_high, safe, safe_low, safe_high):  # type: ignore[no-untyped-def]
    keys = ("n", "mean", "mean_low", "mean_high", "safe_share", "safe_low", "safe_high")
    return dict(zip(keys, (n, mean, mean_low, mean_high, safe, safe_low, safe_high), strict=True))


# Worked out by hand (z = 1.96): [5, 4, 2, 1, 4, 5] has mean 3.5, sample variance 2.7, so
# 3.5 ± 1.96·√(2.7/6) = 2.185-4.815; 4 of 6 feel safe, Wilson 0.300-0.903.
ALL = stats(6, 3.5, 2.185, 4.815, 0.667, 0.3, 0.903)
# [5, 4, 2]: mean 3.667, variance 2.333, ± 1.729 (capped at 5); 2 of 3 safe: 0.208-0.939.
HP01 = stats(3, 3.667, 1.938, 5.0, 0.667, 0.208, 0.939)
# [1, 4, 5]: mean 3.333, variance 4.333, ± 2.356 (capped at 1 and 5); 2 of 3 safe.
HP05 = stats(3, 3.333, 1.0, 5.0, 0.667, 0.208, 0.939)


def test_the_survey_in_the_monthly_report(database) -> None:  # type: ignore[no-untyped-def]
    seed(database)
    report = build_monthly_report(database.uow(), Month(2026, 10), COSTS, now=NOW)
    survey = report_view(report)["survey"]
    assert survey["overall"] == ALL
    assert survey["by_unit"] == {"HP-01": HP01, "HP-05": HP05}
    assert survey["by_zone"] == {"Racecourse path": HP01, "Town centre": HP05}
    assert survey["by_hour"]["22"] == stats(2, 4.5, 3.52, 5.0, 1.0, 0.342, 1.0)
    assert {hour: s["n"] for hour, s in survey["by_hour"].items()} == {
        "09": 2, "13": 1, "22": 2, "23": 1,
    }  # fmt: skip
    # Before HP-05's installation: its one answer, 1 (no interval from one answer).
    assert survey["before_after"]["before"] == stats(1, 1.0, None, None, 0.0, 0.0, 0.793)
    assert survey["before_after"]["after"]["n"] == 5
    assert survey["installed"]["HP-05"] == "2026-10-15"


def test_the_survey_in_the_csv_and_the_pdf(database, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    seed(database)
    report = build_monthly_report(database.uow(), Month(2026, 10), COSTS, now=NOW)
    rows = list(csv.reader(io.StringIO(report_csv(report))))
    table = {(section, item): value for section, item, value in rows[1:]}
    assert table[("survey", "all n")] == "6"
    assert table[("survey", "all mean_low")] == "2.185"
    assert table[("survey_by_unit", "HP-05 safe_high")] == "0.939"
    assert table[("survey_by_zone", "Racecourse path mean")] == "3.667"
    assert table[("survey_by_hour", "22 n")] == "2"
    assert table[("survey_before_after", "before mean_low")] == ""
    text = " ".join(_pages(report_pdf(report, "Northampton help points"), tmp_path))
    assert "7. Public survey: how safe people feel here" not in text
    assert "6. Public survey: how safe people feel here" in text
    assert '6 answers to "How safe do you feel here?"' in text
    assert "All 6 3.5 (2.185-4.815) 66.7% (30.0%-90.3%)" in text
    assert "Before installation 1 1 0.0% (0.0%-79.3%)" in text
    assert "HP-01 Racecourse - Kettering Road gate 3 3.667 (1.938-5) 66.7% (20.8%-93.9%)" in text
    assert "22:00 2 4.5 (3.52-5) 100.0% (34.2%-100.0%)" in text


def test_a_period_without_answers(database, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    seed(database)
    report = build_monthly_report(database.uow(), Month(2026, 8), COSTS, now=NOW)
    assert report_view(report)["survey"]["overall"]["n"] == 0
    rows = {tuple(row) for row in csv.reader(io.StringIO(report_csv(report)))}
    assert ("survey", "all n", "0") in rows
    text = " ".join(_pages(report_pdf(report), tmp_path))
    assert "No answers to the survey in this period." in text
    year = report_view(build_monthly_report(database.uow(), Year(2026), COSTS, now=NOW))
    assert year["survey"]["overall"]["n"] == 7  # November's too
