"""Answer-time supervision in pure Python: shares, targets, operators and shifts."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from helppoint.domain.errors import InvalidInput
from helppoint.domain.sla import DEFAULT_TARGETS, Alarm, Shifts, answer_times, parse_targets

T0 = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)  # London is on UTC in November
SHIFTS = Shifts((time(7, 0), time(19, 0)))


def alarm(opened: int, acknowledged: int | None, by: str | None = "alice") -> Alarm:
    at = T0 + timedelta(seconds=opened)
    return Alarm(at, at + timedelta(seconds=acknowledged) if acknowledged is not None else None, by)


def test_shares_within_the_schemes_default_targets_30_and_60_seconds() -> None:
    alarms = [alarm(0, 10), alarm(10, 30), alarm(20, 31), alarm(30, 61, "bob")]
    report = answer_times(alarms, SHIFTS, T0 + timedelta(hours=1))
    overall = report.overall.view()
    assert overall["alarms"] == 4
    assert overall["targets"] == [
        {"seconds": 30, "target": 0.8, "within": 2, "share": 0.5, "meets": False},
        {"seconds": 60, "target": 0.985, "within": 3, "share": 0.75, "meets": False},
    ]
    assert report.operators["alice"].view()["targets"][1]["share"] == 1.0
    assert report.operators["bob"].view()["targets"][1]["within"] == 0


def test_targets_are_the_schemes_own_and_configurable() -> None:
    targets = parse_targets("10:80, 40:98.5")
    assert targets.label == "the scheme's targets: 80% within 10 s, 98.5% within 40 s"
    assert DEFAULT_TARGETS.label == "the scheme's targets: 80% within 30 s, 98.5% within 60 s"
    report = answer_times([alarm(0, 10), alarm(10, 20)], SHIFTS, T0 + timedelta(hours=1), targets)
    assert [(t["seconds"], t["within"], t["meets"]) for t in report.overall.view()["targets"]] == [
        (10, 1, False),
        (40, 2, True),
    ]
    for bad in ("", "30", "30:80,20:90", "30:80,30:90", "0:80", "30:0", "30:101", "a:b"):
        with pytest.raises(InvalidInput):
            parse_targets(bad)


def test_waiting_alarms_count_against_a_limit_once_it_has_passed() -> None:
    now = T0 + timedelta(seconds=45)
    report = answer_times([alarm(0, None, None)], SHIFTS, now)
    view = report.overall.view()
    assert (view["waiting"], [t["within"] for t in view["targets"]]) == (1, [0, 1])
    assert "(not acknowledged)" in report.operators


def test_an_empty_period_has_no_share() -> None:
    view = answer_times([], SHIFTS, T0).overall.view()
    assert view["targets"][0]["share"] is None and view["targets"][0]["meets"] is None


def test_shifts_are_named_by_their_local_start_including_past_midnight() -> None:
    assert SHIFTS.label(datetime(2026, 11, 25, 22, 0, tzinfo=UTC)) == "2026-11-25 19:00"
    assert SHIFTS.label(datetime(2026, 11, 26, 3, 0, tzinfo=UTC)) == "2026-11-25 19:00"
    assert SHIFTS.label(datetime(2026, 11, 26, 7, 0, tzinfo=UTC)) == "2026-11-26 07:00"
    # Summer time: 06:30 UTC is 07:30 in London.
    assert SHIFTS.label(datetime(2026, 7, 1, 6, 30, tzinfo=UTC)) == "2026-07-01 07:00"
    report = answer_times([alarm(0, 5), alarm(10 * 3600, 5)], SHIFTS, T0 + timedelta(days=1))
    assert sorted(report.shifts) == ["2026-11-25 19:00", "2026-11-26 07:00"]


def test_too_few_alarms_are_shown_but_not_judged() -> None:
    late = [alarm(0, 90, "alice")]
    view = answer_times(late, SHIFTS, T0 + timedelta(minutes=5)).overall.view(min_alarms=10)
    assert view["alarms"] == 1 and view["too_few"] is True
    assert [(t["share"], t["meets"]) for t in view["targets"]] == [(0.0, None), (0.0, None)]
    judged = answer_times(late, SHIFTS, T0 + timedelta(minutes=5)).overall.view(min_alarms=1)
    assert judged["too_few"] is False
    assert [t["meets"] for t in judged["targets"]] == [False, False]
