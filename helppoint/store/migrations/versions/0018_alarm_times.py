"""incidents keep the unit's own time of the opening press and when the server stored it

With opened_at (received) and acknowledged_at (accepted by an operator), each alarm's times
are recorded separately for the supervisor's load metrics (docs/sla.md).

Revision ID: 0018
Revises: 0017
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from helppoint.store.types import UTCDateTime

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("pressed_at", UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("stored_at", UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("stored_at")
        batch.drop_column("pressed_at")
