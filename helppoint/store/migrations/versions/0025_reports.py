"""reports: when a unit was first heard, stored cost inputs, interventions (issue #23)

Revision ID: 0025
Revises: 0024
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import helppoint.store.types

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time() -> helppoint.store.types.UTCDateTime:
    return helppoint.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("help_points") as batch:
        batch.add_column(sa.Column("first_seen_at", _time(), nullable=True))
    # A unit already heard from: its first stored event (by the (unit_id, seq) index), else
    # the last time it was heard (the best left to know).
    op.execute(
        "UPDATE help_points SET first_seen_at = (SELECT e.received_at FROM device_events e "
        "WHERE e.unit_id = help_points.id ORDER BY e.seq LIMIT 1) WHERE last_seen_at IS NOT NULL"
    )
    op.execute(
        "UPDATE help_points SET first_seen_at = last_seen_at "
        "WHERE first_seen_at IS NULL OR first_seen_at > last_seen_at"
    )
    op.create_table(
        "report_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scheme_name", sa.String(length=200), nullable=False),
        sa.Column("capital", sa.Float(), nullable=False),
        sa.Column("capital_months", sa.Integer(), nullable=False),
        sa.Column("monitoring_per_month", sa.Float(), nullable=False),
        sa.Column("updated_at", _time(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_settings")),
    )
    op.create_table(
        "interventions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("what", sa.Text(), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["help_points.id"], name=op.f("fk_interventions_unit_id_help_points")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interventions")),
    )
    op.create_index("ix_interventions_unit", "interventions", ["unit_id", "on_date"])


def downgrade() -> None:
    op.drop_index("ix_interventions_unit", table_name="interventions")
    op.drop_table("interventions")
    op.drop_table("report_settings")
    with op.batch_alter_table("help_points") as batch:
        batch.drop_column("first_seen_at")
