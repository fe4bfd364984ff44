"""The self-test worker: sends `self_test` to every unit whose scheduled test falls due.

The next due time of every unit lives in the database (services/selftest.py), so the
schedule survives restarts; a run missed while the server was down is run once on start.
The worker wakes at the next due time or after `interval` seconds, whichever comes first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, Protocol

from helppoint.services import selftest
from helppoint.services.clock import utcnow
from helppoint.store.uow import UnitOfWork

log = logging.getLogger(__name__)

#: Never wake more often than this (seconds).
MIN_DELAY = 0.05


class CommandSender(Protocol):
    """What the worker needs of the device link hub."""

    async def send_command(
        self, unit_id: str, command: str, args: dict[str, Any], command_id: str | None = None
    ) -> str: ...


async def send_run(
    uow_factory: Callable[[], UnitOfWork],
    hub: CommandSender,
    run: selftest.Run,
    clock: Callable[[], datetime] = utcnow,
) -> bool:
    """Send one run's `self_test` command and record whether it reached the unit."""
    try:
        await hub.send_command(run.unit_id, "self_test", {"run": run.command_id}, run.command_id)
    except Exception as exc:  # not connected (or the link just closed): the unit is offline
        log.warning("self-test of unit %s not sent: %s", run.unit_id, exc)
        await asyncio.to_thread(
            selftest.mark_sent, uow_factory(), run, False, f"not sent: {exc}", clock()
        )
        return False
    await asyncio.to_thread(selftest.mark_sent, uow_factory(), run, True, "", clock())
    return True


class SelfTestWorker:
    """Claims due self-tests (once each, whatever the number of workers) and sends them."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        hub: CommandSender,
        default: selftest.DefaultSchedule,
        interval: float = 30.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._uow_factory = uow_factory
        self._hub = hub
        self._default = default
        self._interval = interval
        self._clock = clock
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="selftest")
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.rounds = 0
        self.sent = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="selftest")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._executor.shutdown(wait=True)

    def wake(self) -> None:
        """Look for due self-tests now (for example after a schedule changed)."""
        self._wake.set()

    async def run_once(self) -> list[selftest.Run]:
        """Claim and send everything due now."""
        loop = asyncio.get_running_loop()
        runs = await loop.run_in_executor(
            self._executor, selftest.claim_due, self._uow_factory(), self._clock(), self._default
        )
        for run in runs:
            if await send_run(self._uow_factory, self._hub, run, self._clock):
                self.sent += 1
        self.rounds += 1
        return runs

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()
            delay = self._interval
            try:
                await self.run_once()
                wake_at = await loop.run_in_executor(
                    self._executor, selftest.next_wake, self._uow_factory()
                )
            except Exception as exc:  # the database may be briefly unavailable: keep going
                log.error("self-test round failed (retrying in %.1f s): %s", self._interval, exc)
            else:
                if wake_at is not None:
                    until = (wake_at - self._clock()).total_seconds()
                    delay = min(delay, max(MIN_DELAY, until))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
