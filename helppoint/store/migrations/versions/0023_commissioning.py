"""commissioning tests of units (issue #24)

Revision ID: 0023
Revises: 0022
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import helppoint.store.types

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "commissioning_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("started_at", helppoint.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["help_points.id"], name=op.f("fk_commissioning_runs_unit_id_help_points")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commissioning_runs")),
    )
    op.create_index("ix_commissioning_runs_unit", "commissioning_runs", ["unit_id", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_commissioning_runs_unit", table_name="commissioning_runs")
    op.drop_table("commissioning_runs")
