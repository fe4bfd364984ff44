"""Tables of the CCTV estate: cameras, their links to units and zones, and clips (issue #19)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from helppoint.domain.cameras import Camera, CameraClip, CameraLink
from helppoint.store.tables import BigId, mapper_registry, metadata
from helppoint.store.types import UTCDateTime

cameras = Table(
    "cameras",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("rtsp_url", String(500), nullable=False),
    Column("onvif_host", String(255), nullable=False),
    Column("onvif_port", Integer, nullable=False),
    Column("onvif_profile", String(64), nullable=False),
    #: The account, sealed (helppoint/store/sealed.py); never stored in the clear.
    Column("sealed_credentials", Text, nullable=False),
    Column("username_hint", String(16), nullable=False),
    Column("latitude", Float, nullable=True),
    Column("longitude", Float, nullable=True),
    Column("description", Text, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("added_at", UTCDateTime, nullable=True),
    Column("changed_at", UTCDateTime, nullable=True),
)

#: The predicate of the "one own camera per unit" index (the migration repeats it).
OWN_CAMERA = text("own")

camera_links = Table(
    "camera_links",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("camera_id", String(64), ForeignKey("cameras.id"), nullable=False),
    Column("unit_id", String(64), ForeignKey("help_points.id"), nullable=True, index=True),
    Column("zone_id", String(64), ForeignKey("zones.id"), nullable=True, index=True),
    Column("preset", String(64), nullable=False),
    Column("own", Boolean, nullable=False),
    UniqueConstraint("camera_id", "unit_id", name="uq_camera_links_camera_unit"),
    UniqueConstraint("camera_id", "zone_id", name="uq_camera_links_camera_zone"),
    Index(
        "uq_camera_links_own",
        "unit_id",
        unique=True,
        sqlite_where=OWN_CAMERA,
        postgresql_where=OWN_CAMERA,
    ),
)

camera_clips = Table(
    "camera_clips",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("camera_id", String(64), ForeignKey("cameras.id"), nullable=False),
    Column("incident_id", BigId, ForeignKey("incidents.id"), nullable=False, index=True),
    Column("unit_id", String(64), nullable=False),
    Column("path", String(300), nullable=False),
    Column("media_type", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("pressed_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime, nullable=True),
    Column("duration", Float, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("retain_until", UTCDateTime, nullable=True),
    Column("detail", Text, nullable=False),
    Column("server", String(32), nullable=False),
    Column("held", Boolean, nullable=False),
    Column("held_by", String(64), nullable=True),
    Column("held_at", UTCDateTime, nullable=True),
    Column("hold_reason", Text, nullable=False),
    Column("purged_at", UTCDateTime, nullable=True),
    Index("ix_camera_clips_retention", "purged_at", "held", "retain_until"),
    Index("ix_camera_clips_state", "state"),
)


def map_cameras() -> None:
    """Map this module's classes (called once from start_mappers)."""
    mapper_registry.map_imperatively(Camera, cameras)
    mapper_registry.map_imperatively(CameraLink, camera_links)
    mapper_registry.map_imperatively(CameraClip, camera_clips)
