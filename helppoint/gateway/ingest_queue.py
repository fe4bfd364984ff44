"""Group commit: events from all connected units are stored in batches, then acknowledged.

Each event waits for the commit of the batch it is in, so the ack a unit receives always
means "on disk". Batching lets a flood of presses share commits instead of queueing for one
fsync each.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from helppoint.services.clock import utcnow
from helppoint.services.ingest import IngestResult, ReportedEvent, handle_device_events
from helppoint.services.supervision import PowerReading, record_power
from helppoint.store.uow import UnitOfWork

log = logging.getLogger(__name__)


class IngestUnavailable(Exception):
    """The events could not be stored (for example the database is down); resend later."""


class IngestQueue:
    """Collects reported events and commits them in batches on one writer thread."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        join_window: timedelta,
        max_batch: int = 500,
        touch_interval: float = 1.0,
    ) -> None:
        self._uow_factory = uow_factory
        self._join_window = join_window
        self._max_batch = max_batch
        self._touch_interval = touch_interval
        self._queue: asyncio.Queue[tuple[ReportedEvent, asyncio.Future[IngestResult]]] = (
            asyncio.Queue()
        )
        self._touched: set[str] = set()
        #: The latest power report of each unit, written with the next touches.
        self._power: dict[str, PowerReading] = {}
        self._writing: set[str] = set()  # touches being committed right now
        # One writer thread: SQLite allows one writer anyway, and order per unit is kept.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest")
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.events = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="ingest-queue")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._executor.shutdown(wait=True)

    def submit(self, event: ReportedEvent) -> asyncio.Future[IngestResult]:
        """Queue an event; the future resolves once its batch is committed."""
        future: asyncio.Future[IngestResult] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((event, future))
        return future

    def touch(self, unit_id: str) -> None:
        """Note that a unit was heard from (written with the next batch or within a second)."""
        self._touched.add(unit_id)

    def report_power(self, unit_id: str, battery: float | None, mains: bool | None) -> None:
        """Note a heartbeat's power report (the latest one is written with the touches)."""
        self._power[unit_id] = PowerReading(battery, mains)
        self._touched.add(unit_id)

    def heard_unwritten(self, unit_id: str) -> bool:
        """Whether the unit was heard from but that is not committed yet (for supervision)."""
        return unit_id in self._touched or unit_id in self._writing

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                first = await asyncio.wait_for(self._queue.get(), self._touch_interval)
            except TimeoutError:
                await self._flush_touches(loop)
                continue
            batch = [first]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            live = [(event, fut) for event, fut in batch if not fut.cancelled()]
            if not live:
                continue
            try:
                power, self._power = self._power, {}  # taken on the loop's thread
                results = await loop.run_in_executor(
                    self._executor, self._commit, [event for event, _ in live], power
                )
            except Exception as exc:
                log.error("could not store %d events: %s", len(live), exc)
                for _, fut in live:
                    if not fut.done():
                        fut.set_exception(IngestUnavailable(str(exc)))
                continue
            self.batches += 1
            self.events += len(live)
            for (_, fut), result in zip(live, results, strict=True):
                if not fut.done():
                    fut.set_result(result)

    def _commit(
        self, events: list[ReportedEvent], power: dict[str, PowerReading]
    ) -> list[IngestResult]:
        touched = self._touched
        self._writing, self._touched = touched | {e.unit_id for e in events}, set()
        try:
            uow = self._uow_factory()
            with uow:
                results = handle_device_events(uow, events, utcnow(), self._join_window)
                extra = touched - {e.unit_id for e in events}
                if extra:
                    uow.units.touch(sorted(extra), utcnow())
                record_power(uow, power, utcnow())
                uow.commit()
        finally:
            self._writing = set()
        return results

    async def _flush_touches(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self._touched:
            return
        touched, self._touched = self._touched, set()
        power, self._power = self._power, {}
        self._writing = touched
        try:
            await loop.run_in_executor(self._executor, self._write_touches, sorted(touched), power)
        except Exception as exc:
            # Keep them for the next flush: a heartbeat that was heard must not be forgotten
            # (the unit would be reported down although it is alive).
            log.warning("could not record last-seen times (will retry): %s", exc)
            self._touched |= touched
            self._power = power | self._power

    def _write_touches(self, unit_ids: list[str], power: dict[str, PowerReading]) -> None:
        self._writing = set(unit_ids)
        try:
            uow = self._uow_factory()
            with uow:
                uow.units.touch(unit_ids, utcnow())
                record_power(uow, power, utcnow())
                uow.commit()
        finally:
            self._writing = set()
