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
    #: How long a failing notification is still retried once its incident is closed: long
    #: enough for a receiver's short outage, not for hours of attempts nobody is waiting for.
    after_close: timedelta = timedelta(minutes=10)

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

    def attempt_failed(
        self,
        error: str,
        at: datetime,
        policy: RetryPolicy,
        retry: bool,
        incident_closed_at: datetime | None = None,
    ) -> bool:
        """A delivery attempt failed: schedule the next one, or give up (returns True).

        Once the incident is closed, retries stop `policy.after_close` later (or at once when
        the next attempt would fall after that), and the error says why they stopped.
        """
        self.last_error = error[:500]
        self.lease_until = None
        if retry and self.attempts < policy.max_attempts:
            next_at = at + policy.delay(self.attempts)
            if incident_closed_at is None or next_at <= incident_closed_at + policy.after_close:
                self.next_attempt_at = next_at
                return False
            minutes = int(policy.after_close.total_seconds() // 60)
            self.last_error = (
                f"{error[:400]}; retries stopped: the incident was closed at "
                f"{incident_closed_at:%H:%M} UTC, more than {minutes} min before the next try"
            )
        elif retry:
            self.last_error = f"{error[:400]}; gave up after {self.attempts} attempts"
        self.status = NotificationStatus.FAILED
        return True

    def overdue(self, at: datetime) -> bool:
        """Past its deadline and still not delivered."""
        return (
            self.deadline_at is not None
            and at >= self.deadline_at
            and self.status is not NotificationStatus.DELIVERED
        )
