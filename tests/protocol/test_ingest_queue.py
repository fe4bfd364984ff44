"""How the ingest queue cuts what is submitted into batches for its writer.

A writer that records each batch and answers it when the test says so: what reaches the
writer, when, and in what order, without a database.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from helppoint.domain.events import EventType
from helppoint.gateway.batch_commit import Batch
from helppoint.gateway.ingest_queue import EAGER_BATCH, IngestQueue, IngestUnavailable
from helppoint.services.ingest import IngestResult, Outcome, ReportedEvent
from helppoint.store.uow import UnitOfWork

T0 = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)


class HeldWriter:
    """Records batches; answers them all as stored once `release` is set."""

    def __init__(self) -> None:
        self.batches: list[Batch] = []
        self.release = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    def open(self) -> None:
        pass

    async def ready(self) -> None:
        pass

    def submit(self, batch: Batch) -> asyncio.Future[list[IngestResult]]:
        self.batches.append(batch)
        written: asyncio.Future[list[IngestResult]] = asyncio.get_running_loop().create_future()

        async def answer() -> None:
            await self.release.wait()
            written.set_result(
                [IngestResult(e.unit_id, e.seq, Outcome.STORED, e.seq) for e in batch.events]
            )

        task = asyncio.get_running_loop().create_task(answer())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return written

    async def close(self) -> None:
        pass

    def status(self) -> dict[str, Any]:
        return {"kind": "held"}

    def sizes(self) -> list[int]:
        return [len(batch.events) for batch in self.batches]


def no_database() -> UnitOfWork:
    raise AssertionError("the queue must use its writer")


def alarm(n: int) -> ReportedEvent:
    return ReportedEvent(f"SIA-{n % 7:04d}", n, EventType.ACTIVATION, T0 + timedelta(seconds=n))


@pytest.fixture
async def held() -> Any:
    writer = HeldWriter()
    queue = IngestQueue(no_database, timedelta(minutes=5), writer=writer, pipeline=3)
    queue.start()
    yield queue, writer
    writer.release.set()
    await queue.stop()


async def test_a_burst_goes_to_the_writer_while_it_is_still_being_read(held: Any) -> None:
    queue, writer = held
    # As when one pass of the event loop reads a flood from many panels: no await between.
    futures = [queue.submit(alarm(n)) for n in range(EAGER_BATCH * 2 + 5)]
    assert writer.sizes() == [EAGER_BATCH, EAGER_BATCH]  # handed over mid-burst
    await asyncio.sleep(0.01)  # the loop's turn: the rest goes as one batch
    assert writer.sizes() == [EAGER_BATCH, EAGER_BATCH, 5]
    writer.release.set()
    results = await asyncio.gather(*futures)
    assert [r.seq for r in results] == list(range(EAGER_BATCH * 2 + 5))
    sent = [event.seq for batch in writer.batches for event in batch.events]
    assert sent == list(range(EAGER_BATCH * 2 + 5))  # in order


async def test_a_few_events_wait_for_the_loop_and_go_together(held: Any) -> None:
    queue, writer = held
    futures = [queue.submit(alarm(n)) for n in range(5)]
    assert writer.batches == []
    await asyncio.sleep(0.01)
    assert writer.sizes() == [5]
    writer.release.set()
    assert [r.outcome for r in await asyncio.gather(*futures)] == [Outcome.STORED] * 5


async def test_no_more_batches_with_the_writer_than_the_pipeline_allows(held: Any) -> None:
    queue, writer = held
    futures = [queue.submit(alarm(n)) for n in range(EAGER_BATCH * 10)]
    await asyncio.sleep(0.01)
    assert len(writer.batches) == 3  # the rest waits for a batch to be answered
    assert sum(writer.sizes()) < EAGER_BATCH * 10
    writer.release.set()
    results = await asyncio.gather(*futures)
    assert len(results) == EAGER_BATCH * 10
    assert sum(writer.sizes()) == EAGER_BATCH * 10
    assert max(writer.sizes()) <= 500  # max_batch


async def test_after_stop_nothing_more_reaches_the_writer() -> None:
    writer = HeldWriter()
    queue = IngestQueue(no_database, timedelta(minutes=5), writer=writer)
    queue.start()
    await queue.stop()
    for n in range(EAGER_BATCH * 2):
        queue.submit(alarm(n))
    await asyncio.sleep(0.01)
    assert writer.batches == []


async def test_a_replaced_links_waiting_events_are_not_handed_to_the_writer(held: Any) -> None:
    """When a unit's newer link takes over (on this process or another), only the newer link
    writes the unit's events: the older one's events still waiting here are refused."""
    queue, writer = held
    old, new = queue.open_link(), queue.open_link()
    stale = [queue.submit(alarm(7 * n), link=old) for n in range(1, 4)]
    queue.withdraw_link(old)
    fresh = [queue.submit(alarm(7 * n), link=new) for n in range(1, 4)]
    writer.release.set()
    for future in stale:
        with pytest.raises(IngestUnavailable, match="this link takes no more events"):
            await future
    assert [r.seq for r in await asyncio.gather(*fresh)] == [7, 14, 21]
    assert [e.seq for batch in writer.batches for e in batch.events] == [7, 14, 21]
    queue.close_link(old)
    queue.close_link(new)
