"""Which server process holds each unit's device link, shared through the database.

Each process registers itself in `server_processes` and refreshes its `seen_at` every few
seconds; link changes are written in one batch about once a second (a fleet reconnecting
after a restart costs a handful of commits, not one per unit). A unit counts as connected
when a live process holds its link; a process that died without cleaning up stops counting
once its `seen_at` is older than `ttl`, and the survivors delete its rows later.

Every `interval` each process also writes the time before which it has written every sign of
life it heard (`heard_through`, from its ingest queue) and reads the earliest of the other
live processes': the supervision sweep, which runs in one process, reports no unit down whose
deadline falls after it, so a heartbeat another process heard but has not written yet (a busy
machine, a database stall) never makes a unit that is alive look silent. A process that died
holds the bound back until its `seen_at` is older than `ttl`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Engine

from helppoint.services.clock import utcnow
from helppoint.store.tables_cluster import server_processes, unit_links
from helppoint.tasks import cancel_and_wait

log = logging.getLogger(__name__)


class Presence:
    def __init__(
        self,
        engine: Engine,
        process_id: str,
        *,
        interval: float = 1.0,
        refresh: float = 5.0,
        ttl: float = 20.0,
    ) -> None:
        self._engine = engine
        self.process_id = process_id
        self._interval = interval
        self._refresh = refresh
        self.ttl = timedelta(seconds=ttl)
        self._pending: dict[str, bool] = {}
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="presence")
        self._task: asyncio.Task[None] | None = None
        #: This process's own bound (set by the app to its ingest queue's `heard_through`);
        #: called on the event loop.
        self.heard_through: Callable[[], float] = time.time
        #: The earliest bound of the other live processes, as last read (None: none known).
        self.others_heard_through: float | None = None

    # -- called by the device link hub, on the event loop --------------------------------

    def linked(self, unit_id: str) -> None:
        self._pending[unit_id] = True

    def unlinked(self, unit_id: str) -> None:
        self._pending[unit_id] = False

    # -- queries (any thread) -----------------------------------------------------------

    def remote_units(self) -> dict[str, str]:
        """Unit id -> process id, for units linked to another live process."""
        alive_since = utcnow() - self.ttl
        query = (
            select(unit_links.c.unit_id, unit_links.c.process_id)
            .join(server_processes, server_processes.c.id == unit_links.c.process_id)
            .where(server_processes.c.seen_at >= alive_since)
            .where(unit_links.c.process_id != self.process_id)
        )
        with self._engine.connect() as connection:
            return {row.unit_id: row.process_id for row in connection.execute(query)}

    def alive_ids(self) -> set[str]:
        """The ids of the live processes of the cluster (this one included once registered)."""
        alive_since = utcnow() - self.ttl
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(server_processes.c.id).where(server_processes.c.seen_at >= alive_since)
            )
            return {row.id for row in rows}

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._register)
        self._task = loop.create_task(self._run(), name="presence")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
        loop = asyncio.get_running_loop()
        with contextlib.suppress(Exception):
            await loop.run_in_executor(self._executor, self._unregister)
        self._executor.shutdown(wait=True)

    def _register(self) -> None:
        now = utcnow()
        with self._engine.begin() as connection:
            connection.execute(
                insert(server_processes).values(
                    id=self.process_id,
                    host=socket.gethostname()[:255],
                    pid=os.getpid(),
                    started_at=now,
                    seen_at=now,
                    # Nothing heard yet: nothing unwritten.
                    heard_through=time.time(),
                )
            )

    def _unregister(self) -> None:
        with self._engine.begin() as connection:
            connection.execute(delete(unit_links).where(unit_links.c.process_id == self.process_id))
            connection.execute(
                delete(server_processes).where(server_processes.c.id == self.process_id)
            )

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        since_refresh = 0.0
        while True:
            await asyncio.sleep(self._interval)
            since_refresh += self._interval
            refresh = since_refresh >= self._refresh
            batch, self._pending = self._pending, {}
            heard_through = self.heard_through()
            try:
                await loop.run_in_executor(
                    self._executor, self._write, batch, refresh, heard_through
                )
                if refresh:
                    since_refresh = 0.0
            except Exception as exc:  # the database may be briefly unavailable: retry
                log.error("presence: could not write link changes (%s); retrying", exc)
                self._pending = batch | self._pending

    def _write(self, batch: dict[str, bool], refresh: bool, heard_through: float) -> None:
        now = utcnow()
        with self._engine.begin() as connection:
            # This process's bound every time, its `seen_at` with each refresh: one statement.
            mine = {"heard_through": heard_through} | ({"seen_at": now} if refresh else {})
            result = connection.execute(
                update(server_processes)
                .where(server_processes.c.id == self.process_id)
                .values(mine)
            )
            self.others_heard_through = connection.execute(
                select(func.min(server_processes.c.heard_through))
                .where(server_processes.c.id != self.process_id)
                .where(server_processes.c.seen_at >= now - self.ttl)
            ).scalar()
            if refresh:
                if result.rowcount == 0:  # removed as dead (e.g. after a long stall): rejoin
                    connection.execute(
                        insert(server_processes).values(
                            id=self.process_id,
                            host=socket.gethostname()[:255],
                            pid=os.getpid(),
                            started_at=now,
                            seen_at=now,
                            heard_through=heard_through,
                        )
                    )
                # Forget processes dead for a long while (any process may do this).
                stale = now - 10 * self.ttl
                dead = select(server_processes.c.id).where(server_processes.c.seen_at < stale)
                connection.execute(delete(unit_links).where(unit_links.c.process_id.in_(dead)))
                connection.execute(
                    delete(server_processes).where(server_processes.c.seen_at < stale)
                )
            up = [
                {"unit_id": unit, "process_id": self.process_id, "since": now}
                for unit, linked in batch.items()
                if linked
            ]
            down = [unit for unit, linked in batch.items() if not linked]
            if up:
                statement = insert(unit_links)
                connection.execute(
                    statement.on_conflict_do_update(
                        index_elements=[unit_links.c.unit_id],
                        set_={
                            "process_id": statement.excluded.process_id,
                            "since": statement.excluded.since,
                        },
                    ),
                    up,
                )
            if down:
                connection.execute(
                    delete(unit_links)
                    .where(unit_links.c.unit_id.in_(down))
                    .where(unit_links.c.process_id == self.process_id)
                )
