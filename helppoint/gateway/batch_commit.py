"""Committing the ingest queue's batches: group commit, with one unit's failure kept to itself.

Batches that queued up for a writer are stored in one transaction (`commit_batches`). When
that transaction fails for a reason other than the database being unavailable — a conflict
with another process writing the same unit's incident (StaleDataError), an event stored
meanwhile under the same (unit, seq) (IntegrityError), a deadlock, a value one database
refuses — it is stored once more from the database, and if it fails again each unit's
events are stored apart (halving the set of units until the failing one is alone), so one
unit cannot fail the others' presses. A unit whose events fail alone because of their data
gets them stored one by one, an event that still fails with its payload set aside (noted in
it): a press is still a press. Only what then still fails is answered NOT_STORED (its unit
resends it). If the database is unavailable, the whole group fails at once, as before.

`LinkOrder` keeps a device link's events in order across the batches already with the
writer when one of them failed (see `IngestQueue.submit`).
"""

from __future__ import annotations

import hashlib
import itertools
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
    StatementError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout

from helppoint.services.ingest import (
    REPAIRS_FIELD,
    IngestResult,
    Outcome,
    PackedEvents,
    ReportedEvent,
    handle_device_events,
    pack_events,
    unpack_events,
)
from helppoint.services.join_updates import JoinUpdates
from helppoint.services.known_units import KnownUnits
from helppoint.services.supervision import PowerReading, record_power
from helppoint.services.unit_touches import UnitTouches
from helppoint.store.uow import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Batch:
    """What one commit stores: events, units heard from without one, power reports."""

    events: list[ReportedEvent]
    now: datetime
    #: Units heard from (heartbeats, link tests) that have no event in `events`.
    touched: list[str] = field(default_factory=list)
    power: dict[str, PowerReading] = field(default_factory=dict)
    #: The device link each event came on (0: none, as for events the server numbers);
    #: empty when none did. See `LinkOrder`.
    links: list[int] = field(default_factory=list)
    #: The queue's number for this batch, and the last batch whose answer it had taken in
    #: when it made this one (every earlier one's too).
    number: int = 0
    answered: int = 0

    def __reduce__(self) -> tuple[Any, ...]:
        # Every batch is pickled to the writer process: its events as columns of plain
        # values (services/ingest.py pack_events).
        return (
            _batch,
            (
                pack_events(self.events),
                self.now,
                self.touched,
                self.power,
                self.links,
                self.number,
                self.answered,
            ),
        )


def _batch(
    packed: PackedEvents,
    now: datetime,
    touched: list[str],
    power: dict[str, PowerReading],
    links: list[int],
    number: int,
    answered: int,
) -> Batch:
    """A Batch from what `Batch.__reduce__` pickled."""
    return Batch(unpack_events(packed), now, touched, power, links, number, answered)


class LinkOrder:
    """A device link's events are stored in the order it sent them (IngestQueue.submit).

    Once one of a link's events is not stored, the queue refuses the link's later events,
    but only those it hands over after it has taken in that answer: batches already with the
    writer may hold more. The writer refuses those itself, for as long as a batch made
    before the queue knew can still come.
    """

    def __init__(self) -> None:
        #: Link: the number of the last batch in whose answer one of its events failed.
        self._failed: dict[int, int] = {}

    def held(self, batch: Batch) -> set[int]:
        """Indexes of the batch's events that must not be stored (their link failed)."""
        if not self._failed:
            return set()
        # What the queue had taken in when it made this batch, it no longer hands over.
        self._failed = {link: n for link, n in self._failed.items() if n > batch.answered}
        failed = self._failed
        return {index for index, link in enumerate(batch.links) if link and link in failed}

    def failed(self, batch: Batch, indexes: Iterable[int]) -> None:
        """The batch's events at `indexes` were not stored."""
        links = batch.links
        for index in indexes:
            if index < len(links) and links[index]:
                self._note(links[index], batch.number)

    def _note(self, link: int, number: int) -> None:
        self._failed[link] = max(number, self._failed.get(link, 0))


def commit_batches(
    uow: UnitOfWork,
    batches: list[Batch],
    join_window: timedelta,
    known: KnownUnits | None = None,
    updates: JoinUpdates | None = None,
    order: LinkOrder | None = None,
    touches: UnitTouches | None = None,
) -> list[list[IngestResult]]:
    """Store batches in one transaction and commit it (group commit); each batch's results.

    The unit of work publishes its messages after the commit. With `known` (SQLite), what
    earlier batches left is not read again; if it proves out of date (someone else changed
    an incident or stored an event), the batches are stored again from the database. With
    `updates`, repeat presses update their incidents at most every `updates.interval`
    (join_updates.py; the caller publishes what is owed). With `order` (the writer's), a
    link's events stay in order. With `touches`, units' last-seen times are written at most
    every `touches.interval` (unit_touches.py; the caller writes what is owed). An event
    that could not be stored while the others were is answered NOT_STORED; if the database
    is unavailable, the error is raised.
    """
    order = order if order is not None else LinkOrder()
    held = [order.held(batch) for batch in batches]
    events: list[ReportedEvent] = []
    for batch, hold in zip(batches, held, strict=True):
        if hold:
            events.extend(e for index, e in enumerate(batch.events) if index not in hold)
        else:
            events.extend(batch.events)
    now = max(batch.now for batch in batches)
    with_events = {event.unit_id for event in events}
    touched = sorted({unit for batch in batches for unit in batch.touched} - with_events)
    power: dict[str, PowerReading] = {}
    for batch in batches:
        power.update(batch.power)  # the latest report of each unit wins
    try:
        results, apart = _store(
            uow, events, now, touched, power, join_window, known, updates, touches
        )
    except BaseException:
        for batch in batches:
            order.failed(batch, range(len(batch.events)))
        raise
    each, start = [], 0
    for batch, hold in zip(batches, held, strict=True):
        if hold:
            stored = iter(results[start : start + len(batch.events) - len(hold)])
            answers = [
                _not_stored(event) if index in hold else next(stored)
                for index, event in enumerate(batch.events)
            ]
            start += len(batch.events) - len(hold)
        else:
            answers = results[start : start + len(batch.events)]
            start += len(batch.events)
        if hold or apart:  # (else every event was stored or answered: the usual batch)
            order.failed(
                batch, (i for i, r in enumerate(answers) if r.outcome is Outcome.NOT_STORED)
            )
        each.append(answers)
    return each


def _not_stored(event: ReportedEvent) -> IngestResult:
    return IngestResult(event.unit_id, event.seq, Outcome.NOT_STORED, 0)


def connection_lost(exc: BaseException) -> bool:
    """Whether `exc` says the connection was found dead (and dropped from the pool)."""
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the database cannot be used now (rather than this data failed).

    A deadlock or a serialisation failure (SQLSTATE class 40) is a conflict with another
    transaction: storing again can succeed.
    """
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, OperationalError):
        sqlstate = getattr(exc.orig, "sqlstate", None)
        return not (isinstance(sqlstate, str) and sqlstate.startswith("40"))
    return isinstance(exc, InterfaceError | DisconnectionError | PoolTimeout)


def _store(
    uow: UnitOfWork,
    events: list[ReportedEvent],
    now: datetime,
    touched: list[str],
    power: dict[str, PowerReading],
    join_window: timedelta,
    known: KnownUnits | None,
    updates: JoinUpdates | None,
    touches: UnitTouches | None = None,
) -> tuple[list[IngestResult], bool]:
    """The events' results, stored together, again, or unit by unit (see the module), and
    whether unit by unit (some may then be NOT_STORED)."""
    reconnected = False
    attempt = 0
    while attempt < 2:
        try:
            commit = _commit(uow, events, now, touched, power, join_window, known, updates, touches)
            return commit, False
        except Exception as exc:
            if database_unavailable(exc):
                if reconnected or not connection_lost(exc):
                    raise
                # The connection had died (a database restart, say): the writer process does
                # not ping it before every batch, which would cost a round trip each. Once
                # more on a new one; whether or not the lost transaction committed, storing
                # again is safe (what it stored is then a duplicate, answered as stored).
                reconnected = True
                log.warning(
                    "lost the database connection while storing %d events (%s); storing "
                    "them again on a new one",
                    len(events),
                    brief(exc),
                )
                continue
            attempt += 1
            # _commit forgot what was known; the next try reads everything from the database.
            log.log(
                logging.INFO if attempt == 1 else logging.WARNING,
                "could not store a batch of %d events (%s); %s",
                len(events),
                brief(exc),
                "storing it again" if attempt == 1 else "storing each unit's events apart",
            )
    if touched or power:
        _commit(uow, [], now, touched, power, join_window, known, updates, touches)
    return _Apart(uow, events, now, join_window, known, updates, touches).store(), True


class _Apart:
    """Stores each unit's events apart from the others' (after the whole batch failed)."""

    def __init__(
        self,
        uow: UnitOfWork,
        events: list[ReportedEvent],
        now: datetime,
        join_window: timedelta,
        known: KnownUnits | None,
        updates: JoinUpdates | None,
        touches: UnitTouches | None = None,
    ) -> None:
        self.uow, self.events, self.now = uow, events, now
        self.join_window, self.known, self.updates = join_window, known, updates
        self.touches = touches
        self.results: list[IngestResult | None] = [None] * len(events)

    def store(self) -> list[IngestResult]:
        by_unit: dict[str, list[int]] = {}
        for index, event in enumerate(self.events):
            by_unit.setdefault(event.unit_id, []).append(index)
        try:
            self._units(list(by_unit.values()))
        except _Unavailable as exc:
            log.error("the database became unavailable while storing units apart: %s", exc)
        return [
            result if result is not None else _not_stored(event)
            for result, event in zip(self.results, self.events, strict=True)
        ]

    def _units(self, units: list[list[int]]) -> None:
        """Store the events of these units (their indexes), halving the set on a failure."""
        indexes = sorted(itertools.chain.from_iterable(units))
        try:
            self._commit(indexes, [self.events[i] for i in indexes])
        except _Failed as failed:
            if len(units) > 1:
                half = len(units) // 2
                self._units(units[:half])
                self._units(units[half:])
            elif _data_error(failed.error):
                self._one_by_one(indexes)
            else:
                self._give_up(indexes, failed.error)

    def _one_by_one(self, indexes: list[int]) -> None:
        """One unit's events whose data failed: each alone, in order, set aside if need be."""
        for position, index in enumerate(indexes):
            event = self.events[index]
            try:
                self._commit([index], [event])
                continue
            except _Failed as failed:
                error = failed.error
            if _data_error(error):
                try:
                    self._commit([index], [payload_set_aside(event, error)])
                    log.error(
                        "unit %s seq %d: stored with its payload set aside (%s)",
                        event.unit_id,
                        event.seq,
                        brief(error),
                    )
                    continue
                except _Failed as again:
                    error = again.error
            self._give_up(indexes[position:], error)
            return

    def _give_up(self, indexes: list[int], error: BaseException) -> None:
        event = self.events[indexes[0]]
        log.error(
            "could not store %d event(s) of unit %s from seq %d (%s); it will resend them",
            len(indexes),
            event.unit_id,
            event.seq,
            brief(error),
        )

    def _commit(self, indexes: list[int], events: list[ReportedEvent]) -> None:
        try:
            results = _commit(
                self.uow,
                events,
                self.now,
                [],
                {},
                self.join_window,
                self.known,
                self.updates,
                self.touches,
            )
        except Exception as exc:
            if database_unavailable(exc):
                raise _Unavailable(str(exc)) from exc
            raise _Failed(exc) from exc
        for index, result in zip(indexes, results, strict=True):
            self.results[index] = result


class _Failed(Exception):
    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class _Unavailable(Exception):
    pass


def brief(exc: BaseException) -> str:
    """An error in one line: a database error without its statement and parameters."""
    cause = exc.orig if isinstance(exc, StatementError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0][:300] if lines else ''}"


def _data_error(exc: BaseException) -> bool:
    """Whether `exc` says the event's data could not be written (not a conflict)."""
    if isinstance(exc, StatementError) and not isinstance(exc, DBAPIError):
        # A bind parameter (a JSON column, say) could not be processed.
        return isinstance(exc.orig, ValueError | TypeError)
    return isinstance(exc, DataError | ValueError | TypeError)


def payload_set_aside(event: ReportedEvent, error: BaseException) -> ReportedEvent:
    """The event with a payload that stores anywhere, noting why; its digest is the one of
    what the unit sent (so a resend is a duplicate)."""
    try:
        digest = event.digest
    except Exception:  # the payload is what cannot be encoded: fingerprint what can be
        text = repr((event.type.value, event.unit_time.isoformat(), event.payload))
        digest = hashlib.sha256(text.encode("utf-8", "backslashreplace")).hexdigest()
    note = f"payload: could not be stored ({type(error).__name__}), so set aside"
    payload: dict[str, Any] = {REPAIRS_FIELD: [note]}
    return ReportedEvent.repaired(
        event.unit_id, event.seq, event.type, event.unit_time, payload, digest
    )


def _commit(
    uow: UnitOfWork,
    events: list[ReportedEvent],
    now: datetime,
    touched: list[str],
    power: dict[str, PowerReading],
    join_window: timedelta,
    known: KnownUnits | None,
    updates: JoinUpdates | None,
    touches: UnitTouches | None = None,
) -> list[IngestResult]:
    try:
        # On PostgreSQL the inserts and touches go with the next statement that is waited
        # for, the trail's append and the NOTIFY with the pipeline's end just before the
        # COMMIT (uow.pipelined): 5 waits a batch instead of 10. The ack still waits for the
        # COMMIT's answer.
        with uow, uow.pipelined():
            results = handle_device_events(uow, events, now, join_window, known, updates, touches)
            if touched:
                uow.units.touch(touched, now)
                if touches is not None:
                    touches.wrote(touched)
            record_power(uow, power, now)
            uow.commit()
    except BaseException:
        if known is not None:
            known.forget()  # it may hold what the failed transaction did
        if updates is not None:
            updates.discard()
        if touches is not None:
            touches.discard()
        raise
    if known is not None:
        known.committed()
    if updates is not None:
        updates.committed()
    if touches is not None:
        touches.committed()
    return results
