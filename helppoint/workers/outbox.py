"""The outbox worker: delivers notifications with retries and backoff, alarms overdue ones.

It wakes when new notifications are committed (`wake()`), when the next one falls due or its
deadline passes, or after `interval` seconds, whichever comes first. Each claim holds a lease;
if the worker dies mid-delivery, the notification is claimed again once the lease runs out and
sent again with the same idempotency key, so the receiver can drop the duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import httpx

from helppoint.config import Settings
from helppoint.domain.notifications import RetryPolicy
from helppoint.domain.plans import Channel
from helppoint.gateway.broker import Broker
from helppoint.notify.base import DeliveryFailed, Notifier
from helppoint.notify.console import ConsoleNotifier
from helppoint.notify.email import EmailNotifier, SmtpSettings
from helppoint.notify.webhook import CapNotifier, WebhookNotifier
from helppoint.services import notifications as outbox
from helppoint.services.clock import utcnow
from helppoint.store.uow import UnitOfWork

log = logging.getLogger(__name__)

#: Never wake more often than this, however close the next deadline (seconds).
MIN_DELAY = 0.05


class OutboxWorker:
    """Claims due notifications, hands each to its channel's notifier, records the outcome."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        notifiers: Mapping[Channel, Notifier],
        policy: RetryPolicy | None = None,
        lease: timedelta = timedelta(seconds=60),
        interval: float = 5.0,
        clock: Callable[[], datetime] = utcnow,
        batch: int = 20,
    ) -> None:
        self._uow_factory = uow_factory
        self._notifiers = dict(notifiers)
        self._policy = policy or RetryPolicy()
        self._lease = lease
        self._interval = interval
        self._clock = clock
        self._batch = batch
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox")
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.rounds = 0

    def start(self) -> None:
        """Start delivering on the running event loop."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="outbox")

    async def stop(self) -> None:
        """Stop at once; a delivery in flight is abandoned (its lease lets another retry it)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._executor.shutdown(wait=True)

    def wake(self) -> None:
        """Look for work now (new notifications were committed)."""
        self._wake.set()

    async def _db(self, function: Callable[..., object], *args: object) -> object:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.run_once()
                wake_at = await self._db(outbox.next_wake, self._uow_factory())
            except Exception as exc:  # the database may be briefly unavailable: keep going
                log.error("outbox round failed (retrying in %.1f s): %s", self._interval, exc)
                wake_at = None
            delay = self._interval
            if isinstance(wake_at, datetime):
                delay = min(delay, max(MIN_DELAY, (wake_at - self._clock()).total_seconds()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    async def run_once(self) -> None:
        """Deliver everything due now and alarm the overdue, once."""
        now = self._clock()
        claimed = await self._db(
            outbox.claim_due, self._uow_factory(), now, self._lease, self._batch
        )
        assert isinstance(claimed, list)
        if claimed:
            await asyncio.gather(*(self._deliver(item) for item in claimed))
        alerts = await self._db(outbox.alarm_overdue, self._uow_factory(), self._clock())
        assert isinstance(alerts, list)
        for alert in alerts:
            log.warning("supervisor alarm: %s", alert["message"])
        self.rounds += 1

    async def _deliver(self, item: outbox.Claimed) -> None:
        notification = item.notification
        assert notification.id is not None
        notifier = self._notifiers.get(notification.channel)
        try:
            if notifier is None:
                raise DeliveryFailed(f"no {notification.channel.value} channel is configured")
            await notifier.notify(notification, item.incident)
        except DeliveryFailed as exc:
            log.info(
                "notification %s (%s) attempt %d failed: %s",
                notification.id,
                notification.channel.value,
                notification.attempts,
                exc,
            )
            await self._db(
                outbox.record_failure,
                self._uow_factory(),
                notification.id,
                str(exc),
                exc.retry,
                self._clock(),
                self._policy,
            )
            return
        await self._db(outbox.record_delivered, self._uow_factory(), notification.id, self._clock())


class OutboxService:
    """The worker with the configured channels, woken by newly committed notifications; what
    the app starts and stops in its lifespan."""

    def __init__(
        self,
        settings: Settings,
        uow_factory: Callable[[], UnitOfWork],
        broker: Broker,
    ) -> None:
        self._settings = settings
        self._uow_factory = uow_factory
        self._broker = broker
        self._client: httpx.AsyncClient | None = None
        self._listener: asyncio.Task[None] | None = None
        self.worker: OutboxWorker | None = None

    def notifiers(self, client: httpx.AsyncClient) -> dict[Channel, Notifier]:
        """One notifier per automatic channel, from the settings."""
        s = self._settings
        smtp = SmtpSettings(
            s.smtp_host,
            s.smtp_port,
            s.smtp_sender,
            s.smtp_starttls,
            s.smtp_username,
            s.smtp_password,
        )
        return {
            Channel.WEBHOOK: WebhookNotifier(client),
            Channel.CAP: CapNotifier(client, s.cap_sender),
            Channel.EMAIL: EmailNotifier(smtp),
            Channel.CONSOLE: ConsoleNotifier(self._broker.publish),
        }

    async def start(self) -> None:
        """Start the worker and the listener that wakes it."""
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(15.0), follow_redirects=False)
        self.worker = OutboxWorker(
            self._uow_factory,
            self.notifiers(self._client),
            lease=timedelta(seconds=self._settings.outbox_lease),
        )
        ready = asyncio.Event()
        self._listener = asyncio.get_running_loop().create_task(
            self._listen(ready), name="outbox-wake"
        )
        await ready.wait()
        self.worker.start()

    async def _listen(self, ready: asyncio.Event) -> None:
        async with self._broker.subscribe([outbox.NOTIFICATIONS_TOPIC]) as subscription:
            ready.set()
            while True:
                topic, message = await subscription.get()
                if (
                    topic == outbox.NOTIFICATIONS_TOPIC
                    and message.get("status") == "pending"
                    and self.worker is not None
                ):
                    self.worker.wake()

    async def stop(self) -> None:
        """Stop the worker and the listener; close the HTTP client."""
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self.worker is not None:
            await self.worker.stop()
        if self._client is not None:
            await self._client.aclose()
