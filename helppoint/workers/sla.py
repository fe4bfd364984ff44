"""The SLA worker: alerts when an alarm has waited `threshold` without acknowledgement.

It wakes at the oldest waiting alarm's deadline (one query), or after `interval` seconds; in a
storm, alarms falling due close together are alerted together, in rounds at least
`ROUND_GAP` apart (one transaction each, not one per alarm).
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


#: The least time between two rounds (seconds): an alert comes at most this late. In a storm
#: of alarms nobody acknowledges, alerting each in a round of its own (up to 20 a second)
#: made as many write transactions beside the event writer's; on SQLite each took the write
#: lock the writer waits for.
ROUND_GAP = 0.5


class SlaWorker(PeriodicWorker):
    """Runs `services.sla.alert_unacknowledged` whenever an alarm reaches its limit."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        threshold: timedelta,
        interval: float = 1.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__("sla", "SLA sweep", interval, clock, min_delay=ROUND_GAP)
        self._uow_factory = uow_factory
        self._threshold = threshold

    async def _round(self) -> datetime | None:
        return await self._db(self._sweep)

    def _sweep(self) -> datetime | None:
        for alert in sla.alert_unacknowledged(self._uow_factory(), self._clock(), self._threshold):
            log.warning("SLA: %s", alert["message"])
        return sla.next_deadline(self._uow_factory(), self._threshold)
