"""The SLA alarms raised for unacknowledged incidents (issue #4), on the shared metadata."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Table

from helppoint.store.tables import BigId, metadata
from helppoint.store.types import UTCDateTime

#: One row per incident whose acknowledgement deadline passed: raised once, whoever sweeps.
sla_alerts = Table(
    "sla_alerts",
    metadata,
    Column("incident_id", BigId, ForeignKey("incidents.id"), primary_key=True),
    Column("alerted_at", UTCDateTime, nullable=False),
)
