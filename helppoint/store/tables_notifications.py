"""The outbox table of notifications (issue #4), on the shared metadata."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, Text

from helppoint.domain.notifications import Notification, NotificationStatus
from helppoint.domain.plans import ActionKind, Channel
from helppoint.store.tables import BigId, _enum, mapper_registry, metadata
from helppoint.store.types import UTCDateTime

notifications = Table(
    "notifications",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("incident_id", BigId, ForeignKey("incidents.id"), nullable=False, index=True),
    Column("kind", _enum(ActionKind, "action_kind"), nullable=False),
    Column("channel", _enum(Channel, "channel"), nullable=False),
    Column("target", String(300), nullable=False),
    Column("message", Text, nullable=False),
    Column("idempotency_key", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("deadline_at", UTCDateTime, nullable=True),
    Column("status", _enum(NotificationStatus, "notification_status"), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=False),
    Column("lease_until", UTCDateTime, nullable=True),
    Column("delivered_at", UTCDateTime, nullable=True),
    Column("overdue_alerted_at", UTCDateTime, nullable=True),
    Index("ix_notifications_due", "status", "next_attempt_at"),
    Index("ix_notifications_deadline", "overdue_alerted_at", "deadline_at"),
)


def map_notifications() -> None:
    """Map the Notification class (called once from start_mappers)."""
    mapper_registry.map_imperatively(Notification, notifications)
