"""The yearly report counted in the database (store/repositories_reports.py) gives the figures
worked out by hand, and the same figures as the report built from every activation, on SQLite
and PostgreSQL (issue #23)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from helppoint.domain.classification import Classification as C
from helppoint.domain.events import Priority
from helppoint.domain.model import Incident
from helppoint.domain.report_totals import (
    ActivationCount,
    answer_second,
    percentile_positions,
    slot_seconds,
)
from helppoint.domain.reports import CostInputs, Month, Year, monthly_report
from helppoint.services.reports import _facts, build_monthly_report, report_view
from tests.reports.history import seed_october, utc

COSTS = CostInputs(capital=22_000, capital_months=60, monitoring_per_month=500)
NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def test_answer_seconds_round_up_so_targets_are_exact() -> None:
    assert [answer_second(m) for m in (-5, 0, 1, 999_999, 1_000_000, 1_000_001)] == [
        0, 0, 1, 1, 1, 2,
    ]  # fmt: skip
    # 30.000000 s is within a 30 s target; 30.000001 s is not.
    assert answer_second(30_000_000) == 30 and answer_second(30_000_001) == 31


def test_percentile_positions_by_nearest_rank() -> None:
    # Answers per second: 2 in second 5, 3 in 7, 5 in 9 (10 in all): the median is the 5th
    # (the 3rd of second 7, position 2), the 90th percentile the 9th (4th of second 9).
    assert percentile_positions({9: 5, 5: 2, 7: 3}, (0.5, 0.9)) == {0.5: (7, 2), 0.9: (9, 3)}
    assert percentile_positions({}, (0.5,)) == {}


def test_slots_are_quarter_hours_where_the_offset_is_not_whole_hours() -> None:
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    assert slot_seconds(ZoneInfo("Europe/London"), start, end) == 3600
    assert slot_seconds(ZoneInfo("Asia/Kolkata"), start, end) == 900  # UTC+5:30
    assert slot_seconds(ZoneInfo("Australia/Adelaide"), start, end) == 900  # +9:30 / +10:30


def test_the_yearly_report_by_hand(database) -> None:  # type: ignore[no-untyped-def]
    """2026 holds October's ten activations, HP-02's concern in September and HP-05's false
    press on 1 November (the one in October 2025 is last year's)."""
    seed_october(database.uow)
    year = report_view(build_monthly_report(database.uow(), Year(2026), COSTS, now=NOW))
    assert (year["activations"], year["presses"]) == (12, 14)
    assert {u: n for u, n in year["by_unit"].items() if n} == {"HP-01": 4, "HP-02": 1, "HP-05": 7}
    assert year["by_zone"] == {"racecourse": 5, "town-centre": 7}
    assert year["by_category"] == {
        "genuine": 4, "false": 5, "technical": 1, "unknown": 1, "unclassified": 1,
    }  # fmt: skip
    assert year["false_by_unit"]["HP-05"] == {
        "false_accidental": 2, "false_malicious": 0, "false_test": 1,
    }  # fmt: skip
    times = year["answer_times"]
    # Answered in 5, 10, 10, 15, 20, 20, 25, 30, 45, 60, 70 s; one never answered.
    assert (times["answered"], times["unanswered"]) == (11, 1)
    assert (times["median_seconds"], times["p90_seconds"]) == (20, 60)  # 6th and 10th of 11
    assert [(t["answered_within"], t["share"]) for t in times["targets"]] == [
        (8, round(8 / 12, 4)), (10, round(10 / 12, 4)),
    ]  # fmt: skip
    assert times["never_answered"] == [
        {"opened_at": "2026-10-10T12:00:00+00:00", "unit_id": "HP-01"}
    ]
    days = year["heatmap"]["days"]
    counts = year["heatmap"]["counts"]
    cells = {(days[d], h): counts[d][h] for d in range(7) for h in range(24) if counts[d][h]}
    assert cells[("Sun", 0)] == 1  # 1 Nov 00:00 UTC is Sunday midnight in London (GMT)
    assert cells[("Tue", 11)] == 1  # 15 Sep 10:00 UTC is 11:00 BST
    assert sum(cells.values()) == 12
    false = year["false_heatmap"]
    assert false[days.index("Sun")][0] == 1 and sum(map(sum, false)) == 5
    assert year["police"]["police_called"] == 1
    assert year["police"]["median_minutes_to_attend"] == 12.0


def add_answers(uow_factory: object) -> None:
    """Answers either side of whole seconds, the targets' edges and a second of several
    answers, so a median and the targets depend on the microseconds."""
    with uow_factory() as uow:  # type: ignore[operator]
        opened = utc(2026, 3, 29, 0, 30)  # the spring change to BST (01:00 UTC)
        for n, micro in enumerate(
            [30_000_000, 30_000_001, 29_999_999, 60_000_000, 60_000_001, 19_750_000,
             20_250_000, 20_500_000, 20_500_001, 0, 3_600_000_001]
        ):  # fmt: skip
            made = Incident("HP-07", Priority.ACTIVATION, opened, opened)
            made.acknowledge("olly", opened + timedelta(microseconds=micro))
            made.classify(C.FALSE_MALICIOUS if n % 2 else C.FALSE_ACCIDENTAL, opened)
            uow.incidents.add(made)
            opened += timedelta(minutes=17)
        uow.commit()


@pytest.mark.parametrize("zone", ["Europe/London", "Asia/Kolkata", "America/St_Johns"])
def test_counted_in_the_database_as_from_every_activation(database, zone: str) -> None:  # type: ignore[no-untyped-def]
    seed_october(database.uow)
    add_answers(database.uow)
    counted = build_monthly_report(
        database.uow(), Year(2026), COSTS, timezone=zone, now=NOW, trend=False
    )
    tz = ZoneInfo(zone)
    start, end = Year(2026).bounds(tz)
    with database.uow() as uow:
        units = uow.units.list(include_retired=True)
        facts = _facts(uow, start, end)
    assert len(facts) == 12 + 11
    every = monthly_report(
        Year(2026),
        tz,
        facts,
        {u.id: u.zone_id for u in units},
        counted.uptime,
        COSTS,
        unit_names={u.id: u.name for u in units},
    )
    counted_view = report_view(counted)
    every_view = report_view(every)
    for view in (counted_view, every_view):
        view.pop("generated_at")
        view.pop("survey", None)  # added by build_monthly_report, not from activations
    assert counted_view == every_view
    # Answered in 0, 5, 10, 10, 15, 19.75, 20, 20, 20.25, 20.5, 20.500001, 25, 29.999999,
    # 30, 30, 30.000001, 45, 60, 60, 60.000001, 70 and 3600.000001 s (22): the median is the
    # 11th, the 90th percentile the 20th; 15 within 30 s and 19 within 60 s.
    times = counted.answer_times
    assert (times.answered, times.unanswered) == (22, 1)
    assert (times.median_seconds, times.p90_seconds) == (20.500001, 60.000001)
    assert times.within == {30: 15, 60: 19}


def test_the_monthly_report_counts_as_before(database) -> None:  # type: ignore[no-untyped-def]
    """Counted by the repository, October matches the figures the October tests work out."""
    seed_october(database.uow)
    tz = ZoneInfo("Europe/London")
    start, end = Month(2026, 10).bounds(tz)
    with database.uow() as uow:
        counts = uow.reports.activation_counts(start, end)
    assert sum(c.activations for c in counts) == 10
    assert sum(c.presses for c in counts) == 12
    assert ActivationCount("HP-01", "racecourse", None, None, 1, 1) in counts
    assert ActivationCount("HP-05", "town-centre", C.MEDICAL, 70, 1, 1) in counts
