"""The periodic workers' shared loop: rounds when due, when woken, after failures; stop."""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import UTC, datetime, timedelta

import pytest

from helppoint.services.clock import utcnow
from helppoint.workers.periodic import MIN_DELAY, PeriodicWorker, next_delay
from helppoint.workers.sla import ROUND_GAP, SlaWorker

#: Long enough that no test here can pass by waiting for it.
NEVER = 3600.0


class Worker(PeriodicWorker):
    """Counts rounds; each round can be held, fail, or say when the next work is due."""

    def __init__(self) -> None:
        super().__init__("test-worker", "test round", NEVER, utcnow)
        self.rounds = 0
        self.threads: set[str] = set()
        self.round_done = asyncio.Event()
        self.hold: asyncio.Event | None = None
        self.holding = asyncio.Event()
        self.fail_next = False
        self.due_in: float | None = None

    async def _round(self) -> datetime | None:
        self.threads.add(await self._db(lambda: threading.current_thread().name))
        if self.hold is not None:
            self.holding.set()
            await self.hold.wait()
            self.hold = None
        self.rounds += 1
        self.round_done.set()
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("database unavailable")
        return None if self.due_in is None else utcnow() + timedelta(seconds=self.due_in)

    async def next_round(self) -> None:
        self.round_done.clear()
        await asyncio.wait_for(self.round_done.wait(), 10)


async def test_the_first_round_runs_at_once_and_the_database_work_on_its_own_thread() -> None:
    worker = Worker()
    worker.start()
    try:
        await worker.next_round()
        assert worker.rounds == 1
        assert all(name.startswith("test-worker") for name in worker.threads)
    finally:
        await worker.stop()


async def test_a_round_runs_when_its_work_falls_due_not_only_after_the_interval() -> None:
    worker = Worker()
    worker.due_in = 0.2
    worker.start()
    try:
        await worker.next_round()
        await worker.next_round()  # the interval is an hour: only the due time brings this
        assert worker.rounds >= 2
    finally:
        await worker.stop()


async def test_a_wake_during_a_round_runs_another_round_after_it() -> None:
    worker = Worker()
    worker.start()
    try:
        await worker.next_round()
        worker.hold = asyncio.Event()
        worker.wake()
        await asyncio.wait_for(worker.holding.wait(), 10)  # the woken round is running
        worker.round_done.clear()
        worker.wake()  # something changed meanwhile: it must be looked at again
        worker.hold.set()
        await asyncio.wait_for(worker.round_done.wait(), 10)
        await worker.next_round()
        assert worker.rounds == 3
    finally:
        await worker.stop()


async def test_a_failed_round_is_logged_and_the_worker_keeps_going(
    caplog: pytest.LogCaptureFixture,
) -> None:
    worker = Worker()
    worker.fail_next = True
    with caplog.at_level(logging.ERROR, logger="helppoint.workers.periodic"):
        worker.start()
        try:
            await worker.next_round()
            worker.wake()
            await worker.next_round()
            assert worker.rounds == 2
        finally:
            await worker.stop()
    assert "test round failed (retrying in 3600.0 s): database unavailable" in caplog.text


async def test_stop_ends_the_rounds_and_the_thread() -> None:
    worker = Worker()
    worker.start()
    await worker.next_round()
    await worker.stop()
    rounds = worker.rounds
    worker.wake()
    await asyncio.sleep(0.1)
    assert worker.rounds == rounds
    with pytest.raises(RuntimeError):
        await worker._db(lambda: None)  # the thread pool is shut down
    await worker.stop()  # twice is harmless


def test_the_next_round_is_when_work_falls_due_but_never_sooner_than_the_gap() -> None:
    now = datetime(2026, 12, 6, 23, 0, tzinfo=UTC)
    assert next_delay(None, now, 30.0, 0.5) == 30.0
    assert next_delay(now + timedelta(seconds=12), now, 30.0, 0.5) == 12.0
    assert next_delay(now + timedelta(seconds=90), now, 30.0, 0.5) == 30.0
    # Work due at once, or already late: after the gap (an SLA storm's alerts come together).
    assert next_delay(now + timedelta(milliseconds=10), now, 30.0, 0.5) == 0.5
    assert next_delay(now - timedelta(seconds=1), now, 30.0, 0.5) == 0.5
    assert next_delay(now, now, 30.0, MIN_DELAY) == MIN_DELAY


def test_sla_rounds_in_a_storm_are_half_a_second_apart_at_least() -> None:
    assert SlaWorker(lambda: None, timedelta(seconds=30))._min_delay == ROUND_GAP == 0.5  # type: ignore[arg-type, return-value]


async def test_a_stop_right_after_a_wake_stops_the_worker() -> None:
    # The wake and the cancel reach the waiting worker in the same turn of the loop. With
    # Python 3.11's asyncio.wait_for the finished wait won over the cancel (the cancel was
    # lost): the worker went on to another round, and stop() waited for ever.
    worker = Worker()
    worker.start()
    await worker.next_round()
    worker.wake()
    stopping = asyncio.create_task(worker.stop())
    done, _ = await asyncio.wait([stopping], timeout=NEVER / 360)  # a guard, not a measure
    assert done, "stop() did not return"
    assert worker.rounds == 1  # no round after the stop
