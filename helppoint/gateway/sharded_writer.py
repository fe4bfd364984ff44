"""`ShardedWriter`: the ingest queue's batches committed by several writers at once, each
unit's events always by the same one (PostgreSQL).

On PostgreSQL a writer process and the server process serving its connection work in turn:
while the server runs a batch's statements the writer waits, and while the writer works out
the next batch the server waits, so one writer stores at most ~1 / (both per event) events a
second (docs/performance.md). Two writers, each with its own connection, overlap: one's server
process runs while the other works. Each unit's events go to one writer (by a hash of its id),
so its events are stored in order and its incidents are written by one writer, as before;
writers of different units meet only at the audit chain's head, which a transaction locks last
(store/repositories.py `seal`), and at the units' rows, which they lock in id order. SQLite has
one write lock: one writer there.

A batch is split by writer and answered once every part is: the results in the batch's order.
A part that failed is answered NOT_STORED event by event (its units resend; the ingest queue
refuses their links' later events), while the other parts' events are stored and answered.
"""

from __future__ import annotations

import asyncio
import zlib
from typing import Any

from helppoint.gateway.batch_commit import Batch
from helppoint.gateway.batch_writer import BatchWriter
from helppoint.services.ingest import IngestResult, Outcome


def shard_of(unit_id: str, shards: int) -> int:
    """The writer of a unit's events (the same in every process and every run)."""
    return zlib.crc32(unit_id.encode()) % shards


class ShardedWriter:
    """Several writers (`BatchWriter`s), each unit's events always by the same one."""

    def __init__(self, writers: list[BatchWriter]) -> None:
        if not writers:
            raise ValueError("a sharded writer needs at least one writer")
        self.writers = writers

    def open(self) -> None:
        for writer in self.writers:
            writer.open()

    async def ready(self) -> None:
        await asyncio.gather(*(writer.ready() for writer in self.writers))

    async def close(self) -> None:
        await asyncio.gather(*(writer.close() for writer in self.writers))

    def status(self) -> dict[str, Any]:
        each = [writer.status() for writer in self.writers]
        first = each[0]
        return {
            **first,  # the first writer's pid and kind, as with one writer
            "writers": each,
            "starts": sum(int(status.get("starts", 0) or 0) for status in each),
            "owed_updates_published": sum(
                int(status.get("owed_updates_published", 0) or 0) for status in each
            ),
        }

    def submit(self, batch: Batch) -> asyncio.Future[list[IngestResult]]:
        shards = len(self.writers)
        positions: list[list[int]] = [[] for _ in range(shards)]
        for index, event in enumerate(batch.events):
            positions[shard_of(event.unit_id, shards)].append(index)
        touched: list[list[str]] = [[] for _ in range(shards)]
        for unit_id in batch.touched:
            touched[shard_of(unit_id, shards)].append(unit_id)
        parts: list[tuple[list[int], asyncio.Future[list[IngestResult]]]] = []
        for shard, writer in enumerate(self.writers):
            indexes = positions[shard]
            power = {
                unit_id: reading
                for unit_id, reading in batch.power.items()
                if shard_of(unit_id, shards) == shard
            }
            if not indexes and not touched[shard] and not power:
                continue
            part = Batch(
                [batch.events[i] for i in indexes],
                batch.now,
                touched=touched[shard],
                power=power,
                links=[batch.links[i] for i in indexes] if batch.links else [],
                number=batch.number,
                answered=batch.answered,
            )
            parts.append((indexes, writer.submit(part)))
        loop = asyncio.get_running_loop()
        if len(parts) == 1 and len(parts[0][0]) == len(batch.events):
            return parts[0][1]  # (every event in one part: its answer is the batch's)
        written: asyncio.Future[list[IngestResult]] = loop.create_future()
        if not parts:
            written.set_result([])
            return written
        waiting = [len(parts)]

        def part_done(_: asyncio.Future[list[IngestResult]]) -> None:
            waiting[0] -= 1
            if waiting[0] or written.done():
                return
            results: list[IngestResult | None] = [None] * len(batch.events)
            failures = 0
            for indexes, future in parts:
                error = future.exception() if not future.cancelled() else None
                if future.cancelled() or error is not None:
                    failures += 1
                    for i in indexes:
                        event = batch.events[i]
                        results[i] = IngestResult(event.unit_id, event.seq, Outcome.NOT_STORED, 0)
                    continue
                for i, result in zip(indexes, future.result(), strict=True):
                    results[i] = result
            if failures == len(parts):
                # Nothing stored: fail the batch as one writer would.
                first = parts[0][1]
                error = None if first.cancelled() else first.exception()
                written.set_exception(error or asyncio.CancelledError())
                return
            written.set_result([r for r in results if r is not None])

        for _, future in parts:
            future.add_done_callback(part_done)
        return written
