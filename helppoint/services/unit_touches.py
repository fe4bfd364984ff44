"""A unit's last-seen time is written at most once a second by the event writer, the latest
always.

Every batch of events used to move each of its units' last-seen time (and supervision
deadline, tables_supervision.py): in an alarm flood from a hundred panels that is a
help_points row rewritten, with its index entries, for nearly every alarm (on PostgreSQL a
row lock and a new row version each), for a time that moved by milliseconds. Heartbeats
without an event are already written within a second, apart from events
(gateway/ingest_queue.py `touch`); events are now alike: a unit whose last-seen time this
writer wrote less than `interval` seconds ago is owed a write instead, and what is owed is
written once the first of it is due (between batches, even while batches keep coming), each
unit at the latest time it was heard. So the stored time lags what was heard by at most
`interval` (plus a batch), which supervision's grace periods (tens of seconds) absorb; if the
writer dies meanwhile, the unit's stored time is the one written before (up to `interval`
older).

Like `JoinUpdates`, what a batch decided counts only once its transaction commits.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from helppoint.store.uow import UnitOfWork

log = logging.getLogger(__name__)

#: Seconds between two writes of one unit's last-seen time for its events.
INTERVAL = 1.0
#: Units remembered at most before the ones not written within `INTERVAL` are dropped.
PRUNE_AT = 10_000


class UnitTouches:
    """When this writer last wrote each unit's last-seen time, and the writes it owes."""

    def __init__(
        self, interval: float = INTERVAL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.interval = interval
        self._clock = clock
        #: Unit: when its last-seen time was last written (this writer's clock).
        self._last: dict[str, float] = {}
        #: Units owed a write, the latest time each was heard; when the first comes due.
        self._owed: dict[str, datetime] = {}
        self._due: float | None = None
        #: What the batch under way wrote and deferred, applied when it commits.
        self._written: list[str] = []
        self._deferred: dict[str, datetime] = {}
        #: Owed writes made so far (after their wait).
        self.caught_up = 0

    def due(self, unit_ids: Sequence[str], at: datetime) -> list[str]:
        """Of units heard at `at`, those whose last-seen time the batch under way writes now
        (the others are owed a write at `at`)."""
        now, last, interval = self._clock(), self._last, self.interval
        write = []
        for unit_id in unit_ids:
            written = last.get(unit_id)
            if written is None or now - written >= interval:
                write.append(unit_id)
            else:
                self._deferred[unit_id] = at
        self._written.extend(write)
        return write

    def wrote(self, unit_ids: Sequence[str]) -> None:
        """The batch under way writes these units' last-seen times itself, at its own time (the
        ingest queue's heartbeats, later than anything this writer owes them)."""
        self._written.extend(unit_ids)
        for unit_id in unit_ids:
            self._deferred.pop(unit_id, None)

    def committed(self) -> None:
        """The batch under way committed: what it wrote is written, and it owes the deferred."""
        now, owed = self._clock(), self._owed
        for unit_id in self._written:
            self._last[unit_id] = now
            owed.pop(unit_id, None)
        for unit_id, at in self._deferred.items():
            if unit_id in owed and owed[unit_id] >= at:
                continue
            owed[unit_id] = at
            due = self._last.get(unit_id, now) + self.interval
            if self._due is None or due < self._due:
                self._due = due
        if not owed:
            self._due = None
        self._written, self._deferred = [], {}
        if len(self._last) > PRUNE_AT:
            self._last = {u: t for u, t in self._last.items() if now - t < self.interval}

    def discard(self) -> None:
        """The batch under way failed: it wrote nothing and owes nothing."""
        self._written, self._deferred = [], {}

    def owed(self) -> dict[str, datetime]:
        """The units owed a write, with the time each was last heard."""
        return dict(self._owed)

    def wait(self) -> float | None:
        """Seconds until the next owed write is due (0 if one is), or None if none is owed."""
        if self._due is None:
            return None
        return max(0.0, self._due - self._clock())

    def write_due(self, uow: UnitOfWork) -> None:
        """Write every owed last-seen time once the first is due, in `uow`, which this
        commits (one statement per distinct time: the latest batches' few); a failure is
        logged and the writes stay owed."""
        now = self._clock()
        if self._due is None or self._due > now:
            return
        owed = self._owed
        by_time: dict[datetime, list[str]] = {}
        for unit_id, at in owed.items():
            by_time.setdefault(at, []).append(unit_id)
        try:
            with uow:
                for at in sorted(by_time):
                    uow.units.touch(by_time[at], at)
                uow.commit()
        except Exception as exc:
            self._due = now + self.interval
            log.warning("could not write the last-seen time of %d unit(s): %s", len(owed), exc)
            return
        for unit_id in owed:
            self._last[unit_id] = now
        self.caught_up += len(owed)
        self._owed, self._due = {}, None


def next_wait(*waits: float | None) -> float | None:
    """The soonest of several `wait()`s (None: nothing is owed by any)."""
    due = [wait for wait in waits if wait is not None]
    return min(due) if due else None
