"""Repeat presses reach the consoles at most twice a second per incident, the latest always.

A press that opens an incident is published at once. A later press that joins it changes only
the incident's event count and last-event time, and presses can come many times a second: a
frightened person pressing again and again, a panel resending, a stuck button before it is
reported as a fault. Publishing every join makes every console, police view and cluster peer
handle an update per press, and in an alarm flood building, sending and relaying them cost
about a tenth of the CPU of the writer and serving processes (docs/performance.md).

So the event writer publishes a join at once if the incident's last update from it is at
least `interval` seconds old, and otherwise owes one: once the first owed update is due it
reads every owed incident from the database and publishes them as they then are (between
batches, even while batches keep coming), so the consoles end with the latest count (and with
any change an operator made meanwhile, which the operator's own update also shows). Everything
else (openings, acknowledgements, classification, closing) is published as before, at once.

Like `KnownUnits`, what a batch decided counts only once its transaction commits: a batch
that failed was not published and owes nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from helppoint.services.views import incident_view_placed
from helppoint.store.uow import UnitOfWork
from helppoint.topics import Topic

log = logging.getLogger(__name__)

#: Seconds between two updates of one incident for the presses that join it.
INTERVAL = 0.5
#: Incidents remembered at most before the ones not updated within `INTERVAL` are dropped.
PRUNE_AT = 10_000


class JoinUpdates:
    """When this writer last published each incident, and the incidents it owes an update."""

    def __init__(
        self, interval: float = INTERVAL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.interval = interval
        self._clock = clock
        #: Incident id: when its last update was published (this writer's clock).
        self._last: dict[int, float] = {}
        #: Incidents owed an update, and when the first of them comes due (None: none owed).
        self._owed: set[int] = set()
        self._due: float | None = None
        #: What the batch under way published and deferred, applied when it commits.
        self._published: list[int] = []
        self._deferred: list[int] = []
        #: Owed updates published so far (after their wait).
        self.caught_up = 0

    def publish_join(self, incident_id: int) -> bool:
        """Whether the batch under way publishes this joined incident now (else owes it)."""
        last = self._last.get(incident_id)
        if last is None or self._clock() - last >= self.interval:
            self._published.append(incident_id)
            return True
        self._deferred.append(incident_id)
        return False

    def published(self, incident_id: int) -> None:
        """The batch under way publishes this incident (one it opened, say)."""
        self._published.append(incident_id)

    def committed(self) -> None:
        """The batch under way committed: its updates went out, and it owes the deferred."""
        now = self._clock()
        for incident_id in self._published:
            self._last[incident_id] = now
            self._owed.discard(incident_id)
        for incident_id in self._deferred:
            self._owed.add(incident_id)
            due = self._last.get(incident_id, now) + self.interval
            if self._due is None or due < self._due:
                self._due = due
        if not self._owed:
            self._due = None
        self._published, self._deferred = [], []
        if len(self._last) > PRUNE_AT:
            self._prune(now)

    def discard(self) -> None:
        """The batch under way failed: it published nothing and owes nothing."""
        self._published, self._deferred = [], []

    def owed(self) -> int:
        """How many incidents are owed an update."""
        return len(self._owed)

    def wait(self) -> float | None:
        """Seconds until the next owed update is due (0 if one is), or None if none is owed."""
        if self._due is None:
            return None
        return max(0.0, self._due - self._clock())

    def take_due(self) -> list[int]:
        """Every owed incident once the first of them is due (else none), counted as published
        now: one read for them all, so a flood of presses on many incidents costs a read per
        interval rather than one per incident."""
        now = self._clock()
        if self._due is None or self._due > now:
            return []
        due, self._owed, self._due = list(self._owed), set(), None
        for incident_id in due:
            self._last[incident_id] = now
        self.caught_up += len(due)
        return due

    def publish_due(self, uow: UnitOfWork) -> None:
        """Publish the owed updates if due (`take_due`), each incident as the database holds it
        now, in `uow`, which this commits; a failure is logged, not raised."""
        due = self.take_due()
        if not due:
            return
        try:
            with uow:
                incidents = uow.incidents.get_many(due)
                places, _ = uow.units.places_and_last_seqs(
                    sorted({incident.unit_id for incident in incidents})
                )
                for incident in incidents:
                    view = incident_view_placed(incident, places.get(incident.unit_id))
                    uow.publish_after_commit(Topic.INCIDENTS, view)
                uow.commit()
        except Exception as exc:  # the next update of each incident will show its count
            log.warning("could not publish the latest presses of %d incident(s): %s", len(due), exc)

    def _prune(self, now: float) -> None:
        # Incidents not updated within the interval would be published at once anyway.
        self._last = {
            incident_id: at
            for incident_id, at in self._last.items()
            if now - at < self.interval or incident_id in self._owed
        }
