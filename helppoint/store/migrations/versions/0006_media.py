"""camera, light and unit messages: stills, unit commands, prompts (issues #3/#4)

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

import helppoint.store.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _utc(name: str, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, helppoint.store.types.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "camera_stills",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("incident_id", BigId, nullable=False),
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        _utc("taken_at"),
        _utc("received_at"),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_camera_stills_incident_id_incidents")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["help_points.id"], name=op.f("fk_camera_stills_unit_id_help_points")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_camera_stills")),
    )
    op.create_index("ix_camera_stills_incident", "camera_stills", ["incident_id", "received_at"])
    op.create_table(
        "unit_commands",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("incident_id", BigId, nullable=True),
        sa.Column("command", sa.String(length=32), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        _utc("sent_at"),
        sa.Column("sent_by", sa.String(length=64), nullable=False),
        _utc("confirmed_at", nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_unit_commands_incident_id_incidents")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["help_points.id"], name=op.f("fk_unit_commands_unit_id_help_points")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit_commands")),
    )
    op.create_index("ix_unit_commands_incident", "unit_commands", ["incident_id", "sent_at"])
    op.create_table(
        "unit_prompts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        _utc("uploaded_at"),
        sa.Column("uploaded_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit_prompts")),
        sa.UniqueConstraint("name", name=op.f("uq_unit_prompts_name")),
    )


def downgrade() -> None:
    op.drop_table("unit_prompts")
    op.drop_index("ix_unit_commands_incident", table_name="unit_commands")
    op.drop_table("unit_commands")
    op.drop_index("ix_camera_stills_incident", table_name="camera_stills")
    op.drop_table("camera_stills")
