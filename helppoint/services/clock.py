"""The current time, in one place so tests and history replay can control it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

#: Set only while history is replayed through the services (services/history.py).
_replaying: ContextVar[datetime | None] = ContextVar("helppoint_replay_clock", default=None)


def utcnow() -> datetime:
    """Now, timezone-aware UTC (the replayed moment while history is being filled)."""
    at = _replaying.get()
    return datetime.now(UTC) if at is None else at


@contextmanager
def replaying_at(at: datetime) -> Iterator[None]:
    """Within the block, the services see `at` as now: history is written through the same
    calls the console makes, with the times it would have had (demo and seed data only)."""
    if at.tzinfo is None:
        raise ValueError("replay times are timezone-aware")
    token = _replaying.set(at.astimezone(UTC))
    try:
        yield
    finally:
        _replaying.reset(token)
