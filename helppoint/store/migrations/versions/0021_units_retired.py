"""administration: a unit removed after it has history is retired, not deleted (issue #24)

Revision ID: 0021
Revises: 0020
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import helppoint.store.types

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("help_points") as batch:
        batch.add_column(
            sa.Column("retired_at", helppoint.store.types.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("help_points") as batch:
        batch.drop_column("retired_at")
