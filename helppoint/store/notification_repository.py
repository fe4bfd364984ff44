"""The outbox: notifications waiting for delivery, claimed with a lease so a dead worker's
claims are taken over once the lease runs out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session

from helppoint.domain.notifications import Notification, NotificationStatus
from helppoint.store.tables_notifications import notifications as n


class NotificationRepository:
    """Load, claim and update outbox notifications."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, notification: Notification) -> None:
        self.session.add(notification)

    def get(self, notification_id: int) -> Notification | None:
        return self.session.get(Notification, notification_id)

    def refresh(self, notification: Notification) -> None:
        """Reload a notification's columns (after a conditional UPDATE changed its row)."""
        self.session.refresh(notification)

    def in_trouble(self, now: datetime, keep_failed: timedelta, limit: int) -> list[Notification]:
        """Pending ones that failed at least once or passed their deadline, and those given
        up within `keep_failed` of being made; newest first, at most `limit`."""
        pending = NotificationStatus.PENDING
        query = (
            select(Notification)
            .where(
                or_(
                    and_(n.c.status == pending, or_(n.c.last_error != "", n.c.deadline_at <= now)),
                    and_(
                        n.c.status == NotificationStatus.FAILED,
                        n.c.created_at >= now - keep_failed,
                    ),
                )
            )
            .order_by(n.c.id.desc())
            .limit(limit)
        )
        return list(self.session.scalars(query))

    def delivery_by_recipient(self) -> list[tuple[Any, str, datetime | None, int, int]]:
        """Per (channel, target): last delivery, how many wait, how many were given up."""
        rows = self.session.execute(
            select(
                n.c.channel,
                n.c.target,
                func.max(n.c.delivered_at),
                func.count().filter(n.c.status == NotificationStatus.PENDING),
                func.count().filter(n.c.status == NotificationStatus.FAILED),
            ).group_by(n.c.channel, n.c.target)
        ).all()
        return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    def failed_attempts(self) -> list[tuple[Any, str, str, datetime | None, datetime]]:
        """(channel, target, last error, next attempt, made) of each that ever failed, oldest
        first."""
        rows = self.session.execute(
            select(n.c.channel, n.c.target, n.c.last_error, n.c.next_attempt_at, n.c.created_at)
            .where(n.c.last_error != "")
            .order_by(n.c.id)
        ).all()
        return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    def for_incident(self, incident_id: int) -> Sequence[Notification]:
        return self.session.scalars(
            select(Notification).where(n.c.incident_id == incident_id).order_by(n.c.id)
        ).all()

    def _due(self, now: datetime) -> list[object]:
        return [
            n.c.status == NotificationStatus.PENDING.value,
            n.c.next_attempt_at <= now,
            or_(n.c.lease_until.is_(None), n.c.lease_until <= now),
        ]

    def any_due(self, now: datetime) -> bool:
        """Whether a notification is due for delivery (`claim_due` would claim one)."""
        found = self.session.scalar(select(n.c.id).where(*self._due(now)).limit(1))  # type: ignore[arg-type]
        return found is not None

    def claim_due(self, now: datetime, lease: timedelta, limit: int) -> list[int]:
        """Claim up to `limit` due notifications for this worker until `now + lease`.

        Each claim is one conditional UPDATE, so two workers never claim the same one at once.
        """
        candidates = self.session.scalars(
            select(n.c.id).where(*self._due(now)).order_by(n.c.next_attempt_at).limit(limit)  # type: ignore[arg-type]
        ).all()
        claimed: list[int] = []
        for notification_id in candidates:
            result = self.session.execute(
                update(n)
                .where(n.c.id == notification_id, *self._due(now))  # type: ignore[arg-type]
                .values(lease_until=now + lease, attempts=n.c.attempts + 1)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                claimed.append(int(notification_id))
        return claimed

    def next_wake(self) -> datetime | None:
        """When the next pending notification falls due (or its lease runs out)."""
        value = self.session.scalar(
            select(func.min(func.coalesce(n.c.lease_until, n.c.next_attempt_at))).where(
                n.c.status == NotificationStatus.PENDING.value
            )
        )
        return value if isinstance(value, datetime) else None

    def next_deadline(self) -> datetime | None:
        """The earliest deadline not yet alarmed of a notification not yet delivered."""
        value = self.session.scalar(
            select(func.min(n.c.deadline_at)).where(
                n.c.overdue_alerted_at.is_(None),
                n.c.deadline_at.is_not(None),
                n.c.status != NotificationStatus.DELIVERED.value,
            )
        )
        return value if isinstance(value, datetime) else None

    @staticmethod
    def _overdue(now: datetime) -> list[ColumnElement[bool]]:
        return [
            n.c.overdue_alerted_at.is_(None),
            n.c.deadline_at <= now,
            n.c.status != NotificationStatus.DELIVERED.value,
        ]

    def any_overdue(self, now: datetime) -> bool:
        """Whether a notification is past its deadline, undelivered and not flagged yet."""
        return self.session.scalar(select(n.c.id).where(*self._overdue(now)).limit(1)) is not None

    def mark_overdue(self, now: datetime) -> list[int]:
        """Flag every notification past its deadline and undelivered, once; returns their ids."""
        condition = self._overdue(now)
        ids = self.session.scalars(select(n.c.id).where(*condition)).all()
        flagged: list[int] = []
        for notification_id in ids:
            result = self.session.execute(
                update(n)
                .where(n.c.id == notification_id, *condition)
                .values(overdue_alerted_at=now)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                flagged.append(int(notification_id))
        return flagged
