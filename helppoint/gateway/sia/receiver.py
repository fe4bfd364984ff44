"""The SIA DC-09 receiver on TCP and UDP: strict about integrity, forgiving about the rest.

Each message is checked (framing, length, CRC; account; key; timestamp window), its events
are mapped to DeviceEvents of the account's units and go through the same group-commit
ingest queue as our own units, and only once they are committed is the ACK sent. A
retransmission (same account, DC-09 sequence number and content, within five minutes) is
answered again without storing anything twice. Bad input gets NAK, DUH or a closed connection,
one log line an engineer can act on, and changes nothing. The sockets are served by
`connections.py`; storing each message once, and answering it after the commit, is
`storing.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from helppoint.domain.sia import SiaAccount
from helppoint.domain.sia_codes import Category, Handling
from helppoint.gateway.ingest_queue import IngestQueue
from helppoint.gateway.sia import crypto
from helppoint.gateway.sia.codec import (
    Content,
    FrameError,
    Message,
    MessageError,
    Response,
    ack,
    parse_content,
    parse_message,
    response,
)
from helppoint.gateway.sia.connections import (
    Answer,
    Pending,
    TcpConnection,
    UdpEndpoint,
    answer_later,
)
from helppoint.gateway.sia.events import DEFAULT_HANDLINGS, Handlings, events_of
from helppoint.gateway.sia.retransmissions import RETRANSMISSION_WINDOW as RETRANSMISSION_WINDOW
from helppoint.gateway.sia.stats import ReceiverStats
from helppoint.gateway.sia.storing import KnownAccount, MessageStore
from helppoint.services.clock import utcnow
from helppoint.services.sia_accounts import list_accounts
from helppoint.services.sia_handling import chosen_handlings
from helppoint.store.uow import UnitOfWork

log = logging.getLogger(__name__)

#: Connections the kernel completes and holds for us to accept. After a network outage every
#: panel reconnects at once; with the usual 100, the rest of them had their connection attempt
#: dropped and retried a second or more later (a bench with 1,000 panels: 6,200 alarms/s
#: instead of 18,600). The kernel caps it at net.core.somaxconn.
LISTEN_BACKLOG = 1024


#: Bytes of datagrams the kernel holds for us until they are read. A burst from many panels
#: that arrives while the event loop is busy waits here, and what does not fit is lost until
#: each panel's retransmission timeout: the usual ~200 KB hold ~250 small datagrams.
UDP_RECEIVE_BUFFER = 4 * 1024 * 1024


def _enlarge_receive_buffer(sock: socket.socket) -> None:
    """Ask for UDP_RECEIVE_BUFFER (beyond net.core.rmem_max if we may), and say if we got less."""
    force = getattr(socket, "SO_RCVBUFFORCE", socket.SO_RCVBUF)  # Linux, with CAP_NET_ADMIN
    try:
        sock.setsockopt(socket.SOL_SOCKET, force, UDP_RECEIVE_BUFFER)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RECEIVE_BUFFER)
    got = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)  # Linux reports twice the size
    if got < UDP_RECEIVE_BUFFER:
        log.warning(
            "SIA UDP: receive buffer %d bytes, not the %d asked for: a burst of datagrams may "
            "be dropped (raise net.core.rmem_max)",
            got,
            UDP_RECEIVE_BUFFER,
        )


@dataclass
class _Bucket:
    tokens: float
    at: float
    warned_at: float = 0.0


class RateLimiter:
    """A token bucket per source address: `rate` a second, bursts of `burst`."""

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


#: How long a TCP connection may stay open without a message of a known account being ACKed
#: (a panel sends as soon as it connects): a connection that only holds a socket is closed
#: after this, where one that has proved itself gets the full idle timeout.
UNPROVEN_TIMEOUT = 30.0
#: TCP connections one address may hold open that have not had a message ACKed yet. Many
#: panels behind one NAT reconnect at once after an outage, so it is as large as the listen
#: backlog; more are closed as soon as they are accepted.
MAX_UNPROVEN = LISTEN_BACKLOG


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
        unproven_timeout: float = UNPROVEN_TIMEOUT,
        max_unproven: int = MAX_UNPROVEN,
    ) -> None:
        self._uow_factory = uow_factory
        self._ingest = ingest
        self._host, self._port, self._udp = host, port, udp
        #: Charged for abuse only (malformed frames, unknown accounts, wrong keys …), never
        #: for valid messages of known accounts: many panels share one NAT address.
        self._limiter = RateLimiter(rate, burst)
        self._idle_timeout = idle_timeout
        self.unproven_timeout = unproven_timeout
        self._max_unproven = max_unproven
        #: TCP connections per address that have not had a message ACKed yet.
        self._unproven: dict[str, int] = {}
        self._clock = clock
        self._server: asyncio.Server | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self._accounts: dict[str, KnownAccount] = {}
        #: How each event code category is handled (the admin's choices, reloaded with the
        #: accounts).
        self._handlings = DEFAULT_HANDLINGS
        self._accounts_loaded = 0.0
        self._reloading: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.connections: set[TcpConnection] = set()
        self.stats = ReceiverStats()
        self._store = MessageStore(uow_factory, ingest, self.stats, self._answer_stored, self.track)
        self.tcp_port = 0
        self.udp_port = 0

    # ---- life cycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Load the accounts and listen (TCP, and UDP on the same port number)."""
        await self._reload_accounts()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: TcpConnection(self, self._idle_timeout, self.unproven_timeout),
            self._host,
            self._port,
            backlog=LISTEN_BACKLOG,
        )
        self.tcp_port = self._server.sockets[0].getsockname()[1]
        if self._udp:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: UdpEndpoint(self), local_addr=(self._host, self.tcp_port)
            )
            self._transport = transport
            _enlarge_receive_buffer(transport.get_extra_info("socket"))
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
                async with asyncio.timeout(5):
                    await self._server.wait_closed()

    # ---- for the transports (connections.py) ---------------------------------------------

    def charge(self, host: str, address: str) -> bool:
        """Count one piece of abuse from `host`; False once it is over its rate.

        Over the rate, the abusive message gets no answer (a TCP connection sending it is
        closed; a datagram is dropped); valid messages of known accounts from the same
        address are still served.
        """
        if self._limiter.allow(host):
            return True
        self.stats.flood_drops += 1
        if self._limiter.should_warn(host):
            log.warning(
                "SIA %s: more than %g malformed or refused messages/s from this address; "
                "not answering them (TCP: closing the connection that sent them). Valid "
                "messages of known accounts from it are still served",
                address,
                self._limiter.rate,
            )
        return False

    def open_unproven(self, host: str, address: str) -> bool:
        """Count a new TCP connection from `host`; False if it has too many unproven ones."""
        count = self._unproven.get(host, 0)
        if count >= self._max_unproven:
            self.stats.refused_connections += 1
            if self.charge(host, address):  # (logged once per flood, not per connection)
                log.warning(
                    "SIA %s: %d connections from this address have had no message ACKed; "
                    "closing this one",
                    address,
                    count,
                )
            return False
        self._unproven[host] = count + 1
        return True

    def unproven_done(self, host: str) -> None:
        """An unproven connection from `host` had a message ACKed, or closed."""
        count = self._unproven.get(host, 0) - 1
        if count > 0:
            self._unproven[host] = count
        else:
            self._unproven.pop(host, None)

    def track(self, task: asyncio.Task[Any]) -> None:
        """Keep a transport's task until it is done (and cancel it on stop)."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def answer_now(self, item: bytes | FrameError, address: str, host: str) -> Answer:
        """The answer to a frame (or a damaged one): now if it needs no storing, else to await.

        b"" means say nothing; None means say nothing and close (not stored, or abuse over
        its rate).
        """
        if isinstance(item, FrameError):
            if not self.charge(host, address):
                return None
            if item.kind == "framing" and "outside any frame" in str(item):
                log.warning("SIA %s: ignored %s", address, item)
                return b""
            log.warning("SIA %s: damaged frame (%s): %s; answered NAK", address, item.kind, item)
            self.stats.naks += 1
            return response(Response.NAK, None, now=self._clock())
        self.stats.frames += 1
        return self._answer_body(item, address, host)

    # ---- one message ---------------------------------------------------------------------

    async def answer(self, body: bytes, address: str = "?") -> bytes | None:
        """Process one intact frame body; the framed response, or None if not stored."""
        answer = self._answer_body(body, address, address.rpartition(":")[0])
        if not isinstance(answer, Pending):
            return answer
        answered: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
        answer.then(answered.set_result)
        return await answered

    def _answer_body(self, body: bytes, address: str, host: str, reloaded: bool = False) -> Answer:
        """Check one message and answer it now, or return what stores it and then answers."""
        now = self._clock()
        try:
            message = parse_message(body)
        except MessageError as exc:
            if not self.charge(host, address):
                return None
            log.warning("SIA %s: %s; answered NAK", address, exc)
            self.stats.naks += 1
            return response(Response.NAK, None, now=now)
        if message.token is None:
            if not self.charge(host, address):
                return None
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
                return self._after_reload(body, address, host)
        if known is None or not known.active:
            if not self.charge(host, address):
                return None
            name = message.account or "(none)"
            return self._duh(message, address, f"unknown or disabled account {name}")
        key = known.key
        try:
            content = self._content(message, key)
        except (MessageError, crypto.DecryptError) as exc:
            if not self.charge(host, address):
                return None
            return self._duh(message, address, f"account {known.name}: {exc}", known.name)
        if content.timestamp is not None and not known.timestamp_ok(content.timestamp, now):
            skew = (content.timestamp - now).total_seconds()
            return self._nak(
                message,
                address,
                f"account {known.name}: timestamp {content.timestamp:%H:%M:%S} is "
                f"{skew:+.0f} s from ours, outside -{known.account.tolerance_past}/"
                f"+{known.account.tolerance_future} s (a panel on local time needs a wider "
                "tolerance)",
            )
        try:
            events = events_of(message.token, content.data, self._handlings)
        except MessageError as exc:
            if not self.charge(host, address):
                return None
            return self._duh(message, address, f"account {known.name}: {exc}", known.name)
        if not events:  # NULL: a link test feeds supervision of every unit of the account
            for unit_id in known.units:
                self._ingest.touch(unit_id)
            return self._ack(message, known.name, key, now)
        return self._store.store(message, content, known, events, now, address)

    def _after_reload(self, body: bytes, address: str, host: str) -> Pending:
        # Messages that find the accounts due for a reload in the same moment share one read.
        if self._reloading is None or self._reloading.done():
            self._reloading = asyncio.get_running_loop().create_task(self._reload_accounts())
            self.track(self._reloading)
        reloaded = self._reloaded(self._reloading, body, address, host)
        return answer_later(reloaded, self.track, address)

    async def _reloaded(
        self, reloading: asyncio.Task[None], body: bytes, address: str, host: str
    ) -> Answer:
        await asyncio.shield(reloading)
        return self._answer_body(body, address, host, reloaded=True)

    def _answer_stored(
        self,
        message: Message,
        account: KnownAccount,
        now: datetime,
        address: str,
        outcome: Response | None,
    ) -> bytes | None:
        if outcome is None:
            return None  # not stored: the panel retransmits
        return self._ack(message, account.name, account.key, now)

    def _content(self, message: Message, key: bytes | None) -> Content:
        if message.encrypted:
            if key is None:
                raise MessageError("key", "encrypted message, but the account has no key")
            content = parse_content(crypto.decrypt_data(key, message.rest))
            if content.timestamp is None:
                # Every encrypted message carries its timestamp (this receiver's rule, as the
                # senders it was tried with do). Without one, what decrypted is most likely
                # not the message: data of a wrong key that happened to pass as text (a `]`
                # among its last bytes, ~1 in 200), which a NAK would have the panel resend
                # for ever.
                raise crypto.DecryptError("decrypted data has no timestamp: wrong key?")
            return content
        if key is not None:
            raise MessageError("key", "plain message, but the account requires encryption")
        return parse_content(message.rest)

    def _ack(self, message: Message, account: str, key: bytes | None, now: datetime) -> bytes:
        self.stats.acks += 1
        return ack(message, account, key, now)

    def _nak(self, message: Message, address: str, why: str) -> bytes:
        log.warning("SIA %s: %s; answered NAK", address, why)
        self.stats.naks += 1
        return response(Response.NAK, message, now=self._clock())

    def _duh(self, message: Message, address: str, why: str, account: str | None = None) -> bytes:
        log.warning("SIA %s: %s; answered DUH", address, why)
        self.stats.duhs += 1
        return response(Response.DUH, message, account or message.account, now=self._clock())

    # ---- accounts ------------------------------------------------------------------------

    async def _reload_accounts(self) -> None:
        self._accounts_loaded = time.monotonic()
        accounts, chosen = await asyncio.to_thread(self._load_accounts)
        self._accounts = {account.account: KnownAccount.of(account) for account in accounts}
        handlings = Handlings(chosen)
        if not handlings.same_as(self._handlings):
            self._handlings = handlings  # (a new object: events_of's cache starts afresh)

    def _load_accounts(self) -> tuple[list[SiaAccount], dict[Category, Handling]]:
        with self._uow_factory() as uow:
            accounts = list(list_accounts(uow))
            chosen = chosen_handlings(uow)
            return accounts, chosen  # detached when the unit of work closes its session
