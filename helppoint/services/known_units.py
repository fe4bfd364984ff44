"""What the event writer knows of units between its batches, so it need not read it every time.

For every batch the writer needs each unit's place (for the consoles' messages), its highest
stored event seq and its open incidents. In an alarm flood the same units come back batch
after batch, and reading that again costs the writer more than anything else it does
(about a fifth of its time). `KnownUnits` keeps it, and is kept honest like this:

- Events are stored by this writer alone, so a unit's highest seq only moves with what it
  stores itself. (Should another writer store one, the database's unique (unit, seq) key
  refuses the copy this writer would then store, and the batch is stored again from the
  database.)
- An incident that anyone else changed has a new version, and joining it by its old one
  fails (StaleDataError): the batch is stored again from the database.
- An incident opened by anyone else (supervision's fault incidents, another writer) is seen
  by its id, larger than any this writer knows: everything known is forgotten.
- A unit's place (renamed, moved to another zone) is read again after `ttl` seconds.
- Whatever a batch did is known only once its transaction commits; a batch that failed
  leaves nothing known.

Only for SQLite, where a transaction holds the database's one write lock: nothing can change
between the writer's checks and its writes. On PostgreSQL other processes write at the same
time, and the writer reads what it needs in each batch's own transaction.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from helppoint.domain.events import Priority
from helppoint.store.repositories import UnitPlace
from helppoint.store.repositories_incidents import IncidentRecord
from helppoint.store.uow import UnitOfWork

#: Seconds a unit's place is trusted before it is read again.
TTL = 5.0
#: Units known at most (the least recently seen are forgotten first).
CAPACITY = 20_000


@dataclass(slots=True)
class _Known:
    place: UnitPlace
    last_seq: int
    #: The open incident an event of each priority would join (the latest).
    incidents: dict[Priority, IncidentRecord]
    loaded_at: float


class KnownUnits:
    """Units' places, highest seqs and open incidents, as the last committed batch left them."""

    def __init__(
        self,
        ttl: float = TTL,
        capacity: int = CAPACITY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._capacity = capacity
        self._clock = clock
        self._units: OrderedDict[str, _Known] = OrderedDict()
        #: The newest incident id known to exist (None: not read yet).
        self._newest_incident: int | None = None
        #: A batch looked units up and has not committed (or failed) yet.
        self._pending = False
        #: Times everything known was forgotten because another writer changed incidents.
        self.forgotten = 0

    def __len__(self) -> int:
        return len(self._units)

    def lookup(
        self, uow: UnitOfWork, unit_ids: Sequence[str]
    ) -> tuple[dict[str, UnitPlace], dict[str, int], list[IncidentRecord]]:
        """For a batch in `uow`'s transaction: the units' places, highest stored seqs (0 when
        none) and open incidents, from what is known or else from the database."""
        if self._pending:  # the last batch never said it committed: trust nothing it did
            self.forget()
        self._pending = True
        newest = uow.incidents.newest_id()
        if newest != self._newest_incident:
            if self._newest_incident is not None:
                self.forgotten += 1
            self._units.clear()
            self._newest_incident = newest
        now = self._clock()
        units = self._units
        missing = []
        for unit_id in unit_ids:
            known = units.get(unit_id)
            if known is None or now - known.loaded_at > self._ttl:
                missing.append(unit_id)
            else:
                units.move_to_end(unit_id)
        if missing:
            self._load(uow, missing, now)
        places: dict[str, UnitPlace] = {}
        last_seqs: dict[str, int] = {}
        records: list[IncidentRecord] = []
        for unit_id in unit_ids:
            known = units.get(unit_id)
            if known is None:  # no such unit (it has no place and nothing stored)
                last_seqs[unit_id] = 0
                continue
            places[unit_id] = known.place
            last_seqs[unit_id] = known.last_seq
            records.extend(known.incidents.values())
        return places, last_seqs, records

    def remember(
        self,
        last_seqs: Mapping[str, int],
        open_incidents: Mapping[tuple[str, Priority], IncidentRecord],
    ) -> None:
        """What the batch stored (once its new incidents have their ids): kept if it
        commits."""
        units = self._units
        for unit_id, last_seq in last_seqs.items():
            known = units.get(unit_id)
            if known is not None:
                known.last_seq = last_seq
        newest = self._newest_incident
        assert newest is not None, "remember() follows lookup()"
        for (unit_id, priority), incident in open_incidents.items():
            known = units.get(unit_id)
            if known is None:
                continue
            newest = max(newest, incident.id)  # (one this batch opened is the newest)
            known.incidents[priority] = incident
        self._newest_incident = newest

    def committed(self) -> None:
        """The batch that looked units up is committed: what it did is now known."""
        self._pending = False

    def forget(self) -> None:
        """Trust nothing known (a batch failed, or what was known proved out of date)."""
        self._units.clear()
        self._newest_incident = None
        self._pending = False

    def _load(self, uow: UnitOfWork, unit_ids: list[str], now: float) -> None:
        places, last_seqs, records = uow.units.places_seqs_and_open_incidents(unit_ids)
        incidents: dict[str, dict[Priority, IncidentRecord]] = {u: {} for u in places}
        for record in records:  # oldest activity first: the latest of each priority wins
            incidents[record.unit_id][record.priority] = record
        units = self._units
        for unit_id, place in places.items():
            units[unit_id] = _Known(place, last_seqs[unit_id], incidents[unit_id], now)
            units.move_to_end(unit_id)
        while len(units) > self._capacity:
            units.popitem(last=False)
