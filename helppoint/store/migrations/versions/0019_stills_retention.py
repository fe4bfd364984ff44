"""camera stills are kept as evidence like call recordings: evidence hold and retention

Press-time evidence (docs/triage.md): a still is deleted by the retention sweep after
recording_retention_days unless a supervisor holds it; the row stays, marked purged.

Revision ID: 0019
Revises: 0018
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from helppoint.store.types import UTCDateTime

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("camera_stills") as batch:
        batch.add_column(sa.Column("held", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("held_by", sa.String(64), nullable=True))
        batch.add_column(sa.Column("held_at", UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("hold_reason", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("purged_at", UTCDateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_camera_stills_retention", "camera_stills", ["purged_at", "held", "received_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_camera_stills_retention", table_name="camera_stills")
    with op.batch_alter_table("camera_stills") as batch:
        for column in ("purged_at", "hold_reason", "held_at", "held_by", "held"):
            batch.drop_column(column)
