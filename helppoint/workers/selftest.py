"""The self-test worker: sends `self_test` to every unit whose scheduled test falls due.

The next due time of every unit lives in the database (services/selftest.py), so the
schedule survives restarts; a run missed while the server was down is run once on start.
The worker wakes at the next due time or after `interval` seconds, whichever comes first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from helppoint.domain.selftest import DefaultSchedule
from helppoint.services import selftest
from helppoint.services.clock import utcnow
from helppoint.store.uow import UnitOfWork
from helppoint.workers.periodic import PeriodicWorker

log = logging.getLogger(__name__)


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


class SelfTestWorker(PeriodicWorker):
    """Claims due self-tests (once each, whatever the number of workers) and sends them.

    `wake()` after a schedule changed.
    """

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        hub: CommandSender,
        default: DefaultSchedule,
        interval: float = 30.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__("selftest", "self-test round", interval, clock)
        self._uow_factory = uow_factory
        self._hub = hub
        self._default = default
        self.rounds = 0
        self.sent = 0

    async def run_once(self) -> list[selftest.Run]:
        """Claim and send everything due now."""
        runs = await self._db(selftest.claim_due, self._uow_factory(), self._clock(), self._default)
        for run in runs:
            if await send_run(self._uow_factory, self._hub, run, self._clock):
                self.sent += 1
        self.rounds += 1
        return runs

    async def _round(self) -> datetime | None:
        await self.run_once()
        return await self._db(selftest.next_wake, self._uow_factory())
