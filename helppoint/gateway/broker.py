"""Real-time fan-out of committed changes to every connected console.

In-process; with several server processes on one PostgreSQL database the cluster bus
(helppoint/cluster/bus.py) carries messages between processes and calls `publish_local`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from helppoint.gateway.writer_loop import MAX_GROUP
from helppoint.topics import Message, Publish, Topic

log = logging.getLogger(__name__)

#: How many messages a subscriber may have waiting before it is told to resync. The writer
#: commits up to `MAX_GROUP` events together and their messages are published together, an
#: incident's and a unit's for an event at most: a queue smaller than that made every console
#: resync (reload every open alarm and unit) on each large group of a flood, and the reloads,
#: taking longer than the next group, made the next overflow (docs/performance.md). A waiting
#: message is a reference to one dict every subscriber shares.
QUEUE_SIZE = 5 * MAX_GROUP

#: What a subscriber receives: a topic and its message (its shape: topics.Publish).
Delivery = tuple[str, Message]


class Subscription:
    """One subscriber's queue of (topic, message) pairs."""

    def __init__(self, maxsize: int, topics: frozenset[str] | None = None) -> None:
        self.queue: asyncio.Queue[Delivery] = asyncio.Queue(maxsize=maxsize)
        self.overflowed = False
        #: The topics it wants (None: all); a resync reaches every subscriber.
        self.topics = topics

    async def get(self) -> Delivery:
        return await self.queue.get()


class Broker:
    """Publishes messages to all subscribers; a subscriber that falls behind is told to resync.

    Publish may be called from any thread (services run in a thread pool); delivery happens
    on the event loop the broker was bound to.
    """

    def __init__(self, queue_size: int = QUEUE_SIZE) -> None:
        self._subscribers: set[Subscription] = set()
        self._queue_size = queue_size
        self._loop: asyncio.AbstractEventLoop | None = None
        #: Also sends each `publish` to the other server processes (set by the cluster).
        self.forward: Callable[[str, Message], None] | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def relay(self, topic: str, message: Message) -> None:
        """Thread-safe: deliver here and, in a cluster, to the other processes. As `publish`,
        untyped: for a message built and checked elsewhere (a unit of work's, after its
        commit: a `store.uow.Publisher`)."""
        self.publish_local(topic, message)
        if self.forward is not None:
            self.forward(topic, message)

    if TYPE_CHECKING:
        #: `relay` for a message built here, typed per topic (`topics.Publish`): mypy checks
        #: the message has its topic's shape. At run time it is `relay` (a TypedDict is the
        #: plain dict it travels as).
        publish: Publish
    else:
        publish = relay

    def publish_local(self, topic: str, message: Message) -> None:
        """Thread-safe: schedule delivery to this process's subscribers on the broker's loop."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._deliver(topic, message)
        else:
            loop.call_soon_threadsafe(self._deliver, topic, message)

    def _deliver(self, topic: str, message: Message) -> None:
        for sub in list(self._subscribers):
            if sub.topics is not None and topic not in sub.topics:
                continue
            try:
                sub.queue.put_nowait((topic, message))
            except asyncio.QueueFull:
                # A console that cannot keep up reloads the whole queue instead of
                # silently missing an alarm.
                if not sub.overflowed:
                    log.warning("a subscriber fell behind; it will resync")
                sub.overflowed = True

    def resync_all(self) -> None:
        """Thread-safe: tell every subscriber to reload everything (something may be missed)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(self._resync)

    def _resync(self) -> None:
        for sub in list(self._subscribers):
            sub.overflowed = True
            with contextlib.suppress(asyncio.QueueFull):
                sub.queue.put_nowait((Topic.RESYNC, {}))

    @asynccontextmanager
    async def subscribe(self, topics: Iterable[str] | None = None) -> AsyncIterator[Subscription]:
        """Receive every message, or only those of `topics`, until the block ends."""
        sub = Subscription(self._queue_size, None if topics is None else frozenset(topics))
        self._subscribers.add(sub)
        try:
            yield sub
        finally:
            self._subscribers.discard(sub)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)
