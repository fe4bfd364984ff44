"""calls and evidence recordings (issue #3)

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import helppoint.store.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time(name: str, nullable: bool) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, helppoint.store.types.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("incident_id", _ID, nullable=False),
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("operator", sa.String(length=64), nullable=False),
        _time("started_at", False),
        _time("connected_at", True),
        _time("ended_at", True),
        sa.Column("end_reason", sa.String(length=32), nullable=False),
        sa.Column("talk", sa.Boolean(), nullable=False),
        sa.Column("video", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("server", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_calls_incident_id_incidents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
    )
    op.create_index(op.f("ix_calls_incident_id"), "calls", ["incident_id"])
    op.create_table(
        "recordings",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("call_id", _ID, nullable=False),
        sa.Column("incident_id", _ID, nullable=False),
        sa.Column("path", sa.String(length=300), nullable=False),
        sa.Column("media_type", sa.String(length=64), nullable=False),
        _time("started_at", False),
        _time("ended_at", False),
        sa.Column("duration", sa.Float(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        _time("retain_until", False),
        sa.Column("held", sa.Boolean(), nullable=False),
        sa.Column("held_by", sa.String(length=64), nullable=True),
        _time("held_at", True),
        sa.Column("hold_reason", sa.Text(), nullable=False),
        _time("purged_at", True),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_recordings_call_id_calls")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_recordings_incident_id_incidents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recordings")),
        sa.UniqueConstraint("call_id", name=op.f("uq_recordings_call_id")),
    )
    op.create_index(op.f("ix_recordings_incident_id"), "recordings", ["incident_id"])
    op.create_index("ix_recordings_retention", "recordings", ["purged_at", "held", "retain_until"])


def downgrade() -> None:
    op.drop_index("ix_recordings_retention", table_name="recordings")
    op.drop_index(op.f("ix_recordings_incident_id"), table_name="recordings")
    op.drop_table("recordings")
    op.drop_index(op.f("ix_calls_incident_id"), table_name="calls")
    op.drop_table("calls")
