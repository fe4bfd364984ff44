"""A unit's power state (domain/power.py): battery hysteresis, merged reports, and when a
report is worth writing. No database: services/supervision.record_power stores what these say."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from helppoint.domain.power import POWER_REFRESH, PowerState, next_power_state, worth_writing

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def test_a_battery_is_low_below_20_percent_and_recovers_only_at_30() -> None:
    low = next_power_state(None, 0.19, True, T0)
    assert low.battery_low
    assert next_power_state(low, 0.25, None, T0).battery_low  # hovering: still low
    assert not next_power_state(low, 0.30, None, T0).battery_low
    assert not next_power_state(None, 0.25, True, T0).battery_low


def test_a_report_keeps_what_it_leaves_out() -> None:
    stored = PowerState(0.5, False, T0, False, True)
    later = next_power_state(stored, None, None, T0 + timedelta(seconds=10))
    assert (later.battery, later.mains, later.mains_lost) == (0.5, False, True)
    assert later.reported_at == T0 + timedelta(seconds=10)
    assert not next_power_state(stored, None, True, T0).mains_lost


def test_only_a_change_or_a_stale_report_is_written() -> None:
    stored = next_power_state(None, 0.801, True, T0)
    soon = T0 + timedelta(seconds=10)
    assert not worth_writing(stored, next_power_state(stored, 0.799, True, soon))  # same 80%
    assert worth_writing(stored, next_power_state(stored, 0.79, True, soon))
    assert worth_writing(stored, next_power_state(stored, None, False, soon))
    assert worth_writing(stored, next_power_state(stored, 0.8, True, T0 + POWER_REFRESH))
