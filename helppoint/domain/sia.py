"""A third-party alarm account (SIA DC-09): which units it reports for, its key, its clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

#: Default timestamp window: a message may be this many seconds old or ahead (DC-09 5.5.1.8).
DEFAULT_PAST = 40
DEFAULT_FUTURE = 20


KEY_SIZES = (16, 24, 32)


def within_window(timestamp: datetime, now: datetime, past: timedelta, future: timedelta) -> bool:
    """Whether a message's timestamp is at most `past` behind and `future` ahead of `now`."""
    return now - past <= timestamp <= now + future


def parse_key(text: str) -> bytes:
    """An AES key from its hex form (32, 48 or 64 hex digits); ValueError otherwise."""
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        raise ValueError("an AES key is 32, 48 or 64 hex digits") from None
    if len(key) not in KEY_SIZES:
        raise ValueError(f"an AES key is 128, 192 or 256 bits, not {len(key) * 8}")
    return key


@dataclass(eq=False)
class SiaAccount:
    """A panel or device account: 3-16 hex digits, mapped to a unit (and per zone to others)."""

    account: str
    unit_id: str
    created_at: datetime
    zone_units: dict[str, str] = field(default_factory=dict)
    #: The AES key as hex (None: the account sends plain messages).
    key_hex: str | None = None
    #: How far a message's timestamp may lag or lead our clock (seconds). Widen it for a
    #: panel that sends local time instead of UTC (e.g. 3600 + 40 for a UK panel in summer).
    tolerance_past: int = DEFAULT_PAST
    tolerance_future: int = DEFAULT_FUTURE
    active: bool = True

    @property
    def key(self) -> bytes | None:
        """The AES key, or None for a plain account."""
        return parse_key(self.key_hex) if self.key_hex else None

    def unit_for(self, zone: str | None) -> str:
        """The unit an event of this zone belongs to (the account's own unit by default)."""
        if zone is not None and zone in self.zone_units:
            return self.zone_units[zone]
        return self.unit_id

    def units(self) -> list[str]:
        """Every unit this account reports for."""
        return list(dict.fromkeys([self.unit_id, *self.zone_units.values()]))

    def timestamp_ok(self, timestamp: datetime, now: datetime) -> bool:
        """Whether a message's timestamp is inside this account's window around `now`."""
        return within_window(
            timestamp,
            now,
            timedelta(seconds=self.tolerance_past),
            timedelta(seconds=self.tolerance_future),
        )
