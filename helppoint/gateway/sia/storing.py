"""Storing a message's events once, and answering it and its retransmissions after the commit.

Each message's events go through the group-commit ingest queue, numbered per unit like our
own units' events, and its answer is worked out in the callback that learns of the commit:
no task, coroutine or extra future per message, so a flood of alarms costs the event loop
little more than parsing them. Only what needs the database first (an account's first
message, a unit whose numbering is unknown) waits in a task.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from helppoint.domain.sia import SiaAccount, within_window
from helppoint.gateway.ingest_queue import IngestQueue
from helppoint.gateway.sia.codec import Content, Message, Response
from helppoint.gateway.sia.connections import Answer, Pending, answer_later
from helppoint.gateway.sia.events import SiaEvent
from helppoint.gateway.sia.retransmissions import (
    RECENT_PER_ACCOUNT,
    RETRANSMISSION_WINDOW,
    Delivery,
    RecentMessages,
    StorageUnavailable,
)
from helppoint.gateway.sia.stats import ReceiverStats
from helppoint.services.ingest import IngestResult, Outcome, ReportedEvent
from helppoint.store.uow import UnitOfWork

log = logging.getLogger("helppoint.gateway.sia.receiver")

_REFUSED = (Outcome.CONFLICT, Outcome.REGRESSED)


@dataclass(frozen=True)
class KnownAccount:
    """An account as the receiver uses it for every message, worked out once per (re)load.

    Plain attributes: the account itself is a mapped class, slower to read on every message.
    """

    account: SiaAccount
    name: str
    key: bytes | None
    active: bool
    #: Every unit the account reports for.
    units: tuple[str, ...]
    #: The unit of each zone (None: the account's own), as `SiaAccount.unit_for` maps them.
    zone_units: dict[str | None, str]
    #: How far a timestamp may lag and lead our clock (`SiaAccount.timestamp_ok`'s window).
    past: timedelta
    future: timedelta

    @classmethod
    def of(cls, account: SiaAccount) -> KnownAccount:
        """Work out what every message of `account` needs."""
        zones: list[str | None] = [None, *account.zone_units]
        return cls(
            account,
            account.account,
            account.key,
            account.active,
            tuple(account.units()),
            {zone: account.unit_for(zone) for zone in zones},
            timedelta(seconds=account.tolerance_past),
            timedelta(seconds=account.tolerance_future),
        )

    def unit_for(self, zone: str | None) -> str:
        """The unit an event of this zone belongs to."""
        units = self.zone_units
        return units[zone] if zone in units else units[None]

    def timestamp_ok(self, timestamp: datetime, now: datetime) -> bool:
        """Whether a message's timestamp is inside the account's window around `now`."""
        return within_window(timestamp, now, self.past, self.future)


#: The answer to a message (from its account, with our time of arrival, from its address),
#: given what became of its events: ACK (stored), or None (not stored).
AnswerFor = Callable[[Message, KnownAccount, datetime, str, Response | None], bytes | None]


class MessageStore:
    """Commits each message's events once; a retransmission is answered from the first copy."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        ingest: IngestQueue,
        stats: ReceiverStats,
        answer: AnswerFor,
        track: Callable[[asyncio.Task[None]], None],
    ) -> None:
        self._uow_factory = uow_factory
        self._ingest = ingest
        self._stats = stats
        self._answer = answer
        self._track = track
        self._next_seq: dict[str, int] = {}
        self._recent = RecentMessages(uow_factory, self._seed_seqs)

    def store(
        self,
        message: Message,
        content: Content,
        account: KnownAccount,
        events: Sequence[SiaEvent],
        now: datetime,
        address: str,
    ) -> Answer:
        """Commit the events, then ACK; the answer, now or pending."""
        recent = self._recent.known(account.name)
        if recent is None:
            work = self._warm_then_store(message, content, account, events, now, address)
            return answer_later(work, self._track, address)
        # (token_text is the token's value: the message has a supported token to get here)
        digest = hashlib.sha256(
            f"{message.token_text}|{content.data}|{'|'.join(content.extended)}".encode()
        ).hexdigest()[:32]
        key = (message.seq, digest)
        delivery = recent.get(key)
        if (
            delivery is not None
            and delivery.outcome is not None
            and now - delivery.at > RETRANSMISSION_WINDOW
        ):
            log.info(
                "SIA %s: account %s seq %s repeats a message of %s: a new message, not a "
                "retransmission",
                address,
                account.name,
                message.seq,
                f"{delivery.at:%Y-%m-%d %H:%M:%S}",
            )
            del recent[key]
            delivery = None
        if delivery is None:
            commit = _Commit(
                self, recent, key, digest, message, content, account, events, now, address
            )
            commit.start()
            return commit
        self._stats.duplicates += 1
        log.info("SIA %s: account %s seq %s retransmitted", address, account.name, message.seq)
        if delivery.outcome is not None:
            return self._answer(message, account, now, address, delivery.outcome)
        # The first copy is still being committed: answer alike once it is (or store if it fails).
        commit = _Commit(self, recent, key, digest, message, content, account, events, now, address)
        delivery.wait(commit.first_copy_done)
        return commit

    async def _warm_then_store(
        self,
        message: Message,
        content: Content,
        account: KnownAccount,
        events: Sequence[SiaEvent],
        now: datetime,
        address: str,
    ) -> Answer:
        try:
            await self._recent.warm(account.account)
        except StorageUnavailable:
            return None
        return self.store(message, content, account, events, now, address)

    def _seed_seqs(self, last_seqs: dict[str, int]) -> None:
        for unit_id, last in last_seqs.items():
            self._next_seq.setdefault(unit_id, last + 1)

    def _last_seq(self, unit_id: str) -> int:
        with self._uow_factory() as uow:
            return uow.events.last_seq(unit_id)


class _Commit(Pending):
    """One message's events on their way through the ingest queue, and the answer they get.

    The message's answer itself (a `Pending`), so that a stored alarm costs few objects.
    """

    __slots__ = (
        "_account",
        "_address",
        "_attempt",
        "_content",
        "_delivery",
        "_digest",
        "_events",
        "_futures",
        "_key",
        "_message",
        "_now",
        "_recent",
        "_store",
        "_waiting",
    )

    def __init__(
        self,
        store: MessageStore,
        recent: OrderedDict[tuple[str, str], Delivery],
        key: tuple[str, str],
        digest: str,
        message: Message,
        content: Content,
        account: KnownAccount,
        events: Sequence[SiaEvent],
        now: datetime,
        address: str,
    ) -> None:
        super().__init__()
        self._store, self._recent, self._key, self._digest = store, recent, key, digest
        self._message, self._content, self._account = message, content, account
        self._events, self._now, self._address = events, now, address
        self._delivery: Delivery | None = None
        self._futures: list[asyncio.Future[IngestResult]] = []
        self._waiting = 0
        self._attempt = 0

    def start(self) -> None:
        """Remember the message as on its way (for its retransmissions), and submit its events."""
        recent, delivery = self._recent, Delivery(self._now)
        recent[self._key] = self._delivery = delivery
        while len(recent) > RECENT_PER_ACCOUNT:
            recent.popitem(last=False)
        delivery.wait(self._reply)
        self._submit()

    def first_copy_done(self, outcome: Response | None) -> None:
        """As a retransmission: the first copy is committed (answer alike) or failed (store)."""
        if outcome is None:
            self.start()  # the first copy could not be stored: this retransmission tries again
        else:
            self._reply(outcome)

    def _reply(self, outcome: Response | None) -> None:
        try:
            answer = self._store._answer(
                self._message, self._account, self._now, self._address, outcome
            )
        except Exception:  # say nothing and close, rather than leave the panel waiting
            log.exception("SIA %s: could not answer a message; closing", self._address)
            answer = None
        self.settle(answer)

    def _submit(self) -> None:
        store, account, events = self._store, self._account, self._events
        next_seq = store._next_seq
        units = [account.unit_for(event.zone) for event in events]
        missing = [unit_id for unit_id in units if unit_id not in next_seq]
        if missing:
            store._track(asyncio.get_running_loop().create_task(self._number(missing)))
            return
        message, content = self._message, self._content
        sia = {
            "account": account.name,
            "seq": message.seq,
            "token": message.token_text,
            "data": content.data,
            "digest": self._digest,
        }
        unit_time = content.timestamp or self._now
        submit = store._ingest.submit
        futures = []
        for event, unit_id in zip(events, units, strict=True):
            seq = next_seq[unit_id]
            next_seq[unit_id] = seq + 1
            reported = ReportedEvent.of_strings(
                unit_id, seq, event.type, unit_time, event.payload | {"sia": sia}
            )
            futures.append(submit(reported))
        self._futures, self._waiting = futures, len(futures)
        for future in futures:
            future.add_done_callback(self._committed)

    async def _number(self, missing: list[str]) -> None:
        # A unit not numbered yet (its account's first read did not cover it): read its last
        # stored sequence number, then number and submit as usual.
        store = self._store
        try:
            for unit_id in missing:
                last = await asyncio.to_thread(store._last_seq, unit_id)
                store._next_seq.setdefault(unit_id, last + 1)
        except Exception as exc:
            self._fail(str(exc))
            return
        self._submit()

    def _committed(self, _: asyncio.Future[IngestResult]) -> None:
        self._waiting -= 1
        if self._waiting:
            return
        assert self._delivery is not None
        refused: list[IngestResult] = []
        try:
            for future in self._futures:
                result = future.result()
                if result.outcome in _REFUSED:
                    refused.append(result)
        except (Exception, asyncio.CancelledError) as exc:  # IngestUnavailable, mostly
            self._fail(str(exc) or type(exc).__name__)
            return
        if not refused:
            self._store._stats.stored += len(self._futures)
            unmapped = [event.code for event in self._events if not event.mapped]
            if unmapped:
                log.warning(
                    "SIA %s: account %s sent event code(s) %s that are not in the published "
                    "tables: stored, flagged as unmapped, and ACKed",
                    self._address,
                    self._account.name,
                    ", ".join(unmapped),
                )
            self._delivery.settle(Response.ACK)
            return
        # Someone else numbered events of these units: renumber from what is stored.
        for result in refused:
            self._store._next_seq.pop(result.unit_id, None)
        if self._attempt == 1:
            self._fail("sequence numbers of the account's units keep clashing")
            return
        self._attempt = 1
        self._submit()

    def _fail(self, why: str) -> None:
        assert self._delivery is not None
        self._recent.pop(self._key, None)
        log.error(
            "SIA %s: could not store account %s's events: %s",
            self._address,
            self._account.name,
            why,
        )
        self._delivery.settle(None)
