"""Answer-time supervision in pure Python: shares, targets, operators and shifts."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from helppoint.domain.sla import Alarm, Shifts, answer_times

T0 = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)  # London is on UTC in November
SHIFTS = Shifts((time(7, 0), time(19, 0)))


def alarm(opened: int, acknowledged: int | None, by: str | None = "alice") -> Alarm:
    at = T0 + timedelta(seconds=opened)
    return Alarm(at, at + timedelta(seconds=acknowledged) if acknowledged is not None else None, by)


def test_shares_within_30_and_60_seconds_against_en_50518() -> None:
    alarms = [alarm(0, 10), alarm(10, 30), alarm(20, 31), alarm(30, 61, "bob")]
    report = answer_times(alarms, SHIFTS, T0 + timedelta(hours=1))
    overall = report.overall.view()
    assert (overall["alarms"], overall["within_30s"], overall["within_60s"]) == (4, 2, 3)
    assert overall["share_30s"] == 0.5 and overall["meets_30s"] is False
    assert overall["share_60s"] == 0.75 and overall["meets_60s"] is False
    assert report.operators["alice"].view()["share_60s"] == 1.0
    assert report.operators["bob"].view()["within_60s"] == 0


def test_waiting_alarms_count_against_a_limit_once_it_has_passed() -> None:
    now = T0 + timedelta(seconds=45)
    report = answer_times([alarm(0, None, None)], SHIFTS, now)
    view = report.overall.view()
    assert (view["waiting"], view["within_30s"], view["within_60s"]) == (1, 0, 1)
    assert "(not acknowledged)" in report.operators


def test_an_empty_period_has_no_share() -> None:
    view = answer_times([], SHIFTS, T0).overall.view()
    assert view["share_30s"] is None and view["meets_30s"] is None


def test_shifts_are_named_by_their_local_start_including_past_midnight() -> None:
    assert SHIFTS.label(datetime(2026, 11, 25, 22, 0, tzinfo=UTC)) == "2026-11-25 19:00"
    assert SHIFTS.label(datetime(2026, 11, 26, 3, 0, tzinfo=UTC)) == "2026-11-25 19:00"
    assert SHIFTS.label(datetime(2026, 11, 26, 7, 0, tzinfo=UTC)) == "2026-11-26 07:00"
    # Summer time: 06:30 UTC is 07:30 in London.
    assert SHIFTS.label(datetime(2026, 7, 1, 6, 30, tzinfo=UTC)) == "2026-07-01 07:00"
    report = answer_times([alarm(0, 5), alarm(10 * 3600, 5)], SHIFTS, T0 + timedelta(days=1))
    assert sorted(report.shifts) == ["2026-11-25 19:00", "2026-11-26 07:00"]
