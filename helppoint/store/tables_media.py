"""Tables for camera, light and unit messages: stills, unit commands, prompts (issues #3/#4).

Plain tables (no mapped domain classes): rows are written and read whole by the services in
services/stills.py, services/unit_commands.py and services/prompts.py.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    false,
)

from helppoint.store.tables import BigId, metadata
from helppoint.store.types import UTCDateTime

# A JPEG from the unit's camera, taken on activation; evidence, so kept with its checksum.
camera_stills = Table(
    "camera_stills",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("incident_id", BigId, ForeignKey("incidents.id"), nullable=False),
    Column("unit_id", String(64), ForeignKey("help_points.id"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("taken_at", UTCDateTime, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("data", LargeBinary, nullable=False),
    # Evidence like call recordings (docs/triage.md): an evidence hold, and when the retention
    # sweep deleted the picture (the row stays, for the record).
    Column("held", Boolean, nullable=False, default=False, server_default=false()),
    Column("held_by", String(64), nullable=True),
    Column("held_at", UTCDateTime, nullable=True),
    Column("hold_reason", Text, nullable=False, default="", server_default=""),
    Column("purged_at", UTCDateTime, nullable=True),
    Index("ix_camera_stills_incident", "incident_id", "received_at"),
    Index("ix_camera_stills_retention", "purged_at", "held", "received_at"),
)

# Commands the control room sent to a unit about an incident, and the unit's confirmation.
unit_commands = Table(
    "unit_commands",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("unit_id", String(64), ForeignKey("help_points.id"), nullable=False),
    Column("incident_id", BigId, ForeignKey("incidents.id"), nullable=True),
    Column("command", String(32), nullable=False),
    Column("args", JSON, nullable=False),
    Column("sent_at", UTCDateTime, nullable=False),
    Column("sent_by", String(64), nullable=False),
    Column("confirmed_at", UTCDateTime, nullable=True),
    Column("ok", Boolean, nullable=True),
    Column("detail", Text, nullable=False),
    Index("ix_unit_commands_incident", "incident_id", "sent_at"),
)

# Custom audio prompts uploaded by an administrator; units fetch them by name and checksum.
unit_prompts = Table(
    "unit_prompts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("title", String(200), nullable=False),
    Column("format", String(16), nullable=False),
    Column("content_type", String(64), nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("uploaded_at", UTCDateTime, nullable=False),
    Column("uploaded_by", String(64), nullable=False),
)


def map_media() -> None:
    """Nothing to map: the tables above are used directly (registered on import)."""
