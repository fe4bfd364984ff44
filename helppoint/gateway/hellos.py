"""Authenticating units' hellos together, a database round per batch instead of per unit.

After a server restart or a network outage every unit of a region reconnects within seconds.
One query, thread hop and (on a first connection) commit per unit made that reconnect storm
the most expensive moment of a server's life (docs/performance.md, "Several server
processes"). Hellos that arrive while a batch is being checked wait for the next one, so a
single reconnecting unit is answered at once and a storm is answered a few hundred at a time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from helppoint.gateway.frames import Hello
from helppoint.services.clock import utcnow
from helppoint.services.units import AuthenticationFailed, unit_key_matches
from helppoint.store.uow import UnitOfWork

log = logging.getLogger(__name__)

#: The most hellos checked in one database round.
MAX_BATCH = 500


@dataclass(frozen=True)
class Welcome:
    """What the server tells an authenticated unit."""

    unit_id: str
    last_seq: int
    heartbeat_period: int


def authenticate_hellos(
    uow: UnitOfWork, hellos: Sequence[Hello], default_period: int
) -> list[Welcome | AuthenticationFailed]:
    """Check each hello's key; the welcome, or why not, for each in order.

    Firmware and capabilities are written only when they changed (a fleet reconnecting after a
    restart writes nothing), and a unit's first hello ever marks it heard from, all in one
    commit.
    """
    with uow:
        units = {unit.id: unit for unit in uow.units.load([h.unit for h in hellos])}
        # Judged hello by hello: the same unit may appear twice, once with a wrong key.
        accepted = [unit_key_matches(units.get(h.unit), h.key) for h in hellos]
        unit_ids = sorted({h.unit for h, ok in zip(hellos, accepted, strict=True) if ok})
        last_seqs = uow.events.last_seqs(unit_ids) if unit_ids else {}
        results: list[Welcome | AuthenticationFailed] = []
        changed = False
        for hello, ok in zip(hellos, accepted, strict=True):
            unit = units.get(hello.unit)
            if unit is None or not ok:
                results.append(AuthenticationFailed(hello.unit))
                continue
            if unit.firmware != hello.firmware or unit.capabilities != list(hello.capabilities):
                unit.firmware = hello.firmware
                unit.capabilities = list(hello.capabilities)
                changed = True
            if unit.last_seen_at is None:
                # First heard from: in service from now on (domain/units.py), durably before
                # the welcome; later hellos are noted with the ingest queue's touches.
                unit.last_seen_at = utcnow()
                unit.first_seen_at = unit.first_seen_at or unit.last_seen_at
                changed = True
            results.append(
                Welcome(
                    unit_id=unit.id,
                    last_seq=last_seqs[hello.unit],
                    heartbeat_period=unit.heartbeat_period or default_period,
                )
            )
        if changed:
            uow.commit()
        return results


class HelloBatcher:
    """Queues hellos and checks them in batches on one worker thread (call from the loop)."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        default_period: int,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._uow_factory = uow_factory
        self._default_period = default_period
        self._max_batch = max_batch
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hellos")
        self._waiting: list[tuple[Hello, asyncio.Future[Welcome]]] = []
        self._draining: asyncio.Task[None] | None = None
        #: Batches checked and the largest so far (shown by the benchmarks).
        self.batches = 0
        self.largest_batch = 0

    async def authenticate(self, hello: Hello) -> Welcome:
        """The unit's welcome; AuthenticationFailed if its key is wrong or it is revoked."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Welcome] = loop.create_future()
        self._waiting.append((hello, future))
        if self._draining is None or self._draining.done():
            self._draining = loop.create_task(self._drain(), name="hellos")
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._waiting:
            batch = self._waiting[: self._max_batch]
            del self._waiting[: self._max_batch]
            # A unit that hung up while waiting needs no answer.
            batch = [(hello, future) for hello, future in batch if not future.done()]
            if not batch:
                continue
            self.batches += 1
            self.largest_batch = max(self.largest_batch, len(batch))
            try:
                results = await loop.run_in_executor(
                    self._executor,
                    authenticate_hellos,
                    self._uow_factory(),
                    [hello for hello, _ in batch],
                    self._default_period,
                )
            except Exception as exc:  # the database is down: every unit of the batch retries
                log.error("could not check %d unit hello(s): %s", len(batch), exc)
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, Welcome):
                    future.set_result(result)
                else:
                    future.set_exception(result)

    def close(self) -> None:
        """Stop the worker thread (after the links are closed)."""
        if self._draining is not None:
            self._draining.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)
