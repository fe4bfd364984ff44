"""incidents say who holds them now, apart from who acknowledged them

A supervisor can move an incident to another operator (domain Incident.move_to); who
acknowledged it, and when, stays on the record for the answer times.

Revision ID: 0020
Revises: 0019
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("held_by", sa.String(64), nullable=True))
    # Until now the operator who acknowledged an incident held it.
    op.execute("UPDATE incidents SET held_by = acknowledged_by WHERE acknowledged_by IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("held_by")
