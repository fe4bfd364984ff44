"""Supervision rules without I/O: derived status, uptime, maintenance tickets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from helppoint.domain.errors import InvalidTransition
from helppoint.domain.supervision import (
    MaintenanceTicket,
    TicketState,
    UnitFlip,
    UnitStatus,
    alert_deadline,
    derive_status,
    uptime_fraction,
)

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def s(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("silent", "expected"),
    [
        (0, UnitStatus.UP),
        (10, UnitStatus.UP),
        (10.5, UnitStatus.LATE),
        (18, UnitStatus.LATE),
        (18.01, UnitStatus.DOWN),
        (3600, UnitStatus.DOWN),
    ],
)
def test_status_is_derived_from_last_heartbeat(silent: float, expected: UnitStatus) -> None:
    assert derive_status(T0, 10, 8, s(silent)) is expected


def test_never_heard_unit_is_unknown() -> None:
    assert derive_status(None, 10, 8, T0) is UnitStatus.UNKNOWN


def test_deadline_is_period_plus_grace() -> None:
    assert alert_deadline(T0, 10, 8) == s(18).timestamp()


def test_uptime_counts_reported_down_time() -> None:
    flips = [UnitFlip("HP-01", s(100), "up", "down"), UnitFlip("HP-01", s(150), "down", "up")]
    assert uptime_fraction(flips, "up", T0, s(1000)) == pytest.approx(0.95)
    assert uptime_fraction([], "down", T0, s(10)) == 0.0
    assert uptime_fraction([], "up", T0, s(10)) == 1.0


def ticket() -> MaintenanceTicket:
    return MaintenanceTicket(unit_id="HP-01", fault="light", opened_at=T0, updated_at=T0, id=7)


def test_ticket_lifecycle() -> None:
    t = ticket()
    t.assign("eve", s(1))
    t.mark_fixed("eve", s(2))
    t.verify("sam", s(3))
    assert t.state is TicketState.VERIFIED
    assert not t.is_open
    with pytest.raises(InvalidTransition):
        t.assign("eve", s(4))


def test_fixer_cannot_verify_own_fix() -> None:
    t = ticket()
    t.mark_fixed("eve", s(1))
    with pytest.raises(InvalidTransition, match="someone other"):
        t.verify("eve", s(2))


def test_open_ticket_cannot_be_verified() -> None:
    with pytest.raises(InvalidTransition):
        ticket().verify("sam", s(1))
