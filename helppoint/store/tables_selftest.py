"""Tables for power reports, scheduled self-tests and maintainer contacts (issue #5).

Plain Core tables on the shared `metadata`, used by services/supervision.py (power),
services/selftest.py and services/maintainers.py.
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Float, ForeignKey, Index, String, Table, Text

from helppoint.store.tables import BigId, metadata
from helppoint.store.types import UTCDateTime

#: The latest battery and mains state each unit reported in its heartbeats, and what the
#: control room was last told (`battery_low`, `mains_lost`), so a fault opens once per change.
unit_power = Table(
    "unit_power",
    metadata,
    Column("unit_id", String(64), ForeignKey("help_points.id"), primary_key=True),
    Column("battery", Float, nullable=True),  # 0.0-1.0
    Column("mains", Boolean, nullable=True),
    Column("reported_at", UTCDateTime, nullable=False),
    Column("battery_low", Boolean, nullable=False, default=False),
    Column("mains_lost", Boolean, nullable=False, default=False),
)

#: When units run their self-test: one row per zone (the zone's default) or per unit.
self_test_schedules = Table(
    "self_test_schedules",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("unit_id", String(64), ForeignKey("help_points.id"), nullable=True, unique=True),
    Column("zone_id", String(64), ForeignKey("zones.id"), nullable=True, unique=True),
    Column("at_time", String(5), nullable=False),  # "HH:MM" local time
    Column("timezone", String(64), nullable=False),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(64), nullable=False),
)

#: Each scheduled unit's next due self-test: the worker's one indexed query, kept across
#: restarts so that a run missed while the server was down happens once, not many times.
self_test_due = Table(
    "self_test_due",
    metadata,
    Column("unit_id", String(64), ForeignKey("help_points.id"), primary_key=True),
    Column("due_at", UTCDateTime, nullable=False, index=True),
)

#: Every self-test the server asked for, and its result once the unit reported it.
self_test_runs = Table(
    "self_test_runs",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("unit_id", String(64), ForeignKey("help_points.id"), nullable=False),
    Column("command_id", String(64), nullable=False, unique=True),
    Column("trigger", String(16), nullable=False),  # "schedule" or "operator"
    Column("requested_by", String(64), nullable=False),
    Column("requested_at", UTCDateTime, nullable=False),
    # requested → sent → passed | failed; or unreachable (the unit had no link)
    Column("status", String(16), nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("checks", JSON, nullable=True),
    Column("measurements", JSON, nullable=True),
    Column("detail", Text, nullable=False, default=""),
    Index("ix_self_test_runs_unit", "unit_id", "requested_at"),
)

#: Who hears about maintenance tickets outside the board (through the notification outbox).
maintainer_contacts = Table(
    "maintainer_contacts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False),
    Column("channel", String(16), nullable=False),  # "email" or "webhook"
    Column("target", String(300), nullable=False),
    Column("zone_id", String(64), ForeignKey("zones.id"), nullable=True),  # None: every zone
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime, nullable=False),
)


def map_selftest() -> None:
    """Nothing to map: these are Core tables (kept for start_mappers' import)."""
