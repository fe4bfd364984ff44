"""power reports, scheduled self-tests, maintainer contacts (issue #5)

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import helppoint.store.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time() -> helppoint.store.types.UTCDateTime:
    return helppoint.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "unit_power",
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("battery", sa.Float(), nullable=True),
        sa.Column("mains", sa.Boolean(), nullable=True),
        sa.Column("reported_at", _time(), nullable=False),
        sa.Column("battery_low", sa.Boolean(), nullable=False),
        sa.Column("mains_lost", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["help_points.id"], name=op.f("fk_unit_power_unit_id_help_points")
        ),
        sa.PrimaryKeyConstraint("unit_id", name=op.f("pk_unit_power")),
    )
    op.create_table(
        "self_test_schedules",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("unit_id", sa.String(length=64), nullable=True),
        sa.Column("zone_id", sa.String(length=64), nullable=True),
        sa.Column("at_time", sa.String(length=5), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", _time(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["help_points.id"],
            name=op.f("fk_self_test_schedules_unit_id_help_points"),
        ),
        sa.ForeignKeyConstraint(
            ["zone_id"], ["zones.id"], name=op.f("fk_self_test_schedules_zone_id_zones")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_self_test_schedules")),
        sa.UniqueConstraint("unit_id", name=op.f("uq_self_test_schedules_unit_id")),
        sa.UniqueConstraint("zone_id", name=op.f("uq_self_test_schedules_zone_id")),
    )
    op.create_table(
        "self_test_due",
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("due_at", _time(), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["help_points.id"], name=op.f("fk_self_test_due_unit_id_help_points")
        ),
        sa.PrimaryKeyConstraint("unit_id", name=op.f("pk_self_test_due")),
    )
    op.create_index(op.f("ix_self_test_due_due_at"), "self_test_due", ["due_at"], unique=False)
    op.create_table(
        "self_test_runs",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("command_id", sa.String(length=64), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("requested_at", _time(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("finished_at", _time(), nullable=True),
        sa.Column("checks", sa.JSON(), nullable=True),
        sa.Column("measurements", sa.JSON(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["help_points.id"], name=op.f("fk_self_test_runs_unit_id_help_points")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_self_test_runs")),
        sa.UniqueConstraint("command_id", name=op.f("uq_self_test_runs_command_id")),
    )
    op.create_index(
        "ix_self_test_runs_unit", "self_test_runs", ["unit_id", "requested_at"], unique=False
    )
    op.create_table(
        "maintainer_contacts",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=300), nullable=False),
        sa.Column("zone_id", sa.String(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.ForeignKeyConstraint(
            ["zone_id"], ["zones.id"], name=op.f("fk_maintainer_contacts_zone_id_zones")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintainer_contacts")),
    )


def downgrade() -> None:
    op.drop_table("maintainer_contacts")
    op.drop_index("ix_self_test_runs_unit", table_name="self_test_runs")
    op.drop_table("self_test_runs")
    op.drop_index(op.f("ix_self_test_due_due_at"), table_name="self_test_due")
    op.drop_table("self_test_due")
    op.drop_table("self_test_schedules")
    op.drop_table("unit_power")
