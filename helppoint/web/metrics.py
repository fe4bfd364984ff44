"""Prometheus metrics at /metrics, for the IT team's own monitoring (docs/deployment.md).

Never public: the route answers only a request carrying the configured bearer token
(`metrics_token`; without one it is off and refuses every request). The press path gains one
deque append per incident message of the event writer (`tap_writer`); a subscriber of the
broker, like any console feed, sees alarms reach the consoles. Both are turned into counts and
histograms off the path, by a sampler that runs every second on the event loop, in slices.

Several server processes (`serve --workers N`) share one port, so a scrape reaches any one
of them: they use prometheus-client's multiprocess mode (`PROMETHEUS_MULTIPROC_DIR`, set by
`serve`), each writing its counters to a file the answering process adds up. Counts read
from the database (standing alarms, units by status, the outbox) are the same in every
process and read once per scrape by the process that answers.
"""

from __future__ import annotations

import asyncio
import glob
import hmac
import logging
import os
import re
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool

from helppoint.services.clock import utcnow
from helppoint.store.repositories_metrics import read_operations
from helppoint.tasks import cancel_and_wait
from helppoint.topics import Topic

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from helppoint.gateway.broker import Broker
    from helppoint.gateway.device_link import DeviceLinkHub
    from helppoint.gateway.ingest_queue import IngestQueue

log = logging.getLogger(__name__)
router = APIRouter(tags=["operations"])

METRICS_PATH = "/metrics"
#: Press → stored / console (seconds): from the millisecond floor to a unit's link outage.
LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
)
#: Garbage-collection pauses (seconds).
GC_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0)
#: Incident ids remembered to tell a new alarm from a later update of it.
SEEN_IDS = 20_000
#: Observations made per slice of the sampler before it lets other work run.
SLICE = 500

Publisher = Callable[[str, dict[str, Any]], None]


def multiprocess_dir() -> str | None:
    """The directory of prometheus-client's multiprocess mode, if this process uses it."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def prepare_multiprocess_dir(path: str) -> None:
    """Empty `path` of an earlier run's metric files (call before the processes start)."""
    os.makedirs(path, exist_ok=True)
    for name in glob.glob(os.path.join(path, "*.db")):
        os.remove(name)


class Metrics:
    """This process's metrics and the readings of the database, for one app."""

    def __init__(self, sla_ack_seconds: int) -> None:
        self.multiprocess = multiprocess_dir() is not None
        #: The registry scraped in single-process mode; None in multiprocess mode, where the
        #: metrics are written to files and collected from them at each scrape.
        registry = None if self.multiprocess else CollectorRegistry()
        self._registry = registry
        self._sla_ack_seconds = sla_ack_seconds
        self.alarms = Counter(
            "helppoint_alarms",
            "Alarms (incidents opened by what units and panels report) stored by this "
            "process's event writer, by kind",
            ["kind"],
            registry=registry,
        )
        self.press_to_stored = Histogram(
            "helppoint_press_to_stored_seconds",
            "From a press (the unit's time) to its alarm being stored, per alarm",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.press_to_console = Histogram(
            "helppoint_press_to_console_seconds",
            "From a press (the unit's time) to its alarm reaching this process's console "
            "feeds, per alarm and server process",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.ingest_batch = Histogram(
            "helppoint_ingest_batch_seconds",
            "How long each batch of events was with this process's event writer (waiting "
            "for it, storing, the commit) before its answer, per batch",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.ingest_batch_part = Histogram(
            "helppoint_ingest_batch_part_seconds",
            "Where each batch's time with the event writer process went: waiting to be taken "
            "up (to_writer), storing and committing (storing), its answer waiting to be read "
            "by this process (back), per batch",
            ["part"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.gc_pause = Histogram(
            "helppoint_gc_pause_seconds",
            "How long each garbage collection stopped a server process, by generation",
            ["generation"],
            buckets=GC_BUCKETS,
            registry=registry,
        )
        self.links = Gauge(
            "helppoint_websocket_links",
            "Open WebSocket links of server processes: units' device links and browsers' "
            "live feeds (console, police, supervisor)",
            ["kind"],
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.processes = Gauge(
            "helppoint_server_processes",
            "Server processes answering on this address",
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.events = Counter(
            "helppoint_events_stored",
            "Events from units and panels committed by this process's event writer",
            registry=registry,
        )
        self.writer_restarts = Counter(
            "helppoint_ingest_writer_restarts",
            "Event writer processes started again after one died",
            registry=registry,
        )
        self.sia = Counter(
            "helppoint_sia_messages",
            "SIA DC-09 messages answered by the receiver in this process, by answer",
            ["answer"],
            registry=registry,
        )
        for kind in ("activation", "tamper", "fault"):
            self.alarms.labels(kind)
        for generation in ("0", "1", "2"):
            self.gc_pause.labels(generation)
        for answer in ("ACK", "NAK", "DUH"):
            self.sia.labels(answer)
        self.processes.set(1)
        #: (id, kind, pressed_at, stored_at) of incident messages from this process's writer.
        self._stored: deque[tuple[Any, Any, Any, Any]] = deque()
        self._stored_seen: OrderedDict[Any, None] = OrderedDict()
        self._console_seen: OrderedDict[Any, None] = OrderedDict()
        self._engine: Engine | None = None
        self._hub: DeviceLinkHub | None = None
        self._broker: Broker | None = None
        self._ingest: IngestQueue | None = None
        self._sia_source: Callable[[], Any] | None = None
        self._last: dict[str, int] = {}
        self._sia_last: tuple[int, int, int, int] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    # ---- on the press path: appends only -------------------------------------------------

    def tap_writer(self, publish: Publisher) -> Publisher:
        """`publish` for the event writer's messages, noting each incident message first.

        Thread-safe (the thread writer calls it from its thread); a deque append is all it
        adds before the message goes on to the consoles.
        """
        stored = self._stored

        def publish_noted(topic: str, message: dict[str, Any]) -> None:
            if topic == Topic.INCIDENTS:
                stored.append(
                    (
                        message.get("id"),
                        message.get("kind"),
                        message.get("pressed_at"),
                        message.get("stored_at"),
                    )
                )
            publish(topic, message)

        return publish_noted

    def observe_batch(self, seconds: float) -> None:
        """A batch of events answered by the event writer after `seconds` (the ingest queue
        calls this)."""
        self.ingest_batch.observe(seconds)

    def observe_batch_parts(self, to_writer: float, storing: float, back: float) -> None:
        """Where a batch's time with the writer process went (process_writer.py calls this)."""
        self.ingest_batch_part.labels("to_writer").observe(to_writer)
        self.ingest_batch_part.labels("storing").observe(storing)
        self.ingest_batch_part.labels("back").observe(back)

    def observe_gc(self, generation: int, seconds: float) -> None:
        """A collection's pause (helppoint/gcpauses.py calls this)."""
        self.gc_pause.labels(str(generation)).observe(seconds)

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(
        self,
        engine: Engine,
        broker: Broker,
        hub: DeviceLinkHub,
        ingest: IngestQueue,
        sia_source: Callable[[], Any],
    ) -> None:
        """Start sampling this process (call in the app's lifespan)."""
        self._engine = engine
        self._broker = broker
        self._hub = hub
        self._ingest = ingest
        self._sia_source = sia_source
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._watch_consoles(), name="metrics-consoles"),
            loop.create_task(self._sample_every(1.0), name="metrics-sampler"),
        ]

    async def stop(self) -> None:
        await cancel_and_wait(*self._tasks)
        self._tasks = []
        if self.multiprocess:
            # This process's live gauges no longer count (a killed one is cleared at the next
            # scrape, see `_forget_dead_processes`).
            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]

    async def _sample_every(self, period: float) -> None:
        while True:
            await asyncio.sleep(period)
            try:
                await self.sample()
            except Exception:  # the metrics must never take the server down
                log.exception("could not sample metrics")

    async def _watch_consoles(self) -> None:
        broker = self._broker
        assert broker is not None
        async with broker.subscribe([Topic.INCIDENTS]) as subscription:
            while True:
                topic, message = await subscription.get()
                # This subscriber never reloads: a flood it fell behind in only costs it
                # observations, never an alarm on a console.
                subscription.overflowed = False
                if topic != Topic.INCIDENTS:
                    continue
                if message.get("state") != "new" or not _first(
                    self._console_seen, message.get("id")
                ):
                    continue
                pressed = _parse(message.get("pressed_at"))
                if pressed is not None:
                    waited = (utcnow() - pressed).total_seconds()
                    self.press_to_console.observe(max(0.0, waited))

    async def sample(self) -> None:
        """Bring this process's metrics up to date (every second, and before a scrape)."""
        hub, broker, ingest = self._hub, self._broker, self._ingest
        if hub is not None and broker is not None:
            self.links.labels("unit").set(hub.link_count)
            # The metrics' own subscription is not a browser's feed.
            self.links.labels("feed").set(_feeds(broker))
        if ingest is not None:
            self._add(self.events, "events", ingest.events)
            status = ingest.writer.status()
            # Each writer process's starts after its first (two on PostgreSQL: the second's
            # first start is not a restart).
            writers = status.get("writers") or [status]
            restarts = sum(max(0, int(w.get("starts", 1) or 1) - 1) for w in writers)
            self._add(self.writer_restarts, "restarts", restarts)
        self._sample_sia()
        await self._drain_stored()

    def _add(self, counter: Counter, name: str, total: int) -> None:
        """Add to `counter` what `total` (a running count elsewhere) grew by since last time."""
        grown = total - self._last.get(name, 0)
        if grown > 0:
            counter.inc(grown)
        self._last[name] = total

    def _sample_sia(self) -> None:
        receiver = self._sia_source() if self._sia_source is not None else None
        stats = getattr(receiver, "stats", None)
        if stats is None:
            return
        now = (id(receiver), stats.acks, stats.naks, stats.duhs)
        last = self._sia_last
        if last is None or last[0] != now[0]:
            last = (now[0], 0, 0, 0)  # a receiver started here: count it from nothing
        for answer, before, after in zip(("ACK", "NAK", "DUH"), last[1:], now[1:], strict=True):
            if after > before:
                self.sia.labels(answer).inc(after - before)
        self._sia_last = now

    async def _drain_stored(self) -> None:
        stored = self._stored
        while stored:
            for _ in range(min(SLICE, len(stored))):
                incident_id, kind, pressed_at, stored_at = stored.popleft()
                if not _first(self._stored_seen, incident_id):
                    continue
                self.alarms.labels(str(kind)).inc()
                pressed, at = _parse(pressed_at), _parse(stored_at)
                if pressed is not None and at is not None:
                    self.press_to_stored.observe(max(0.0, (at - pressed).total_seconds()))
            await asyncio.sleep(0)

    # ---- the scrape ------------------------------------------------------------------------

    def registry(self) -> CollectorRegistry:
        """What a scrape exposes: this process (or, in multiprocess mode, all of them) and
        the database's counts."""
        if self._registry is not None:
            registry = self._registry
            if self._engine is not None and not getattr(self, "_db_registered", False):
                registry.register(_DatabaseCollector(self._engine, self._sla_ack_seconds))
                self._db_registered = True
            return registry
        directory = multiprocess_dir()
        assert directory is not None
        _forget_dead_processes(directory)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
        if self._engine is not None:
            registry.register(_DatabaseCollector(self._engine, self._sla_ack_seconds))
        return registry


class _DatabaseCollector(Collector):
    """Counts read from the database at each scrape (the same from every process)."""

    def __init__(self, engine: Engine, sla_ack_seconds: int) -> None:
        self._engine = engine
        self._sla_ack_seconds = sla_ack_seconds

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self._engine.connect() as connection:
            reading = read_operations(connection, utcnow())
        standing = GaugeMetricFamily(
            "helppoint_standing_alarms",
            "Incidents not closed yet, by kind and state",
            labels=["kind", "state"],
        )
        for (kind, state), count in sorted(reading.standing.items()):
            standing.add_metric([kind, state], count)
        yield standing
        yield GaugeMetricFamily(
            "helppoint_oldest_waiting_alarm_seconds",
            "How long the oldest alarm not yet acknowledged has waited since it was stored "
            "(0: none waits)",
            value=reading.oldest_waiting,
        )
        yield GaugeMetricFamily(
            "helppoint_alarm_ack_target_seconds",
            "The scheme's time within which an alarm must be acknowledged (sla_ack_seconds)",
            value=self._sla_ack_seconds,
        )
        units = GaugeMetricFamily(
            "helppoint_units",
            "Active units by status derived from their last heartbeat (up, late, down, "
            "unknown: never heard from)",
            labels=["status"],
        )
        for status, count in reading.units.items():
            units.add_metric([status], count)
        yield units
        notifications = GaugeMetricFamily(
            "helppoint_notifications",
            "Notifications (police, ambulance …) in the outbox by status; failed: given up "
            "after every retry",
            labels=["status"],
        )
        for status, count in reading.notifications.items():
            notifications.add_metric([status], count)
        yield notifications
        yield GaugeMetricFamily(
            "helppoint_outbox_backlog",
            "Notifications waiting to be delivered",
            value=reading.notifications.get("pending", 0),
        )
        yield GaugeMetricFamily(
            "helppoint_notifications_retrying",
            "Notifications waiting after at least one failed delivery attempt",
            value=reading.retrying,
        )
        yield GaugeMetricFamily(
            "helppoint_outbox_oldest_undelivered_seconds",
            "Age of the oldest notification not delivered yet (0: none waits)",
            value=reading.oldest_undelivered,
        )


def _feeds(broker: Broker) -> int:
    return max(0, broker.subscriber_count - 1)


def _first(seen: OrderedDict[Any, None], key: Any) -> bool:
    """Whether `key` is new to `seen` (which remembers the last SEEN_IDS keys)."""
    if key is None or key in seen:
        return False
    seen[key] = None
    if len(seen) > SEEN_IDS:
        seen.popitem(last=False)
    return True


def _parse(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


_LIVE_FILE = re.compile(r"gauge_live\w+?_(\d+)\.db$")


def _forget_dead_processes(directory: str) -> None:
    """Clear the live gauges of server processes that died without saying so (SIGKILL)."""
    pids = set()
    for name in os.listdir(directory):
        match = _LIVE_FILE.search(name)
        if match:
            pids.add(int(match.group(1)))
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]
        except PermissionError:
            pass  # alive, another user's


def _authorised(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode("utf-8", "surrogateescape"), token.encode("utf-8")
    )


@router.get(METRICS_PATH, include_in_schema=False)
async def metrics(request: Request) -> Response:
    """The Prometheus text format, for a request with the metrics bearer token."""
    token: str = request.app.state.settings.metrics_token
    if not token:
        return Response(
            "metrics are off: set metrics_token (docs/deployment.md)\n",
            status_code=403,
            media_type="text/plain",
        )
    if not _authorised(request, token):
        return Response(
            "metrics need the bearer token (metrics_token)\n",
            status_code=401,
            media_type="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    state: Metrics = request.app.state.metrics
    await state.sample()
    body = await run_in_threadpool(lambda: generate_latest(state.registry()))
    return Response(body, media_type=CONTENT_TYPE_LATEST)
