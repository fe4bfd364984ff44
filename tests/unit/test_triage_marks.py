"""Which marks an open alarm gets (domain/triage_patterns.new_marks): the chattering check and
its group, the supervisor's rules each within its own window, and never a mark twice. No
database: services/triage_rules.evaluate stores what this decides."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from helppoint.domain.classification import Classification
from helppoint.domain.triage import Voice
from helppoint.domain.triage_patterns import (
    CHATTERING,
    ChatterRule,
    NewMark,
    RecentAlarm,
    SuggestionRule,
    lookback,
    new_marks,
)

T0 = datetime(2026, 12, 6, 23, 0, tzinfo=UTC)
CHATTER = ChatterRule(alarms=3, window=timedelta(minutes=30))
NIGHT = SuggestionRule(
    "night pranks",
    "prank",
    Classification.FALSE_MALICIOUS,
    hour_from=22,
    hour_to=4,
    min_alarms=2,
    within_minutes=10,
    id=7,
)


def alarm(alarm_id: int, minutes_before: int, closed: bool = False) -> RecentAlarm:
    return RecentAlarm(alarm_id, T0 - timedelta(minutes=minutes_before), Voice.SILENT, closed)


def test_a_chattering_unit_is_marked_and_its_other_open_alarms_grouped() -> None:
    this = alarm(4, 0)
    recent = [alarm(1, 40), alarm(2, 20), alarm(3, 5, closed=True), this]
    marks, group = new_marks(this, "HP-01", "town", 23, recent, set(), [], CHATTER)
    assert marks == [NewMark(CHATTERING, None, CHATTERING, None)]
    assert group == [2]  # 1 is outside the window, 3 is closed


def test_a_rule_counts_the_alarms_in_its_own_window() -> None:
    this = alarm(3, 0)
    one_in_window = [alarm(1, 20), this]
    marks, _ = new_marks(this, "HP-01", "town", 23, one_in_window, set(), [NIGHT], CHATTER)
    assert marks == []
    two_in_window = [alarm(2, 5), this]
    marks, _ = new_marks(this, "HP-01", "town", 23, two_in_window, set(), [NIGHT], CHATTER)
    assert marks == [NewMark("night pranks", 7, "prank", Classification.FALSE_MALICIOUS)]
    marks, _ = new_marks(this, "HP-01", "town", 12, two_in_window, set(), [NIGHT], CHATTER)
    assert marks == []  # midday: outside the rule's hours


def test_an_alarm_is_never_marked_twice_by_one_rule() -> None:
    this = alarm(4, 0)
    recent = [alarm(2, 9), alarm(3, 5), this]
    done = {CHATTERING, "night pranks"}
    assert new_marks(this, "HP-01", "town", 23, recent, done, [NIGHT], CHATTER) == ([], [])


def test_the_lookback_is_the_longest_window() -> None:
    assert lookback([NIGHT], CHATTER) == timedelta(minutes=30)
    assert lookback([NIGHT], ChatterRule(alarms=3, window=timedelta(minutes=5))) == timedelta(
        minutes=10
    )
