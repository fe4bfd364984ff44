"""cameras of the CCTV estate, their links to units and zones, clips (issue #19)

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import helppoint.store.types

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
#: The same predicate as store/tables_cameras.py's (a migration does not import the live model).
OWN_CAMERA = sa.text("own")


def _time(name: str, nullable: bool) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, helppoint.store.types.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "cameras",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("rtsp_url", sa.String(length=500), nullable=False),
        sa.Column("onvif_host", sa.String(length=255), nullable=False),
        sa.Column("onvif_port", sa.Integer(), nullable=False),
        sa.Column("onvif_profile", sa.String(length=64), nullable=False),
        sa.Column("sealed_credentials", sa.Text(), nullable=False),
        sa.Column("username_hint", sa.String(length=16), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _time("added_at", True),
        _time("changed_at", True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cameras")),
    )
    op.create_table(
        "camera_links",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("camera_id", sa.String(length=64), nullable=False),
        sa.Column("unit_id", sa.String(length=64), nullable=True),
        sa.Column("zone_id", sa.String(length=64), nullable=True),
        sa.Column("preset", sa.String(length=64), nullable=False),
        sa.Column("own", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["camera_id"], ["cameras.id"], name=op.f("fk_camera_links_camera_id_cameras")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["help_points.id"], name=op.f("fk_camera_links_unit_id_help_points")
        ),
        sa.ForeignKeyConstraint(
            ["zone_id"], ["zones.id"], name=op.f("fk_camera_links_zone_id_zones")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_camera_links")),
        sa.UniqueConstraint("camera_id", "unit_id", name="uq_camera_links_camera_unit"),
        sa.UniqueConstraint("camera_id", "zone_id", name="uq_camera_links_camera_zone"),
    )
    op.create_index(op.f("ix_camera_links_unit_id"), "camera_links", ["unit_id"])
    op.create_index(op.f("ix_camera_links_zone_id"), "camera_links", ["zone_id"])
    op.create_index(
        "uq_camera_links_own",
        "camera_links",
        ["unit_id"],
        unique=True,
        sqlite_where=OWN_CAMERA,
        postgresql_where=OWN_CAMERA,
    )
    op.create_table(
        "camera_clips",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("camera_id", sa.String(length=64), nullable=False),
        sa.Column("incident_id", _ID, nullable=False),
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=300), nullable=False),
        sa.Column("media_type", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        _time("pressed_at", False),
        _time("started_at", False),
        _time("ended_at", True),
        sa.Column("duration", sa.Float(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        _time("retain_until", True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("server", sa.String(length=32), nullable=False),
        sa.Column("held", sa.Boolean(), nullable=False),
        sa.Column("held_by", sa.String(length=64), nullable=True),
        _time("held_at", True),
        sa.Column("hold_reason", sa.Text(), nullable=False),
        _time("purged_at", True),
        sa.ForeignKeyConstraint(
            ["camera_id"], ["cameras.id"], name=op.f("fk_camera_clips_camera_id_cameras")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_camera_clips_incident_id_incidents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_camera_clips")),
    )
    op.create_index(op.f("ix_camera_clips_incident_id"), "camera_clips", ["incident_id"])
    op.create_index(
        "ix_camera_clips_retention", "camera_clips", ["purged_at", "held", "retain_until"]
    )
    op.create_index("ix_camera_clips_state", "camera_clips", ["state"])


def downgrade() -> None:
    op.drop_table("camera_clips")
    op.drop_index("uq_camera_links_own", table_name="camera_links")
    op.drop_table("camera_links")
    op.drop_table("cameras")
