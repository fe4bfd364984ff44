"""Reconnection delays: exponential backoff with full jitter.

A fleet that lost the server together must not come back together: each unit waits a random
time between 0 and a ceiling that doubles from 0.5 s up to 30 s.
"""

from __future__ import annotations

import random


class Backoff:
    """Delays before reconnecting; ``reset()`` once a connection has been welcomed."""

    def __init__(
        self, base: float = 0.5, cap: float = 30.0, rng: random.Random | None = None
    ) -> None:
        if base <= 0 or cap < base:
            raise ValueError("backoff needs 0 < base <= cap")
        self.base = base
        self.cap = cap
        self.attempt = 0
        self._rng = rng or random.Random()

    def ceiling(self, attempt: int) -> float:
        """The longest delay allowed before retry number ``attempt`` (counting from 0)."""
        # Capping the exponent first keeps 2**attempt from growing without bound.
        return min(self.cap, self.base * 2.0 ** min(attempt, 32))

    def next_delay(self) -> float:
        """A delay in [0, ceiling] for the next retry, and move on to the next ceiling."""
        delay = self._rng.uniform(0.0, self.ceiling(self.attempt))
        self.attempt += 1
        return delay

    def reset(self) -> None:
        """Start again from the smallest ceiling."""
        self.attempt = 0

    def jittered(self, seconds: float) -> float:
        """Between half of ``seconds`` and all of it, for slow retries after an auth failure."""
        return self._rng.uniform(seconds / 2, seconds)
