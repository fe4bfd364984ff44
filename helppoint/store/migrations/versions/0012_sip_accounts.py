"""SIP help points: each SIP unit's account (issue #19)

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import helppoint.store.types

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sip_accounts",
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("realm", sa.String(length=64), nullable=False),
        sa.Column("ha1", sa.String(length=32), nullable=False),
        sa.Column("light_on", sa.String(length=32), nullable=False),
        sa.Column("light_off", sa.String(length=32), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", helppoint.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["help_points.id"]),
        sa.PrimaryKeyConstraint("unit_id"),
        sa.UniqueConstraint("username"),
    )


def downgrade() -> None:
    op.drop_table("sip_accounts")
