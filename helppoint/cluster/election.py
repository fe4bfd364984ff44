"""Exactly one process runs each periodic job, elected with PostgreSQL advisory locks.

Each process keeps one connection for its locks. Every `interval` seconds it checks that
connection and tries to take the lock of every job it is not running; a job starts when its
lock is taken. Session-level advisory locks belong to the connection, so when a process
dies — or its connection does — PostgreSQL releases its locks and another process takes the
jobs over within one interval. A process that loses its connection stops its jobs at once,
before it could ever run a job beside the new holder for more than a moment.

Without PostgreSQL (SQLite: one process) every job simply runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import psycopg

from helppoint.tasks import cancel_and_wait

log = logging.getLogger(__name__)
# Its own generator: drawing from the global one would change the state tests seed (Hypothesis
# warns when a server thread does so while it draws).
_jitter = random.Random()

#: Starts a job and returns the coroutine function that stops it.
Starter = Callable[[], Awaitable[Callable[[], Awaitable[None]]]]


@dataclass(frozen=True)
class Job:
    name: str
    start: Starter


def lock_key(space: str, job: str) -> int:
    """A signed 64-bit advisory-lock key for one job of one deployment."""
    digest = hashlib.sha256(f"helppoint:{space}:{job}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class Elector:
    """Runs each job in at most one process of the cluster at a time."""

    def __init__(
        self,
        jobs: list[Job],
        conninfo: str | None,
        space: str = "",
        interval: float = 2.0,
    ) -> None:
        self._jobs = jobs
        self._conninfo = conninfo
        self._space = space
        self._interval = interval
        self._stoppers: dict[str, Callable[[], Awaitable[None]]] = {}
        self._connection: psycopg.AsyncConnection[Any] | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> list[str]:
        """The jobs this process runs now."""
        return sorted(self._stoppers)

    async def start(self) -> None:
        if self._conninfo is None:
            # One process: a job that cannot start (a port in use…) stops the server clearly.
            for job in self._jobs:
                self._stoppers[job.name] = await job.start()
            return
        await self._round()  # take what is free at once, so a lone process starts its jobs now
        self._task = asyncio.get_running_loop().create_task(self._run(), name="elector")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
        await self._stop_all()
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()  # releases the locks
            self._connection = None

    async def _start_job(self, job: Job) -> None:
        try:
            self._stoppers[job.name] = await job.start()
            log.info("running job %s in this process", job.name)
        except Exception:
            log.exception("job %s failed to start", job.name)

    async def _stop_all(self) -> None:
        for name, stop in list(self._stoppers.items()):
            with contextlib.suppress(Exception):
                await stop()
            del self._stoppers[name]

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval * _jitter.uniform(0.8, 1.2))
            await self._round()

    async def _round(self) -> None:
        assert self._conninfo is not None
        if self._connection is not None and self._connection.closed:
            # The locks went with the connection: another process may hold them already.
            if self._stoppers:
                log.error("the election connection closed: stopping %s", self.running)
            await self._stop_all()
            self._connection = None
        try:
            if self._connection is None:
                self._connection = await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True
                )
            else:
                await self._connection.execute("SELECT 1")  # still holding our locks?
        except Exception as exc:
            if self._stoppers:
                log.error("lost the election connection (%s): stopping %s", exc, self.running)
            await self._stop_all()
            if self._connection is not None:
                with contextlib.suppress(Exception):
                    await self._connection.close()
            self._connection = None
            return
        for job in self._jobs:
            if job.name in self._stoppers:
                continue
            try:
                cursor = await self._connection.execute(
                    "SELECT pg_try_advisory_lock(%s)", (lock_key(self._space, job.name),)
                )
                row = await cursor.fetchone()
            except Exception as exc:
                log.error("election round failed (%s)", exc)
                return
            if row is not None and row[0]:
                await self._start_job(job)
                if job.name not in self._stoppers:  # failed to start: let another process try
                    with contextlib.suppress(Exception):
                        await self._connection.execute(
                            "SELECT pg_advisory_unlock(%s)", (lock_key(self._space, job.name),)
                        )
