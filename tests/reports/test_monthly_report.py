"""The monthly report on a seeded October with known answers, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io

import pytest

from helppoint.domain.errors import InvalidInput
from helppoint.domain.reports import CostInputs, Month
from helppoint.services.reports import (
    build_monthly_report,
    open_data_csv,
    report_csv,
    report_view,
)
from tests.reports.history import seed_october

COSTS = CostInputs(capital=22_000, capital_months=60, monitoring_per_month=500)


@pytest.fixture
def october(database):  # type: ignore[no-untyped-def]
    seed_october(database.uow)
    return report_view(build_monthly_report(database.uow(), Month(2026, 10), COSTS))


def test_activations_by_unit_and_zone(october) -> None:  # type: ignore[no-untyped-def]
    assert october["activations"] == 10
    assert october["presses"] == 12
    assert october["by_unit"] == {
        "HP-01": 4, "HP-02": 0, "HP-03": 0, "HP-04": 0,
        "HP-05": 6, "HP-06": 0, "HP-07": 0, "HP-08": 0,
    }  # fmt: skip
    assert october["by_zone"] == {"racecourse": 4, "town-centre": 6}


def test_hour_of_week_heatmap_is_in_local_time(october) -> None:  # type: ignore[no-untyped-def]
    counts = october["heatmap"]["counts"]
    cells = {
        (october["heatmap"]["days"][d], h): counts[d][h]
        for d in range(7)
        for h in range(24)
        if counts[d][h]
    }
    assert cells == {
        ("Thu", 0): 1,  # 30 Sep 23:30 UTC is 1 Oct 00:30 in London (BST)
        ("Sat", 22): 2,
        ("Sat", 13): 1,
        ("Sat", 23): 1,  # 31 Oct 23:59 UTC is still October (GMT again)
        ("Tue", 9): 1,
        ("Wed", 9): 1,
        ("Thu", 9): 1,
        ("Fri", 9): 1,
        ("Sat", 9): 1,
    }


def test_classifications_genuine_and_false_shares(october) -> None:  # type: ignore[no-untyped-def]
    assert october["by_category"] == {
        "genuine": 3, "false": 4, "technical": 1, "unknown": 1, "unclassified": 1,
    }  # fmt: skip
    assert october["genuine_share"] == round(3 / 9, 4)
    assert october["false_share"] == round(4 / 9, 4)
    assert october["false_categories"] == {
        "false_accidental": 2, "false_malicious": 1, "false_test": 1,
    }  # fmt: skip


def test_answer_times_against_en_50518(october) -> None:  # type: ignore[no-untyped-def]
    times = october["answer_times"]
    assert (times["answered"], times["unanswered"]) == (9, 1)
    assert (times["median_seconds"], times["p90_seconds"]) == (25, 70)
    assert times["targets"] == [
        {"within_seconds": 30, "target": 0.8, "answered_within": 6,
         "share": round(6 / 9, 4), "met": False},
        {"within_seconds": 60, "target": 0.985, "answered_within": 8,
         "share": round(8 / 9, 4), "met": False},
    ]  # fmt: skip


def test_police_deployments_uptime_and_cost(october) -> None:  # type: ignore[no-untyped-def]
    assert october["police_deployments"] == 2
    month_seconds = (31 * 24 + 1) * 3600  # October ends on GMT: one hour longer
    down = {u["unit_id"]: u["down_seconds"] for u in october["uptime"]}
    assert down == {
        "HP-01": 0, "HP-02": 6 * 3600, "HP-03": 25 * 3600, "HP-04": 3600,
        "HP-05": 0, "HP-06": 0, "HP-07": 0, "HP-08": 0,
    }  # fmt: skip
    shares = {u["unit_id"]: u["share"] for u in october["uptime"]}
    assert shares["HP-03"] == round(1 - 25 * 3600 / month_seconds, 5)
    assert october["costs"]["month_cost"] == round(22_000 / 60 + 500, 2)
    assert october["costs"]["cost_per_genuine"] == round((22_000 / 60 + 500) / 3, 2)


def test_a_month_without_activations(database) -> None:  # type: ignore[no-untyped-def]
    seed_october(database.uow)
    view = report_view(build_monthly_report(database.uow(), Month(2026, 8)))
    assert view["activations"] == 0 and view["genuine_share"] is None
    assert view["costs"]["cost_per_genuine"] is None
    assert view["answer_times"]["targets"][0]["met"] is None


def test_csv_export_holds_the_same_figures(database) -> None:  # type: ignore[no-untyped-def]
    seed_october(database.uow)
    report = build_monthly_report(database.uow(), Month(2026, 10), COSTS)
    rows = list(csv.reader(io.StringIO(report_csv(report))))
    assert rows[0] == ["section", "item", "value"]
    table = {(section, item): value for section, item, value in rows[1:]}
    assert table[("summary", "activations")] == "10"
    assert table[("by_unit", "HP-05")] == "6"
    assert table[("by_classification", "false_accidental")] == "2"
    assert table[("answer_times", "target_30s_met")] == "False"
    assert table[("hour_of_week", "Sat 22:00")] == "2"
    assert table[("uptime", "HP-02")] == str(round(1 - 6 / 745, 5))


def test_open_data_has_counts_only(database) -> None:  # type: ignore[no-untyped-def]
    seed_october(database.uow)
    text = open_data_csv(database.uow(), [Month(2026, 10), Month(2026, 11)])
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 16
    hp01 = next(r for r in rows if r["month"] == "2026-10" and r["unit_id"] == "HP-01")
    assert hp01 == {
        "month": "2026-10", "unit_id": "HP-01", "unit_name": "Racecourse - Kettering Road gate",
        "zone_id": "racecourse", "activations": "4", "genuine": "1", "false": "2",
        "technical": "0", "unknown": "0", "unclassified": "1", "police_deployments": "1",
    }  # fmt: skip
    november = next(r for r in rows if r["month"] == "2026-11" and r["unit_id"] == "HP-05")
    assert november["activations"] == "1"
    for private in ("olly", "INC-", "2026-10-0", ":"):
        assert private not in text


def test_bad_inputs_are_refused() -> None:
    for text in ("2026-13", "October", "2026/10", ""):
        with pytest.raises(InvalidInput):
            Month.parse(text)
    with pytest.raises(InvalidInput):
        CostInputs(capital=-1)
    with pytest.raises(InvalidInput):
        CostInputs(capital_months=0)
