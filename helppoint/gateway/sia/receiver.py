"""The SIA DC-09 receiver on TCP and UDP: strict about integrity, forgiving about the rest.

Each message is checked (framing, length, CRC; account; key; timestamp window), its events
are mapped to DeviceEvents of the account's units and go through the same group-commit
ingest queue as our own units, and only once they are committed is the ACK sent. A
retransmission (same account, DC-09 sequence number and content) is answered again without
storing anything twice. Bad input gets NAK, DUH or a closed connection, one log line an
engineer can act on, and changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from helppoint.domain.sia import SiaAccount
from helppoint.gateway.ingest_queue import IngestQueue, IngestUnavailable
from helppoint.gateway.sia import crypto
from helppoint.gateway.sia.codec import (
    Content,
    FrameError,
    FrameReader,
    Message,
    MessageError,
    Response,
    parse_content,
    parse_message,
    response,
)
from helppoint.gateway.sia.events import UNKNOWN_FAULT, SiaEvent, events_of
from helppoint.services.clock import utcnow
from helppoint.services.ingest import IngestResult, Outcome, ReportedEvent
from helppoint.services.sia_accounts import list_accounts
from helppoint.store import tables as t
from helppoint.store.uow import UnitOfWork

log = logging.getLogger(__name__)

#: Retransmissions remembered per account (a panel retries one message at a time).
RECENT_PER_ACCOUNT = 64


class StorageUnavailable(Exception):
    """The events could not be committed: send no answer, so the panel retransmits."""


@dataclass
class ReceiverStats:
    """Counters for tests, benchmarks and the log."""

    frames: int = 0
    acks: int = 0
    naks: int = 0
    duhs: int = 0
    stored: int = 0
    duplicates: int = 0
    flood_drops: int = 0


@dataclass
class _Bucket:
    tokens: float
    at: float
    warned_at: float = 0.0


class RateLimiter:
    """A token bucket per source address: `rate` messages a second, bursts of `burst`."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic):
        self.rate, self.burst, self._clock = rate, burst, clock
        self._buckets: dict[str, _Bucket] = {}

    def allow(self, address: str) -> bool:
        now = self._clock()
        bucket = self._buckets.get(address)
        if bucket is None:
            if len(self._buckets) > 10_000:  # forget idle addresses rather than grow for ever
                self._buckets.clear()
            bucket = self._buckets[address] = _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return True
        return False

    def should_warn(self, address: str, every: float = 10.0) -> bool:
        """Whether to log a flood from `address` now (at most once per `every` seconds)."""
        bucket = self._buckets[address]
        now = self._clock()
        if now - bucket.warned_at >= every:
            bucket.warned_at = now
            return True
        return False


@dataclass
class _Delivery:
    """One message's events on their way to the database, shared with its retransmissions."""

    done: asyncio.Future[Response]
    unknown: bool = False
    results: list[IngestResult] = field(default_factory=list)


class SiaReceiver:
    """Serves DC-09 over TCP and UDP on one port number."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        ingest: IngestQueue,
        host: str = "127.0.0.1",
        port: int = 0,
        udp: bool = True,
        rate: float = 50.0,
        burst: float = 100.0,
        idle_timeout: float = 300.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._uow_factory = uow_factory
        self._ingest = ingest
        self._host, self._port, self._udp = host, port, udp
        self._limiter = RateLimiter(rate, burst)
        self._idle_timeout = idle_timeout
        self._clock = clock
        self._server: asyncio.Server | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self._accounts: dict[str, SiaAccount] = {}
        self._accounts_loaded = 0.0
        self._next_seq: dict[str, int] = {}
        self._recent: dict[str, OrderedDict[tuple[str, str], _Delivery]] = {}
        # Accounts whose recent messages and units' sequence numbers are being read, read
        # together in one query for every account that first speaks in the same moment.
        self._warming: dict[str, asyncio.Future[None]] = {}
        self._warm_queue: list[SiaAccount] = []
        self._warm_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.stats = ReceiverStats()
        self.tcp_port = 0
        self.udp_port = 0

    # ---- life cycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Load the accounts and listen (TCP, and UDP on the same port number)."""
        await self._reload_accounts()
        self._server = await asyncio.start_server(self._serve_tcp, self._host, self._port)
        self.tcp_port = self._server.sockets[0].getsockname()[1]
        if self._udp:
            loop = asyncio.get_running_loop()
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _UdpProtocol(self), local_addr=(self._host, self.tcp_port)
            )
            self._transport = transport
            self.udp_port = transport.get_extra_info("sockname")[1]
        log.info(
            "SIA DC-09 receiver on %s port %d (TCP%s), %d accounts",
            self._host,
            self.tcp_port,
            " and UDP" if self._udp else "",
            len(self._accounts),
        )

    async def stop(self) -> None:
        """Stop listening and finish nothing half-way (unanswered messages are retransmitted)."""
        if self._transport is not None:
            self._transport.close()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
        for task in list(self._tasks):
            task.cancel()

    # ---- transports ----------------------------------------------------------------------

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        peer = writer.get_extra_info("peername")
        address = f"{peer[0]}:{peer[1]}" if peer else "?"
        host = peer[0] if peer else "?"
        frames = FrameReader()
        try:
            while True:
                try:
                    # asyncio.timeout, not wait_for: no extra task per read.
                    async with asyncio.timeout(self._idle_timeout):
                        data = await reader.read(4096)
                except TimeoutError:
                    log.info("SIA %s: idle for %.0f s; closing", address, self._idle_timeout)
                    return
                if not data:
                    return
                for item in frames.feed(data):
                    if not self._limiter.allow(host):
                        self.stats.flood_drops += 1
                        log.warning(
                            "SIA %s: more than %g messages/s from this address; closing the "
                            "connection (raise sia_rate if this panel is legitimate)",
                            address,
                            self._limiter.rate,
                        )
                        return
                    answer = await self._answer_item(item, address)
                    if answer is None:
                        # Not stored: say nothing, close, and the panel retransmits.
                        return
                    if answer:
                        writer.write(answer)
                        await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            log.info("SIA %s: connection lost: %s", address, exc)
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _datagram(self, data: bytes, addr: tuple[str, int]) -> None:
        host = addr[0]
        if not self._limiter.allow(host):
            self.stats.flood_drops += 1
            if self._limiter.should_warn(host):
                log.warning(
                    "SIA %s:%d: more than %g messages/s over UDP; dropping (raise sia_rate if "
                    "this panel is legitimate)",
                    host,
                    addr[1],
                    self._limiter.rate,
                )
            return
        task = asyncio.get_running_loop().create_task(self._answer_datagram(data, addr))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer_datagram(self, data: bytes, addr: tuple[str, int]) -> None:
        address = f"{addr[0]}:{addr[1]}"
        # One datagram is one frame, but frame it the same way: never trust the read size.
        for item in FrameReader().feed(data):
            answer = await self._answer_item(item, address)
            if answer and self._transport is not None and not self._transport.is_closing():
                self._transport.sendto(answer, addr)

    # ---- one message ---------------------------------------------------------------------

    async def _answer_item(self, item: bytes | FrameError, address: str) -> bytes | None:
        """The bytes to send back (b"" for nothing), or None when the events were not stored."""
        if isinstance(item, FrameError):
            if item.kind == "framing" and "outside any frame" in str(item):
                log.warning("SIA %s: ignored %s", address, item)
                return b""
            log.warning("SIA %s: damaged frame (%s): %s; answered NAK", address, item.kind, item)
            self.stats.naks += 1
            return response(Response.NAK, None, now=self._clock())
        self.stats.frames += 1
        return await self.answer(item, address)

    async def answer(self, body: bytes, address: str = "?") -> bytes | None:
        """Process one intact frame body; the framed response, or None if not stored."""
        now = self._clock()
        try:
            message = parse_message(body)
        except MessageError as exc:
            log.warning("SIA %s: %s; answered NAK", address, exc)
            self.stats.naks += 1
            return response(Response.NAK, None, now=now)
        if message.token is None:
            return self._duh(message, address, f"message type {message.token_text!r} unsupported")
        account = await self._account(message.account)
        if account is None and not message.encrypted:
            # Some panels name the account only inside the data.
            with contextlib.suppress(MessageError):
                account = await self._account(parse_content(message.rest).account)
        if account is None:
            name = message.account or "(none)"
            return self._duh(message, address, f"unknown or disabled account {name}")
        key = account.key
        try:
            content = self._content(message, account, key)
        except (MessageError, crypto.DecryptError) as exc:
            return self._duh(message, address, f"account {account.account}: {exc}", account)
        if content.timestamp is None and message.encrypted:
            return self._nak(message, address, f"account {account.account}: no timestamp")
        if content.timestamp is not None and not account.timestamp_ok(content.timestamp, now):
            skew = (content.timestamp - now).total_seconds()
            return self._nak(
                message,
                address,
                f"account {account.account}: timestamp {content.timestamp:%H:%M:%S} is "
                f"{skew:+.0f} s from ours, outside -{account.tolerance_past}/"
                f"+{account.tolerance_future} s (a panel on local time needs a wider tolerance)",
            )
        try:
            events = events_of(message.token, content.data)
        except MessageError as exc:
            return self._duh(message, address, f"account {account.account}: {exc}", account)
        if not events:  # NULL: a link test feeds supervision of every unit of the account
            for unit_id in account.units():
                self._ingest.touch(unit_id)
            return self._ack(message, account, key, now)
        try:
            kind = await self._store(message, content, account, events, now, address)
        except StorageUnavailable:
            return None
        if kind is Response.DUH:
            return self._duh(message, address, "", account, quiet=True)
        return self._ack(message, account, key, now)

    def _content(self, message: Message, account: SiaAccount, key: bytes | None) -> Content:
        if message.encrypted:
            if key is None:
                raise MessageError("key", "encrypted message, but the account has no key")
            return parse_content(crypto.strip_padding(crypto.decrypt(key, message.rest)))
        if key is not None:
            raise MessageError("key", "plain message, but the account requires encryption")
        return parse_content(message.rest)

    def _ack(
        self, message: Message, account: SiaAccount, key: bytes | None, now: datetime
    ) -> bytes:
        self.stats.acks += 1
        return response(Response.ACK, message, account.account, key, now)

    def _nak(self, message: Message, address: str, why: str) -> bytes:
        log.warning("SIA %s: %s; answered NAK", address, why)
        self.stats.naks += 1
        return response(Response.NAK, message, now=self._clock())

    def _duh(
        self,
        message: Message,
        address: str,
        why: str,
        account: SiaAccount | None = None,
        quiet: bool = False,
    ) -> bytes:
        if not quiet:
            log.warning("SIA %s: %s; answered DUH", address, why)
        self.stats.duhs += 1
        name = account.account if account is not None else message.account
        return response(Response.DUH, message, name, now=self._clock())

    # ---- storing -------------------------------------------------------------------------

    async def _store(
        self,
        message: Message,
        content: Content,
        account: SiaAccount,
        events: list[SiaEvent],
        now: datetime,
        address: str,
    ) -> Response:
        """Commit the events once (ACK) or as flagged unknown codes (DUH); wait for the commit."""
        assert message.token is not None
        digest = hashlib.sha256(
            f"{message.token.value}|{content.data}|{'|'.join(content.extended)}".encode()
        ).hexdigest()[:32]
        recent = await self._recent_of(account)
        key = (message.seq, digest)
        delivery = recent.get(key)
        if delivery is not None:
            self.stats.duplicates += 1
            log.info(
                "SIA %s: account %s seq %s retransmitted", address, account.account, message.seq
            )
            try:
                return await asyncio.shield(delivery.done)
            except StorageUnavailable:
                pass  # the first attempt failed: this retransmission tries again
        delivery = _Delivery(asyncio.get_running_loop().create_future())
        recent[key] = delivery
        while len(recent) > RECENT_PER_ACCOUNT:
            recent.popitem(last=False)
        try:
            result = await self._commit(message, content, account, events, now, digest)
        except StorageUnavailable as exc:
            recent.pop(key, None)
            delivery.done.set_exception(exc)
            delivery.done.exception()  # retrieved: no "never retrieved" warning
            log.error(
                "SIA %s: could not store account %s's events: %s", address, account.account, exc
            )
            raise
        delivery.done.set_result(result)
        if result is Response.DUH:
            codes = ", ".join(e.code for e in events if not e.known)
            log.warning(
                "SIA %s: account %s sent unknown event code(s) %s: stored and flagged for the "
                "engineers; answered DUH",
                address,
                account.account,
                codes,
            )
        return result

    async def _commit(
        self,
        message: Message,
        content: Content,
        account: SiaAccount,
        events: list[SiaEvent],
        now: datetime,
        digest: str,
    ) -> Response:
        sia = {
            "account": account.account,
            "seq": message.seq,
            "token": message.token_text,
            "data": content.data,
            "digest": digest,
        }
        for attempt in range(2):
            futures = []
            for event in events:
                unit_id = account.unit_for(event.zone)
                seq = await self._allocate(unit_id)
                reported = ReportedEvent(
                    unit_id=unit_id,
                    seq=seq,
                    type=event.type,
                    unit_time=content.timestamp or now,
                    payload=event.payload | {"sia": sia},
                )
                futures.append(self._ingest.submit(reported))
            try:
                if len(futures) == 1:  # the usual case: no gather for one event
                    results = [await futures[0]]
                else:
                    results = list(await asyncio.gather(*futures))
            except IngestUnavailable as exc:
                raise StorageUnavailable(str(exc)) from None
            refused = [r for r in results if r.outcome in (Outcome.CONFLICT, Outcome.REGRESSED)]
            if not refused:
                self.stats.stored += len(results)
                return Response.ACK if all(e.known for e in events) else Response.DUH
            # Someone else numbered events of these units: renumber from what is stored.
            for result in refused:
                self._next_seq.pop(result.unit_id, None)
            if attempt == 1:
                raise StorageUnavailable("sequence numbers of the account's units keep clashing")
        raise AssertionError("unreachable")

    async def _allocate(self, unit_id: str) -> int:
        if unit_id not in self._next_seq:
            last = await asyncio.to_thread(self._last_seq, unit_id)
            self._next_seq.setdefault(unit_id, last + 1)
        seq = self._next_seq[unit_id]
        self._next_seq[unit_id] = seq + 1
        return seq

    def _last_seq(self, unit_id: str) -> int:
        with self._uow_factory() as uow:
            return uow.events.last_seq(unit_id)

    async def _recent_of(self, account: SiaAccount) -> OrderedDict[tuple[str, str], _Delivery]:
        """The account's recent messages, seeded from the database after a restart."""
        recent = self._recent.get(account.account)
        if recent is None:
            await self._warm(account)
            recent = self._recent[account.account]
        return recent

    async def _warm(self, account: SiaAccount) -> None:
        """Read what the database knows of an account the first time it speaks.

        Accounts that first speak at the same moment (a restart, panels reconnecting) share
        one read, so a thousand panels cost a few queries rather than two thousand.
        """
        future = self._warming.get(account.account)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._warming[account.account] = future
            self._warm_queue.append(account)
            if self._warm_task is None:
                self._warm_task = asyncio.create_task(self._warm_batches())
        await asyncio.shield(future)

    async def _warm_batches(self) -> None:
        loop = asyncio.get_running_loop()
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
                for unit_id, last in last_seqs.items():
                    self._next_seq.setdefault(unit_id, last + 1)
                for account in accounts:
                    recent = self._recent.setdefault(account.account, OrderedDict())
                    for seq, digest, unknown in stored.get(account.account, []):
                        done: asyncio.Future[Response] = loop.create_future()
                        done.set_result(Response.DUH if unknown else Response.ACK)
                        recent.setdefault((seq, digest), _Delivery(done))
                    self._warming.pop(account.account).set_result(None)
        finally:
            self._warm_task = None

    def _stored_recently(
        self, accounts: list[SiaAccount]
    ) -> tuple[dict[str, int], dict[str, list[tuple[str, str, bool]]]]:
        """The units' last sequence numbers, and each account's recent messages, oldest first."""
        units = sorted({unit for account in accounts for unit in account.units()})
        names = {account.account for account in accounts}
        c = t.device_events.c
        newest = (
            func.row_number().over(partition_by=c.unit_id, order_by=c.id.desc()).label("newest")
        )
        latest = select(c.id, c.payload, newest).where(c.unit_id.in_(units)).subquery()
        with self._uow_factory() as uow:
            last_seqs = uow.events.last_seqs(units)
            rows = uow.session.execute(
                select(latest.c.payload)
                .where(latest.c.newest <= RECENT_PER_ACCOUNT * 2)
                .order_by(latest.c.id)
            ).all()
        found: dict[str, list[tuple[str, str, bool]]] = {}
        for (payload,) in rows:
            sia: Any = (payload or {}).get("sia")
            if isinstance(sia, dict) and sia.get("account") in names:
                unknown = (payload or {}).get("fault") == UNKNOWN_FAULT
                found.setdefault(str(sia["account"]), []).append(
                    (str(sia.get("seq")), str(sia.get("digest")), unknown)
                )
        return last_seqs, found

    # ---- accounts ------------------------------------------------------------------------

    async def _account(self, name: str | None) -> SiaAccount | None:
        if name is None:
            return None
        account = self._accounts.get(name.upper())
        age = time.monotonic() - self._accounts_loaded
        if (account is None and age > 1.0) or age > 10.0:
            # Accounts added or changed while running are picked up (an unknown one within a
            # second, a changed key within ten), without a query per message.
            await self._reload_accounts()
            account = self._accounts.get(name.upper())
        return account if account is not None and account.active else None

    async def _reload_accounts(self) -> None:
        self._accounts_loaded = time.monotonic()
        accounts = await asyncio.to_thread(self._load_accounts)
        self._accounts = {a.account: a for a in accounts}

    def _load_accounts(self) -> list[SiaAccount]:
        with self._uow_factory() as uow:
            accounts = list(list_accounts(uow))
            uow.session.expunge_all()
            return accounts


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, receiver: SiaReceiver) -> None:
        self._receiver = receiver

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self._receiver._datagram(data, addr)

    def error_received(self, exc: Exception) -> None:
        log.info("SIA UDP: %s", exc)
