"""Recognising DC-09 retransmissions: each account's recent messages, seeded from the database.

A panel that gets no answer sends the same message again (same sequence number and content,
new padding and timestamp). The receiver answers such a copy from the first one: it waits for
the first copy's commit if that is still under way, and after a restart it knows the messages it
stored before from their payloads.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from helppoint.domain.sia import SiaAccount
from helppoint.gateway.sia.codec import Response
from helppoint.store.uow import UnitOfWork

log = logging.getLogger("helppoint.gateway.sia.receiver")

#: Retransmissions remembered per account (a panel retries one message at a time).
RECENT_PER_ACCOUNT = 64
#: How long after a message a copy with the same sequence number and content counts as its
#: retransmission. Panels retry within seconds, a few times; later, the same number and content
#: is a new message (a panel that restarted counts from 0001 again, so its next panic alarm can
#: carry the number and content of one it sent before). Storing a late retransmission twice is
#: harmless (it joins the incident); answering a new alarm without storing it is not.
RETRANSMISSION_WINDOW = timedelta(minutes=5)


class StorageUnavailable(Exception):
    """The events could not be committed: send no answer, so the panel retransmits."""


class Delivery:
    """One message's events on their way to the database, shared with its retransmissions.

    Plain callbacks rather than a future: the copy that stores and every retransmission
    waiting for it are answered in the callback that learns of the commit.
    """

    __slots__ = ("_waiters", "at", "outcome")

    def __init__(self, at: datetime, outcome: Response | None = None) -> None:
        #: When the first copy arrived (our clock).
        self.at = at
        #: ACK once committed; None while the commit is under way.
        self.outcome = outcome
        self._waiters: list[Callable[[Response | None], None]] | None = None

    def wait(self, waiter: Callable[[Response | None], None]) -> None:
        """Call `waiter` with the outcome once committed, or with None if that failed."""
        if self._waiters is None:
            self._waiters = [waiter]
        else:
            self._waiters.append(waiter)

    def settle(self, outcome: Response | None) -> None:
        """The commit is done (ACK) or failed (None): tell every waiter, in order."""
        self.outcome = outcome
        waiters, self._waiters = self._waiters or [], None
        for waiter in waiters:
            try:
                waiter(outcome)
            except Exception:  # one waiter's bug must not leave the others unanswered
                log.exception("SIA: could not answer a message")


class RecentMessages:
    """Each account's recent messages, read from the database the first time it speaks."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        on_last_seqs: Callable[[dict[str, int]], None],
    ) -> None:
        self._uow_factory = uow_factory
        #: Told the last stored sequence number of each unit read along the way.
        self._on_last_seqs = on_last_seqs
        self._recent: dict[str, OrderedDict[tuple[str, str], Delivery]] = {}
        # Accounts whose recent messages and units' sequence numbers are being read, read
        # together in one query for every account that first speaks in the same moment.
        self._warming: dict[str, asyncio.Future[None]] = {}
        self._warm_queue: list[SiaAccount] = []
        self._warm_task: asyncio.Task[None] | None = None

    def known(self, account: str) -> OrderedDict[tuple[str, str], Delivery] | None:
        """The account's recent messages, or None until `warm` has read them."""
        return self._recent.get(account)

    async def warm(self, account: SiaAccount) -> None:
        """Read what the database knows of an account the first time it speaks.

        Accounts that first speak at the same moment (a restart, panels reconnecting) share
        one read, so a thousand panels cost a few queries rather than two thousand.
        """
        if account.account in self._recent:
            return  # read while this caller waited for its turn
        future = self._warming.get(account.account)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._warming[account.account] = future
            self._warm_queue.append(account)
            if self._warm_task is None:
                self._warm_task = asyncio.create_task(self._warm_batches())
        await asyncio.shield(future)

    async def _warm_batches(self) -> None:
        try:
            await asyncio.sleep(0)  # let the other panels of this moment ask too
            while self._warm_queue:
                accounts, self._warm_queue = self._warm_queue, []
                try:
                    last_seqs, stored = await asyncio.to_thread(self._stored_recently, accounts)
                except Exception as exc:  # database unavailable: these messages go unanswered
                    for account in accounts:
                        failed = self._warming.pop(account.account)
                        failed.set_exception(StorageUnavailable(str(exc)))
                        failed.exception()  # retrieved: no "never retrieved" warning
                    continue
                self._on_last_seqs(last_seqs)
                for account in accounts:
                    recent = self._recent.setdefault(account.account, OrderedDict())
                    for seq, digest, at in stored.get(account.account, []):
                        recent.pop((seq, digest), None)  # the latest copy counts
                        recent[(seq, digest)] = Delivery(at, Response.ACK)
                    self._warming.pop(account.account).set_result(None)
        finally:
            self._warm_task = None

    def _stored_recently(
        self, accounts: list[SiaAccount]
    ) -> tuple[dict[str, int], dict[str, list[tuple[str, str, datetime]]]]:
        """The units' last sequence numbers, and each account's recent messages, oldest first."""
        units = sorted({unit for account in accounts for unit in account.units()})
        names = {account.account for account in accounts}
        with self._uow_factory() as uow:
            last_seqs = uow.events.last_seqs(units)
            rows = uow.events.latest_payloads(units, RECENT_PER_ACCOUNT * 2)
        found: dict[str, list[tuple[str, str, datetime]]] = {}
        for payload, received_at in rows:
            sia: Any = (payload or {}).get("sia")
            if isinstance(sia, dict) and sia.get("account") in names:
                found.setdefault(str(sia["account"]), []).append(
                    (str(sia.get("seq")), str(sia.get("digest")), received_at)
                )
        return last_seqs, found
