"""The SLA worker: alerts when an alarm has waited `threshold` without acknowledgement.

It wakes at the oldest waiting alarm's deadline (one query), or after `interval` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from helppoint.services import sla
from helppoint.services.clock import utcnow
from helppoint.store.uow import UnitOfWork

log = logging.getLogger(__name__)
MIN_DELAY = 0.05


class SlaWorker:
    """Runs `services.sla.alert_unacknowledged` whenever an alarm reaches its limit."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        threshold: timedelta,
        interval: float = 1.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._uow_factory = uow_factory
        self._threshold = threshold
        self._interval = interval
        self._clock = clock
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sla")
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="sla")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._executor.shutdown(wait=True)

    def _round(self) -> datetime | None:
        for alert in sla.alert_unacknowledged(self._uow_factory(), self._clock(), self._threshold):
            log.warning("SLA: %s", alert["message"])
        return sla.next_deadline(self._uow_factory(), self._threshold)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                deadline = await loop.run_in_executor(self._executor, self._round)
            except Exception as exc:  # the database may be briefly unavailable: keep going
                log.error("SLA sweep failed: %s", exc)
                deadline = None
            delay = self._interval
            if deadline is not None:
                delay = min(delay, max(MIN_DELAY, (deadline - self._clock()).total_seconds()))
            await asyncio.sleep(delay)
