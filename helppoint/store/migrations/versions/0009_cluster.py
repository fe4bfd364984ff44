"""several server processes on one PostgreSQL database: process registry, unit links

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import helppoint.store.types

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "server_processes",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", helppoint.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("seen_at", helppoint.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_server_processes")),
    )
    op.create_table(
        "unit_links",
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("process_id", sa.String(length=32), nullable=False),
        sa.Column("since", helppoint.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("unit_id", name=op.f("pk_unit_links")),
    )
    op.create_index("ix_unit_links_process", "unit_links", ["process_id"])


def downgrade() -> None:
    op.drop_index("ix_unit_links_process", table_name="unit_links")
    op.drop_table("unit_links")
    op.drop_table("server_processes")
