"""Reconnection delays: full jitter under a ceiling that doubles from 0.5 s to 30 s."""

from __future__ import annotations

import random

import pytest

from helppoint.agent.backoff import Backoff


def test_ceilings_double_from_half_a_second_up_to_thirty() -> None:
    backoff = Backoff()
    assert [backoff.ceiling(n) for n in range(9)] == [0.5, 1, 2, 4, 8, 16, 30, 30, 30]
    assert backoff.ceiling(10_000) == 30


def test_delays_stay_within_the_ceiling_and_spread_out() -> None:
    backoff = Backoff(rng=random.Random(7))
    for attempt in range(12):
        delay = backoff.next_delay()
        assert 0 <= delay <= backoff.ceiling(attempt)
    fleet = [Backoff(rng=random.Random(seed)) for seed in range(200)]
    for unit in fleet:
        for _ in range(7):
            unit.next_delay()
    delays = [unit.next_delay() for unit in fleet]
    # Full jitter: a fleet that lost the server together spreads over the whole 0-30 s range.
    assert min(delays) < 5 and max(delays) > 25


def test_reset_starts_again_small() -> None:
    backoff = Backoff(rng=random.Random(1))
    for _ in range(10):
        backoff.next_delay()
    backoff.reset()
    assert backoff.next_delay() <= 0.5


def test_slow_retries_are_jittered_between_half_and_all() -> None:
    backoff = Backoff(rng=random.Random(3))
    assert all(30 <= backoff.jittered(60) <= 60 for _ in range(100))


def test_bad_bounds_are_refused() -> None:
    with pytest.raises(ValueError):
        Backoff(base=0)
    with pytest.raises(ValueError):
        Backoff(base=5, cap=1)
