"""A unit's power: the battery share and mains presence its heartbeats report, and when that
is a fault the control room must hear about (once per change, not per heartbeat)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

#: A battery below this share is reported low; it counts as recovered only at or above
#: BATTERY_RECOVERED, so a level hovering around the threshold does not flap.
BATTERY_LOW = 0.20
BATTERY_RECOVERED = 0.30
#: An unchanged power report is written again after this long (so "reported at" stays fresh
#: without a write per heartbeat).
POWER_REFRESH = timedelta(minutes=5)


@dataclass(frozen=True)
class PowerState:
    """The latest power report of a unit, and what the control room was last told."""

    #: Share of a full battery, 0.0-1.0 (None: never reported).
    battery: float | None
    mains: bool | None
    reported_at: datetime
    battery_low: bool
    mains_lost: bool


def next_power_state(
    stored: PowerState | None, battery: float | None, mains: bool | None, now: datetime
) -> PowerState:
    """The state after a report; a value the report leaves out keeps its stored one."""
    if battery is None and stored is not None:
        battery = stored.battery
    if mains is None and stored is not None:
        mains = stored.mains
    was_low = stored is not None and stored.battery_low
    low = was_low
    if battery is not None:
        low = battery < BATTERY_RECOVERED if was_low else battery < BATTERY_LOW
    return PowerState(battery, mains, now, low, mains is False)


def worth_writing(stored: PowerState, new: PowerState) -> bool:
    """Whether a new state differs enough from the stored one (or the stored one is stale)."""
    return (
        new.battery_low != stored.battery_low
        or new.mains_lost != stored.mains_lost
        or new.mains != stored.mains
        or _level(new.battery) != _level(stored.battery)
        or new.reported_at - stored.reported_at >= POWER_REFRESH
    )


def _level(battery: float | None) -> int | None:
    return None if battery is None else round(battery * 100)
