"""Outbound notifications (the outbox): what must reach whom, and the retry schedule.

A `Notification` is written in the same transaction as the decision that causes it (for
example escalating an incident under its trigger plan). A worker delivers it afterwards, at
least once, with an idempotency key the receiver deduplicates on. Pure Python: no I/O.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from helppoint.domain.plans import ActionKind, Channel


class NotificationStatus(enum.StrEnum):
    """Where a notification is: waiting to be sent, sent, or given up on."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: `first`, doubling per attempt up to `longest`, `max_attempts` in all."""

    first: timedelta = timedelta(seconds=2)
    longest: timedelta = timedelta(minutes=5)
    max_attempts: int = 12

    def delay(self, attempts: int) -> timedelta:
        """How long to wait after the given number of failed attempts (1 = the first)."""
        delay: timedelta = self.first * (2 ** max(attempts - 1, 0))
        return min(delay, self.longest)


@dataclass(eq=False)
class Notification:
    """One message to one recipient for one incident, delivered by the outbox worker."""

    incident_id: int
    kind: ActionKind
    channel: Channel
    target: str
    message: str
    idempotency_key: str
    created_at: datetime
    next_attempt_at: datetime
    deadline_at: datetime | None = None
    status: NotificationStatus = NotificationStatus.PENDING
    attempts: int = 0
    last_error: str = ""
    lease_until: datetime | None = None
    delivered_at: datetime | None = None
    overdue_alerted_at: datetime | None = None
    created_by: str = ""
    id: int | None = None

    def delivered(self, at: datetime) -> None:
        """The receiver accepted it."""
        self.status = NotificationStatus.DELIVERED
        self.delivered_at = at
        self.lease_until = None
        self.last_error = ""

    def attempt_failed(self, error: str, at: datetime, policy: RetryPolicy, retry: bool) -> bool:
        """A delivery attempt failed: schedule the next one, or give up (returns True)."""
        self.last_error = error[:500]
        self.lease_until = None
        if retry and self.attempts < policy.max_attempts:
            self.next_attempt_at = at + policy.delay(self.attempts)
            return False
        self.status = NotificationStatus.FAILED
        return True

    def overdue(self, at: datetime) -> bool:
        """Past its deadline and still not delivered."""
        return (
            self.deadline_at is not None
            and at >= self.deadline_at
            and self.status is not NotificationStatus.DELIVERED
        )
