"""The supervision worker: sweeps for silent and recovered units, in-process by default.

It wakes at the next unit's deadline (one indexed query) or after `interval` seconds,
whichever comes first, so a silent unit is reported within a few milliseconds of its
deadline and a recovered one within `interval`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from helppoint.services.clock import utcnow
from helppoint.services.supervision import HOLD_AT_MOST, SweepResult, sweep
from helppoint.store.uow import UnitOfWork
from helppoint.workers.periodic import PeriodicWorker

log = logging.getLogger(__name__)


class SupervisionWorker(PeriodicWorker):
    """Runs `services.supervision.sweep` whenever a unit falls due.

    `wake()` after a unit's supervision settings changed. `heard_through()` (with several
    server processes): the earliest time before which the others have written every sign of
    life they heard (cluster/presence.py); no unit whose deadline falls after it is reported.
    """

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        interval: float = 1.0,
        still_alive: Callable[[str], bool] = lambda unit_id: False,
        clock: Callable[[], datetime] = utcnow,
        heard_through: Callable[[], float | None] = lambda: None,
    ) -> None:
        super().__init__("supervision", "supervision sweep", interval, clock)
        self._uow_factory = uow_factory
        self._still_alive = still_alive
        self._heard_through = heard_through
        #: Whether another process is more than HOLD_AT_MOST behind (said once, not per sweep).
        self._behind = False
        self.sweeps = 0

    async def _round(self) -> datetime | None:
        heard_through = self._heard_through()
        behind = heard_through is not None and (
            heard_through < self._clock().timestamp() - HOLD_AT_MOST
        )
        if behind and not self._behind:
            log.warning(
                "a server process has not written the heartbeats it heard for over %.0f s: "
                "units' silence is reported without waiting for it",
                HOLD_AT_MOST,
            )
        self._behind = behind
        result, deadline = await self._db(self._sweep_once, heard_through)
        self.sweeps += 1
        for unit_id in result.down:
            log.warning("unit %s is down: not heard within its period + grace", unit_id)
        for unit_id in result.up:
            log.info("unit %s is back up", unit_id)
        return None if deadline is None else datetime.fromtimestamp(deadline, UTC)

    def _sweep_once(self, heard_through: float | None = None) -> tuple[SweepResult, float | None]:
        result = sweep(self._uow_factory(), self._clock(), self._still_alive, heard_through)
        with self._uow_factory().reading() as uow:
            deadline = uow.supervision.next_deadline()
        return result, deadline
