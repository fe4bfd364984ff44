"""A clock a test sets by hand, for code that takes `clock: Callable[[], float]`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Clock:
    """Monotonic seconds as the test says: `clock.now += 0.5`."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now
