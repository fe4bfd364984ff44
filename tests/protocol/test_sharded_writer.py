"""Several writers at once on PostgreSQL, each unit's events by one (gateway/sharded_writer.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from helppoint.gateway.batch_commit import Batch
from helppoint.gateway.batch_writer import WriteFailed
from helppoint.gateway.ingest_queue import IngestQueue
from helppoint.gateway.sharded_writer import ShardedWriter, shard_of
from helppoint.services.audit import verify
from helppoint.services.ingest import IngestResult, Outcome
from helppoint.services.seed import seed_demo
from helppoint.services.supervision import PowerReading
from helppoint.store.database import make_session_factory
from helppoint.store.uow import UnitOfWork
from tests.conftest import Database
from tests.protocol.test_batch_writer import (
    T0,
    WINDOW,
    Published,
    press,
    process_writer,
    stored_events,
)

UNITS = [f"HP-0{n}" for n in range(1, 9)]


class Recorder:
    """A writer that answers every batch it is given as stored, or fails them all."""

    def __init__(self, fail: bool = False) -> None:
        self.batches: list[Batch] = []
        self.fail = fail

    def open(self) -> None: ...

    async def ready(self) -> None: ...

    async def close(self) -> None: ...

    def status(self) -> dict[str, Any]:
        return {"kind": "process", "pid": 1, "starts": 1, "owed_updates_published": 0}

    def submit(self, batch: Batch) -> asyncio.Future[list[IngestResult]]:
        self.batches.append(batch)
        future: asyncio.Future[list[IngestResult]] = asyncio.get_running_loop().create_future()
        if self.fail:
            future.set_exception(WriteFailed("database down"))
        else:
            future.set_result(
                [IngestResult(e.unit_id, e.seq, Outcome.STORED, e.seq) for e in batch.events]
            )
        return future


def test_every_unit_has_one_writer_and_the_units_are_spread() -> None:
    assert {shard_of(unit, 2) for unit in UNITS} == {0, 1}
    assert all(shard_of(unit, 2) == shard_of(unit, 2) for unit in UNITS)


async def test_a_batch_is_split_by_unit_and_answered_in_its_order() -> None:
    writers = [Recorder(), Recorder()]
    sharded = ShardedWriter(list(writers))
    events = [press(unit, seq) for seq in (1, 2) for unit in UNITS]
    power = {unit: PowerReading(0.5, True) for unit in UNITS[:3]}
    batch = Batch(events, T0, touched=["HP-09"], power=power, links=[7] * len(events), number=3)
    results = await sharded.submit(batch)
    assert [(r.unit_id, r.seq) for r in results] == [(e.unit_id, e.seq) for e in events]
    for shard, writer in enumerate(writers):
        [part] = writer.batches
        assert part.events and all(shard_of(e.unit_id, 2) == shard for e in part.events)
        # A unit's events keep their order in its part.
        assert part.events == [e for e in events if shard_of(e.unit_id, 2) == shard]
        assert part.links == [7] * len(part.events) and part.number == 3
        assert set(part.power) == {u for u in power if shard_of(u, 2) == shard}
    assert [u for w in writers for u in w.batches[0].touched] == ["HP-09"]


async def test_a_part_that_fails_is_not_stored_and_the_rest_is_answered() -> None:
    sharded = ShardedWriter([Recorder(), Recorder(fail=True)])
    events = [press(unit, 1) for unit in UNITS]
    results = await sharded.submit(Batch(events, T0))
    for event, result in zip(events, results, strict=True):
        failed = shard_of(event.unit_id, 2) == 1
        assert result.outcome is (Outcome.NOT_STORED if failed else Outcome.STORED)
    # All parts failed: the batch fails, as with one writer.
    with pytest.raises(WriteFailed):
        await ShardedWriter([Recorder(fail=True), Recorder(fail=True)]).submit(Batch(events, T0))


@pytest.mark.postgres
async def test_two_writer_processes_store_every_units_events_in_order(
    postgres_database: Database,
) -> None:
    seed_demo(postgres_database.uow())
    published = Published()
    sharded = ShardedWriter([process_writer(postgres_database, published) for _ in range(2)])
    queue = IngestQueue(
        lambda: UnitOfWork(make_session_factory(postgres_database.engine)),
        WINDOW,
        writer=sharded,
    )
    queue.start()
    try:
        await queue.ready()
        pids = {status["pid"] for status in sharded.status()["writers"]}
        assert len(pids) == 2 and None not in pids
        results = await asyncio.gather(
            *(queue.submit(press(unit, seq)) for seq in range(1, 31) for unit in UNITS)
        )
        assert [r.outcome for r in results] == [Outcome.STORED] * 30 * len(UNITS)
    finally:
        await queue.stop()
    assert stored_events(postgres_database) == [
        (unit, seq) for unit in sorted(UNITS) for seq in range(1, 31)
    ]
    # One incident per unit, joined by its later presses; one audit chain for both writers.
    with postgres_database.uow() as uow:
        assert uow.incidents.count() == len(UNITS)
    assert verify(postgres_database.uow()).ok
