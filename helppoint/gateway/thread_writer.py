"""`ThreadWriter`: the ingest queue's batches committed on a thread of this process.

For an in-memory database and for `ingest_writer = "thread"` (batch_writer.py).
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from datetime import timedelta
from typing import Any

from helppoint.gateway.batch_commit import Batch, LinkOrder, commit_batches
from helppoint.gateway.batch_writer import settle
from helppoint.gateway.writer_loop import drain
from helppoint.services.ingest import IngestResult
from helppoint.services.join_updates import JoinUpdates
from helppoint.services.unit_touches import UnitTouches, next_wait
from helppoint.store.uow import UnitOfWork

_Item = tuple[Batch, Future[list[IngestResult]]]


class ThreadWriter:
    """Commits on a thread of this process, through the app's own units of work.

    Batches that queued up while one was committed are committed together.
    """

    def __init__(self, uow_factory: Callable[[], UnitOfWork], join_window: timedelta) -> None:
        self._uow_factory = uow_factory
        self._join_window = join_window
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.updates = JoinUpdates()
        self.touches = UnitTouches()
        self._order = LinkOrder()

    def open(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="ingest", daemon=True)
            self._thread.start()

    async def ready(self) -> None:
        self.open()

    def submit(self, batch: Batch) -> asyncio.Future[list[IngestResult]]:
        self.open()
        written: Future[list[IngestResult]] = Future()
        self._queue.put((batch, written))
        return asyncio.wrap_future(written)

    def status(self) -> dict[str, Any]:
        return {"kind": "thread", "owed_updates_published": self.updates.caught_up}

    async def close(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            await asyncio.to_thread(thread.join)

    def _run(self) -> None:
        drain(
            _QueueInbox(self._queue),
            lambda item: len(item[0].events),
            lambda: next_wait(self.updates.wait(), self.touches.wait()),
            self._publish_owed,
            self._commit,
        )

    def _publish_owed(self) -> bool:
        self.updates.publish_due(self._uow_factory())
        self.touches.write_due(self._uow_factory())
        return True

    def _commit(self, group: list[_Item]) -> bool:
        try:
            each = commit_batches(
                self._uow_factory(),
                [batch for batch, _ in group],
                self._join_window,
                updates=self.updates,
                order=self._order,
                touches=self.touches,
            )
        except Exception as exc:
            for _, written in group:
                settle(written, error=exc)
        else:
            for (_, written), results in zip(group, each, strict=True):
                settle(written, results)
        return True


class _QueueInbox:
    """The thread's queue as writer_loop.py takes from it (one item looked ahead)."""

    def __init__(self, items: queue.SimpleQueue[_Item | None]) -> None:
        self._queue = items
        self._next: list[_Item | None] = []

    def wait(self, timeout: float) -> bool:
        if not self._next:
            try:
                self._next.append(
                    self._queue.get(timeout=timeout) if timeout else self._queue.get_nowait()
                )
            except queue.Empty:
                return False
        return True

    def take(self) -> _Item | None:
        return self._next.pop() if self._next else self._queue.get()
