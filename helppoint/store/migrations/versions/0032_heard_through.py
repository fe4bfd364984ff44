"""server_processes.heard_through: before when each process has written every sign of life it
heard (POSIX seconds)

The supervision sweep runs in one server process; the heartbeats the others heard and have
not written yet (a second's worth, more on a busy machine or after a database stall) it
cannot see. Each process now publishes the time before which it has written everything it
heard, and the sweep reports no unit down whose deadline falls after the earliest of them
(cluster/presence.py, services/supervision.py).

Revision ID: 0032
Revises: 0031
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("server_processes") as batch:
        batch.add_column(sa.Column("heard_through", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("server_processes") as batch:
        batch.drop_column("heard_through")
