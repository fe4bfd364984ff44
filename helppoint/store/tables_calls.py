"""Tables for calls and evidence recordings (issue #3)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
)

from helppoint.domain.calls import Call, Recording
from helppoint.store.tables import BigId, mapper_registry, metadata
from helppoint.store.types import UTCDateTime

calls = Table(
    "calls",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("incident_id", BigId, ForeignKey("incidents.id"), nullable=False, index=True),
    Column("unit_id", String(64), nullable=False),
    Column("operator", String(64), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("connected_at", UTCDateTime, nullable=True),
    Column("ended_at", UTCDateTime, nullable=True),
    Column("end_reason", String(32), nullable=False),
    Column("talk", Boolean, nullable=False),
    Column("video", Boolean, nullable=False),
    Column("detail", Text, nullable=False),
    #: The server process relaying the call's media (a call dies with its process).
    Column("server", String(32), nullable=False, default=""),
    #: "call" (with an operator) or "press" (press-time audio, docs/triage.md).
    Column("kind", String(16), nullable=False, default="call", server_default="call"),
)

recordings = Table(
    "recordings",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("call_id", BigId, ForeignKey("calls.id"), nullable=False, unique=True),
    Column("incident_id", BigId, ForeignKey("incidents.id"), nullable=False, index=True),
    Column("path", String(300), nullable=False),
    Column("media_type", String(64), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime, nullable=False),
    Column("duration", Float, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("retain_until", UTCDateTime, nullable=False),
    Column("held", Boolean, nullable=False),
    Column("held_by", String(64), nullable=True),
    Column("held_at", UTCDateTime, nullable=True),
    Column("hold_reason", Text, nullable=False),
    Column("purged_at", UTCDateTime, nullable=True),
    Index("ix_recordings_retention", "purged_at", "held", "retain_until"),
)


def map_calls() -> None:
    """Map this module's classes (called once from start_mappers)."""
    mapper_registry.map_imperatively(Call, calls)
    mapper_registry.map_imperatively(Recording, recordings)
