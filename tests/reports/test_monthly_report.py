"""The monthly report on a seeded October with known answers, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import insert, update

from helppoint.domain.errors import InvalidInput, NotFound
from helppoint.domain.reports import CostInputs, Month, Year
from helppoint.services.reports import (
    add_intervention,
    build_monthly_report,
    list_interventions,
    open_data_csv,
    remove_intervention,
    report_csv,
    report_settings,
    report_view,
    save_report_settings,
)
from helppoint.store.tables import help_points
from helppoint.store.tables_supervision import unit_flips
from tests.reports.history import seed_october, utc

COSTS = CostInputs(capital=22_000, capital_months=60, monitoring_per_month=500)
NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
MONTH_COST = 22_000 / 60 + 500  # £866.67


@pytest.fixture
def october(database):  # type: ignore[no-untyped-def]
    seed_october(database.uow)
    return report_view(build_monthly_report(database.uow(), Month(2026, 10), COSTS, now=NOW))


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


def test_answer_times_count_the_unanswered_as_failures(october) -> None:  # type: ignore[no-untyped-def]
    times = october["answer_times"]
    assert (times["activations"], times["answered"], times["unanswered"]) == (10, 9, 1)
    assert (times["median_seconds"], times["p90_seconds"]) == (25, 70)
    # 6 of the 10 within 30 s, 8 within 60 s; the one never answered fails both. Of the
    # answered only (the flattering figure, shown beside it): 6/9 and 8/9.
    assert times["targets"] == [
        {"within_seconds": 30, "target": 0.8, "answered_within": 6, "share": 0.6,
         "share_of_answered": round(6 / 9, 4), "met": False},
        {"within_seconds": 60, "target": 0.985, "answered_within": 8, "share": 0.8,
         "share_of_answered": round(8 / 9, 4), "met": False},
    ]  # fmt: skip
    assert times["never_answered"] == [
        {"opened_at": "2026-10-10T12:00:00+00:00", "unit_id": "HP-01"}
    ]


def test_police_outcomes_apart_from_other_escalations(october) -> None:  # type: ignore[no-untyped-def]
    assert october["police"] == {
        "escalated": 2,
        "police_called": 1,  # HP-01's imminent threat
        "police_acknowledged": 1,
        "police_attended": 1,
        "median_minutes_to_attend": 12.0,
        "medical_without_police": 1,  # HP-05's medical escalation: an ambulance, no police
        "other_without_police": 0,
    }


def test_uptime_and_cost(october) -> None:  # type: ignore[no-untyped-def]
    month_seconds = (31 * 24 + 1) * 3600  # October ends on GMT: one hour longer
    down = {u["unit_id"]: u["down_seconds"] for u in october["uptime"]}
    assert down == {
        "HP-01": 0, "HP-02": 6 * 3600, "HP-03": 25 * 3600, "HP-04": 3600,
        "HP-05": 0, "HP-06": 0, "HP-07": 0, "HP-08": 0,
    }  # fmt: skip
    shares = {u["unit_id"]: u["share"] for u in october["uptime"]}
    assert shares["HP-03"] == round(1 - 25 * 3600 / month_seconds, 5)
    assert {u["supervised_seconds"] for u in october["uptime"]} == {month_seconds}
    costs = october["costs"]
    assert costs["month_cost"] == round(MONTH_COST, 2)
    assert costs["inputs"] == (
        "£22,000 capital / 60 months + £500 monitoring a month = £866.67 a month"
    )
    assert costs["cost_per_genuine"] == round(MONTH_COST / 3, 2)
    # The cost of the months the scheme ran in Nov 2025 - Oct 2026 (September and October:
    # units first heard on 1 September) over their 4 genuine activations (3 in October, 1 in
    # September), not twelve months' cost.
    assert costs["rolling_months"] == 2
    assert costs["rolling_12_months_cost_per_genuine"] == round(2 * MONTH_COST / 4, 2)


def test_uptime_counts_supervised_time_only(database) -> None:  # type: ignore[no-untyped-def]
    """A unit down for two minutes this month has 99.9…%, not a share of the whole month;
    a unit never heard from, a future month and a unit retired before it say "no data"."""
    seed_october(database.uow)
    with database.uow() as uow:
        uow.units.touch(["HP-01"], utc(2026, 12, 2, 0, 0))
        uow._session.execute(
            insert(unit_flips),
            [
                {"unit_id": "HP-01", "at": utc(2026, 12, 5, 10, 0), "old_status": "up",
                 "new_status": "down"},
                {"unit_id": "HP-01", "at": utc(2026, 12, 5, 10, 2), "old_status": "down",
                 "new_status": "up"},
            ],
        )  # fmt: skip
        uow._session.execute(
            update(help_points)
            .where(help_points.c.id == "HP-07")
            .values(first_seen_at=None, last_seen_at=None)
        )
        uow._session.execute(
            update(help_points)
            .where(help_points.c.id == "HP-08")
            .values(retired_at=utc(2026, 11, 30, 12, 0))
        )
        uow.commit()
    december = build_monthly_report(database.uow(), Month(2026, 12), COSTS, now=NOW)
    uptime = {u.unit_id: u for u in december.uptime}
    supervised = (5 * 24 + 9) * 3600  # 1 Dec 00:00 (GMT) to now, 6 Dec 09:00
    assert uptime["HP-01"].supervised_seconds == supervised
    assert uptime["HP-01"].down_seconds == 120
    assert uptime["HP-01"].share == 1 - 120 / supervised  # 99.97%, not 16.7%
    # HP-04 went down on 31 Oct 23:00 and never came back: down all its supervised time.
    assert uptime["HP-04"].share == 0
    assert uptime["HP-07"].share is None  # never heard from
    assert uptime["HP-08"].share is None  # retired before December
    future = build_monthly_report(database.uow(), Month(2027, 1), COSTS, now=NOW)
    assert {u.share for u in future.uptime} == {None}
    view = report_view(future)
    assert view["uptime"][0]["share"] is None
    text = report_csv(future)
    assert "uptime,HP-01,no data" in text


def test_trends(october) -> None:  # type: ignore[no-untyped-def]
    trend = october["trend"]
    months = trend["months"]
    assert [m["label"] for m in months] == [f"2025-{m}" for m in ("11", "12")] + [
        f"2026-{m:02d}" for m in range(1, 11)
    ]
    # Before September no unit was heard and nothing pressed: no data, not 0.
    assert [m["activations"] for m in months] == [None] * 10 + [1, 10]
    assert [m["has_data"] for m in months] == [False] * 10 + [True, True]
    # October's median answer: 5, 10, 15, 20, 25, 30, 45, 60, 70 s answered: the 5th, 25 s.
    assert months[-1] == {
        "label": "2026-10", "has_data": True, "activations": 10, "genuine": 3, "false": 4,
        "malicious": 1, "unanswered": 1, "answered_within": {"30": 0.6, "60": 0.8},
        "median_answer_seconds": 25,
        "uptime": round(1 - 32 / (8 * 745), 5),  # 6 + 25 + 1 hours down of 8 x 745
    }  # fmt: skip
    assert months[0] == {
        "label": "2025-11", "has_data": False, "activations": None, "genuine": None,
        "false": None, "malicious": None, "unanswered": None,
        "answered_within": {"30": None, "60": None}, "median_answer_seconds": None,
        "uptime": None,
    }  # fmt: skip
    # September: first heard 1 Sep 00:00 UTC (the month began 31 Aug 23:00 UTC), so 719 h
    # supervised each; HP-03 down from 29 Sep 00:00 to the month's end, 47 h.
    assert trend["previous"] == {
        "label": "2026-09", "has_data": True, "activations": 1, "genuine": 1, "false": 0,
        "malicious": 0, "unanswered": 0, "answered_within": {"30": 1.0, "60": 1.0},
        "median_answer_seconds": 20, "uptime": round(1 - 47 / (8 * 719), 5),
    }  # fmt: skip
    # October 2025 had a press (seeded history) though no unit was heard from yet: counts,
    # but no uptime data, not 100%.
    assert trend["last_year"] == {
        "label": "2025-10", "has_data": True, "activations": 1, "genuine": 0, "false": 1,
        "malicious": 1, "unanswered": 0, "answered_within": {"30": 0.0, "60": 1.0},
        "median_answer_seconds": 40, "uptime": None,
    }  # fmt: skip
    ytd = trend["year_to_date"]
    assert (ytd["label"], ytd["activations"], ytd["genuine"]) == ("2026 to Oct 26", 11, 4)
    assert ytd["answered_within"] == {"30": round(7 / 11, 4), "60": round(9 / 11, 4)}
    # September's 20 s with October's nine: 5, 10, 15, 20, 20, 25, … the 5th of 10, 20 s.
    assert ytd["median_answer_seconds"] == 20


def test_false_activations_by_unit_hour_and_pranks(october) -> None:  # type: ignore[no-untyped-def]
    zero = {"false_accidental": 0, "false_malicious": 0, "false_test": 0}
    assert october["false_by_unit"] == {
        **{f"HP-0{n}": zero for n in (2, 3, 4, 6, 7, 8)},
        "HP-01": {"false_accidental": 1, "false_malicious": 1, "false_test": 0},
        "HP-05": {"false_accidental": 1, "false_malicious": 0, "false_test": 1},
    }
    days = october["heatmap"]["days"]

    def cells(counts: list[list[int]]) -> dict[tuple[str, int], int]:
        return {(days[d], h): counts[d][h] for d in range(7) for h in range(24) if counts[d][h]}

    assert cells(october["false_heatmap"]) == {
        ("Thu", 0): 1, ("Sat", 22): 1, ("Sat", 23): 1, ("Wed", 9): 1,
    }  # fmt: skip
    assert cells(october["malicious_heatmap"]) == {("Sat", 22): 1}
    assert october["top_prank_units"] == [
        {"unit_id": "HP-01", "malicious": 1, "false": 2},
        {"unit_id": "HP-05", "malicious": 0, "false": 2},
    ]


def test_interventions_before_and_after(database) -> None:  # type: ignore[no-untyped-def]
    seed_october(database.uow)
    made = add_intervention(
        database.uow(), "HP-01", date(2026, 10, 5), "new sign: misuse is an offence", "sue", NOW
    )
    with pytest.raises(InvalidInput):
        add_intervention(database.uow(), "HP-99", date(2026, 10, 5), "sign", "sue", NOW)
    with pytest.raises(InvalidInput):
        add_intervention(database.uow(), "HP-01", date(2026, 10, 5), " ", "sue", NOW)
    view = report_view(build_monthly_report(database.uow(), Month(2026, 10), COSTS, now=NOW))
    # 28 days either side of 5 Oct: HP-01's accidental (1 Oct) and malicious (3 Oct) presses
    # before, none after.
    assert view["interventions"] == [
        {"id": made.id, "unit_id": "HP-01", "on": "2026-10-05",
         "what": "new sign: misuse is an offence", "days": 28, "false_before": 2,
         "false_after": 0, "malicious_before": 1, "malicious_after": 0, "complete": True},
    ]  # fmt: skip
    assert (
        report_view(build_monthly_report(database.uow(), Month(2026, 8), now=NOW))["interventions"]
        == []
    )
    remove_intervention(database.uow(), made.id, "sue", NOW)
    assert list_interventions(database.uow()) == []
    with pytest.raises(NotFound):
        remove_intervention(database.uow(), made.id, "sue", NOW)


def test_stored_costs_are_used_and_audited(database) -> None:  # type: ignore[no-untyped-def]
    seed_october(database.uow)
    assert report_settings(database.uow()).costs == CostInputs()
    save_report_settings(database.uow(), "Northampton  help points", COSTS, "sue", NOW)
    stored = report_settings(database.uow())
    assert (stored.scheme_name, stored.costs, stored.updated_by) == (
        "Northampton help points", COSTS, "sue",
    )  # fmt: skip
    report = build_monthly_report(database.uow(), Month(2026, 10), now=NOW)
    assert report.cost_per_genuine == MONTH_COST / 3
    with pytest.raises(InvalidInput):
        save_report_settings(database.uow(), "\x00", COSTS, "sue", NOW)
    with database.uow() as uow:
        actions = [e.action for e in uow.audit.search(limit=5)[0]]
    assert "report.settings" in actions


def test_the_yearly_report(database) -> None:  # type: ignore[no-untyped-def]
    seed_october(database.uow)
    year = report_view(build_monthly_report(database.uow(), Year(2026), COSTS, now=NOW))
    assert (year["kind"], year["month"], year["activations"]) == ("year", "2026", 12)
    assert year["by_category"]["genuine"] == 4
    assert year["costs"]["period_cost"] == round(12 * MONTH_COST, 2)
    assert year["costs"]["cost_per_genuine"] == round(12 * MONTH_COST / 4, 2)
    # January-August: no unit heard, nothing pressed: no data. December: units supervised,
    # nothing pressed yet: 0.
    assert [m["activations"] for m in year["trend"]["months"]] == [None] * 8 + [1, 10, 1, 0]
    assert year["trend"]["last_year"]["activations"] == 1
    assert year["trend"]["year_to_date"] is None


def test_a_month_without_activations(database) -> None:  # type: ignore[no-untyped-def]
    seed_october(database.uow)
    view = report_view(build_monthly_report(database.uow(), Month(2026, 8), now=NOW))
    assert view["activations"] == 0 and view["genuine_share"] is None
    assert view["costs"]["cost_per_genuine"] is None
    assert view["answer_times"]["targets"][0]["met"] is None
    # Units first heard in September: August has no uptime data.
    assert {u["share"] for u in view["uptime"]} == {None}


def test_csv_export_holds_the_same_figures(database) -> None:  # type: ignore[no-untyped-def]
    seed_october(database.uow)
    report = build_monthly_report(database.uow(), Month(2026, 10), COSTS, now=NOW)
    rows = list(csv.reader(io.StringIO(report_csv(report))))
    assert rows[0] == ["section", "item", "value"]
    table = {(section, item): value for section, item, value in rows[1:]}
    assert table[("summary", "activations")] == "10"
    assert table[("by_unit", "HP-05")] == "6"
    assert table[("by_classification", "false_accidental")] == "2"
    assert table[("answer_times", "target_30s_met")] == "False"
    assert table[("answer_times", "share_within_30s")] == "0.6"
    assert table[("police", "police_called")] == "1"
    assert table[("never_answered", "2026-10-10T12:00:00+00:00")] == "HP-01"
    assert table[("false_by_unit", "HP-01 false_malicious")] == "1"
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
        "technical": "0", "unknown": "0", "unclassified": "1", "escalations": "1",
        "police_called": "1",
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
    with pytest.raises(InvalidInput):
        CostInputs(capital=float("nan"))
    for text in ("26", "2026-", "year", "१२३४"):
        with pytest.raises(InvalidInput):
            Year.parse(text)
