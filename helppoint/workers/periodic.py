"""What every periodic worker shares: rounds on the event loop, database work on a thread.

A worker runs a round at once when started, then again when the round said its next work
falls due, when `wake()` is called (something it watches changed), or after `interval`
seconds, whichever comes first. A round that fails (the database briefly unavailable, say)
is logged and retried after `interval`; the worker keeps going. The database work of a round
runs on the worker's own thread, so a slow query never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, TypeVar

from helppoint.tasks import cancel_and_wait

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Never wake more often than this, however close the next deadline (seconds).
MIN_DELAY = 0.05


def next_delay(due: datetime | None, now: datetime, interval: float, min_delay: float) -> float:
    """Seconds until the next round: at `due` (not sooner than `min_delay` after this
    round), or after `interval` if that is sooner or nothing is known to fall due."""
    if due is None:
        return interval
    return min(interval, max(min_delay, (due - now).total_seconds()))


class PeriodicWorker(ABC):
    """Runs `_round` whenever work falls due (see the module's docstring)."""

    def __init__(
        self,
        name: str,
        what: str,
        interval: float,
        clock: Callable[[], datetime],
        min_delay: float = MIN_DELAY,
    ) -> None:
        #: The task's and thread's name; `what` names a round in the log ("outbox round").
        self._name, self._what = name, what
        self._interval = interval
        #: The least time between two rounds that work falling due brings on.
        self._min_delay = min_delay
        self._clock = clock
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def start(self) -> None:
        """Start the rounds on the running event loop (the first one at once)."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        """Stop at once: a round in progress is abandoned (each round's work is one
        transaction, or claims what it works on, so nothing is left half-done)."""
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None
        self._executor.shutdown(wait=True)

    def wake(self) -> None:
        """Run a round now (something the worker watches changed); if one is running, run
        another after it."""
        self._wake.set()

    async def _db(self, function: Callable[..., T], *args: Any) -> T:
        """Run `function(*args)` on the worker's thread."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    @abstractmethod
    async def _round(self) -> datetime | None:
        """Do what is due now; when the next work falls due (None: not known)."""

    async def _run(self) -> None:
        while True:
            # Cleared before the round: a wake() during it means "look again".
            self._wake.clear()
            try:
                due = await self._round()
            except Exception as exc:
                log.error("%s failed (retrying in %.1f s): %s", self._what, self._interval, exc)
                due = None
            delay = next_delay(due, self._clock(), self._interval, self._min_delay)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()
