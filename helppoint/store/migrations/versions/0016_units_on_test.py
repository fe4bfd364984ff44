"""units can be put on test for a maintenance window; incidents say they were opened on test

What a unit on test reports opens incidents marked as tests: shown, not alarmed, left out of
answer times and reports (domain/triage.py is_test, docs/triage.md).

Revision ID: 0016
Revises: 0015
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from helppoint.store.types import UTCDateTime

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("help_points") as batch:
        batch.add_column(sa.Column("on_test_until", UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("on_test_reason", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(
            sa.Column("on_test", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("on_test")
    with op.batch_alter_table("help_points") as batch:
        batch.drop_column("on_test_reason")
        batch.drop_column("on_test_until")
