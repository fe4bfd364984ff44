"""Real-time fan-out between server processes over PostgreSQL LISTEN/NOTIFY.

Every process has its own in-process `Broker`. A message produced by a committed
transaction is NOTIFYed *inside* that transaction, so PostgreSQL delivers it to the other
processes exactly when (and only if) the change commits; the producing process delivers it
locally after commit as before. Messages not tied to a transaction (a unit connecting, a
command's result) are NOTIFYed on their own.

A process skips its own notifications. When the listening connection breaks, every local
subscriber is told to resync (consoles reload the queue), so a lost notification never
hides an alarm; the listener then reconnects with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import logging
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from helppoint.gateway.broker import Broker
from helppoint.store.prepared import send_sql
from helppoint.tasks import cancel_and_wait
from helppoint.topics import Message, Publish

log = logging.getLogger(__name__)
# Its own generator: drawing from the global one would change the state tests seed (Hypothesis
# warns when a server thread does so while it draws).
_jitter = random.Random()

#: PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; larger messages make the
#: other processes' consoles resync instead.
MAX_PAYLOAD = 7900

#: Seconds to wait for the listening connection when the process starts.
START_TIMEOUT = 10.0
#: The most messages sent in one NOTIFY round trip (each stays under MAX_PAYLOAD).
MAX_SEND_BATCH = 200

#: NOTIFYs every payload of a list on a channel, in the list's order (unnest keeps it). The
#: list goes in binary (%b): in text psycopg would escape every quote of the JSON in Python.
NOTIFY_ALL = "SELECT pg_notify(%s, payload) FROM unnest(%b::text[]) AS payload"

#: Topics handled by the cluster itself rather than passed to consoles.
Handler = Callable[[dict[str, Any]], None]


def conninfo(engine: Engine) -> str:
    """A libpq connection string for the engine's database (keeps options such as search_path)."""
    url = engine.url.set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def namespace(engine: Engine) -> str:
    """What separates this deployment from others on the same PostgreSQL server.

    NOTIFY channels and advisory locks are per database server, not per schema, so two
    deployments (or two test runs) in different schemas must not hear each other.
    """
    with engine.connect() as connection:
        database, schema = connection.execute(
            text("SELECT current_database(), current_schema()")
        ).one()
    return f"{database}.{schema}"


def channel_name(space: str) -> str:
    return "helppoint_" + hashlib.sha256(space.encode()).hexdigest()[:20]


class Notifier:
    """Puts a process's messages in NOTIFY payloads; picklable, for the ingest writer process."""

    def __init__(self, process_id: str, channel: str) -> None:
        self.process_id = process_id
        self.channel = channel
        self._serial = itertools.count()

    def __getstate__(self) -> tuple[str, str]:
        return self.process_id, self.channel

    def __setstate__(self, state: tuple[str, str]) -> None:
        self.process_id, self.channel = state
        self._serial = itertools.count()

    def payload(self, topic: str, message: dict[str, Any]) -> str:
        # The serial number keeps PostgreSQL from merging identical messages sent in one
        # transaction (a unit's "connected" twice, with a "disconnected" between).
        payload = json.dumps(
            {"o": self.process_id, "n": next(self._serial), "t": topic, "m": message},
            separators=(",", ":"),
            default=str,
        )
        if len(payload.encode()) > MAX_PAYLOAD:
            log.info("cluster: %s message too large to NOTIFY; other processes resync", topic)
            payload = json.dumps({"o": self.process_id, "t": topic, "resync": True})
        return payload

    def __call__(self, session: Session, pending: list[tuple[str, Any]]) -> None:
        """NOTIFY the transaction's messages from inside it: delivered only if it commits.

        All of them in one statement (one round trip however many; the ingest writer sends a
        batch's incident views this way, in its pipeline with the trail's append: no round
        trip of its own), in their order.
        """
        if pending:
            send_sql(
                session.connection(),
                NOTIFY_ALL,
                (self.channel, [self.payload(topic, m) for topic, m in pending]),
            )


class ClusterBus:
    """Carries broker messages between processes that share one PostgreSQL database."""

    def __init__(self, engine: Engine, broker: Broker, process_id: str, channel: str) -> None:
        self._conninfo = conninfo(engine)
        self._broker = broker
        self.process_id = process_id
        self.channel = channel
        self.notifier = Notifier(process_id, channel)
        self._handlers: dict[str, Handler] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listener: asyncio.Task[None] | None = None
        self._sender: asyncio.Task[None] | None = None
        self._outgoing: asyncio.Queue[str] | None = None
        self._listening = asyncio.Event()
        self.received = 0
        self.reconnects = 0

    # -- sending ---------------------------------------------------------------------

    def _payload(self, topic: str, message: dict[str, Any]) -> str:
        return self.notifier.payload(topic, message)

    def notify_in_transaction(self, session: Session, pending: list[tuple[str, Any]]) -> None:
        """NOTIFY the transaction's messages from inside it: delivered only if it commits."""
        self.notifier(session, pending)

    def relay(self, topic: str, message: Message) -> None:
        """Send a message that is not part of a transaction (thread-safe, never blocks). As
        `forward`, untyped: for a message built and checked elsewhere (the broker's)."""
        loop, queue = self._loop, self._outgoing
        if loop is None or queue is None or loop.is_closed():
            return
        payload = self._payload(topic, message)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            queue.put_nowait(payload)
        else:
            loop.call_soon_threadsafe(queue.put_nowait, payload)

    if TYPE_CHECKING:
        #: `relay` for a message built here, typed per topic (`topics.Publish`): mypy checks
        #: the message has its topic's shape. At run time it is `relay`.
        forward: Publish
    else:
        forward = relay

    def on(self, topic: str, handler: Handler) -> None:
        """Handle `topic` from other processes here instead of passing it to the broker."""
        self._handlers[topic] = handler

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._outgoing = asyncio.Queue()
        self._listener = self._loop.create_task(self._listen(), name="cluster-listen")
        self._sender = self._loop.create_task(self._send(), name="cluster-send")
        # Do not accept work before hearing the others: a console connected here must see
        # what the other processes commit from its first snapshot on.
        async with asyncio.timeout(START_TIMEOUT):
            await self._listening.wait()

    async def stop(self) -> None:
        await cancel_and_wait(self._sender, self._listener)

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)

    async def _listen(self) -> None:
        delay = 0.2
        while True:
            try:
                async with await self._connect() as connection:
                    await connection.execute(
                        sql.SQL("LISTEN {}").format(sql.Identifier(self.channel))
                    )
                    if self.reconnects:
                        # What was sent while we were deaf is lost: reload everything.
                        self._broker.resync_all()
                    self._listening.set()
                    delay = 0.2
                    async for notification in connection.notifies():
                        self._receive(notification.payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.reconnects += 1
                self._listening.clear()
                log.error("cluster: lost the notification connection (%s); retrying", exc)
                self._broker.resync_all()
            await asyncio.sleep(delay * _jitter.uniform(0.5, 1.5))
            delay = min(delay * 2, 5.0)

    def _receive(self, payload: str) -> None:
        try:
            envelope = json.loads(payload)
            origin, topic = envelope["o"], envelope["t"]
        except (ValueError, KeyError, TypeError):
            log.warning("cluster: ignored a malformed notification %.80r", payload)
            return
        if origin == self.process_id:
            return
        self.received += 1
        if envelope.get("resync"):
            self._broker.resync_all()
            return
        message = envelope.get("m")
        if not isinstance(message, dict):
            return
        handler = self._handlers.get(topic)
        if handler is not None:
            try:
                handler(message)
            except Exception:
                log.exception("cluster: handling %s failed", topic)
            return
        self._broker.publish_local(topic, message)

    async def _send(self) -> None:
        assert self._outgoing is not None
        connection: psycopg.AsyncConnection[Any] | None = None
        while True:
            # Whatever queued up while the last NOTIFY was out goes in one round trip (a
            # reconnecting fleet announces thousands of links in seconds), in order.
            payloads = [await self._outgoing.get()]
            while len(payloads) < MAX_SEND_BATCH and not self._outgoing.empty():
                payloads.append(self._outgoing.get_nowait())
            for attempt in range(3):
                try:
                    if connection is None or connection.closed:
                        connection = await self._connect()
                    await connection.execute(NOTIFY_ALL, (self.channel, payloads))
                    break
                except asyncio.CancelledError:
                    if connection is not None:
                        await connection.close()
                    raise
                except Exception as exc:
                    log.error("cluster: NOTIFY failed (%s), attempt %d", exc, attempt + 1)
                    if connection is not None:
                        with contextlib.suppress(Exception):
                            await connection.close()
                    connection = None
                    await asyncio.sleep(0.2 * (attempt + 1))
