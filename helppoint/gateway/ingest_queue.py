"""Group commit: events from all connected units are stored in batches, then acknowledged.

Each event waits for the commit of the batch it is in, so the ack a unit receives always
means "on disk". Batching lets a flood of presses share commits instead of queueing for one
fsync each. The batches are committed by a `BatchWriter` (batch_writer.py): in a writer
process, or on the queue's own thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from datetime import timedelta

from helppoint.gateway.batch_writer import Batch, BatchWriter, ThreadWriter
from helppoint.services.clock import utcnow
from helppoint.services.ingest import IngestResult, ReportedEvent
from helppoint.services.supervision import PowerReading
from helppoint.store.uow import UnitOfWork

log = logging.getLogger(__name__)

#: Once this many events are waiting and the writer can take a batch, they go at once (see
#: `IngestQueue.submit`); fewer wait for the event loop's turn, gathering what comes meanwhile.
EAGER_BATCH = 48


class IngestUnavailable(Exception):
    """The events could not be stored (for example the database is down); resend later."""


class IngestQueue:
    """Collects reported events and commits them in batches, in order.

    `writer` commits them (default: a thread of this process, through `uow_factory`'s units
    of work; `ProcessWriter`: a writer process). Up to `pipeline` batches are with the writer
    at once, so the next batch is gathered and handed over while one is being committed.
    """

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        join_window: timedelta,
        max_batch: int = 500,
        touch_interval: float = 1.0,
        writer: BatchWriter | None = None,
        pipeline: int = 4,
        eager: int = EAGER_BATCH,
    ) -> None:
        self.writer = writer or ThreadWriter(uow_factory, join_window)
        self._max_batch = max_batch
        self._touch_interval = touch_interval
        self._eager = eager
        #: Events submitted and not yet handed to the writer, in order.
        self._pending: deque[tuple[ReportedEvent, asyncio.Future[IngestResult], bool]] = deque()
        #: Set when there are pending events (or a slot came free) for `_run` to look at.
        self._work = asyncio.Event()
        #: Batches with the writer now, with their events.
        self._in_flight: list[tuple[asyncio.Future[list[IngestResult]], list[ReportedEvent]]] = []
        #: Units that resend in order and had an event not stored: the lowest such seq.
        self._unstored: dict[str, int] = {}
        self._touched: set[str] = set()
        #: The latest power report of each unit, written with the next touches.
        self._power: dict[str, PowerReading] = {}
        #: The units heard from in each batch that is with the writer now.
        self._writing: list[set[str]] = []
        #: How many more batches may be with the writer at once.
        self._free = pipeline
        self._task: asyncio.Task[None] | None = None
        self._committing: set[asyncio.Task[None]] = set()
        self.batches = 0
        self.events = 0

    def start(self) -> None:
        self.writer.open()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="ingest-queue")

    async def ready(self) -> None:
        """Wait until the writer can commit (its process started): call before accepting
        connections, so the first alarm after a start does not wait for it."""
        await self.writer.ready()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        # Batches already with the writer finish (and are answered) before it closes.
        if self._committing:
            await asyncio.wait(self._committing)
        await self.writer.close()

    def submit(
        self, event: ReportedEvent, *, resent_in_order: bool = False
    ) -> asyncio.Future[IngestResult]:
        """Queue an event; the future resolves once its batch is committed.

        `resent_in_order`: the unit numbers its events and resends what was not acknowledged,
        in order (the device link). Once one of its events is not stored, its later ones are
        refused (IngestUnavailable) until it resends that one: a later event stored first
        would make the unit renumber the earlier one and store the two out of order.
        """
        future: asyncio.Future[IngestResult] = asyncio.get_running_loop().create_future()
        pending = self._pending
        pending.append((event, future, resent_in_order))
        if self._free:  # else the batch with the writer that answers first makes room
            if len(pending) >= self._eager and self._task is not None:
                # A burst (a flood of alarms read in one pass of the event loop): hand the
                # writer what is here now, so it commits while the rest of the burst is
                # read, instead of waiting for the whole of it.
                self._dispatch()
            else:
                self._work.set()
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
        return unit_id in self._touched or any(unit_id in units for units in self._writing)

    async def _run(self) -> None:
        while True:
            if not (self._pending and self._free):
                self._work.clear()
                try:
                    await asyncio.wait_for(self._work.wait(), self._touch_interval)
                except TimeoutError:
                    if not self._pending:  # else the touches go with the next batch
                        await self._flush_touches()
                continue
            self._dispatch()

    def _dispatch(self) -> None:
        """Hand the writer a batch of what is pending (a slot must be free)."""
        pending = self._pending
        take = min(len(pending), self._max_batch)
        batch = [pending.popleft() for _ in range(take)]
        # A batch may have failed since: its answer is not handled yet, but what it means
        # for the units' later events must be known before they go to the writer.
        self._note_failures()
        live = [
            (event, fut)
            for event, fut, in_order in batch
            if not fut.cancelled() and (not in_order or self._in_order(event, fut))
        ]
        if not live:
            return
        self._free -= 1
        events = [event for event, _ in live]
        touched, self._touched = self._touched, set()
        power, self._power = self._power, {}
        with_events = {e.unit_id for e in events}
        heard = touched | with_events
        self._writing.append(heard)
        written = self.writer.submit(
            Batch(events, utcnow(), touched=sorted(touched - with_events), power=power)
        )
        self._in_flight.append((written, events))
        task = asyncio.get_running_loop().create_task(self._answer(live, heard, written))
        self._committing.add(task)
        task.add_done_callback(self._committing.discard)

    async def _answer(
        self,
        live: list[tuple[ReportedEvent, asyncio.Future[IngestResult]]],
        heard: set[str],
        written: asyncio.Future[list[IngestResult]],
    ) -> None:
        try:
            results = await written
        except Exception as exc:
            log.error("could not store %d events: %s", len(live), exc)
            self._note_failures()
            for _, fut in live:
                if not fut.done():
                    fut.set_exception(IngestUnavailable(str(exc)))
            return
        else:
            self.batches += 1
            self.events += len(live)
            for (_, fut), result in zip(live, results, strict=True):
                if not fut.done():
                    fut.set_result(result)
        finally:
            self._in_flight = [item for item in self._in_flight if item[0] is not written]
            self._writing.remove(heard)
            self._free += 1
            if self._pending:
                self._work.set()

    def _note_failures(self) -> None:
        """Note the events of batches that failed (once each: a resend clears its unit)."""
        still = []
        for written, events in self._in_flight:
            if written.done() and (written.cancelled() or written.exception() is not None):
                for event in events:
                    lowest = self._unstored.get(event.unit_id, event.seq)
                    self._unstored[event.unit_id] = min(lowest, event.seq)
            else:
                still.append((written, events))
        self._in_flight = still

    def _in_order(self, event: ReportedEvent, future: asyncio.Future[IngestResult]) -> bool:
        """Whether the event may be stored now (see `submit`); if not, it is refused."""
        unstored = self._unstored.get(event.unit_id)
        if unstored is None:
            return True
        if event.seq <= unstored:  # the unit is resending from there
            del self._unstored[event.unit_id]
            return True
        future.set_exception(
            IngestUnavailable(
                f"unit {event.unit_id}: event {unstored} was not stored; resend from it first"
            )
        )
        return False

    async def _flush_touches(self) -> None:
        if not self._touched:
            return
        touched, self._touched = self._touched, set()
        power, self._power = self._power, {}
        self._writing.append(touched)
        try:
            await self.writer.submit(Batch([], utcnow(), touched=sorted(touched), power=power))
        except Exception as exc:
            # Keep them for the next flush: a heartbeat that was heard must not be forgotten
            # (the unit would be reported down although it is alive).
            log.warning("could not record last-seen times (will retry): %s", exc)
            self._touched |= touched
            self._power = power | self._power
        finally:
            self._writing.remove(touched)
