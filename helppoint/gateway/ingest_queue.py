"""Group commit: events from all connected units are stored in batches, then acknowledged.

Each event waits for the commit of the batch it is in, so the ack a unit receives always
means "on disk". Batching lets a flood of presses share commits instead of queueing for one
fsync each. The batches are committed by a `BatchWriter` (batch_writer.py): in a writer
process, or on the queue's own thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from helppoint.gateway.batch_commit import Batch
from helppoint.gateway.batch_writer import BatchWriter
from helppoint.gateway.thread_writer import ThreadWriter
from helppoint.services.clock import utcnow
from helppoint.services.ingest import IngestResult, Outcome, ReportedEvent
from helppoint.services.supervision import PowerReading
from helppoint.services.unit_touches import INTERVAL as TOUCH_INTERVAL
from helppoint.store.uow import UnitOfWork
from helppoint.tasks import cancel_and_wait

log = logging.getLogger(__name__)

#: Once this many events are waiting and the writer can take a batch, they go at once (see
#: `IngestQueue.submit`); fewer wait for the event loop's turn, gathering what comes meanwhile.
EAGER_BATCH = 48
#: The most units whose last-seen time (and power report) one commit of its own writes. The
#: units heard from without an event (heartbeats) are written apart from events, once a
#: `touch_interval`, this many a commit: a press's commit never carries them (each unit adds
#: two or three pages to the commit's write-ahead log), and a press waits behind one such
#: commit at most, never behind a second's worth of a large fleet's heartbeats.
TOUCH_CHUNK = 32
#: The most commits one flush of the units heard from takes: with more waiting than this many
#: chunks' worth, the chunks grow. The chunks are written one after the other, so with a
#: fixed size the units written a second are bound by the commit's time: at 50,000 units over
#: four processes on two saturated cores, chunks of 32 fell behind the heartbeats and units
#: were reported down that were not.
TOUCH_COMMITS = 8


class IngestUnavailable(Exception):
    """The events could not be stored (for example the database is down); resend later."""


@dataclass(eq=False)
class _InFlight:
    """A batch with the writer: its number, its answer to come, and its events."""

    number: int
    written: asyncio.Future[list[IngestResult]]
    live: list[tuple[ReportedEvent, asyncio.Future[IngestResult], int]]
    heard: set[str] = field(default_factory=set)
    #: Whether what failed in it was noted (see `_note_failures`).
    noted: bool = False
    #: When it was handed to the writer (time.monotonic()).
    handed: float = 0.0


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
        #: Events submitted and not yet handed to the writer, in order, with their link.
        self._pending: deque[tuple[ReportedEvent, asyncio.Future[IngestResult], int]] = deque()
        #: Set when there are pending events (or a slot came free) for `_run` to look at.
        self._work = asyncio.Event()
        #: Batches with the writer now, oldest first.
        self._in_flight: list[_InFlight] = []
        #: Batches handed over so far, and the last whose answer was taken in (and all before).
        self._number = 0
        self._answered = 0
        self._answered_early: set[int] = set()
        self._links = itertools.count(1)
        #: Links with an event that was not stored: their later events are refused.
        self._failed_links: set[int] = set()
        #: Of those, the links that ended: forgotten once none of their events is left here.
        self._ended_links: set[int] = set()
        self._touched: set[str] = set()
        #: When the oldest of `_touched` was heard (time.monotonic()), and of the units the
        #: flush under way writes: what `heard_through` tells the other server processes.
        self._touched_since: float | None = None
        self._flushing_since: float | None = None
        #: Those of the flush under way not handed to the writer yet.
        self._flushing_units: set[str] = set()
        #: When an event was last handed to the writer (time.monotonic()).
        self._event_sent = -math.inf
        #: The latest power report of each unit, written with the next touches.
        self._power: dict[str, PowerReading] = {}
        #: The units heard from in each batch that is with the writer now.
        self._writing: list[set[str]] = []
        #: When each unit last had an event handed to the writer, which may write its
        #: last-seen time up to a TOUCH_INTERVAL later (services/unit_touches.py).
        self._events_sent: dict[str, float] = {}
        #: How many more batches may be with the writer at once.
        self._free = pipeline
        self._task: asyncio.Task[None] | None = None
        self._committing: set[asyncio.Task[None]] = set()
        #: Writing the units heard from, a chunk at a time (`_flush_touches`), and when the
        #: last such write began.
        self._flushing: asyncio.Task[None] | None = None
        self._flushed_at = time.monotonic()
        self.batches = 0
        self.events = 0
        #: Told how long each batch of events was with the writer (seconds: waiting for it,
        #: storing, the commit), once it is answered; the metrics' histogram.
        self.observe_batch: Callable[[float], None] | None = None

    def start(self) -> None:
        self.writer.open()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="ingest-queue")

    async def ready(self) -> None:
        """Wait until the writer can commit (its process started): call before accepting
        connections, so the first alarm after a start does not wait for it."""
        await self.writer.ready()

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None
        # Batches already with the writer finish (and are answered) before it closes.
        if self._committing:
            await asyncio.wait(self._committing)
        await self.writer.close()

    def submit(self, event: ReportedEvent, *, link: int = 0) -> asyncio.Future[IngestResult]:
        """Queue an event; the future resolves once its batch is committed.

        `link` (from `open_link`): the device link the event came on, whose unit numbers its
        events and sends them in order. Once one of a link's events is not stored, the link's
        later events are refused (IngestUnavailable): stored, they would come before it, and
        the unit would renumber it. The unit resends them all, in order, on its next link.
        0: events the server numbers itself (DC-09), stored as they come.
        """
        future: asyncio.Future[IngestResult] = asyncio.get_running_loop().create_future()
        pending = self._pending
        pending.append((event, future, link))
        if self._free:  # else the batch with the writer that answers first makes room
            if len(pending) >= self._eager and self._task is not None:
                # A burst (a flood of alarms read in one pass of the event loop): hand the
                # writer what is here now, so it commits while the rest of the burst is
                # read, instead of waiting for the whole of it.
                self._dispatch()
            else:
                self._work.set()
        return future

    def open_link(self) -> int:
        """A number for a new device link, to submit its events with."""
        return next(self._links)

    def withdraw_link(self, link: int) -> None:
        """The link was replaced by the unit's newer one (perhaps on another process): its
        events not yet with the writer are refused, so that only the newer link's resends
        write the unit's events and incidents from now on."""
        self._failed_links.add(link)

    def close_link(self, link: int) -> None:
        """The link ended: nothing more will be submitted for it."""
        if link in self._failed_links:
            self._ended_links.add(link)
            self._forget_ended_links()

    def touch(self, unit_id: str) -> None:
        """Note that a unit was heard from (written within a second, apart from events)."""
        if not self._touched:
            self._touched_since = time.monotonic()
        self._touched.add(unit_id)

    def report_power(self, unit_id: str, battery: float | None, mains: bool | None) -> None:
        """Note a heartbeat's power report (the latest one is written with the touches)."""
        self._power[unit_id] = PowerReading(battery, mains)
        self.touch(unit_id)

    def heard_through(self) -> float:
        """A time (POSIX seconds) before which every sign of life this process heard is
        written: the oldest touch not committed yet, the oldest batch of events with the
        writer, and, while events come, twice the interval in which the writer may still owe
        their units' last-seen times. The other server processes' supervision sweep reports
        no unit down whose deadline falls after it (cluster/presence.py)."""
        now = time.monotonic()
        oldest = now
        for since in (self._touched_since, self._flushing_since):
            if since is not None and since < oldest:
                oldest = since
        for flight in self._in_flight:
            oldest = min(oldest, flight.handed)
        owed = now - 2 * TOUCH_INTERVAL
        if self._event_sent > owed:
            oldest = min(oldest, owed)
        return time.time() - (now - oldest)

    def heard_unwritten(self, unit_id: str) -> bool:
        """Whether the unit was heard from but that may not be written yet (for supervision):
        a touch not committed yet, or an event whose last-seen time the writer may still owe
        (twice its interval: it writes what is owed between batches)."""
        sent = self._events_sent.get(unit_id)
        return (
            unit_id in self._touched
            or unit_id in self._flushing_units
            or any(unit_id in units for units in self._writing)
            or (sent is not None and time.monotonic() - sent < 2 * TOUCH_INTERVAL)
        )

    async def _run(self) -> None:
        while True:
            if not (self._pending and self._free):
                self._work.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._touch_interval):
                        await self._work.wait()
                self._flush_due()
                continue
            self._dispatch()
            self._flush_due()

    def _flush_due(self) -> None:
        """Start writing the units heard from without an event, if it is time: a second
        (`touch_interval`) after the last such write began."""
        if not self._touched or self._flushing is not None:
            return
        if time.monotonic() - self._flushed_at < self._touch_interval:
            return
        self._flushed_at = time.monotonic()
        task = asyncio.get_running_loop().create_task(self._flush_touches())
        self._flushing = task
        self._committing.add(task)
        task.add_done_callback(self._flush_done)

    def _flush_done(self, task: asyncio.Task[None]) -> None:
        self._committing.discard(task)
        self._flushing = None

    def _dispatch(self) -> None:
        """Hand the writer a batch of what is pending (a slot must be free)."""
        pending = self._pending
        take = min(len(pending), self._max_batch)
        batch = [pending.popleft() for _ in range(take)]
        # A batch may have failed since: its answer is not handled yet, but what it means
        # for the links' later events must be known before they go to the writer.
        self._note_failures()
        failed = self._failed_links
        live = []
        for item in batch:
            event, future, link = item
            if future.cancelled():
                continue
            if link and link in failed:
                future.set_exception(
                    IngestUnavailable(
                        f"unit {event.unit_id}: seq {event.seq} not stored: this link takes no "
                        "more events (an earlier one was not stored, or a newer link took "
                        "over); resend on the new link"
                    )
                )
                continue
            live.append(item)
        if not live:
            return
        self._free -= 1
        events = [event for event, _, _ in live]
        with_events = {e.unit_id for e in events}
        sent_at, events_sent = time.monotonic(), self._events_sent
        for unit_id in with_events:
            events_sent[unit_id] = sent_at
        self._event_sent = sent_at
        self._writing.append(with_events)
        self._number += 1
        written = self.writer.submit(
            Batch(
                events,
                utcnow(),
                links=[link for _, _, link in live],
                number=self._number,
                answered=self._answered,
            )
        )
        flight = _InFlight(self._number, written, live, with_events, handed=sent_at)
        self._in_flight.append(flight)
        task = asyncio.get_running_loop().create_task(self._answer(flight))
        self._committing.add(task)
        task.add_done_callback(self._committing.discard)

    async def _answer(self, flight: _InFlight) -> None:
        try:
            results = await flight.written
        except Exception as exc:
            log.error("could not store %d events: %s", len(flight.live), exc)
            self._note(flight)
            for _, fut, _ in flight.live:
                if not fut.done():
                    fut.set_exception(IngestUnavailable(str(exc)))
            return
        else:
            self.batches += 1
            self.events += len(flight.live)
            if self.observe_batch is not None:
                self.observe_batch(time.monotonic() - flight.handed)
            flight.noted = True  # what failed is noted in this pass
            failed = self._failed_links
            for (event, fut, link), result in zip(flight.live, results, strict=True):
                if result.outcome is Outcome.NOT_STORED:
                    if link:
                        failed.add(link)
                    if not fut.done():
                        fut.set_exception(
                            IngestUnavailable(f"unit {event.unit_id}: seq {event.seq} not stored")
                        )
                elif not fut.done():
                    fut.set_result(result)
        finally:
            self._in_flight.remove(flight)
            self._writing.remove(flight.heard)
            self._free += 1
            self._taken_in(flight.number)
            self._forget_ended_links()
            if self._pending:
                self._work.set()

    def _note_failures(self) -> None:
        """Note the links of the events that failed in batches answered but not taken in."""
        for flight in self._in_flight:
            if flight.written.done() and not flight.noted:
                self._note(flight)

    def _note(self, flight: _InFlight) -> None:
        flight.noted = True
        written = flight.written
        if written.cancelled() or written.exception() is not None:
            failed = [link for _, _, link in flight.live if link]
        else:
            results = written.result()
            failed = [
                link
                for (_, _, link), result in zip(flight.live, results, strict=True)
                if link and result.outcome is Outcome.NOT_STORED
            ]
        self._failed_links.update(failed)

    def _taken_in(self, number: int) -> None:
        """The answer of batch `number` was taken in (answers come in order, but in case)."""
        self._answered_early.add(number)
        while self._answered + 1 in self._answered_early:
            self._answered += 1
            self._answered_early.discard(self._answered)

    def _forget_ended_links(self) -> None:
        if self._ended_links and not self._pending and not self._in_flight:
            self._failed_links -= self._ended_links
            self._ended_links.clear()

    async def _flush_touches(self) -> None:
        """Write the units heard from so far without an event (last-seen times and power
        reports), `TOUCH_CHUNK` a commit (more when they would take over `TOUCH_COMMITS`
        commits), one after the other: a batch of events waits for at most one chunk. Units
        heard from meanwhile wait for the next flush."""
        flushing, self._touched = self._touched, set()
        self._flushing_units = flushing
        self._flushing_since, self._touched_since = self._touched_since, None
        chunk = max(TOUCH_CHUNK, math.ceil(len(flushing) / TOUCH_COMMITS))
        try:
            while flushing:
                touched = self._take_touches(flushing, chunk)
                power = {unit: self._power.pop(unit) for unit in touched if unit in self._power}
                self._writing.append(touched)
                try:
                    await self.writer.submit(
                        Batch([], utcnow(), touched=sorted(touched), power=power)
                    )
                except Exception as exc:
                    # Keep them for the next flush: a heartbeat that was heard must not be
                    # forgotten (the unit would be reported down although it is alive).
                    log.warning("could not record last-seen times (will retry): %s", exc)
                    self._power = power | self._power
                    self._keep(touched | flushing)
                    return
                except BaseException:  # cancelled: the server stops
                    self._keep(touched | flushing)
                    raise
                finally:
                    self._writing.remove(touched)
        finally:
            self._flushing_since = None
            self._flushing_units = set()

    def _keep(self, units: set[str]) -> None:
        """Units of a flush that did not write them: back with those heard since."""
        if units:
            since = self._flushing_since
            if self._touched_since is not None and (since is None or self._touched_since < since):
                since = self._touched_since
            self._touched_since = since
            self._touched |= units

    @staticmethod
    def _take_touches(flushing: set[str], count: int) -> set[str]:
        if len(flushing) <= count:
            taken = set(flushing)
            flushing.clear()
            return taken
        return {flushing.pop() for _ in range(count)}
