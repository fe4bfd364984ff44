"""The SLA worker: alerts when an alarm has waited `threshold` without acknowledgement.

It wakes at the oldest waiting alarm's deadline (one query), or after `interval` seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from helppoint.services import sla
from helppoint.services.clock import utcnow
from helppoint.store.uow import UnitOfWork
from helppoint.workers.periodic import PeriodicWorker

log = logging.getLogger(__name__)


class SlaWorker(PeriodicWorker):
    """Runs `services.sla.alert_unacknowledged` whenever an alarm reaches its limit."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        threshold: timedelta,
        interval: float = 1.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__("sla", "SLA sweep", interval, clock)
        self._uow_factory = uow_factory
        self._threshold = threshold

    async def _round(self) -> datetime | None:
        return await self._db(self._sweep)

    def _sweep(self) -> datetime | None:
        for alert in sla.alert_unacknowledged(self._uow_factory(), self._clock(), self._threshold):
            log.warning("SLA: %s", alert["message"])
        return sla.next_deadline(self._uow_factory(), self._threshold)
