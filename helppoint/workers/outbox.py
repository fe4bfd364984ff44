"""The outbox worker: delivers notifications with retries and backoff, alarms overdue ones.

It wakes when new notifications are committed (`wake()`), when the next one falls due or its
deadline passes, or after `interval` seconds, whichever comes first. Each claim holds a lease;
if the worker dies mid-delivery, the notification is claimed again once the lease runs out and
sent again with the same idempotency key, so the receiver can drop the duplicate.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import cast

import httpx

from helppoint.config import Settings
from helppoint.domain.notifications import RetryPolicy
from helppoint.domain.plans import Channel
from helppoint.gateway.broker import Broker
from helppoint.notify.base import DeliveryFailed, Notifier
from helppoint.notify.console import ConsoleNotifier
from helppoint.notify.email import EmailNotifier, smtp_settings
from helppoint.notify.webhook import CapNotifier, WebhookNotifier
from helppoint.services import notifications as outbox
from helppoint.services.clock import utcnow
from helppoint.store.uow import UnitOfWork
from helppoint.tasks import cancel_and_wait
from helppoint.topics import NotificationMessage, Topic
from helppoint.workers.periodic import PeriodicWorker

log = logging.getLogger(__name__)


class OutboxWorker(PeriodicWorker):
    """Claims due notifications, hands each to its channel's notifier, records the outcome.

    `wake()` when new notifications were committed; a delivery in flight when it stops is
    abandoned (its lease lets another retry it).
    """

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
        super().__init__("outbox", "outbox round", interval, clock)
        self._uow_factory = uow_factory
        self._notifiers = dict(notifiers)
        self._policy = policy or RetryPolicy()
        self._lease = lease
        self._batch = batch
        self.rounds = 0

    async def _round(self) -> datetime | None:
        await self.run_once()
        return await self._db(outbox.next_wake, self._uow_factory())

    async def run_once(self) -> None:
        """Deliver everything due now and alarm the overdue, once."""
        now = self._clock()
        claimed = await self._db(
            outbox.claim_due, self._uow_factory(), now, self._lease, self._batch
        )
        if claimed:
            await asyncio.gather(*(self._deliver(item) for item in claimed))
        alerts = await self._db(outbox.alarm_overdue, self._uow_factory(), self._clock())
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
        smtp = smtp_settings(s)
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
        async with self._broker.subscribe([Topic.NOTIFICATIONS]) as subscription:
            ready.set()
            while True:
                topic, message = await subscription.get()
                notification = cast(NotificationMessage, message)
                if (
                    topic == Topic.NOTIFICATIONS
                    and notification.get("status") == "pending"
                    and self.worker is not None
                ):
                    self.worker.wake()

    async def stop(self) -> None:
        """Stop the worker and the listener; close the HTTP client."""
        if self._listener is not None:
            await cancel_and_wait(self._listener)
        if self.worker is not None:
            await self.worker.stop()
        if self._client is not None:
            await self._client.aclose()
