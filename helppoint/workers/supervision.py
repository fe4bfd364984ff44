"""The supervision worker: sweeps for silent and recovered units, in-process by default.

It wakes at the next unit's deadline (one indexed query) or after `interval` seconds,
whichever comes first, so a silent unit is reported within a few milliseconds of its
deadline and a recovered one within `interval`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from helppoint.services.clock import utcnow
from helppoint.services.supervision import SweepResult, sweep
from helppoint.store.uow import UnitOfWork

log = logging.getLogger(__name__)

#: Never wake more often than this, however close the next deadline (seconds).
MIN_DELAY = 0.05


class SupervisionWorker:
    """Runs `services.supervision.sweep` whenever a unit falls due."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        interval: float = 1.0,
        still_alive: Callable[[str], bool] = lambda unit_id: False,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._uow_factory = uow_factory
        self._interval = interval
        self._still_alive = still_alive
        self._clock = clock
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="supervision")
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.sweeps = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="supervision")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._executor.shutdown(wait=True)

    def wake(self) -> None:
        """Sweep now (for example after a unit's supervision settings changed)."""
        self._wake.set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                result, deadline = await loop.run_in_executor(self._executor, self._sweep_once)
            except Exception as exc:  # the database may be briefly unavailable: keep going
                log.error("supervision sweep failed (retrying in %.1f s): %s", self._interval, exc)
                deadline = None
            else:
                self.sweeps += 1
                for unit_id in result.down:
                    log.warning("unit %s is down: not heard within its period + grace", unit_id)
                for unit_id in result.up:
                    log.info("unit %s is back up", unit_id)
            delay = self._interval
            if deadline is not None:
                delay = min(delay, max(MIN_DELAY, deadline - self._clock().timestamp()))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    def _sweep_once(self) -> tuple[SweepResult, float | None]:
        result = sweep(self._uow_factory(), self._clock(), self._still_alive)
        with self._uow_factory() as uow:
            deadline = uow.supervision.next_deadline()
        return result, deadline
