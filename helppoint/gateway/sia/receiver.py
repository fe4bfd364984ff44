"""The SIA DC-09 receiver on TCP and UDP: strict about integrity, forgiving about the rest.

Each message is checked (framing, length, CRC; account; key; timestamp window), its events
are mapped to DeviceEvents of the account's units and go through the same group-commit
ingest queue as our own units, and only once they are committed is the ACK sent. A
retransmission (same account, DC-09 sequence number and content, within five minutes) is
answered again without storing anything twice. Bad input gets NAK, DUH or a closed connection,
one log line an engineer can act on, and changes nothing. The sockets are served by
`connections.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from helppoint.domain.sia import SiaAccount
from helppoint.gateway.ingest_queue import IngestQueue, IngestUnavailable
from helppoint.gateway.sia import crypto
from helppoint.gateway.sia.codec import (
    Content,
    FrameError,
    Message,
    MessageError,
    Response,
    parse_content,
    parse_message,
    response,
)
from helppoint.gateway.sia.connections import Answer, TcpConnection, UdpEndpoint
from helppoint.gateway.sia.events import SiaEvent, events_of
from helppoint.gateway.sia.retransmissions import (
    RECENT_PER_ACCOUNT,
    RETRANSMISSION_WINDOW,
    Delivery,
    RecentMessages,
    StorageUnavailable,
)
from helppoint.services.clock import utcnow
from helppoint.services.ingest import Outcome, ReportedEvent
from helppoint.services.sia_accounts import list_accounts
from helppoint.store.uow import UnitOfWork

log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class _Known:
    """An account as the receiver uses it for every message: its key and units worked out once."""

    account: SiaAccount
    name: str
    key: bytes | None
    units: tuple[str, ...]


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
        self._accounts: dict[str, _Known] = {}
        self._accounts_loaded = 0.0
        self._reloading: asyncio.Task[None] | None = None
        self._next_seq: dict[str, int] = {}
        self._recent = RecentMessages(uow_factory, self._seed_seqs)
        self._tasks: set[asyncio.Task[Any]] = set()
        self.connections: set[TcpConnection] = set()
        self.stats = ReceiverStats()
        self.tcp_port = 0
        self.udp_port = 0

    # ---- life cycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Load the accounts and listen (TCP, and UDP on the same port number)."""
        await self._reload_accounts()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: TcpConnection(self, self._idle_timeout), self._host, self._port
        )
        self.tcp_port = self._server.sockets[0].getsockname()[1]
        if self._udp:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: UdpEndpoint(self), local_addr=(self._host, self.tcp_port)
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
        for connection in list(self.connections):
            connection.close()
        for task in list(self._tasks):
            task.cancel()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    # ---- for the transports (connections.py) ---------------------------------------------

    def admit(self, host: str, address: str) -> bool:
        """Whether a TCP message from `host` is within its rate (if not, the caller closes)."""
        if self._limiter.allow(host):
            return True
        self.stats.flood_drops += 1
        log.warning(
            "SIA %s: more than %g messages/s from this address; closing the connection (raise "
            "sia_rate if this panel is legitimate)",
            address,
            self._limiter.rate,
        )
        return False

    def admit_datagram(self, addr: tuple[str, int]) -> bool:
        """Whether a datagram from `addr` is within its rate (if not, it is dropped)."""
        host = addr[0]
        if self._limiter.allow(host):
            return True
        self.stats.flood_drops += 1
        if self._limiter.should_warn(host):
            log.warning(
                "SIA %s:%d: more than %g messages/s over UDP; dropping (raise sia_rate if this "
                "panel is legitimate)",
                host,
                addr[1],
                self._limiter.rate,
            )
        return False

    def track(self, task: asyncio.Task[Any]) -> None:
        """Keep a transport's task until it is done (and cancel it on stop)."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def answer_now(self, item: bytes | FrameError, address: str) -> Answer:
        """The answer to a frame (or a damaged one): now if it needs no storing, else to await.

        b"" means say nothing; None means the events were not stored (close, say nothing).
        """
        if isinstance(item, FrameError):
            if item.kind == "framing" and "outside any frame" in str(item):
                log.warning("SIA %s: ignored %s", address, item)
                return b""
            log.warning("SIA %s: damaged frame (%s): %s; answered NAK", address, item.kind, item)
            self.stats.naks += 1
            return response(Response.NAK, None, now=self._clock())
        self.stats.frames += 1
        return self._answer_body(item, address)

    # ---- one message ---------------------------------------------------------------------

    async def answer(self, body: bytes, address: str = "?") -> bytes | None:
        """Process one intact frame body; the framed response, or None if not stored."""
        answer = self._answer_body(body, address)
        if answer is None or isinstance(answer, bytes):
            return answer
        return await answer

    def _answer_body(self, body: bytes, address: str, reloaded: bool = False) -> Answer:
        """Check one message and answer it now, or return what stores it and then answers."""
        now = self._clock()
        try:
            message = parse_message(body)
        except MessageError as exc:
            log.warning("SIA %s: %s; answered NAK", address, exc)
            self.stats.naks += 1
            return response(Response.NAK, None, now=now)
        if message.token is None:
            return self._duh(message, address, f"message type {message.token_text!r} unsupported")
        known = self._accounts.get(message.account) if message.account else None
        if known is None and not message.encrypted:
            # Some panels name the account only inside the data.
            with contextlib.suppress(MessageError):
                named = parse_content(message.rest).account
                known = self._accounts.get(named) if named else None
        if not reloaded:
            age = time.monotonic() - self._accounts_loaded
            reloading = self._reloading is not None and not self._reloading.done()
            if (known is None and (age > 1.0 or reloading)) or age > 10.0:
                # Accounts added or changed while running are picked up (an unknown one within
                # a second, a changed key within ten), without a query per message.
                return self._after_reload(body, address)
        if known is None or not known.account.active:
            name = message.account or "(none)"
            return self._duh(message, address, f"unknown or disabled account {name}")
        account, key = known.account, known.key
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
            for unit_id in known.units:
                self._ingest.touch(unit_id)
            return self._ack(message, known.name, key, now)
        return self._store_and_answer(message, content, account, key, events, now, address)

    async def _after_reload(self, body: bytes, address: str) -> bytes | None:
        # Messages that find the accounts due for a reload in the same moment share one read.
        if self._reloading is None or self._reloading.done():
            self._reloading = asyncio.get_running_loop().create_task(self._reload_accounts())
            self.track(self._reloading)
        await asyncio.shield(self._reloading)
        answer = self._answer_body(body, address, reloaded=True)
        if answer is None or isinstance(answer, bytes):
            return answer
        return await answer

    async def _store_and_answer(
        self,
        message: Message,
        content: Content,
        account: SiaAccount,
        key: bytes | None,
        events: list[SiaEvent],
        now: datetime,
        address: str,
    ) -> bytes | None:
        try:
            kind = await self._store(message, content, account, events, now, address)
        except StorageUnavailable:
            return None
        if kind is Response.DUH:
            return self._duh(message, address, "", account, quiet=True)
        return self._ack(message, account.account, key, now)

    def _content(self, message: Message, account: SiaAccount, key: bytes | None) -> Content:
        if message.encrypted:
            if key is None:
                raise MessageError("key", "encrypted message, but the account has no key")
            return parse_content(crypto.strip_padding(crypto.decrypt(key, message.rest)))
        if key is not None:
            raise MessageError("key", "plain message, but the account requires encryption")
        return parse_content(message.rest)

    def _ack(self, message: Message, account: str, key: bytes | None, now: datetime) -> bytes:
        self.stats.acks += 1
        return response(Response.ACK, message, account, key, now)

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
        recent = await self._recent.of(account)
        key = (message.seq, digest)
        delivery = recent.get(key)
        if (
            delivery is not None
            and delivery.done.done()
            and now - delivery.at > RETRANSMISSION_WINDOW
        ):
            log.info(
                "SIA %s: account %s seq %s repeats a message of %s: a new message, not a "
                "retransmission",
                address,
                account.account,
                message.seq,
                f"{delivery.at:%Y-%m-%d %H:%M:%S}",
            )
            del recent[key]
            delivery = None
        if delivery is not None:
            self.stats.duplicates += 1
            log.info(
                "SIA %s: account %s seq %s retransmitted", address, account.account, message.seq
            )
            try:
                return await asyncio.shield(delivery.done)
            except StorageUnavailable:
                pass  # the first attempt failed: this retransmission tries again
        delivery = Delivery(asyncio.get_running_loop().create_future(), now)
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

    def _seed_seqs(self, last_seqs: dict[str, int]) -> None:
        for unit_id, last in last_seqs.items():
            self._next_seq.setdefault(unit_id, last + 1)

    def _last_seq(self, unit_id: str) -> int:
        with self._uow_factory() as uow:
            return uow.events.last_seq(unit_id)

    # ---- accounts ------------------------------------------------------------------------

    async def _reload_accounts(self) -> None:
        self._accounts_loaded = time.monotonic()
        accounts = await asyncio.to_thread(self._load_accounts)
        self._accounts = {
            account.account: _Known(account, account.account, account.key, tuple(account.units()))
            for account in accounts
        }

    def _load_accounts(self) -> list[SiaAccount]:
        with self._uow_factory() as uow:
            accounts = list(list_accounts(uow))
            uow.session.expunge_all()
            return accounts
