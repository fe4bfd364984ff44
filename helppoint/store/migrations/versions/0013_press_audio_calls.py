"""calls say whether they were a call or the server listening to a unit just pressed

Press-time audio (docs/triage.md) is recorded as a call of kind "press": listen-only, unit to
server, so its recording has the same retention, evidence hold and audited access as a call's.

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="call"))


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("kind")
